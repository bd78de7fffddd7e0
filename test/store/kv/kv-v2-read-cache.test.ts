import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, req } from '../../helpers/logical.js';
import type { JsonObject, LogicalRequest, LogicalResponse } from '../../../src/store/logical.js';
import { KvV2Backend } from '../../../src/store/kv/kv-v2.js';
import { KV_READ_CACHE_MAX_VALUE, KvReadCache } from '../../../src/store/kv/kv-v2-read-cache.js';
import { newKeyMeta } from '../../../src/store/kv/kv-v2-metadata.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';

/** A MemoryStorage that counts reads and can hold the next read of a key until released. */
class GatedStorage extends MemoryStorage {
  gets = 0;
  private gate: { key: string; release: Promise<void>; reached: () => void } | undefined;

  /** The next get of `key` waits until the returned release function is called; `reached` resolves when it waits. */
  holdNext(key: string): { release: () => void; reached: Promise<void> } {
    let release!: () => void;
    let reached!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const reachedP = new Promise<void>((r) => (reached = r));
    this.gate = { key, release: released, reached };
    return { release, reached: reachedP };
  }

  override async get(key: string): Promise<Buffer | undefined> {
    this.gets++;
    const gate = this.gate;
    if (gate !== undefined && gate.key === key) {
      this.gate = undefined;
      // Read the value first, then wait: the value handed back is the one from before the wait (a slow read).
      const value = await super.get(key);
      gate.reached();
      await gate.release;
      return value;
    }
    return super.get(key);
  }
}

function setup(): { storage: GatedStorage; call: (r: LogicalRequest) => Promise<LogicalResponse> } {
  const storage = new GatedStorage();
  const kv = new KvV2Backend(storage, { now: () => Date.UTC(2026, 0, 1) });
  return { storage, call: (r) => kv.handle(r, ROOT_CALLER) };
}

function dataOf(resp: LogicalResponse): unknown {
  return (resp.data as JsonObject)['data'];
}

test('hot reads decode once: the second read of a version touches no storage', async () => {
  const { storage, call } = setup();
  await call(req('create', 'data/app', { data: { password: 'one' } }));
  await call(req('read', 'data/app'));
  const before = storage.gets;
  const again = await call(req('read', 'data/app'));
  assert.equal(storage.gets, before);
  assert.deepEqual(dataOf(again), { password: 'one' });
});

test('every kind of write is seen by the next read', async () => {
  const { call } = setup();
  await call(req('create', 'data/app', { data: { password: 'one' } }));
  await call(req('read', 'data/app'));
  await call(req('update', 'data/app', { data: { password: 'two' } }));
  assert.deepEqual(dataOf(await call(req('read', 'data/app'))), { password: 'two' });
  await call(req('patch', 'data/app', { data: { user: 'u' } }));
  assert.deepEqual(dataOf(await call(req('read', 'data/app'))), { password: 'two', user: 'u' });
  await call(req('update', 'metadata/app', { custom_metadata: { owner: 'ops' } }));
  const withMeta = await call(req('read', 'data/app'));
  assert.deepEqual(((withMeta.data as JsonObject)['metadata'] as JsonObject)['custom_metadata'], { owner: 'ops' });
  await call(req('delete', 'data/app'));
  assert.equal((await call(req('read', 'data/app'))).status, 404);
  await call(req('update', 'undelete/app', { versions: [3] }));
  assert.deepEqual(dataOf(await call(req('read', 'data/app'))), { password: 'two', user: 'u' });
  await call(req('update', 'destroy/app', { versions: [3] }));
  const destroyed = await call(req('read', 'data/app'));
  assert.equal(destroyed.status, 404);
  assert.equal(((destroyed.data as JsonObject)['metadata'] as JsonObject)['destroyed'], true);
  await call(req('delete', 'metadata/app'));
  await assert.rejects(call(req('read', 'data/app')), { status: 404 });
});

