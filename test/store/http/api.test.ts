import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApi } from '../../../src/store/http/api.js';
import type { ApiRequest } from '../../../src/store/http/request.js';
import { FakeLogical, FakeSeal } from './fakes.js';
import type { CallerContext } from '../../../src/store/backend.js';
import type { LogicalRequest } from '../../../src/store/logical.js';

function setup(): { api: StoreApi; seal: FakeSeal; logical: FakeLogical; internal: unknown[] } {
  const seal = new FakeSeal();
  const logical = new FakeLogical();
  const internal: unknown[] = [];
  const api = new StoreApi({
    seal,
    logical: () => (seal.sealed ? undefined : logical),
    createRootToken: () => Promise.resolve('new-root'),
    onInternalError: (e) => internal.push(e),
  });
  return { api, seal, logical, internal };
}

function lastRequest(logical: FakeLogical): LogicalRequest {
  const r = logical.kv.lastRequest;
  assert.ok(r !== undefined, 'no request reached the backend');
  return r;
}

function lastCaller(logical: FakeLogical): CallerContext {
  const c = logical.kv.lastCaller;
  assert.ok(c !== undefined, 'no request reached the backend');
  return c;
}

function req(method: string, target: string, opts: { token?: string; body?: unknown; contentType?: string; auth?: string } = {}): ApiRequest {
  return {
    method,
    target,
    headers: { 'x-vault-token': opts.token, authorization: opts.auth, 'content-type': opts.contentType },
    body: opts.body === undefined ? Buffer.alloc(0) : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)),
  };
}

test('a target outside /v1/ is 404 with an empty error list', async () => {
  const { api } = setup();
  const { result } = await api.handle(req('GET', '/v2/sys/health'));
  assert.deepEqual(result, { status: 404, body: { errors: [] } });
});

test('every logical path is 503 "Vault is sealed" while sealed, unauthenticated sys paths still answer', async () => {
  const { api, seal } = setup();
  seal.sealed = true;
  for (const [m, p] of [['GET', '/v1/secret/x'], ['POST', '/v1/sys/mounts/kv'], ['GET', '/v1/auth/token/lookup-self'], ['GET', '/v1/sys/policies/acl?list=true']] as const) {
    const { result } = await api.handle(req(m, p, { token: 'root-token' }));
    assert.deepEqual(result, { status: 503, body: { errors: ['Vault is sealed'] } }, p);
  }
  assert.equal((await api.handle(req('GET', '/v1/sys/seal-status'))).result.status, 200);
  assert.equal((await api.handle(req('GET', '/v1/sys/leader'))).result.status, 200);
  assert.equal((await api.handle(req('GET', '/v1/sys/health'))).result.status, 503);
  // sys/seal on a sealed store: 204 without looking at the token.
  assert.deepEqual((await api.handle(req('PUT', '/v1/sys/seal'))).result, { status: 204 });
});

test('missing token → 403 permission denied; unknown token → permission denied + invalid token', async () => {
  const { api } = setup();
  assert.deepEqual((await api.handle(req('GET', '/v1/secret/x'))).result, { status: 403, body: { errors: ['permission denied'] } });
  assert.deepEqual((await api.handle(req('GET', '/v1/secret/x', { token: 'nope' }))).result, {
    status: 403,
    body: { errors: ['permission denied', 'invalid token'] },
  });
});

test('Authorization: Bearer is accepted; unauthenticated endpoints ignore a bad token', async () => {
  const { api } = setup();
  await api.handle(req('PUT', '/v1/secret/a', { token: 'root-token', body: { v: 1 } }));
  const r = await api.handle(req('GET', '/v1/secret/a', { auth: 'Bearer root-token' }));
  assert.equal(r.result.status, 200);
  assert.equal((await api.handle(req('GET', '/v1/sys/seal-status', { token: 'garbage' }))).result.status, 200);
  assert.equal((await api.handle(req('GET', '/v1/sys/init', { token: 'garbage' }))).result.status, 200);
});

