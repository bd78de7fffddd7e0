import { test } from 'node:test';
import { ROOT_CALLER, rejects, req } from '../../helpers/logical.js';
import assert from 'node:assert/strict';
import type { CallerContext } from '../../../src/store/backend.js';
import type { JsonObject, LogicalRequest, LogicalResponse } from '../../../src/store/logical.js';
import { KvV2Backend, mergePatch } from '../../../src/store/kv/kv-v2.js';
import { MemoryStorage, type StorageOp } from '../../../src/store/storage/storage.js';

const caller: CallerContext = ROOT_CALLER;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);



function setup(): { kv: KvV2Backend; storage: MemoryStorage; advance: (s: number) => void; call: (r: LogicalRequest) => Promise<LogicalResponse> } {
  const storage = new MemoryStorage();
  let t = T0;
  const kv = new KvV2Backend(storage, { now: () => t });
  return { kv, storage, advance: (s) => (t += s * 1000), call: (r) => kv.handle(r, caller) };
}

function obj(v: unknown): JsonObject {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v));
  return v as JsonObject;
}

test('write, read, versions and ?version=N', async () => {
  const { call, advance } = setup();
  const w1 = await call(req('create', 'data/app/db', { data: { user: 'a', pass: 'x' } }));
  assert.deepEqual(w1.data, { created_time: '2026-01-01T12:00:00Z', custom_metadata: null, deletion_time: '', destroyed: false, version: 1 });
  advance(1.5);
  const w2 = await call(req('update', 'data/app/db', { data: { user: 'b' } }));
  assert.equal(w2.data?.['version'], 2);
  assert.equal(w2.data['created_time'], '2026-01-01T12:00:01.5Z');
  const latest = await call(req('read', 'data/app/db'));
  assert.deepEqual(latest.data, {
    data: { user: 'b' },
    metadata: { created_time: '2026-01-01T12:00:01.5Z', custom_metadata: null, deletion_time: '', destroyed: false, version: 2 },
  });
  const v1 = await call(req('read', 'data/app/db', {}, { version: '1' }));
  assert.deepEqual(obj(v1.data)['data'], { user: 'a', pass: 'x' });
  await rejects(call(req('read', 'data/app/db', {}, { version: '9' })), 404, []);
  await rejects(call(req('read', 'data/app/db', {}, { version: 'x' })), 400, ['error converting input x for field "version"']);
  await rejects(call(req('read', 'data/missing')), 404, []);
});

test('write errors: no data, check-and-set', async () => {
  const { call } = setup();
  await rejects(call(req('create', 'data/k', {})), 400, ['no data provided']);
  await rejects(call(req('create', 'data/k', { data: 'str' })), 400, ['no data provided']);
  await call(req('create', 'data/k', { data: { a: 1 }, options: { cas: 0 } }));
  await rejects(call(req('update', 'data/k', { data: { a: 2 }, options: { cas: 0 } })), 400, ['check-and-set parameter did not match the current version']);
  await rejects(call(req('update', 'data/k', { data: { a: 2 }, options: { cas: 5 } })), 400, ['check-and-set parameter did not match the current version']);
  assert.equal((await call(req('update', 'data/k', { data: { a: 2 }, options: { cas: 1 } }))).data?.['version'], 2);
  await rejects(call(req('create', 'data/', { data: { a: 1 } })), 400, ['missing path']);
});

test('cas_required from the key metadata or the mount config', async () => {
  const { call } = setup();
  await call(req('create', 'metadata/strict', { cas_required: true }));
  await rejects(call(req('create', 'data/strict', { data: { a: 1 } })), 400, ['check-and-set parameter required for this call']);
  assert.equal((await call(req('create', 'data/strict', { data: { a: 1 }, options: { cas: 0 } }))).data?.['version'], 1);
  await call(req('update', 'config', { cas_required: true }));
  await rejects(call(req('create', 'data/other', { data: { a: 1 } })), 400, ['check-and-set parameter required for this call']);
});

