/**
 * The identity pieces composed as the store runs them, without sockets: StoreApi over the real LogicalLayer (token
 * store, policies, mounts with userpass, identity store, OIDC) on memory storage. Covers what only the composition
 * does: logins become tokens bound to entities, the ACL grants token ∪ entity policies and re-reads the entity on
 * every request, disabled entities and foreign addresses are refused, and disabling a method revokes its tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApi } from '../../../src/store/http/api.js';
import { LogicalLayer } from '../../../src/store/http/logical-layer.js';
import type { ApiRequest } from '../../../src/store/http/request.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { FakeSeal } from './fakes.js';

interface Harness {
  call(method: string, path: string, opts?: { token?: string; body?: unknown; from?: string }): Promise<{ status: number; body: Record<string, unknown> }>;
  root: string;
  layer: LogicalLayer;
}

async function setup(now?: () => number): Promise<Harness> {
  const seal = new FakeSeal();
  const layer = await LogicalLayer.open(new MemoryStorage(), now === undefined ? {} : { now });
  const root = await layer.tokens.createRoot();
  const api = new StoreApi({ seal, logical: () => layer, createRootToken: () => Promise.resolve(root) });
  const call: Harness['call'] = async (method, path, opts = {}) => {
    const r: ApiRequest = {
      method,
      target: '/v1/' + path,
      headers: { 'x-vault-token': opts.token },
      body: opts.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(opts.body)),
      remoteAddress: opts.from ?? '127.0.0.1',
    };
    const { result } = await api.handle(r);
    return { status: result.status, body: (result.body ?? {}) as Record<string, unknown> };
  };
  return { call, root, layer };
}

function data(r: { body: Record<string, unknown> }): Record<string, unknown> {
  return r.body['data'] as Record<string, unknown>;
}

function auth(r: { body: Record<string, unknown> }): Record<string, unknown> {
  return r.body['auth'] as Record<string, unknown>;
}

/** Userpass, a KV v1 secret/ mount, a service policy, an entity with that policy, a user and its alias. */
async function edgexService(h: Harness, svc: string, password: string): Promise<string> {
  const t = { token: h.root };
  await h.call('POST', 'sys/auth/userpass', { ...t, body: { type: 'userpass' } });
  await h.call('POST', 'sys/mounts/secret', { ...t, body: { type: 'kv', options: { version: '1' } } });
  const policy = JSON.stringify({ path: { [`secret/edgex/${svc}/*`]: { capabilities: ['create', 'update', 'delete', 'list', 'read'] } } });
  assert.equal((await h.call('PUT', `sys/policies/acl/edgex-service-${svc}`, { ...t, body: { policy } })).status, 204);
  const created = await h.call('POST', `identity/entity/name/${svc}`, { ...t, body: { metadata: { name: svc }, policies: [`edgex-service-${svc}`] } });
  assert.equal(created.status, 200);
  const id = String(data(created)['id']);
  assert.equal((await h.call('POST', `auth/userpass/users/${svc}`, { ...t, body: { password, token_period: '1h', token_policies: [] } })).status, 204);
  const acc = String((data(await h.call('GET', 'sys/auth', t))['userpass/'] as Record<string, unknown>)['accessor']);
  const alias = await h.call('POST', 'identity/entity-alias', { ...t, body: { name: svc, canonical_id: id, mount_accessor: acc } });
  assert.equal(alias.status, 200);
  return id;
}

test('a userpass login binds to the aliased entity; the ACL grants token and entity policies', async () => {
  const h = await setup();
  const entityId = await edgexService(h, 'core-data', 'pw-one');
  const login = await h.call('POST', 'auth/userpass/login/core-data', { body: { password: 'pw-one' }, token: 'ignored-token' });
  assert.equal(login.status, 200);
  const a = auth(login);
  assert.equal(a['entity_id'], entityId);
  assert.deepEqual(a['token_policies'], ['default']);
  assert.deepEqual(a['identity_policies'], ['edgex-service-core-data']);
  assert.deepEqual(a['policies'], ['default', 'edgex-service-core-data']);
  assert.equal(a['lease_duration'], 3600);
  assert.equal(a['renewable'], true);
  assert.equal(a['orphan'], true);
  assert.deepEqual(a['metadata'], { username: 'core-data' });
  const token = String(a['client_token']);
  assert.equal((await h.call('POST', 'secret/edgex/core-data/db', { token, body: { user: 'u' } })).status, 204);
  assert.equal((await h.call('GET', 'secret/edgex/core-data/db', { token })).status, 200);
  assert.equal((await h.call('GET', 'secret/edgex/core-data/?list=true', { token })).status, 200);
  assert.equal((await h.call('GET', 'secret/edgex/core-metadata/db', { token })).status, 403);
  const self = data(await h.call('GET', 'auth/token/lookup-self', { token }));
  assert.equal(self['period'], 3600);
  assert.equal(self['renewable'], true);
  assert.deepEqual(self['identity_policies'], ['edgex-service-core-data']);
  const renewed = await h.call('POST', 'auth/token/renew-self', { token, body: {} });
  assert.equal(renewed.status, 200);
  assert.deepEqual(auth(renewed)['identity_policies'], ['edgex-service-core-data']);
  // A second login reuses the entity (no new one).
  const again = auth(await h.call('POST', 'auth/userpass/login/core-data', { body: { password: 'pw-one' } }));
  assert.equal(again['entity_id'], entityId);
  assert.equal((await h.call('GET', 'identity/entity/name/?list=true', { token: h.root })).body['data'] !== undefined, true);
  assert.deepEqual(data(await h.call('GET', 'identity/entity/name/?list=true', { token: h.root }))['keys'], ['core-data']);
});

