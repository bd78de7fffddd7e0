/**
 * An EdgeX 4 deployment played against `secretstore-setup serve` (a separate process), with the exact calls, bodies
 * and status codes EdgeX's setup and go-mod-secrets use (shared/reference/edgex-setup-duties.md §1–3, §9):
 * the setup side with the root token and then with the `privileged-token-creator` admin token (userpass mount, the
 * `edgex-identity` ES384 key, per-service policy, entity, user, alias, OIDC role, token role, login), then the service
 * side reading only its token file: lookup-self → renew-self → its own KV v1 path → refused on another's → its JWT
 * with `iss` `/v1/identity/oidc` → another service introspects it (active; tampered: inactive). Finally EdgeX's
 * every-boot revocation (LIST accessors, lookup-accessor, revoke-accessor) kills the old service tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServe, type ServeHandle } from '../helpers/serve.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One Vault API call; `expect` is the exact status EdgeX's client insists on. */
async function call(base: string, method: string, path: string, opts: { token?: string; body?: unknown; expect?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token !== undefined) headers['x-vault-token'] = opts.token;
  const res = await fetch(`${base}/v1/${path}`, {
    method,
    headers,
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  if (opts.expect !== undefined) assert.equal(res.status, opts.expect, `${method} ${path}: ${text}`);
  return { status: res.status, body };
}

function field(a: Answer, ...path: string[]): unknown {
  let v: unknown = a.body;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** The 4.x `privileged-token-creator` policy as EdgeX sends it: HCL text (reference §2). */
const ADMIN_POLICY_HCL = `
path "identity/entity/name" { capabilities = ["list"] }
path "identity/entity/name/*" { capabilities = ["create", "update", "read"] }
path "identity/entity/id/*" { capabilities = ["read"] }
path "identity/entity-alias" { capabilities = ["create", "update"] }
path "identity/oidc/role" { capabilities = ["list"] }
path "identity/oidc/role/*" { capabilities = ["create", "update"] }
path "auth/userpass/users/*" { capabilities = ["create", "update"] }
path "auth/token/create/*" { capabilities = ["create", "update", "sudo"] }
path "auth/token/roles" { capabilities = ["list"] }
path "auth/token/roles/*" { capabilities = ["create", "update"] }
path "sys/auth" { capabilities = ["read"] }
path "sys/policies/acl/edgex-service-*" { capabilities = ["create", "read", "update", "delete"] }
path "sys/policies/acl" { capabilities = ["list"] }
`;

/** The default service policy, as JSON text (reference §3.1). */
function servicePolicy(svc: string): string {
  return JSON.stringify({
    path: {
      [`secret/edgex/${svc}/*`]: { capabilities: ['create', 'update', 'delete', 'list', 'read'] },
      [`identity/oidc/token/${svc}`]: { capabilities: ['read'] },
      'identity/oidc/introspect': { capabilities: ['create', 'update'] },
    },
  });
}

/** What the file token provider does for one service with the admin token; returns the login answer (the token file). */
async function provision(base: string, admin: string, svc: string): Promise<Answer> {
  const password = Buffer.from(crypto.getRandomValues(new Uint8Array(33))).toString('base64');
  await call(base, 'PUT', `sys/policies/acl/edgex-service-${svc}`, { token: admin, body: { policy: servicePolicy(svc) }, expect: 204 });
  const entity = await call(base, 'POST', `identity/entity/name/${svc}`, { token: admin, body: { metadata: { name: svc }, policies: [`edgex-service-${svc}`] } });
  // EdgeX: 200 with data.id on create, 204 on update (then it reads the entity for its id).
  const id = entity.status === 204 ? field(await call(base, 'GET', `identity/entity/name/${svc}`, { token: admin, expect: 200 }), 'data', 'id') : field(entity, 'data', 'id');
  assert.ok(entity.status === 200 || entity.status === 204);
  await call(base, 'POST', `auth/userpass/users/${svc}`, { token: admin, body: { password, token_period: '1h', token_policies: [] }, expect: 204 });
  const accessor = field(await call(base, 'GET', 'sys/auth', { token: admin, expect: 200 }), 'data', 'userpass/', 'accessor');
  const alias = await call(base, 'POST', 'identity/entity-alias', { token: admin, body: { name: svc, canonical_id: id, mount_accessor: accessor } });
  assert.ok(alias.status === 200 || alias.status === 204, `entity-alias: ${String(alias.status)}`);
  await call(base, 'POST', `identity/oidc/role/${svc}`, {
    token: admin,
    body: { client_id: 'edgex', key: 'edgex-identity', template: `{"name": "${svc}"}`, ttl: '15m' },
    expect: 204,
  });
  await call(base, 'POST', `auth/token/roles/${svc}`, {
    token: admin,
    body: { allowed_policies: [`edgex-service-${svc}`], name: svc, renewable: true, allowed_entity_aliases: [svc], orphan: true },
    expect: 204,
  });
  return call(base, 'POST', `auth/userpass/login/${svc}`, { body: { password }, expect: 200 });
}

/** EdgeX's setup (reference §1) with the root token: revocations, admin token, userpass, key, secret/ mount, services. */
async function edgexSetup(base: string, root: string, services: readonly string[]): Promise<Map<string, Answer>> {
  // Every boot: revoke every non-root token but our own.
  const own = field(await call(base, 'GET', 'auth/token/lookup-self', { token: root, expect: 200 }), 'data', 'accessor');
  const listed = await call(base, 'GET', 'auth/token/accessors?list=true', { token: root, expect: 200 });
  for (const accessor of field(listed, 'data', 'keys') as string[]) {
    if (accessor === own) continue;
    const info = await call(base, 'POST', 'auth/token/lookup-accessor', { token: root, body: { accessor }, expect: 200 });
    if ((field(info, 'data', 'policies') as string[]).includes('root')) continue;
    await call(base, 'POST', 'auth/token/revoke-accessor', { token: root, body: { accessor }, expect: 204 });
  }
  await call(base, 'PUT', 'sys/policies/acl/privileged-token-creator', { token: root, body: { policy: ADMIN_POLICY_HCL }, expect: 204 });
  const adminAnswer = await call(base, 'POST', 'auth/token/create', {
    token: root,
    body: { display_name: 'privileged-token-creator', no_parent: true, period: '1h', policies: ['privileged-token-creator'], ttl: '1h' },
    expect: 200,
  });
  const admin = String(field(adminAnswer, 'auth', 'client_token'));
  const auths = await call(base, 'GET', 'sys/auth', { token: root, expect: 200 });
  if ((field(auths, 'data') as Record<string, { type?: string } | undefined>)['userpass/']?.type !== 'userpass') {
    await call(base, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' }, expect: 204 });
  }
  const keys = await call(base, 'GET', 'identity/oidc/key?list=true', { token: root });
  assert.ok(keys.status === 200 || keys.status === 404);
  if (keys.status === 404 || !(field(keys, 'data', 'keys') as string[]).includes('edgex-identity')) {
    await call(base, 'POST', 'identity/oidc/key/edgex-identity', { token: root, body: { allowed_client_ids: ['*'], algorithm: 'ES384' }, expect: 204 });
  }
  const files = new Map<string, Answer>();
  for (const svc of services) files.set(svc, await provision(base, admin, svc));
  const mounts = await call(base, 'GET', 'sys/mounts', { token: root, expect: 200 });
  if ((field(mounts, 'data') as Record<string, { type?: string } | undefined>)['secret/']?.type !== 'kv') {
    await call(base, 'POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', description: 'key/value secret storage', options: { version: '1' } }, expect: 204 });
  }
  await call(base, 'POST', 'auth/token/revoke-self', { token: admin, expect: 204 });
  return files;
}

test('EdgeX 4 setup and two services against serve: identity, KV v1, JWT, introspection, every-boot revocation', async () => {
  const serve: ServeHandle = await startServe();
  try {
    const base = serve.url;
    const init = await call(base, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 }, expect: 200 });
    await call(base, 'PUT', 'sys/unseal', { body: { key: (field(init, 'keys') as string[])[0] }, expect: 200 });
    const root = String(field(init, 'root_token'));
    const files = await edgexSetup(base, root, ['core-data', 'core-metadata']);

    // The service, reading only its token file (auth.client_token, auth.entity_id).
    const file = files.get('core-data');
    assert.ok(file);
    const token = String(field(file, 'auth', 'client_token'));
    const entityId = String(field(file, 'auth', 'entity_id'));
    assert.notEqual(entityId, '');
    const self = await call(base, 'GET', 'auth/token/lookup-self', { token, expect: 200 });
    assert.equal(field(self, 'data', 'period'), 3600);
    assert.equal(field(self, 'data', 'renewable'), true);
    assert.deepEqual(field(self, 'data', 'policies'), ['default']);
    assert.deepEqual(field(self, 'data', 'identity_policies'), ['edgex-service-core-data']);
    const renewed = await call(base, 'POST', 'auth/token/renew-self', { token, body: {}, expect: 200 });
    assert.equal(field(renewed, 'auth', 'lease_duration'), 3600);
    await call(base, 'POST', 'secret/edgex/core-data/redisdb', { token, body: { username: 'default', password: 'x' }, expect: 204 });
    assert.deepEqual(field(await call(base, 'GET', 'secret/edgex/core-data/redisdb', { token, expect: 200 }), 'data'), { username: 'default', password: 'x' });
    assert.deepEqual(field(await call(base, 'GET', 'secret/edgex/core-data?list=true', { token, expect: 200 }), 'data', 'keys'), ['redisdb']);
    await call(base, 'GET', 'secret/edgex/core-metadata/redisdb', { token, expect: 403 });
    await call(base, 'POST', 'secret/edgex/core-metadata/x', { token, body: { a: 'b' }, expect: 403 });

    // Its identity JWT; the other service checks it as go-mod-bootstrap's middleware does.
    const jwt = String(field(await call(base, 'GET', 'identity/oidc/token/core-data', { token, expect: 200 }), 'data', 'token'));
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.equal(claims['iss'], '/v1/identity/oidc');
    assert.equal(claims['sub'], entityId);
    assert.equal(claims['aud'], 'edgex');
    assert.equal(claims['name'], 'core-data');
    await call(base, 'GET', 'identity/oidc/token/core-metadata', { token, expect: 403 });
    const other = String(field(files.get('core-metadata') ?? { status: 0, body: {} }, 'auth', 'client_token'));
    const active = await call(base, 'POST', 'identity/oidc/introspect', { token: other, body: { token: jwt }, expect: 200 });
    assert.equal(active.body['active'], true);
    const parts = jwt.split('.');
    const payload = parts[1] ?? '';
    const flipped = payload.slice(0, 10) + (payload[10] === 'A' ? 'B' : 'A') + payload.slice(11);
    const tampered = await call(base, 'POST', 'identity/oidc/introspect', { token: other, body: { token: [parts[0], flipped, parts[2]].join('.') }, expect: 200 });
    assert.equal(tampered.body['active'], false);

    // A second boot: every non-root token is revoked, the services get new ones (the entity stays the same).
    const files2 = await edgexSetup(base, root, ['core-data', 'core-metadata']);
    await call(base, 'GET', 'auth/token/lookup-self', { token, expect: 403 });
    const token2 = String(field(files2.get('core-data') ?? { status: 0, body: {} }, 'auth', 'client_token'));
    assert.notEqual(token2, token);
    assert.equal(field(files2.get('core-data') ?? { status: 0, body: {} }, 'auth', 'entity_id'), entityId);
    assert.deepEqual(field(await call(base, 'GET', 'secret/edgex/core-data/redisdb', { token: token2, expect: 200 }), 'data'), { username: 'default', password: 'x' });
    // The JWT signed before the reboot still introspects as active (same key), checked with the new tokens.
    const other2 = String(field(files2.get('core-metadata') ?? { status: 0, body: {} }, 'auth', 'client_token'));
    assert.equal((await call(base, 'POST', 'identity/oidc/introspect', { token: other2, body: { token: jwt }, expect: 200 })).body['active'], true);
  } finally {
    await serve.close();
  }
});