test('PATCH merges into the latest version; absent or deleted keys are 404', async () => {
  const { call } = setup();
  await rejects(call(req('patch', 'data/p', { data: { a: 1 } })), 404, []);
  await call(req('create', 'data/p', { data: { a: 1, nested: { x: 1, y: 2 }, gone: true } }));
  const r = await call(req('patch', 'data/p', { data: { b: 2, nested: { y: null, z: 3 }, gone: null } }));
  assert.equal(r.data?.['version'], 2);
  assert.deepEqual(obj((await call(req('read', 'data/p'))).data)['data'], { a: 1, nested: { x: 1, z: 3 }, b: 2 });
  await rejects(call(req('patch', 'data/p', { data: { a: 1 }, options: { cas: 1 } })), 400, ['check-and-set parameter did not match the current version']);
  await call(req('delete', 'data/p'));
  await rejects(call(req('patch', 'data/p', { data: { a: 1 } })), 404, []);
});

test('soft delete, undelete, destroy: 404 with the envelope', async () => {
  const { call, storage, advance } = setup();
  await call(req('create', 'data/s', { data: { v: 1 } }));
  await call(req('create', 'data/s', { data: { v: 2 } }));
  advance(10);
  assert.deepEqual(await call(req('delete', 'data/s')), { status: 204 });
  const deleted = await call(req('read', 'data/s'));
  assert.equal(deleted.status, 404);
  assert.deepEqual(deleted.data, {
    data: null,
    metadata: { created_time: '2026-01-01T12:00:00Z', custom_metadata: null, deletion_time: '2026-01-01T12:00:10Z', destroyed: false, version: 2 },
  });
  assert.deepEqual(await call(req('update', 'undelete/s', { versions: [2] })), { status: 204 });
  assert.deepEqual(obj((await call(req('read', 'data/s'))).data)['data'], { v: 2 });
  await call(req('update', 'delete/s', { versions: '1,2' }));
  assert.equal((await call(req('read', 'data/s', {}, { version: '1' }))).status, 404);
  await call(req('update', 'destroy/s', { versions: ['1'] }));
  const destroyed = await call(req('read', 'data/s', {}, { version: '1' }));
  assert.equal(destroyed.status, 404);
  assert.equal(obj(obj(destroyed.data)['metadata'])['destroyed'], true);
  // Destroyed data is gone from storage; undelete cannot bring it back.
  const versionKeys = await storage.list('versions/');
  assert.equal(versionKeys.length, 1);
  assert.deepEqual(await storage.list(`versions/${versionKeys[0] ?? ''}`), ['2']);
  await call(req('update', 'undelete/s', { versions: [1] }));
  assert.equal((await call(req('read', 'data/s', {}, { version: '1' }))).status, 404);
  await rejects(call(req('update', 'delete/s', {})), 400, ['no version number provided']);
  await rejects(call(req('update', 'destroy/s', { versions: [] })), 400, ['no version number provided']);
  await rejects(call(req('update', 'undelete/s', { versions: ['x'] })), 400, ['error converting input ["x"] for field "versions"']);
  // Absent keys: 204.
  assert.deepEqual(await call(req('delete', 'data/none')), { status: 204 });
  assert.deepEqual(await call(req('update', 'destroy/none', { versions: [1] })), { status: 204 });
});

