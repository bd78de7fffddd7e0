import { test } from 'node:test';
import { ROOT_CALLER, obj, rejects, req } from '../../helpers/logical.js';
import assert from 'node:assert/strict';
import type { CallerContext } from '../../../src/store/backend.js';
import { MountTable } from '../../../src/store/mounts/mount-table.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';

const caller: CallerContext = ROOT_CALLER;



async function setup(): Promise<{ mt: MountTable; storage: MemoryStorage }> {
  const storage = new MemoryStorage();
  const mt = new MountTable(storage);
  await mt.load();
  return { mt, storage };
}


test('built-in mounts: sys/ and auth token/, no secret/', async () => {
  const { mt } = await setup();
  const r = await mt.handle(req('read', 'mounts'), caller);
  assert.equal(r.topLevelData, true);
  assert.deepEqual(Object.keys(obj(r.data)), ['sys/']);
  const sys = obj(obj(r.data)['sys/']);
  assert.equal(sys['type'], 'system');
  assert.match(String(sys['accessor']), /^system_[0-9a-f]{8}$/);
  assert.deepEqual(sys['config'], { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false });
  const auth = await mt.handle(req('read', 'sys/auth'), caller);
  assert.deepEqual(Object.keys(obj(auth.data)), ['token/']);
  assert.equal(obj(obj(auth.data)['token/'])['type'], 'token');
  assert.equal(mt.resolve('secret/data/x'), undefined);
  assert.equal(mt.resolve('sys/mounts'), undefined, 'sys/ is served by the HTTP layer');
});

test('mount kv-v2 and kv v1; GET sys/mounts shows them as Vault does', async () => {
  const { mt } = await setup();
  assert.deepEqual(await mt.handle(req('update', 'mounts/secret', { type: 'kv', options: { version: '2' }, description: 'edgex' }), caller), { status: 204 });
  await mt.handle(req('update', 'sys/mounts/kv1/', { type: 'kv' }), caller);
  await mt.handle(req('update', 'mounts/alias', { type: 'kv-v2' }), caller);
  const data = obj((await mt.handle(req('read', 'mounts'), caller)).data);
  assert.deepEqual(Object.keys(data).sort(), ['alias/', 'kv1/', 'secret/', 'sys/']);
  const secret = obj(data['secret/']);
  assert.equal(secret['type'], 'kv');
  assert.deepEqual(secret['options'], { version: '2' });
  assert.equal(secret['description'], 'edgex');
  assert.match(String(secret['accessor']), /^kv_[0-9a-f]{8}$/);
  assert.match(String(secret['uuid']), /^[0-9a-f-]{36}$/);
  for (const k of ['config', 'local', 'seal_wrap', 'external_entropy_access']) assert.ok(k in secret, k);
  assert.equal(obj(data['kv1/'])['options'], null);
  assert.deepEqual(obj(data['alias/'])['options'], { version: '2' });
  assert.deepEqual((await mt.handle(req('read', 'mounts/secret'), caller)).data?.['type'], 'kv');
});

