import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadCache } from '../../src/store/read-cache.js';
import { MemoryStorage, type Storage } from '../../src/store/storage/storage.js';

/** A MemoryStorage that counts reads and can hold a read or a write until released (to force overlaps). */
class ProbeStorage implements Storage {
  readonly inner = new MemoryStorage();
  gets = 0;
  holdGets = false;
  holdPuts = false;
  private readonly waiting: (() => void)[] = [];

  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }

  private async gate(hold: boolean): Promise<void> {
    if (hold) await new Promise<void>((r) => this.waiting.push(r));
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.gets++;
    const v = await this.inner.get(key);
    await this.gate(this.holdGets);
    return v;
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.gate(this.holdPuts);
    await this.inner.put(key, value);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
}

/** The cache's stored buffers (private), to check that seal really zeroes them. */
function storedBuffers(cache: ReadCache): Buffer[] {
  return [...(cache as unknown as { entries: Map<string, Buffer> }).entries.values()];
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

test('a second read is served from the cache, as a copy the caller may wipe', async () => {
  const probe = new ProbeStorage();
  await probe.inner.put('k', b('secret-1'));
  const cache = new ReadCache(probe);
  const first = await cache.get('k');
  assert.ok(first !== undefined);
  assert.deepEqual(first, b('secret-1'));
  first.fill(0);
  const second = await cache.get('k');
  assert.deepEqual(second, b('secret-1'));
  assert.equal(probe.gets, 1);
  assert.deepEqual(cache.stats(), { hits: 1, misses: 1, entries: 1, bytes: 2 + 8 });
  // Absent keys are not cached: every read of them goes to the barrier.
  assert.equal(await cache.get('missing'), undefined);
  assert.equal(await cache.get('missing'), undefined);
  assert.equal(probe.gets, 3);
});

test('put and delete invalidate: the next read sees the new value or nothing', async () => {
  const probe = new ProbeStorage();
  const cache = new ReadCache(probe);
  await cache.put('k', b('v1'));
  assert.deepEqual(await cache.get('k'), b('v1'));
  await cache.put('k', b('v2'));
  assert.deepEqual(await cache.get('k'), b('v2'));
  assert.deepEqual(await cache.get('k'), b('v2'));
  await cache.delete('k');
  assert.equal(await cache.get('k'), undefined);
  assert.equal(cache.stats().entries, 0);
  // The value handed to put is copied by the inner storage, never kept by the cache itself.
  const value = b('v3');
  await cache.put('k', value);
  value.fill(0x41);
  assert.deepEqual(await cache.get('k'), b('v3'));
});

test('a read that overlaps a write never stores the value the write replaced', async () => {
  const probe = new ProbeStorage();
  await probe.inner.put('k', b('old'));
  const cache = new ReadCache(probe);
  probe.holdGets = true;
  const slowRead = cache.get('k'); // reads "old", then waits
  await new Promise((r) => setImmediate(r));
  probe.holdGets = false;
  await cache.put('k', b('new'));
  probe.release();
  assert.deepEqual(await slowRead, b('old'));
  assert.equal(cache.stats().entries, 0);
  assert.deepEqual(await cache.get('k'), b('new'));
});

test('a read during a slow write does not cache the value being replaced', async () => {
  const probe = new ProbeStorage();
  await probe.inner.put('k', b('old'));
  const cache = new ReadCache(probe);
  probe.holdPuts = true;
  const write = cache.put('k', b('new'));
  assert.deepEqual(await cache.get('k'), b('old')); // the write is not applied yet
  probe.release();
  await write;
  assert.deepEqual(await cache.get('k'), b('new'));
});

test('bounded by entries: the least recently used entry goes first', async () => {
  const probe = new ProbeStorage();
  for (const k of ['a', 'b', 'c']) await probe.inner.put(k, b(k));
  const cache = new ReadCache(probe, { maxEntries: 2 });
  await cache.get('a');
  await cache.get('b');
  await cache.get('a'); // a is now the most recent
  await cache.get('c'); // evicts b
  assert.equal(cache.stats().entries, 2);
  const before = probe.gets;
  await cache.get('a');
  await cache.get('c');
  assert.equal(probe.gets, before);
  await cache.get('b');
  assert.equal(probe.gets, before + 1);
});

test('bounded by bytes; a value over an eighth of the budget is never cached; evicted values are wiped', async () => {
  const probe = new ProbeStorage();
  for (let i = 0; i < 10; i++) await probe.inner.put(`k${i}`, Buffer.alloc(100, i + 1));
  await probe.inner.put('big', Buffer.alloc(200, 7));
  const cache = new ReadCache(probe, { maxBytes: 1000 });
  await cache.get('k0');
  const evicted = storedBuffers(cache)[0];
  for (let i = 1; i < 10; i++) await cache.get(`k${i}`);
  const stats = cache.stats();
  assert.ok(stats.bytes <= 1000, `bytes ${stats.bytes}`);
  assert.ok(stats.entries < 10);
  assert.ok(evicted?.every((x) => x === 0), 'an evicted value is zeroed');
  await cache.get('big');
  await cache.get('big');
  assert.ok(!storedBuffers(cache).some((v) => v.length === 200));
  assert.ok(cache.stats().bytes <= 1000);
  assert.throws(() => new ReadCache(probe, { maxEntries: -1 }), { name: 'RangeError', message: 'maxEntries must be a non-negative integer' });
  assert.throws(() => new ReadCache(probe, { maxBytes: 1.5 }), { name: 'RangeError', message: 'maxBytes must be a non-negative integer' });
});

test('maxEntries 0 turns caching off', async () => {
  const probe = new ProbeStorage();
  await probe.inner.put('k', b('v'));
  const cache = new ReadCache(probe, { maxEntries: 0 });
  await cache.get('k');
  await cache.get('k');
  assert.equal(probe.gets, 2);
  assert.equal(cache.stats().entries, 0);
});

test('wipe (seal) zeroes every cached plaintext and makes the cache a pass-through for good', async () => {
  const probe = new ProbeStorage();
  await probe.inner.put('a', b('secret-a'));
  await probe.inner.put('b', b('secret-b'));
  const cache = new ReadCache(probe);
  await cache.get('a');
  await cache.get('b');
  const held = storedBuffers(cache);
  assert.equal(held.length, 2);
  cache.wipe();
  for (const v of held) assert.ok(v.every((x) => x === 0), 'cached plaintext is zeroed on wipe');
  assert.equal(cache.stats().entries, 0);
  assert.equal(cache.stats().bytes, 0);
  const before = probe.gets;
  assert.deepEqual(await cache.get('a'), b('secret-a'));
  assert.deepEqual(await cache.get('a'), b('secret-a'));
  assert.equal(probe.gets, before + 2);
  assert.equal(cache.stats().entries, 0);
});

test('a read in flight when the store seals does not repopulate the cache', async () => {
  const probe = new ProbeStorage();
  await probe.inner.put('k', b('secret'));
  const cache = new ReadCache(probe);
  probe.holdGets = true;
  const inFlight = cache.get('k');
  await new Promise((r) => setImmediate(r));
  cache.wipe();
  probe.release();
  await inFlight;
  assert.equal(cache.stats().entries, 0);
});

test('list passes through', async () => {
  const probe = new ProbeStorage();
  const cache = new ReadCache(probe);
  await cache.put('dir/a', b('1'));
  await cache.put('dir/sub/b', b('2'));
  assert.deepEqual(await cache.list('dir/'), ['a', 'sub/']);
});

test('writeOrdered drops every key it writes from the cache, before and after, and passes the batch down whole', async () => {
  const inner = new MemoryStorage();
  let batches = 0;
  const counting: Storage = {
    get: (k) => inner.get(k),
    put: (k, v) => inner.put(k, v),
    delete: (k) => inner.delete(k),
    list: (p) => inner.list(p),
    writeOrdered: (ops) => {
      batches++;
      return inner.writeOrdered(ops);
    },
  };
  await inner.put('a', Buffer.from('1'));
  await inner.put('b', Buffer.from('2'));
  const cache = new ReadCache(counting);
  assert.deepEqual(await cache.get('a'), Buffer.from('1'));
  assert.deepEqual(await cache.get('b'), Buffer.from('2'));
  await cache.writeOrdered([
    ['a', Buffer.from('3')],
    ['b', undefined],
  ]);
  assert.equal(batches, 1);
  assert.deepEqual(await cache.get('a'), Buffer.from('3'));
  assert.equal(await cache.get('b'), undefined);
});