test('metadata read, write, patch, list, delete', async () => {
  const { call, storage, advance } = setup();
  await call(req('create', 'data/dir/a', { data: { v: 1 } }));
  advance(2);
  await call(req('create', 'data/dir/a', { data: { v: 2 } }));
  await call(req('create', 'data/dir/sub/b', { data: { v: 1 } }));
  await call(req('create', 'data/top', { data: { v: 1 } }));
  const meta = await call(req('read', 'metadata/dir/a'));
  assert.deepEqual(meta.data, {
    cas_required: false,
    created_time: '2026-01-01T12:00:00Z',
    current_version: 2,
    custom_metadata: null,
    delete_version_after: '0s',
    max_versions: 0,
    oldest_version: 0,
    updated_time: '2026-01-01T12:00:02Z',
    versions: {
      '1': { created_time: '2026-01-01T12:00:00Z', deletion_time: '', destroyed: false },
      '2': { created_time: '2026-01-01T12:00:02Z', deletion_time: '', destroyed: false },
    },
  });
  assert.deepEqual((await call(req('list', 'metadata/'))).data, { keys: ['dir/', 'top'] });
  assert.deepEqual((await call(req('list', 'metadata/dir/'))).data, { keys: ['a', 'sub/'] });
  assert.deepEqual((await call(req('list', 'metadata/dir'))).data, { keys: ['a', 'sub/'] });
  await rejects(call(req('list', 'metadata/nothing/')), 404, []);
  assert.deepEqual(await call(req('update', 'metadata/dir/a', { custom_metadata: { owner: 'ops', env: 'prod' }, max_versions: 5, delete_version_after: '1h' })), { status: 204 });
  const m2 = obj((await call(req('read', 'metadata/dir/a'))).data);
  assert.deepEqual(m2['custom_metadata'], { owner: 'ops', env: 'prod' });
  assert.equal(m2['max_versions'], 5);
  assert.equal(m2['delete_version_after'], '1h0m0s');
  await call(req('patch', 'metadata/dir/a', { custom_metadata: { env: null, team: 'x' } }));
  assert.deepEqual(obj((await call(req('read', 'metadata/dir/a'))).data)['custom_metadata'], { owner: 'ops', team: 'x' });
  assert.deepEqual(obj(obj((await call(req('read', 'data/dir/a'))).data)['metadata'])['custom_metadata'], { owner: 'ops', team: 'x' });
  await rejects(call(req('patch', 'metadata/none', { max_versions: 1 })), 404, []);
  await rejects(call(req('update', 'metadata/dir/a', { custom_metadata: { k: 'v'.repeat(513) } })), 400, [
    'custom_metadata validation failed: length of value for key "k" is 513 which exceeds the maximum length of 512',
  ]);
  await rejects(call(req('update', 'metadata/dir/a', { custom_metadata: { k: 1 } })), 400, ['error converting input {"k":1} for field "custom_metadata"']);
  assert.deepEqual(await call(req('delete', 'metadata/dir/a')), { status: 204 });
  await rejects(call(req('read', 'metadata/dir/a')), 404, []);
  await rejects(call(req('read', 'data/dir/a')), 404, []);
  const remaining = await storage.list('versions/');
  assert.equal(remaining.length, 2, 'only dir/sub/b and top keep version data');
});

test('max_versions prunes the oldest versions (mount config and key metadata)', async () => {
  const { call, storage } = setup();
  await call(req('update', 'config', { max_versions: 2 }));
  for (let i = 1; i <= 4; i++) await call(req('create', 'data/m', { data: { i } }));
  const meta = obj((await call(req('read', 'metadata/m'))).data);
  assert.deepEqual(Object.keys(obj(meta['versions'])), ['3', '4']);
  assert.equal(meta['oldest_version'], 3);
  assert.equal(meta['current_version'], 4);
  await rejects(call(req('read', 'data/m', {}, { version: '2' })), 404, []);
  const folder = (await storage.list('versions/'))[0] ?? '';
  assert.deepEqual(await storage.list(`versions/${folder}`), ['3', '4']);
  await call(req('update', 'metadata/m', { max_versions: 1 }));
  await call(req('create', 'data/m', { data: { i: 5 } }));
  assert.deepEqual(Object.keys(obj(obj((await call(req('read', 'metadata/m'))).data)['versions'])), ['5']);
});

test('a mount with no max_versions keeps 10', async () => {
  const { call } = setup();
  for (let i = 1; i <= 12; i++) await call(req('create', 'data/ten', { data: { i } }));
  const versions = Object.keys(obj(obj((await call(req('read', 'metadata/ten'))).data)['versions']));
  assert.equal(versions.length, 10);
  assert.equal(versions[0], '3');
});

