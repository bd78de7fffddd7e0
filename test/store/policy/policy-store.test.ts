import { test } from 'node:test';
import { rejects, req } from '../../helpers/logical.js';
import assert from 'node:assert/strict';
import type { CallerContext } from '../../../src/store/backend.js';
import { PolicyStore, legacyPolicyBackend, policyAclBackend } from '../../../src/store/policy/policy-store.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';

const root: CallerContext = { clientToken: 'hvs.x', policies: ['root'], sudo: true, root: true };



async function fresh(): Promise<{ store: PolicyStore; storage: MemoryStorage }> {
  const storage = new MemoryStorage();
  const store = new PolicyStore(storage);
  await store.init();
  return { store, storage };
}

test('init stores the default policy once; lists end with root', async () => {
  const { store, storage } = await fresh();
  assert.deepEqual(await storage.list('sys/policy/'), ['default']);
  const r = await store.handle(req('list', 'policies/acl/'), root);
  assert.deepEqual(r.data, { keys: ['default', 'root'] });
  // A changed default survives a second init.
  await store.setPolicy('default', 'path "x" { capabilities = ["read"] }');
  await new PolicyStore(storage).init();
  assert.equal((await new PolicyStore(storage).getPolicy('default'))?.text, 'path "x" { capabilities = ["read"] }');
});

test('writing a policy back unchanged makes no storage write; a change does', async () => {
  const { store, storage } = await fresh();
  let puts = 0;
  const put = storage.put.bind(storage);
  storage.put = (key, value) => {
    puts++;
    return put(key, value);
  };
  const text = 'path "secret/*" { capabilities = ["read"] }';
  await store.setPolicy('edgex-service-core-data', text);
  await store.setPolicy('edgex-service-core-data', text);
  await store.setPolicy('EDGEX-service-core-data', text); // the same policy (names are lower-cased)
  assert.equal(puts, 1, 'one write for three identical requests');
  const changed = 'path "secret/*" { capabilities = ["read", "list"] }';
  await store.setPolicy('edgex-service-core-data', changed);
  assert.equal(puts, 2);
  assert.equal((await new PolicyStore(storage).getPolicy('edgex-service-core-data'))?.text, changed);
  const acl = await store.getAcl(['edgex-service-core-data']);
  assert.equal(acl.allows('secret/x', 'list'), true, 'the ACL follows the change');
});

test('default policy grants what Vault grants', async () => {
  const { store } = await fresh();
  const acl = await store.getAcl(['default']);
  assert.equal(acl.allows('auth/token/lookup-self', 'read'), true);
  assert.equal(acl.allows('auth/token/renew-self', 'update'), true);
  assert.equal(acl.allows('auth/token/revoke-self', 'update'), true);
  assert.equal(acl.allows('sys/capabilities-self', 'update'), true);
  assert.equal(acl.allows('cubbyhole/x', 'create'), true);
  assert.equal(acl.allows('sys/wrapping/wrap', 'update'), true);
  assert.equal(acl.allows('secret/data/x', 'read'), false);
  assert.equal(acl.allows('auth/token/create', 'update'), false);
});

test('sys/policies/acl: write, read, list, delete (names lower-cased)', async () => {
  const { store } = await fresh();
  const text = 'path "secret/*" { capabilities = ["read"] }';
  assert.deepEqual(await store.handle(req('update', 'policies/acl/MyApp', { policy: text }), root), { status: 204 });
  assert.deepEqual((await store.handle(req('read', 'policies/acl/myapp'), root)).data, { name: 'myapp', policy: text });
  assert.deepEqual((await store.handle(req('list', 'policies/acl/'), root)).data, { keys: ['default', 'myapp', 'root'] });
  assert.deepEqual(await store.handle(req('delete', 'sys/policies/acl/myapp'), root), { status: 204 });
  await rejects(store.handle(req('read', 'policies/acl/myapp'), root), 404, []);
  // Deleting an absent policy is fine.
  assert.deepEqual(await store.handle(req('delete', 'policies/acl/nope'), root), { status: 204 });
});

test('base64 policy text is decoded', async () => {
  const { store } = await fresh();
  const text = 'path "a" { capabilities = ["list"] }';
  await store.handle(req('create', 'policies/acl/b64', { policy: Buffer.from(text).toString('base64') }), root);
  assert.equal((await store.getPolicy('b64'))?.text, text);
});