test('entity changes take effect on the next request: a removed policy, a disabled entity, a deleted entity', async () => {
  const h = await setup();
  await edgexService(h, 'core-data', 'pw');
  const token = String(auth(await h.call('POST', 'auth/userpass/login/core-data', { body: { password: 'pw' } }))['client_token']);
  assert.equal((await h.call('POST', 'secret/edgex/core-data/a', { token, body: { x: 1 } })).status, 204);
  await h.call('POST', 'identity/entity/name/core-data', { token: h.root, body: { policies: [] } });
  assert.equal((await h.call('GET', 'secret/edgex/core-data/a', { token })).status, 403, 'policy removed from the entity');
  await h.call('POST', 'identity/entity/name/core-data', { token: h.root, body: { policies: ['edgex-service-core-data'] } });
  assert.equal((await h.call('GET', 'secret/edgex/core-data/a', { token })).status, 200, 'policy back');
  await h.call('POST', 'identity/entity/name/core-data', { token: h.root, body: { disabled: true } });
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token })).status, 403, 'disabled entity: every request denied');
  assert.equal((await h.call('POST', 'auth/userpass/login/core-data', { body: { password: 'pw' } })).status, 403, 'no login either');
  await h.call('POST', 'identity/entity/name/core-data', { token: h.root, body: { disabled: false } });
  assert.equal((await h.call('GET', 'secret/edgex/core-data/a', { token })).status, 200);
  await h.call('DELETE', 'identity/entity/name/core-data', { token: h.root });
  assert.equal((await h.call('GET', 'secret/edgex/core-data/a', { token })).status, 403, 'deleted entity: identity policies gone');
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token })).status, 200, 'the token itself still works');
});

test('wrong password and unknown user give the same 400; a new password replaces the old', async () => {
  const h = await setup();
  await edgexService(h, 'core-data', 'old');
  const wrong = await h.call('POST', 'auth/userpass/login/core-data', { body: { password: 'nope' } });
  const unknown = await h.call('POST', 'auth/userpass/login/nobody', { body: { password: 'nope' } });
  assert.deepEqual(wrong, { status: 400, body: { errors: ['invalid username or password'] } });
  assert.deepEqual(unknown, wrong);
  await h.call('POST', 'auth/userpass/users/core-data', { token: h.root, body: { password: 'new', token_period: '1h', token_policies: [] } });
  assert.equal((await h.call('POST', 'auth/userpass/login/core-data', { body: { password: 'old' } })).status, 400);
  assert.equal((await h.call('POST', 'auth/userpass/login/core-data', { body: { password: 'new' } })).status, 200);
});

test('bound CIDRs: login and every later request must come from inside them', async () => {
  const h = await setup();
  await edgexService(h, 'svc', 'pw');
  await h.call('POST', 'auth/userpass/users/svc', { token: h.root, body: { token_bound_cidrs: ['10.1.0.0/16'] } });
  assert.equal((await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' }, from: '127.0.0.1' })).status, 403);
  const ok = await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' }, from: '10.1.2.3' });
  assert.equal(ok.status, 200);
  const token = String(auth(ok)['client_token']);
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token, from: '10.1.9.9' })).status, 200);
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token, from: '10.2.0.1' })).status, 403);
});