test('delete_version_after schedules deletion (shorter of key and mount wins)', async () => {
  const { call, advance } = setup();
  await call(req('update', 'config', { delete_version_after: '1h' }));
  assert.deepEqual((await call(req('read', 'config'))).data, { cas_required: false, delete_version_after: '1h0m0s', max_versions: 0 });
  const w = await call(req('create', 'data/tmp', { data: { a: 1 } }));
  assert.equal(w.data?.['deletion_time'], '2026-01-01T13:00:00Z');
  await call(req('update', 'metadata/tmp', { delete_version_after: '10s' }));
  const w2 = await call(req('create', 'data/tmp', { data: { a: 2 } }));
  assert.equal(w2.data?.['deletion_time'], '2026-01-01T12:00:10Z');
  advance(9);
  assert.equal((await call(req('read', 'data/tmp'))).status, undefined);
  advance(1);
  assert.equal((await call(req('read', 'data/tmp'))).status, 404);
  assert.equal((await call(req('read', 'data/tmp', {}, { version: '1' }))).status, undefined);
});

test('config defaults and exists() for create-vs-update', async () => {
  const { call, kv } = setup();
  assert.deepEqual((await call(req('read', 'config'))).data, { cas_required: false, delete_version_after: '0s', max_versions: 0 });
  assert.equal(await kv.exists('data/e'), false);
  assert.equal(await kv.exists('metadata/e'), false);
  await call(req('create', 'data/e', { data: { a: 1 } }));
  assert.equal(await kv.exists('data/e'), true);
  assert.equal(await kv.exists('metadata/e'), true);
  assert.equal(await kv.exists('config'), undefined);
  assert.equal(await kv.exists('metadata/'), undefined);
});

test('subkeys shows the structure without values', async () => {
  const { call } = setup();
  await call(req('create', 'data/sk', { data: { a: 1, b: { c: 'x', d: { e: true } } } }));
  assert.deepEqual(obj((await call(req('read', 'subkeys/sk'))).data)['subkeys'], { a: null, b: { c: null, d: { e: null } } });
  assert.deepEqual(obj((await call(req('read', 'subkeys/sk', {}, { depth: '1' }))).data)['subkeys'], { a: null, b: null });
});

test('v1-style paths on a v2 mount: 404 with Vault\'s warning; bad operations 405', async () => {
  const { call } = setup();
  const r = await call(req('read', 'app/db'));
  assert.equal(r.status, 404);
  assert.deepEqual(r.warnings, [
    "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.",
  ]);
  await rejects(call(req('list', 'data/x/')), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
  await rejects(call(req('delete', 'config')), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
});

test('concurrent check-and-set writes: exactly one wins', async () => {
  const { call } = setup();
  await call(req('create', 'data/race', { data: { n: 0 } }));
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => call(req('update', 'data/race', { data: { n: i }, options: { cas: 1 } }))));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
});