test('legacy sys/policy shapes (node-vault)', async () => {
  const { store } = await fresh();
  const legacy = legacyPolicyBackend(store);
  await legacy.handle(req('update', 'app', { rules: 'path "a" { capabilities = ["read"] }' }), root);
  await legacy.handle(req('update', 'app2', { policy: 'path "b" { capabilities = ["read"] }' }), root);
  const list = await legacy.handle(req('read', ''), root);
  assert.deepEqual(list, { data: { keys: ['app', 'app2', 'default', 'root'], policies: ['app', 'app2', 'default', 'root'] }, topLevelData: true });
  const one = await legacy.handle(req('read', 'app'), root);
  assert.deepEqual(one, { data: { name: 'app', rules: 'path "a" { capabilities = ["read"] }' }, topLevelData: true });
  const viaHandle = await store.handle(req('read', 'policy/app2'), root);
  assert.equal(viaHandle.data?.['rules'], 'path "b" { capabilities = ["read"] }');
  const acl = policyAclBackend(store);
  assert.deepEqual((await acl.handle(req('read', 'app'), root)).data, { name: 'app', policy: 'path "a" { capabilities = ["read"] }' });
});

test('root policy reads as empty and cannot be changed or deleted; default cannot be deleted', async () => {
  const { store } = await fresh();
  assert.deepEqual((await store.handle(req('read', 'policies/acl/root'), root)).data, { name: 'root', policy: '' });
  await rejects(store.handle(req('update', 'policies/acl/root', { policy: 'path "a" { capabilities = ["read"] }' }), root), 400, ['cannot update "root" policy']);
  await rejects(store.handle(req('delete', 'policies/acl/root'), root), 400, ['cannot delete "root" policy']);
  await rejects(store.handle(req('delete', 'policies/acl/default'), root), 400, ['cannot delete default policy']);
  await rejects(store.handle(req('delete', 'policy/DEFAULT'), root), 400, ['cannot delete default policy']);
});

test('empty or invalid policies are refused with Vault messages', async () => {
  const { store } = await fresh();
  await rejects(store.handle(req('update', 'policies/acl/x', {}), root), 400, [`'policy' parameter not supplied or empty`]);
  await rejects(store.handle(req('update', 'policies/acl/x', { policy: '' }), root), 400, [`'policy' parameter not supplied or empty`]);
  await rejects(store.handle(req('update', 'policies/acl/x', { policy: 'path "a" { capabilities = ["fly"] }' }), root), 400, [
    'failed to parse policy: path "a": invalid capability "fly"',
  ]);
  await rejects(store.handle(req('read', 'policies/acl/'), root), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
  await rejects(store.handle(req('read', 'policies/other'), root), 404, ['no handler for route "sys/policies/other". route entry not found.']);
});

test('getAcl: unknown names skipped, cache invalidated on change', async () => {
  const { store } = await fresh();
  await store.setPolicy('app', 'path "secret/a" { capabilities = ["read"] }');
  const first = await store.getAcl(['app', 'ghost']);
  assert.equal(first.allows('secret/a', 'read'), true);
  assert.equal(await store.getAcl(['ghost', 'app']), first, 'cached regardless of order');
  await store.setPolicy('app', 'path "secret/a" { capabilities = ["deny"] }');
  assert.equal((await store.getAcl(['app'])).allows('secret/a', 'read'), false);
  await store.deletePolicy('app');
  assert.equal((await store.getAcl(['app'])).allows('secret/a', 'read'), false);
  assert.equal((await store.getAcl(['root'])).isRoot, true);
});

test('names containing slashes are stored flat and listed back', async () => {
  const { store } = await fresh();
  await store.setPolicy('team/app', 'path "a" { capabilities = ["read"] }');
  assert.deepEqual(await store.listPolicies(), ['default', 'team/app', 'root']);
  assert.equal((await store.handle(req('read', 'policies/acl/team/app'), root)).data?.['name'], 'team/app');
});

test('getAclCached: only compiled ACLs, remembered per frozen list, forgotten when a policy changes', async () => {
  const { store } = await fresh();
  await store.setPolicy('app', 'path "secret/data/app/*" { capabilities = ["read"] }');
  const names = Object.freeze(['app', 'default']);
  assert.equal(store.getAclCached(names), undefined);
  const built = await store.getAcl(names);
  assert.equal(store.getAclCached(names), built);
  assert.equal(store.getAclCached(names), built);
  assert.ok(built.allows('secret/data/app/x', 'read'));
  await store.setPolicy('app', 'path "secret/data/app/*" { capabilities = ["deny"] }');
  // The list's remembered ACL belongs to the old generation: nothing compiled until getAcl builds the new one.
  assert.equal(store.getAclCached(names), undefined);
  const rebuilt = await store.getAcl(names);
  assert.equal(rebuilt.allows('secret/data/app/x', 'read'), false);
  assert.equal(store.getAclCached(names), rebuilt);
  // A mutable list is answered, but not remembered by identity.
  const mutable = ['app', 'default'];
  assert.equal(store.getAclCached(mutable), rebuilt);
  mutable[0] = 'nothing';
  assert.notEqual(store.getAclCached(mutable), rebuilt);
});