test('envelope: read returns Vault fields, mount_type and the data; list adds a trailing slash and uses list', async () => {
  const { api, logical } = setup();
  await api.handle(req('POST', '/v1/secret/dir/k', { token: 'root-token', body: { password: 'p' } }));
  const { result } = await api.handle(req('GET', '/v1/secret/dir/k', { token: 'root-token' }));
  assert.equal(result.status, 200);
  const body = result.body as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['auth', 'data', 'lease_duration', 'lease_id', 'mount_type', 'renewable', 'request_id', 'warnings', 'wrap_info'].sort());
  assert.deepEqual(body.data, { password: 'p' });
  assert.equal(body.mount_type, 'kv');
  assert.match(body.request_id as string, /^[0-9a-f-]{36}$/);
  const list = await api.handle(req('GET', '/v1/secret/dir?list=true', { token: 'root-token' }));
  assert.deepEqual((list.result.body as Record<string, unknown>).data, { keys: ['k'] });
  assert.equal(lastRequest(logical).operation, 'list');
  assert.equal(lastRequest(logical).path, 'dir/');
  const list1 = await api.handle(req('GET', '/v1/secret/?list=1', { token: 'root-token' }));
  assert.deepEqual((list1.result.body as Record<string, unknown>).data, { keys: ['dir/'] });
  // An empty list is a 404 with no errors.
  assert.deepEqual((await api.handle(req('GET', '/v1/secret/none/?list=true', { token: 'root-token' }))).result, { status: 404, body: { errors: [] } });
});

test('ACL: create vs update from the existence check, denied paths, sudo-protected paths', async () => {
  const { api, logical } = setup();
  logical.policies.set('writer', { 'secret/app/*': ['update', 'read'], 'secret/new/*': ['create'], 'sys/raw/*': ['read'] });
  logical.tokens.set('w', { policies: ['writer'], num_uses: 0 });
  // Absent item: POST is `create`, which "writer" lacks on secret/app/.
  assert.equal((await api.handle(req('POST', '/v1/secret/app/x', { token: 'w', body: { a: 1 } }))).result.status, 403);
  await api.handle(req('POST', '/v1/secret/app/x', { token: 'root-token', body: { a: 1 } }));
  assert.equal((await api.handle(req('POST', '/v1/secret/app/x', { token: 'w', body: { a: 2 } }))).result.status, 204);
  assert.equal(lastRequest(logical).operation, 'update');
  assert.equal((await api.handle(req('PUT', '/v1/secret/new/y', { token: 'w', body: { a: 1 } }))).result.status, 204);
  assert.equal(lastRequest(logical).operation, 'create');
  assert.equal(lastCaller(logical).sudo, false);
  assert.equal(lastCaller(logical).root, false);
  assert.deepEqual((await api.handle(req('GET', '/v1/secret/other', { token: 'w' }))).result, { status: 403, body: { errors: ['permission denied'] } });
  // read is granted on sys/raw/* but the path is root-protected: sudo needed.
  assert.equal((await api.handle(req('GET', '/v1/sys/raw/x', { token: 'w' }))).result.status, 403);
});

test('unknown route: root gets 404 "no handler", others get 403 (ACL first)', async () => {
  const { api, logical } = setup();
  logical.tokens.set('u', { policies: [], num_uses: 0 });
  assert.deepEqual((await api.handle(req('GET', '/v1/nowhere/x', { token: 'root-token' }))).result, {
    status: 404,
    body: { errors: ['no handler for route "nowhere/x". route entry not found.'] },
  });
  assert.equal((await api.handle(req('GET', '/v1/nowhere/x', { token: 'u' }))).result.status, 403);
});