test('writes of different keys run together (one storage batch); writes of one key and config writes wait their turn', async () => {
  // A storage whose writes wait a little, counting how many are in flight at once.
  class SlowStorage extends MemoryStorage {
    inFlight = 0;
    most = 0;
    private async slow<T>(write: () => Promise<T>): Promise<T> {
      this.inFlight++;
      this.most = Math.max(this.most, this.inFlight);
      await new Promise((r) => setTimeout(r, 5));
      this.inFlight--;
      return write();
    }
    override put(key: string, value: Buffer): Promise<void> {
      return this.slow(() => super.put(key, value));
    }
    override writeOrdered(ops: readonly StorageOp[]): Promise<void> {
      return this.slow(() => super.writeOrdered(ops));
    }
  }
  const storage = new SlowStorage();
  const kv = new KvV2Backend(storage, { now: () => T0 });
  const call = (r: LogicalRequest): Promise<LogicalResponse> => kv.handle(r, caller);
  await Promise.all(Array.from({ length: 8 }, (_, i) => call(req('create', `data/k${String(i)}`, { data: { i } }))));
  assert.equal(storage.most, 8);
  // One key: one write at a time, so versions are 1..8 and check-and-set still has a single winner.
  storage.most = 0;
  const versions = await Promise.all(Array.from({ length: 8 }, (_, i) => call(req('update', 'data/one', { data: { i } }))));
  assert.equal(storage.most, 1);
  assert.deepEqual(versions.map((v) => v.data?.['version']).sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
  // A config write waits for every running key write, and key writes after it wait for it.
  storage.most = 0;
  const order: string[] = [];
  await Promise.all([
    call(req('create', 'data/a', { data: { x: 1 } })).then(() => order.push('a')),
    call(req('create', 'config', { max_versions: 3 })).then(() => order.push('config')),
    call(req('create', 'data/b', { data: { x: 1 } })).then(() => order.push('b')),
  ]);
  assert.deepEqual(order, ['a', 'config', 'b']);
  assert.equal(storage.most, 1);
});

test('mergePatch follows RFC 7386', () => {
  assert.deepEqual(mergePatch({ a: 'b' }, { a: 'c' }), { a: 'c' });
  assert.deepEqual(mergePatch({ a: 'b' }, { b: 'c' }), { a: 'b', b: 'c' });
  assert.deepEqual(mergePatch({ a: 'b' }, { a: null }), {});
  assert.deepEqual(mergePatch({ a: ['b'] }, { a: 'c' }), { a: 'c' });
  assert.deepEqual(mergePatch({ a: 'c' }, { a: ['b'] }), { a: ['b'] });
  assert.deepEqual(mergePatch({ a: { b: 'c' } }, { a: { b: 'd', c: null } }), { a: { b: 'd' } });
  assert.deepEqual(mergePatch(['a'], { a: 'b' }), { a: 'b' });
  assert.deepEqual(mergePatch({}, { a: { bb: { ccc: null } } }), { a: { bb: {} } });
});

test('config and metadata writes validate their version settings alike and change nothing on error', async () => {
  const { call } = setup();
  for (const path of ['config', 'metadata/s']) {
    await rejects(call(req('update', path, { max_versions: -1 })), 400, ['max_versions must be a non-negative integer']);
    await rejects(call(req('update', path, { max_versions: 'x' })), 400, ['error converting input x for field "max_versions"']);
  }
  await rejects(call(req('read', 'metadata/s')), 404, []);
  await call(req('update', 'config', { cas_required: true, max_versions: 3, delete_version_after: '-5s' }));
  assert.deepEqual((await call(req('read', 'config'))).data, { cas_required: true, delete_version_after: '0s', max_versions: 3 });
  await call(req('update', 'metadata/s', { cas_required: true, max_versions: 2 }));
  const m = obj((await call(req('read', 'metadata/s'))).data);
  assert.equal(m['cas_required'], true);
  assert.equal(m['max_versions'], 2);
});

test('a data write is one ordered storage batch: the version, then the metadata, then the pruned versions, oldest first', async () => {
  class Recording extends MemoryStorage {
    batches: string[][] = [];
    override writeOrdered(ops: readonly StorageOp[]): Promise<void> {
      this.batches.push(ops.map(([key, value]) => `${value === undefined ? 'delete' : 'put'} ${key}`));
      return super.writeOrdered(ops);
    }
  }
  const storage = new Recording();
  const kv = new KvV2Backend(storage, { now: () => T0 });
  const call = (r: LogicalRequest): Promise<LogicalResponse> => kv.handle(r, caller);
  await call(req('update', 'metadata/s', { max_versions: 2 }));
  for (let i = 1; i <= 3; i++) await call(req('update', 'data/s', { data: { i } }));
  const folder = (storage.batches[0]?.[0] ?? '').replace(/^put (versions\/[^/]+\/).*$/, '$1');
  assert.match(folder, /^versions\/[0-9a-f]+\/$/);
  assert.deepEqual(storage.batches, [
    [`put ${folder}1`, 'put metadata/s'],
    [`put ${folder}2`, 'put metadata/s'],
    [`put ${folder}3`, 'put metadata/s', `delete ${folder}1`],
  ]);
  assert.deepEqual(obj((await call(req('read', 'data/s'))).data)['data'], { i: 3 });
  await rejects(call(req('read', 'data/s', {}, { version: '1' })), 404, []);
});
