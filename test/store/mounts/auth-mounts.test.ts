import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, obj, rejects, req } from '../../helpers/logical.js';
import type { LogicalBackend } from '../../../src/store/backend.js';
import { MountTable, type MountEntry } from '../../../src/store/mounts/mount-table.js';
import { MemoryStorage, type Storage } from '../../../src/store/storage/storage.js';

/** A credential backend that records the storage it was given and answers every request with its path. */
function fakeCredentials(made: Storage[]): Record<string, (storage: Storage, entry: Readonly<MountEntry>) => LogicalBackend> {
  return {
    userpass: (storage, entry) => {
      made.push(storage);
      return { handle: (r) => Promise.resolve({ data: { mount: entry.path, path: r.path } }) };
    },
  };
}

async function setup(storage = new MemoryStorage()): Promise<{ mt: MountTable; storage: MemoryStorage; made: Storage[]; disabled: string[] }> {
  const made: Storage[] = [];
  const disabled: string[] = [];
  const mt = new MountTable(storage, {
    credentials: fakeCredentials(made),
    onAuthDisabled: (e) => {
      disabled.push(e.accessor);
      return Promise.resolve();
    },
  });
  await mt.load();
  return { mt, storage, made, disabled };
}


test('sys/auth lists token/ only at first; enabling userpass is 204 and lists it with an auth_userpass_ accessor', async () => {
  const { mt } = await setup();
  const first = await mt.handle(req('read', 'auth'), ROOT_CALLER);
  assert.equal(first.topLevelData, true);
  assert.deepEqual(Object.keys(obj(first.data)), ['token/']);
  assert.deepEqual(await mt.handle(req('update', 'auth/userpass', { type: 'userpass', description: 'edgex' }), ROOT_CALLER), { status: 204 });
  const listed = obj(obj((await mt.handle(req('read', 'auth'), ROOT_CALLER)).data)['userpass/']);
  assert.equal(listed['type'], 'userpass');
  assert.equal(listed['description'], 'edgex');
  assert.match(String(listed['accessor']), /^auth_userpass_[0-9a-f]{8}$/);
  assert.deepEqual(listed['config'], { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false, token_type: 'default-service' });
  assert.equal(listed['local'], false);
  assert.equal(listed['seal_wrap'], false);
  const one = await mt.handle(req('read', 'auth/userpass'), ROOT_CALLER);
  assert.equal(obj(one.data)['accessor'], listed['accessor']);
});

test('accessors are stable across a reload; routing reaches the method with the path relative to it', async () => {
  const { mt, storage } = await setup();
  await mt.enableAuth('userpass', { type: 'userpass' });
  const accessor = mt.authEntries().find((e) => e.path === 'userpass/')?.accessor;
  const again = await setup(storage);
  assert.equal(again.mt.authEntries().find((e) => e.path === 'userpass/')?.accessor, accessor);
  const hit = again.mt.resolveAuth('auth/userpass/login/core-data');
  assert.ok(hit);
  assert.equal(hit.rest, 'login/core-data');
  assert.deepEqual((await hit.backend.handle(req('update', hit.rest), ROOT_CALLER)).data, { mount: 'userpass/', path: 'login/core-data' });
  assert.equal(again.mt.resolveAuth('auth/other/login/x'), undefined);
  assert.equal(again.mt.resolveAuth('auth/token/create'), undefined, 'the token store is routed elsewhere');
  assert.equal(again.mt.authByAccessor(accessor ?? '')?.path, 'userpass/');
  // The backend's storage is its own namespace under auth/<uuid>/.
  await again.made[0]?.put('user/x', Buffer.from('1'));
  const uuid = again.mt.authEntries().find((e) => e.path === 'userpass/')?.uuid ?? '';
  assert.ok(await storage.get(`auth/${uuid}/user/x`));
});

test('enable errors: existing path, unknown type, token, empty path', async () => {
  const { mt } = await setup();
  await mt.enableAuth('userpass', { type: 'userpass' });
  await rejects(mt.handle(req('update', 'auth/userpass', { type: 'userpass' }), ROOT_CALLER), 400, ['path is already in use at userpass/']);
  await rejects(mt.handle(req('update', 'auth/token', { type: 'userpass' }), ROOT_CALLER), 400, ['path is already in use at token/']);
  await rejects(mt.handle(req('update', 'auth/ldap', { type: 'ldap' }), ROOT_CALLER), 400, ['plugin not found in the catalog: ldap']);
  await rejects(mt.handle(req('update', 'auth/tok2', { type: 'token' }), ROOT_CALLER), 400, ['token credential backend cannot be instantiated']);
  await rejects(mt.handle(req('update', 'auth/x', {}), ROOT_CALLER), 400, ['backend type must be specified as a string']);
  await rejects(mt.handle(req('read', 'auth/nothing'), ROOT_CALLER), 400, ['No auth engine at nothing/']);
});

test('disable: 204, runs the core hook, deletes the method data; absent is fine; token/ cannot be disabled', async () => {
  const { mt, storage, disabled } = await setup();
  await mt.enableAuth('userpass', { type: 'userpass' });
  const entry = mt.authEntries().find((e) => e.path === 'userpass/');
  assert.ok(entry);
  await storage.put(`auth/${entry.uuid}/user/a`, Buffer.from('x'));
  assert.deepEqual(await mt.handle(req('delete', 'auth/userpass'), ROOT_CALLER), { status: 204 });
  assert.deepEqual(disabled, [entry.accessor]);
  assert.equal(await storage.get(`auth/${entry.uuid}/user/a`), undefined);
  assert.equal(mt.resolveAuth('auth/userpass/login/a'), undefined);
  assert.deepEqual(await mt.handle(req('delete', 'auth/userpass'), ROOT_CALLER), { status: 204 });
  await rejects(mt.handle(req('delete', 'auth/token'), ROOT_CALLER), 400, ['token credential backend cannot be disabled']);
  // Enabled again: a new accessor.
  await mt.enableAuth('userpass', { type: 'userpass' });
  assert.notEqual(mt.authEntries().find((e) => e.path === 'userpass/')?.accessor, entry.accessor);
});

test('tune an auth method: lease settings are read back', async () => {
  const { mt } = await setup();
  await mt.enableAuth('userpass', { type: 'userpass' });
  assert.deepEqual(await mt.handle(req('update', 'auth/userpass/tune', { default_lease_ttl: '1h', max_lease_ttl: '2h' }), ROOT_CALLER), { status: 204 });
  const t = obj((await mt.handle(req('read', 'auth/userpass/tune'), ROOT_CALLER)).data);
  assert.equal(t['default_lease_ttl'], 3600);
  assert.equal(t['max_lease_ttl'], 7200);
});