test('disabling userpass revokes its tokens, removes its aliases and users; policies need sudo on sys/auth', async () => {
  const h = await setup();
  const entityId = await edgexService(h, 'svc', 'pw');
  const token = String(auth(await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' } }))['client_token']);
  // A token without sudo cannot enable or disable methods.
  assert.equal((await h.call('DELETE', 'sys/auth/userpass', { token })).status, 403);
  assert.equal((await h.call('DELETE', 'sys/auth/userpass', { token: h.root })).status, 204);
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token })).status, 403, 'its tokens are revoked');
  const entity = data(await h.call('GET', `identity/entity/id/${entityId}`, { token: h.root }));
  assert.deepEqual(entity['aliases'], [], 'its aliases are gone');
  assert.equal((await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' } })).status, 403, 'no such route: a request without token is denied');
  await h.call('POST', 'sys/auth/userpass', { token: h.root, body: { type: 'userpass' } });
  assert.equal((await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' } })).status, 400, 'users went with the mount');
});

test('EdgeX admin token: HCL policy, token role, create/<role> with entity_alias under sudo', async () => {
  const h = await setup();
  await edgexService(h, 'core-data', 'pw');
  const hcl = [
    'path "auth/token/create/*" { capabilities = ["create", "update", "sudo"] }',
    'path "auth/token/roles/*" { capabilities = ["create", "update"] }',
    'path "identity/entity/id/*" { capabilities = ["read"] }',
  ].join('\n');
  assert.equal((await h.call('PUT', 'sys/policies/acl/privileged-token-creator', { token: h.root, body: { policy: hcl } })).status, 204);
  const adminResp = await h.call('POST', 'auth/token/create', {
    token: h.root,
    body: { display_name: 'privileged-token-creator', no_parent: true, period: '1h', policies: ['privileged-token-creator'], ttl: '1h' },
  });
  const admin = String(auth(adminResp)['client_token']);
  const role = { allowed_policies: ['edgex-service-core-data'], name: 'core-data', renewable: true, allowed_entity_aliases: ['core-data'], orphan: true };
  assert.equal((await h.call('POST', 'auth/token/roles/core-data', { token: admin, body: role })).status, 204);
  const created = await h.call('POST', 'auth/token/create/core-data', {
    token: admin,
    body: { display_name: 'token-core-data', role_name: 'core-data', entity_alias: 'core-data', no_parent: true, policies: ['edgex-service-core-data'], meta: { user: 'core-data' }, ttl: '1h', period: '1h', renewable: true },
  });
  assert.equal(created.status, 200);
  const t = String(auth(created)['client_token']);
  assert.equal((await h.call('POST', 'secret/edgex/core-data/k', { token: t, body: { v: 1 } })).status, 204);
  assert.equal((await h.call('POST', 'secret/edgex/core-metadata/k', { token: t, body: { v: 1 } })).status, 403);
  const foreign = await h.call('POST', 'auth/token/create/core-data', { token: admin, body: { entity_alias: 'core-metadata' } });
  assert.deepEqual(foreign, { status: 400, body: { errors: ["invalid 'entity_alias' value"] } });
});

test('token lifecycle: an expired login token stops working at once; accessors, lookup-accessor, revoke-accessor, revoke-self', async () => {
  let t = Date.UTC(2026, 0, 1);
  const h = await setup(() => t);
  await edgexService(h, 'svc', 'pw');
  await h.call('POST', 'auth/userpass/users/svc', { token: h.root, body: { token_period: 0, token_ttl: '2s', token_max_ttl: '10s' } });
  const login = auth(await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' } }));
  const token = String(login['client_token']);
  assert.equal(login['lease_duration'], 2);
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token })).status, 200);
  t += 1999;
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token })).status, 200, 'still valid 1 ms before expiry');
  t += 1;
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token })).status, 403, 'expired: refused at once');
  assert.equal((await h.call('GET', 'secret/edgex/svc/x', { token })).status, 403);
  // Accessors: listed (sudo), looked up (root's too, with policies), revoked.
  const second = auth(await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' } }));
  const keys = data(await h.call('GET', 'auth/token/accessors?list=true', { token: h.root }))['keys'] as string[];
  assert.ok(keys.includes(String(second['accessor'])));
  const rootAccessor = String(data(await h.call('GET', 'auth/token/lookup-self', { token: h.root }))['accessor']);
  assert.deepEqual(data(await h.call('POST', 'auth/token/lookup-accessor', { token: h.root, body: { accessor: rootAccessor } }))['policies'], ['root']);
  const info = data(await h.call('POST', 'auth/token/lookup-accessor', { token: h.root, body: { accessor: second['accessor'] } }));
  assert.equal(info['id'], '', 'a lookup by accessor never shows the token');
  assert.deepEqual(info['identity_policies'], ['edgex-service-svc']);
  assert.equal((await h.call('POST', 'auth/token/revoke-accessor', { token: h.root, body: { accessor: second['accessor'] } })).status, 204);
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token: String(second['client_token']) })).status, 403);
  const third = String(auth(await h.call('POST', 'auth/userpass/login/svc', { body: { password: 'pw' } }))['client_token']);
  assert.equal((await h.call('POST', 'auth/token/revoke-self', { token: third })).status, 204);
  assert.equal((await h.call('GET', 'auth/token/lookup-self', { token: third })).status, 403);
});