test('methods: PATCH needs merge-patch+json (415 / 400), unknown methods 405, DELETE passes query as data', async () => {
  const { api, logical } = setup();
  const t = { token: 'root-token' };
  assert.deepEqual((await api.handle(req('PATCH', '/v1/secret/a', { ...t, body: {}, contentType: 'application/json' }))).result, {
    status: 415,
    body: { errors: ['PATCH requires Content-Type of application/merge-patch+json, got "application/json"'] },
  });
  assert.deepEqual((await api.handle(req('PATCH', '/v1/secret/a', { ...t, body: {} }))).result, { status: 400, body: { errors: ['mime: no media type'] } });
  const ok = await api.handle(req('PATCH', '/v1/secret/a', { ...t, body: { x: 1 }, contentType: 'application/merge-patch+json; charset=utf-8' }));
  assert.equal(ok.result.status, 204);
  assert.equal(lastRequest(logical).operation, 'patch');
  assert.deepEqual((await api.handle(req('TRACE', '/v1/secret/a', t))).result, { status: 405, body: { errors: [] } });
  await api.handle(req('DELETE', '/v1/secret/a?versions=1', t));
  assert.deepEqual(lastRequest(logical).data, { versions: '1' });
  assert.deepEqual(lastRequest(logical).query, { versions: '1' });
});

test('malformed JSON and non-object bodies are 400 "error parsing JSON"; empty body is {}', async () => {
  const { api, logical } = setup();
  for (const body of ['{bad', '[1,2]', '"str"', 'null', '12']) {
    assert.deepEqual((await api.handle(req('POST', '/v1/secret/a', { token: 'root-token', body }))).result, {
      status: 400,
      body: { errors: ['error parsing JSON'] },
    });
  }
  assert.equal((await api.handle(req('POST', '/v1/secret/a', { token: 'root-token' }))).result.status, 204);
  assert.deepEqual(lastRequest(logical).data, {});
  // The same parse rule on the unauthenticated sys endpoints.
  assert.deepEqual((await api.handle(req('PUT', '/v1/sys/unseal', { body: '{' }))).result, { status: 400, body: { errors: ['error parsing JSON'] } });
});

test('num_uses: a use is consumed per authorized request, and the exhausted token is gone', async () => {
  const { api, logical } = setup();
  logical.policies.set('r', { 'secret/*': ['read', 'create', 'update'] });
  logical.tokens.set('once', { policies: ['r'], num_uses: 1 });
  await api.handle(req('POST', '/v1/secret/a', { token: 'root-token', body: { v: 1 } }));
  assert.equal((await api.handle(req('GET', '/v1/secret/a', { token: 'once' }))).result.status, 200);
  assert.deepEqual((await api.handle(req('GET', '/v1/secret/a', { token: 'once' }))).result.body, { errors: ['permission denied', 'invalid token'] });
  assert.ok(logical.consumed.includes('once'));
});

test('sys/seal needs update+sudo; with them it seals and answers 204', async () => {
  const { api, seal, logical } = setup();
  logical.policies.set('upd', { 'sys/seal': ['update'] });
  logical.tokens.set('u', { policies: ['upd'], num_uses: 0 });
  assert.equal((await api.handle(req('PUT', '/v1/sys/seal', { token: 'u' }))).result.status, 403);
  assert.equal((await api.handle(req('PUT', '/v1/sys/seal'))).result.status, 403);
  assert.equal((await api.handle(req('GET', '/v1/sys/seal', { token: 'root-token' }))).result.status, 405);
  assert.deepEqual((await api.handle(req('PUT', '/v1/sys/seal', { token: 'root-token' }))).result, { status: 204 });
  assert.equal(seal.sealed, true);
  assert.equal(seal.sealCalls, 1);
});