test('mount errors use Vault messages', async () => {
  const { mt } = await setup();
  await mt.mount('secret', { type: 'kv', options: { version: 2 } });
  await rejects(mt.handle(req('update', 'mounts/secret', { type: 'kv' }), caller), 400, ['path is already in use at secret/']);
  await rejects(mt.handle(req('update', 'mounts/secret/nested', { type: 'kv' }), caller), 400, ['path is already in use at secret/']);
  await mt.mount('a/b', { type: 'kv' });
  await rejects(mt.handle(req('update', 'mounts/a', { type: 'kv' }), caller), 400, ['path is already in use at a/b/']);
  await rejects(mt.handle(req('update', 'mounts/sys', { type: 'kv' }), caller), 400, ['path is already in use at sys/']);
  await rejects(mt.handle(req('update', 'mounts/auth/x', { type: 'kv' }), caller), 400, ['cannot mount "auth/x/"']);
  await rejects(mt.handle(req('update', 'mounts/x', {}), caller), 400, ['backend type must be specified as a string']);
  await rejects(mt.handle(req('update', 'mounts/x', { type: 'pki' }), caller), 400, ['plugin not found in the catalog: pki']);
  await rejects(mt.handle(req('update', 'mounts/x', { type: 'kv', options: { version: '3' } }), caller), 400, [
    'invalid version "3": only versions 1 and 2 are supported',
  ]);
  await rejects(mt.handle(req('update', 'mounts/x/../y', { type: 'kv' }), caller), 400, [`'..' not allowed in mount path`]);
  await rejects(mt.handle(req('delete', 'mounts/sys'), caller), 400, ['cannot unmount "sys/"']);
  await rejects(mt.handle(req('read', 'mounts/none'), caller), 400, ['No secret engine mount at none/']);
  await rejects(mt.handle(req('read', 'other'), caller), 404, ['no handler for route "sys/other". route entry not found.']);
  await rejects(mt.handle(req('delete', 'mounts'), caller), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
});

test('resolve: longest match, bare mount path, backend per version, data isolated per mount', async () => {
  const { mt } = await setup();
  await mt.mount('secret', { type: 'kv-v2' });
  await mt.mount('secretv1', { type: 'kv' });
  const r = mt.resolve('secret/data/app');
  assert.ok(r);
  assert.equal(r.entry.path, 'secret/');
  assert.equal(r.rest, 'data/app');
  assert.equal(mt.resolve('secret')?.rest, '');
  assert.equal(mt.resolve('/secretv1/x')?.entry.path, 'secretv1/');
  assert.equal(mt.resolve('secretv1/x')?.rest, 'x');
  assert.equal(mt.resolve('secre'), undefined);
  await r.backend.handle(req('create', 'data/app', { data: { a: 1 } }), caller);
  assert.equal(mt.resolve('secret/x')?.backend, r.backend, 'one backend instance per mount');
  const v1 = mt.resolve('secretv1/app');
  assert.ok(v1);
  await v1.backend.handle(req('create', 'app', { b: 2 }), caller);
  assert.deepEqual((await v1.backend.handle(req('read', 'app'), caller)).data, { b: 2 });
  const back = await r.backend.handle(req('read', 'data/app'), caller);
  assert.deepEqual(obj(back.data)['data'], { a: 1 });
});

test('the table persists; unmount removes the mount and its data', async () => {
  const { mt, storage } = await setup();
  await mt.mount('secret', { type: 'kv-v2' });
  const r = mt.resolve('secret/data/k');
  assert.ok(r);
  await r.backend.handle(req('create', 'data/k', { data: { a: 1 } }), caller);
  await r.backend.handle(req('create', 'data/dir/k2', { data: { a: 1 } }), caller);
  const uuid = r.entry.uuid;
  assert.ok((await storage.list(`logical/${uuid}/`)).length > 0);

  const again = new MountTable(storage);
  await again.load();
  const r2 = again.resolve('secret/data/k');
  assert.equal(r2?.entry.uuid, uuid);
  assert.deepEqual(obj((await r2.backend.handle(req('read', 'data/k'), caller)).data)['data'], { a: 1 });

  assert.deepEqual(await again.handle(req('delete', 'mounts/secret'), caller), { status: 204 });
  assert.equal(again.resolve('secret/data/k'), undefined);
  assert.deepEqual(await storage.list(`logical/${uuid}/`), []);
  assert.deepEqual(await again.handle(req('delete', 'mounts/secret'), caller), { status: 204 }, 'absent: still 204');
  const third = new MountTable(storage);
  await third.load();
  assert.equal(third.resolve('secret/x'), undefined);
});

test('sys/internal/ui/mounts: mount of a path (KV version detection) and preflight 403', async () => {
  const { mt } = await setup();
  await mt.mount('secret', { type: 'kv', options: { version: '2' } });
  const r = await mt.handle(req('read', 'internal/ui/mounts/secret/app/db'), caller);
  const data = obj(r.data);
  assert.equal(data['path'], 'secret/');
  assert.equal(data['type'], 'kv');
  assert.deepEqual(data['options'], { version: '2' });
  await rejects(mt.handle(req('read', 'internal/ui/mounts/nope/x'), caller), 403, [
    `preflight capability check returned 403, please ensure client's policies grant access to path "nope/x/"`,
  ]);
  const all = obj((await mt.handle(req('read', 'internal/ui/mounts'), caller)).data);
  assert.deepEqual(Object.keys(obj(all['secret'])).sort(), ['secret/', 'sys/']);
  assert.deepEqual(Object.keys(obj(all['auth'])), ['token/']);
});

test('tune: read effective TTLs, update description and TTLs; KV version changes refused', async () => {
  const { mt } = await setup();
  await mt.mount('secret', { type: 'kv-v2', config: { max_lease_ttl: '1h' } });
  assert.deepEqual((await mt.handle(req('read', 'mounts/secret/tune'), caller)).data, {
    default_lease_ttl: 2764800,
    max_lease_ttl: 3600,
    force_no_cache: false,
    description: '',
    options: { version: '2' },
  });
  await mt.handle(req('update', 'mounts/secret/tune', { description: 'd', default_lease_ttl: '30m' }), caller);
  const t = obj((await mt.handle(req('read', 'mounts/secret/tune'), caller)).data);
  assert.equal(t['description'], 'd');
  assert.equal(t['default_lease_ttl'], 1800);
  await rejects(mt.handle(req('update', 'mounts/secret/tune', { options: { version: '1' } }), caller), 400, [
    'changing the KV version of a mount is not supported by this store',
  ]);
});

test('forgetCaches: every engine forgets what it decoded and is built afresh, data intact', async () => {
  const { mt } = await setup();
  await mt.mount('secret', { type: 'kv-v2' });
  const before = mt.resolve('secret/data/app');
  assert.ok(before);
  await before.backend.handle(req('create', 'data/app', { data: { a: 1 } }), caller);
  await before.backend.handle(req('read', 'data/app'), caller);
  mt.forgetCaches();
  const after = mt.resolve('secret/data/app');
  assert.ok(after);
  assert.notEqual(after.backend, before.backend);
  assert.deepEqual(obj((await after.backend.handle(req('read', 'data/app'), caller)).data)['data'], { a: 1 });
  // A trailing-slash-less mount path and a path that only shares a prefix resolve as before.
  assert.equal(mt.resolve('secret')?.rest, '');
  assert.equal(mt.resolve('secretx/data/app'), undefined);
});