test('a read that overlapped a write does not cache the value it read before the write', async () => {
  const { storage, call } = setup();
  await call(req('create', 'data/app', { data: { password: 'one' } }));
  // The read fetches the metadata (version 1), then stalls; a write makes version 2 meanwhile.
  const gate = storage.holdNext('metadata/app');
  const slowRead = call(req('read', 'data/app'));
  await gate.reached;
  await call(req('update', 'data/app', { data: { password: 'two' } }));
  gate.release();
  // The slow read answers with what it read (version 1, as Vault would for a read that began first) …
  assert.deepEqual(dataOf(await slowRead), { password: 'one' });
  // … but did not cache it: the next read sees version 2.
  assert.deepEqual(dataOf(await call(req('read', 'data/app'))), { password: 'two' });
});

test('values handed to readers are frozen: a caller cannot change what the next reader gets', async () => {
  const { call } = setup();
  await call(req('create', 'data/app', { data: { nested: { a: 1 } } }));
  const first = dataOf(await call(req('read', 'data/app'))) as JsonObject;
  assert.throws(() => {
    (first['nested'] as JsonObject)['a'] = 2;
  }, TypeError);
  assert.deepEqual(dataOf(await call(req('read', 'data/app'))), { nested: { a: 1 } });
});

test('the cache is bounded by keys and bytes, and skips large values', () => {
  const cache = new KvReadCache(2, 1000);
  for (const k of ['a', 'b', 'c']) cache.rememberMeta(k, newKeyMeta(), 10, cache.epoch);
  assert.equal(cache.size.keys, 2);
  assert.equal(cache.meta('a'), undefined);
  cache.rememberMeta('big', newKeyMeta(), 900, cache.epoch);
  cache.rememberMeta('d', newKeyMeta(), 200, cache.epoch);
  assert.ok(cache.size.bytes <= 1000);
  const huge = new KvReadCache();
  huge.rememberMeta('x', newKeyMeta(), KV_READ_CACHE_MAX_VALUE + 1, huge.epoch);
  assert.equal(huge.size.keys, 0);
});

test('a fill with an old epoch is refused; invalidate and clear drop entries', () => {
  const cache = new KvReadCache();
  const epoch = cache.epoch;
  cache.invalidate('other');
  cache.rememberMeta('k', newKeyMeta(), 10, epoch);
  assert.equal(cache.meta('k'), undefined);
  cache.rememberMeta('k', newKeyMeta(), 10, cache.epoch);
  cache.rememberVersion('k', 1, { data: { v: 'x' }, metadata: {} }, 5, cache.epoch);
  assert.deepEqual(cache.version('k', 1)?.data, { v: 'x' });
  assert.equal(cache.size.bytes, 15);
  cache.invalidate('k');
  assert.equal(cache.version('k', 1), undefined);
  assert.equal(cache.size.bytes, 0);
  cache.rememberMeta('k', newKeyMeta(), 10, cache.epoch);
  cache.clear();
  assert.deepEqual(cache.size, { keys: 0, bytes: 0 });
  // A version is only kept under its key's cached metadata.
  cache.rememberVersion('nokey', 1, { data: {}, metadata: {} }, 5, cache.epoch);
  assert.equal(cache.version('nokey', 1), undefined);
});

test('forget (on seal) drops the decoded reads: the next read goes to storage', async () => {
  const storage = new GatedStorage();
  const kv = new KvV2Backend(storage, { now: () => Date.UTC(2026, 0, 1) });
  await kv.handle(req('create', 'data/app', { data: { password: 'one' } }), ROOT_CALLER);
  await kv.handle(req('read', 'data/app'), ROOT_CALLER);
  const warm = storage.gets;
  await kv.handle(req('read', 'data/app'), ROOT_CALLER);
  assert.equal(storage.gets, warm);
  kv.forget();
  await kv.handle(req('read', 'data/app'), ROOT_CALLER);
  assert.ok(storage.gets > warm);
});