test('sys/init: GET reports, PUT returns hex and base64 keys and the root token from the callback', async () => {
  const { api, seal } = setup();
  seal.initialized = false;
  seal.sealed = true;
  assert.deepEqual((await api.handle(req('GET', '/v1/sys/init'))).result, { status: 200, body: { initialized: false } });
  const { result } = await api.handle(req('PUT', '/v1/sys/init', { body: { secret_shares: 1, secret_threshold: 1 } }));
  assert.deepEqual(result, { status: 200, body: { keys: ['010203'], keys_base64: ['AQID'], root_token: 'new-root' } });
  assert.deepEqual(seal.lastInit, { secret_shares: 1, secret_threshold: 1 });
  assert.deepEqual((await api.handle(req('PUT', '/v1/sys/init', { body: {} }))).result, { status: 400, body: { errors: ['Vault is already initialized'] } });
  assert.deepEqual((await api.handle(req('DELETE', '/v1/sys/init'))).result, { status: 405, body: { errors: [] } });
});

test('sys endpoints: method rules, health query passthrough, generate-root mints through the logical layer', async () => {
  const { api, logical } = setup();
  assert.equal((await api.handle(req('POST', '/v1/sys/seal-status'))).result.status, 405);
  assert.equal((await api.handle(req('GET', '/v1/sys/unseal'))).result.status, 405);
  assert.equal((await api.handle(req('PUT', '/v1/sys/health'))).result.status, 405);
  assert.deepEqual((await api.handle(req('GET', '/v1/sys/health?activecode=299'))).result.status, 299);
  assert.deepEqual((await api.handle(req('HEAD', '/v1/sys/health'))).result, { status: 200 });
  assert.deepEqual((await api.handle(req('GET', '/v1/sys/health?activecode=x'))).result, { status: 400, body: { errors: [] } });
  assert.deepEqual((await api.handle(req('DELETE', '/v1/sys/generate-root/attempt'))).result, { status: 204 });
  const done = await api.handle(req('PUT', '/v1/sys/generate-root/update', { body: { key: 'k', nonce: 'n' } }));
  assert.deepEqual(done.result.body, { complete: true, minted: 'minted-1' });
  assert.equal(logical.minted, 1);
  assert.deepEqual((await api.handle(req('DELETE', '/v1/sys/rekey/init'))).result, { status: 204 });
  assert.equal((await api.handle(req('GET', '/v1/sys/rekey/update'))).result.status, 405);
});

test('sys/capabilities-self reports the caller capabilities per path', async () => {
  const { api, logical } = setup();
  logical.policies.set('p', { 'secret/a/*': ['read', 'list'], 'sys/capabilities-self': ['update'] });
  logical.tokens.set('c', { policies: ['p'], num_uses: 0 });
  const { result } = await api.handle(req('POST', '/v1/sys/capabilities-self', { token: 'c', body: { paths: ['secret/a/x', 'secret/b'] } }));
  const body = result.body as Record<string, unknown>;
  assert.deepEqual((body.data as Record<string, unknown>)['secret/a/x'], ['list', 'read']);
  assert.deepEqual((body.data as Record<string, unknown>)['secret/b'], ['deny']);
  assert.deepEqual(body.capabilities, ['deny', 'list', 'read']);
  const root = await api.handle(req('POST', '/v1/sys/capabilities-self', { token: 'root-token', body: { path: 'anything' } }));
  assert.deepEqual((root.result.body as Record<string, unknown>).capabilities, ['root']);
});

test('an unexpected (non-Vault) error is a bare 500 without its message, and is reported', async () => {
  const { api, logical, internal } = setup();
  logical.kv.handle = () => Promise.reject(new Error('secret detail /etc/x'));
  const { result } = await api.handle(req('GET', '/v1/secret/a', { token: 'root-token' }));
  assert.deepEqual(result, { status: 500, body: { errors: ['internal error'] } });
  assert.equal(internal.length, 1);
});

test('path parsing: bad percent-encoding and dot segments are 400', async () => {
  const { api } = setup();
  assert.deepEqual((await api.handle(req('GET', '/v1/secret/%zz', { token: 'root-token' }))).result, { status: 400, body: { errors: ['invalid request path'] } });
  assert.equal((await api.handle(req('GET', '/v1/secret/../sys/raw', { token: 'root-token' }))).result.status, 400);
});
