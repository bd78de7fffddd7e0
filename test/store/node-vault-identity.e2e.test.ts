/**
 * End to end with node-vault 0.12 (CommonJS, imported through createRequire) against `secretstore-setup serve`
 * running as a separate process, for the identity features EdgeX 4 relies on: the userpass auth method, entities and
 * entity aliases, OIDC identity tokens (signed JWTs, the served JWKS and discovery document, introspection), token
 * roles with `entity_alias`, and an ACL that grants token ∪ entity policies. Two services are provisioned as EdgeX's
 * file token provider does (one policy sent as JSON text, one as HCL); each logs in with `userpassLogin` and uses only
 * its own token. The JWT is verified independently with jose against the served JWKS. Then the PROCESS restarts on
 * the same data (it comes back sealed) and every piece of identity state must have survived.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startServe, type ServeHandle } from '../helpers/serve.js';

interface VaultError extends Error {
  response?: { statusCode: number; body: unknown };
}

/** Vault's `auth` block of a login or token create. */
interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  identity_policies?: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  orphan: boolean;
}

/** `data` of `auth/token/lookup-self`. */
interface TokenInfo {
  id: string;
  accessor: string;
  policies: string[];
  identity_policies?: string[];
  entity_id: string;
  period?: number;
  renewable: boolean;
  ttl: number;
  path: string;
  display_name: string;
  orphan: boolean;
  role?: string;
}

/** The parts of node-vault's client this test uses (its own .d.ts types everything as any). */
interface VaultClient {
  token: string | undefined;
  init(o: { secret_shares: number; secret_threshold: number }): Promise<{ keys: string[]; root_token: string }>;
  status(): Promise<{ sealed: boolean; initialized: boolean; t: number; n: number }>;
  unseal(o: { key: string }): Promise<{ sealed: boolean }>;
  enableAuth(o: { mount_point: string; type: string; description?: string }): Promise<unknown>;
  auths(): Promise<{ data: Record<string, { type: string; accessor: string }> }>;
  mount(o: { mount_point: string; type: string; options?: Record<string, string> }): Promise<unknown>;
  addPolicy(o: { name: string; rules: string }): Promise<unknown>;
  getPolicy(o: { name: string }): Promise<{ rules: string }>;
  userpassLogin(o: { username: string; password: string; mount_point?: string }): Promise<{ auth: AuthBlock }>;
  tokenLookupSelf(): Promise<{ data: TokenInfo }>;
  tokenRenewSelf(o?: { increment?: number | string }): Promise<{ auth: AuthBlock }>;
  write(path: string, data: unknown): Promise<unknown>;
  read(path: string): Promise<unknown>;
  list(path: string): Promise<{ data: { keys: string[] } }>;
  delete(path: string): Promise<unknown>;
}
type VaultFactory = (o: { endpoint: string; token?: string }) => VaultClient;

const nodeVault = createRequire(import.meta.url)('node-vault') as VaultFactory;

/** EdgeX's identity-token issuer when no `identity/oidc/config` issuer is set (what go-mod-bootstrap compares with). */
const ISSUER = '/v1/identity/oidc';
const KEY_NAME = 'edgex-identity';
const SERVICES = ['core-data', 'core-metadata'] as const;
type Service = (typeof SERVICES)[number];

async function rejectsWith(p: Promise<unknown>, status: number, message?: string): Promise<void> {
  await assert.rejects(p, (err: VaultError) => {
    assert.equal(err.response?.statusCode, status, `status of ${err.message}`);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

/** `data` of a 200 answer that node-vault returned as parsed JSON. */
function dataOf(answer: unknown): Record<string, unknown> {
  assert.equal(typeof answer, 'object', `expected a JSON body, got ${JSON.stringify(answer)}`);
  const data = (answer as { data?: unknown }).data;
  assert.equal(typeof data, 'object');
  return data as Record<string, unknown>;
}

/** node-vault resolves a 204 with axios' empty body, the empty string. */
function assertNoContent(answer: unknown, what: string): void {
  assert.equal(answer, '', `${what}: expected 204 (no body), got ${JSON.stringify(answer)}`);
}

/** The default EdgeX service policy (reference §3.1) as JSON policy text. */
function jsonPolicy(svc: Service): string {
  return JSON.stringify({
    path: {
      [`secret/edgex/${svc}/*`]: { capabilities: ['create', 'update', 'delete', 'list', 'read'] },
      [`identity/oidc/token/${svc}`]: { capabilities: ['read'] },
      'identity/oidc/introspect': { capabilities: ['create', 'update'] },
    },
  });
}

/** The same policy as HCL text (what an operator would write by hand). */
function hclPolicy(svc: Service): string {
  return [
    `path "secret/edgex/${svc}/*" {`,
    '  capabilities = ["create", "update", "delete", "list", "read"]',
    '}',
    `path "identity/oidc/token/${svc}" {`,
    '  capabilities = ["read"]',
    '}',
    'path "identity/oidc/introspect" {',
    '  capabilities = ["create", "update"]',
    '}',
    '',
  ].join('\n');
}

/** What the provisioning of one service leaves behind. */
interface Provisioned {
  entityId: string;
  password: string;
  clientId: string;
}

/**
 * EdgeX's file token provider for one service (reference §3), with node-vault's generic write/read: policy, entity
 * (a repeat is a 204 update), user, alias (an exact repeat is a 204), OIDC role, token role.
 */
async function provision(root: VaultClient, svc: Service, policyText: string, userpassAccessor: string, clientId?: string): Promise<Provisioned> {
  const policy = `edgex-service-${svc}`;
  await root.addPolicy({ name: policy, rules: policyText });
  assert.equal((await root.getPolicy({ name: policy })).rules, policyText, 'the policy text is kept as sent');

  const created = dataOf(await root.write(`identity/entity/name/${svc}`, { metadata: { name: svc }, policies: [policy] }));
  assert.equal(created['name'], svc);
  const entityId = String(created['id']);
  assert.match(entityId, /^[0-9a-f-]{36}$/);
  assertNoContent(await root.write(`identity/entity/name/${svc}`, { metadata: { name: svc }, policies: [policy] }), 'entity update');
  const entity = dataOf(await root.read(`identity/entity/name/${svc}`));
  assert.deepEqual([entity['id'], entity['name'], entity['policies'], entity['metadata']], [entityId, svc, [policy], { name: svc }]);

  const password = Buffer.from(crypto.getRandomValues(new Uint8Array(33))).toString('base64');
  assertNoContent(await root.write(`auth/userpass/users/${svc}`, { password, token_period: '1h', token_policies: [] }), 'user create');
  const user = dataOf(await root.read(`auth/userpass/users/${svc}`));
  assert.equal(user['token_period'], 3600);
  assert.equal('password' in user, false, 'a user read never shows the password');

  const aliasBody = { name: svc, canonical_id: entityId, mount_accessor: userpassAccessor };
  const alias = dataOf(await root.write('identity/entity-alias', aliasBody));
  assert.equal(alias['canonical_id'], entityId);
  assert.match(String(alias['id']), /^[0-9a-f-]{36}$/);
  assertNoContent(await root.write('identity/entity-alias', aliasBody), 'entity-alias repeat');
  const byId = dataOf(await root.read(`identity/entity/id/${entityId}`));
  const aliases = byId['aliases'] as { name: string; mount_accessor: string; canonical_id: string }[];
  assert.deepEqual(
    aliases.map((a) => [a.name, a.mount_accessor, a.canonical_id]),
    [[svc, userpassAccessor, entityId]],
  );

  const role: Record<string, string> = { key: KEY_NAME, template: `{"name": "${svc}"}`, ttl: '15m' };
  if (clientId !== undefined) role['client_id'] = clientId;
  assertNoContent(await root.write(`identity/oidc/role/${svc}`, role), 'oidc role');
  const roleRead = dataOf(await root.read(`identity/oidc/role/${svc}`));
  assert.equal(roleRead['key'], KEY_NAME);
  assert.equal(roleRead['ttl'], 900);
  const effectiveClientId = String(roleRead['client_id']);
  // Without a client_id Vault generates one (26 base62 characters) and keeps it.
  if (clientId === undefined) assert.match(effectiveClientId, /^[0-9A-Za-z]{26}$/);
  else assert.equal(effectiveClientId, clientId);

  assertNoContent(
    await root.write(`auth/token/roles/${svc}`, { allowed_policies: [policy], name: svc, renewable: true, allowed_entity_aliases: [svc], orphan: true }),
    'token role',
  );
  return { entityId, password, clientId: effectiveClientId };
}

/** Flips one character in the middle of the JWT's payload (a valid base64url character for another). */
function tamper(jwt: string): string {
  const [header = '', payload = '', signature = ''] = jwt.split('.');
  const i = Math.floor(payload.length / 2);
  const flipped = payload.slice(0, i) + (payload[i] === 'A' ? 'B' : 'A') + payload.slice(i + 1);
  assert.notEqual(flipped, payload);
  return [header, flipped, signature].join('.');
}

test('node-vault 0.12 against serve: userpass, entities, OIDC identity tokens, token roles, then a process restart', async () => {
  const serve: ServeHandle = await startServe();
  try {
    const anon = (): VaultClient => nodeVault({ endpoint: serve.url });
    const init = await anon().init({ secret_shares: 1, secret_threshold: 1 });
    const unsealKey = init.keys[0] ?? '';
    assert.equal((await anon().unseal({ key: unsealKey })).sealed, false);
    const root = nodeVault({ endpoint: serve.url, token: init.root_token });

    // The userpass method and the KV v1 secret/ mount, as EdgeX's setup creates them.
    await root.enableAuth({ mount_point: 'userpass', type: 'userpass' });
    const auths = (await root.auths()).data;
    assert.equal(auths['token/']?.type, 'token');
    const userpass = auths['userpass/'];
    assert.ok(userpass !== undefined, 'sys/auth lists userpass/');
    assert.equal(userpass.type, 'userpass');
    const userpassAccessor = userpass.accessor;
    assert.match(userpassAccessor, /^auth_userpass_[0-9a-f]{8}$/);
    await rejectsWith(root.enableAuth({ mount_point: 'userpass', type: 'userpass' }), 400);
    await root.mount({ mount_point: 'secret', type: 'kv', options: { version: '1' } });

    // The signing key: none listed before (404, as Vault), then ES384 allowed for every client id.
    await rejectsWith(root.list('identity/oidc/key'), 404);
    assertNoContent(await root.write(`identity/oidc/key/${KEY_NAME}`, { allowed_client_ids: ['*'], algorithm: 'ES384' }), 'oidc key');
    assert.deepEqual((await root.list('identity/oidc/key')).data.keys, [KEY_NAME]);
    const keyRead = dataOf(await root.read(`identity/oidc/key/${KEY_NAME}`));
    assert.deepEqual(keyRead, { algorithm: 'ES384', allowed_client_ids: ['*'], rotation_period: 86400, verification_ttl: 86400 });

    // Two services: core-data's policy in JSON text with a generated client id, core-metadata's in HCL with EdgeX's.
    const svc: Record<Service, Provisioned> = {
      'core-data': await provision(root, 'core-data', jsonPolicy('core-data'), userpassAccessor),
      'core-metadata': await provision(root, 'core-metadata', hclPolicy('core-metadata'), userpassAccessor, 'edgex'),
    };
    assert.notEqual(svc['core-data'].entityId, svc['core-metadata'].entityId);
    assert.deepEqual((await root.list('identity/entity/name')).data.keys, [...SERVICES]);
    assert.deepEqual((await root.list('auth/userpass/users')).data.keys, [...SERVICES]);
    assert.deepEqual((await root.list('auth/token/roles')).data.keys, [...SERVICES]);

    // Each service logs in (no token needed) and keeps only the login answer, as EdgeX's token file.
    const login = async (name: Service): Promise<{ client: VaultClient; auth: AuthBlock }> => {
      const client = anon();
      const answer = await client.userpassLogin({ username: name, password: svc[name].password });
      // node-vault adopts the login's token (userpassLogin is a token source).
      assert.equal(client.token, answer.auth.client_token);
      return { client, auth: answer.auth };
    };
    const data = await login('core-data');
    const meta = await login('core-metadata');
    assert.match(data.auth.client_token, /^hvs\.[0-9A-Za-z]{24}$/);
    assert.equal(data.auth.entity_id, svc['core-data'].entityId);
    assert.deepEqual(data.auth.token_policies, ['default']);
    assert.deepEqual(data.auth.identity_policies, ['edgex-service-core-data']);
    assert.deepEqual(data.auth.policies, ['default', 'edgex-service-core-data']);
    assert.deepEqual(data.auth.metadata, { username: 'core-data' });
    assert.equal(data.auth.lease_duration, 3600);
    assert.equal(data.auth.renewable, true);
    assert.equal(data.auth.orphan, true);
    assert.equal(meta.auth.entity_id, svc['core-metadata'].entityId);

    // lookup-self and renew-self, as go-mod-secrets' renewal loop does.
    const self = (await data.client.tokenLookupSelf()).data;
    assert.equal(self.period, 3600);
    assert.equal(self.renewable, true);
    assert.equal(self.entity_id, svc['core-data'].entityId);
    assert.deepEqual(self.policies, ['default']);
    assert.deepEqual(self.identity_policies, ['edgex-service-core-data']);
    assert.equal(self.path, 'auth/userpass/login/core-data');
    assert.equal(self.display_name, 'userpass-core-data');
    assert.ok(self.ttl > 3500 && self.ttl <= 3600, `ttl ${String(self.ttl)}`);
    const renewed = await data.client.tokenRenewSelf();
    assert.equal(renewed.auth.client_token, data.auth.client_token);
    assert.equal(renewed.auth.lease_duration, 3600);
    assert.equal(renewed.auth.renewable, true);

    // Its own KV v1 path through the entity's policy; another service's path is refused.
    assertNoContent(await data.client.write('secret/edgex/core-data/redisdb', { username: 'default', password: 'r3d1s' }), 'kv write');
    await data.client.write('secret/edgex/core-data/sub/other', { a: 'b' });
    assert.deepEqual(dataOf(await data.client.read('secret/edgex/core-data/redisdb')), { username: 'default', password: 'r3d1s' });
    assert.deepEqual((await data.client.list('secret/edgex/core-data')).data.keys, ['redisdb', 'sub/']);
    await meta.client.write('secret/edgex/core-metadata/redisdb', { username: 'default', password: 'm3ta' });
    await rejectsWith(data.client.read('secret/edgex/core-metadata/redisdb'), 403, 'permission denied');
    await rejectsWith(data.client.write('secret/edgex/core-metadata/redisdb', { username: 'evil' }), 403, 'permission denied');
    await rejectsWith(data.client.list('secret/edgex/core-metadata'), 403, 'permission denied');
    await rejectsWith(meta.client.read('secret/edgex/core-data/redisdb'), 403, 'permission denied');
    assert.deepEqual(dataOf(await meta.client.read('secret/edgex/core-metadata/redisdb')), { username: 'default', password: 'm3ta' });

    // The service's identity JWT: only its own role, and only with a token that has an entity.
    const issued = dataOf(await data.client.read('identity/oidc/token/core-data'));
    assert.equal(issued['client_id'], svc['core-data'].clientId);
    assert.equal(issued['ttl'], 900);
    const jwt = String(issued['token']);
    await rejectsWith(data.client.read('identity/oidc/token/core-metadata'), 403, 'permission denied');
    await rejectsWith(root.read('identity/oidc/token/core-data'), 400, "no entity associated with the request's token");

    // Verified independently: jose against the JWKS served without a token.
    const discovery = (await anon().read('identity/oidc/.well-known/openid-configuration')) as Record<string, unknown>;
    assert.equal(discovery['issuer'], ISSUER);
    assert.equal(discovery['jwks_uri'], `${ISSUER}/.well-known/keys`);
    assert.ok((discovery['id_token_signing_alg_values_supported'] as string[]).includes('ES384'));
    const jwks = (await anon().read('identity/oidc/.well-known/keys')) as JSONWebKeySet;
    assert.equal(jwks.keys.length, 1);
    assert.deepEqual([jwks.keys[0]?.kty, jwks.keys[0]?.crv, jwks.keys[0]?.alg, jwks.keys[0]?.use], ['EC', 'P-384', 'ES384', 'sig']);
    assert.equal('d' in (jwks.keys[0] ?? {}), false, 'the JWKS holds no private key');
    const verified = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: ISSUER, audience: svc['core-data'].clientId, algorithms: ['ES384'] });
    assert.equal(verified.protectedHeader.alg, 'ES384');
    assert.equal(verified.protectedHeader.kid, jwks.keys[0]?.kid);
    assert.equal(verified.payload.iss, ISSUER);
    assert.equal(verified.payload.aud, svc['core-data'].clientId);
    assert.equal(verified.payload.sub, svc['core-data'].entityId);
    assert.equal(verified.payload['name'], 'core-data', 'the role template adds the name claim');
    assert.equal(verified.payload['namespace'], 'root');
    assert.equal((verified.payload.exp ?? 0) - (verified.payload.iat ?? 0), 900);
    const metaJwt = String(dataOf(await meta.client.read('identity/oidc/token/core-metadata'))['token']);
    const metaVerified = await jwtVerify(metaJwt, createLocalJWKSet(jwks), { issuer: ISSUER, audience: 'edgex' });
    assert.equal(metaVerified.payload.sub, svc['core-metadata'].entityId);

    // The other service checks it (go-mod-bootstrap's middleware): a raw top-level {active}, no Vault envelope.
    assert.deepEqual(await meta.client.write('identity/oidc/introspect', { token: jwt }), { active: true });
    assert.deepEqual(await data.client.write('identity/oidc/introspect', { token: metaJwt }), { active: true });
    const tampered = (await meta.client.write('identity/oidc/introspect', { token: tamper(jwt) })) as Record<string, unknown>;
    assert.equal(tampered['active'], false);
    assert.equal(typeof tampered['error'], 'string');
    assert.deepEqual(Object.keys(tampered).sort(), ['active', 'error']);
    await assert.rejects(jwtVerify(tamper(jwt), createLocalJWKSet(jwks), { issuer: ISSUER }), 'jose refuses the tampered token too');

    // A wrong password: Vault's 400 and message, the same for an unknown user.
    await rejectsWith(anon().userpassLogin({ username: 'core-data', password: 'wrong' }), 400, 'invalid username or password');
    await rejectsWith(anon().userpassLogin({ username: 'no-such-service', password: 'wrong' }), 400, 'invalid username or password');

    // EdgeX 4's re-issue (reference §7): a token from the service's token role with entity_alias. Vault resolves
    // that alias on the TOKEN auth mount, so the token belongs to an entity of its own, with the role's policies.
    const reissue = (await root.write('auth/token/create/core-data', {
      display_name: 'token-core-data',
      role_name: 'core-data',
      entity_alias: 'core-data',
      no_parent: true,
      policies: ['edgex-service-core-data'],
      meta: { user: 'core-data' },
      ttl: '1h',
      period: '1h',
      renewable: true,
    })) as { auth: AuthBlock };
    assert.deepEqual(reissue.auth.policies, ['default', 'edgex-service-core-data']);
    assert.equal(reissue.auth.orphan, true);
    const roleEntity = reissue.auth.entity_id;
    assert.match(roleEntity, /^[0-9a-f-]{36}$/);
    assert.notEqual(roleEntity, svc['core-data'].entityId);
    const reissued = nodeVault({ endpoint: serve.url, token: reissue.auth.client_token });
    const reissuedSelf = (await reissued.tokenLookupSelf()).data;
    assert.deepEqual([reissuedSelf.role, reissuedSelf.path, reissuedSelf.period], ['core-data', 'auth/token/create/core-data', 3600]);
    assert.deepEqual(dataOf(await reissued.read('secret/edgex/core-data/redisdb')), { username: 'default', password: 'r3d1s' });
    await rejectsWith(reissued.read('secret/edgex/core-metadata/redisdb'), 403, 'permission denied');
    await rejectsWith(root.write('auth/token/create/core-data', { entity_alias: 'core-metadata' }), 400, "invalid 'entity_alias' value");

    // What must survive a restart, read now to compare afterwards.
    const tokenRolesBefore = await Promise.all(SERVICES.map(async (s) => dataOf(await root.read(`auth/token/roles/${s}`))));
    const dataRole = tokenRolesBefore[0];
    assert.ok(dataRole !== undefined);
    assert.deepEqual(
      [dataRole['allowed_entity_aliases'], dataRole['allowed_policies'], dataRole['orphan'], dataRole['renewable']],
      [['core-data'], ['edgex-service-core-data'], true, true],
    );
    const oidcRolesBefore = await Promise.all(SERVICES.map(async (s) => dataOf(await root.read(`identity/oidc/role/${s}`))));

    // ---- restart the PROCESS on the same data: it comes back sealed ----
    await serve.restart();
    assert.equal((await anon().status()).sealed, true);
    await rejectsWith(anon().userpassLogin({ username: 'core-data', password: svc['core-data'].password }), 503, 'Vault is sealed');
    assert.equal((await anon().unseal({ key: unsealKey })).sealed, false);
    const root2 = nodeVault({ endpoint: serve.url, token: init.root_token });

    // The auth method with its accessor, the users, entities and aliases.
    assert.equal((await root2.auths()).data['userpass/']?.accessor, userpassAccessor);
    for (const s of SERVICES) {
      assert.equal(dataOf(await root2.read(`identity/entity/name/${s}`))['id'], svc[s].entityId);
      assert.equal(dataOf(await root2.read(`auth/userpass/users/${s}`))['token_period'], 3600);
    }
    const again = await login('core-data');
    assert.equal(again.auth.entity_id, svc['core-data'].entityId, 'the alias still binds the login to the same entity');
    assert.deepEqual(again.auth.identity_policies, ['edgex-service-core-data']);
    assert.notEqual(again.auth.client_token, data.auth.client_token);
    await rejectsWith(anon().userpassLogin({ username: 'core-data', password: 'wrong' }), 400, 'invalid username or password');

    // The tokens issued before the restart still work.
    const dataAfter = nodeVault({ endpoint: serve.url, token: data.auth.client_token });
    const selfAfter = (await dataAfter.tokenLookupSelf()).data;
    assert.deepEqual([selfAfter.accessor, selfAfter.entity_id, selfAfter.period], [data.auth.accessor, svc['core-data'].entityId, 3600]);
    assert.deepEqual(dataOf(await dataAfter.read('secret/edgex/core-data/redisdb')), { username: 'default', password: 'r3d1s' });
    const metaAfter = nodeVault({ endpoint: serve.url, token: meta.auth.client_token });

    // The OIDC key and roles: a JWT issued before the restart still introspects active; a new one verifies.
    assert.deepEqual(dataOf(await root2.read(`identity/oidc/key/${KEY_NAME}`)), keyRead);
    const oidcRolesAfter = await Promise.all(SERVICES.map(async (s) => dataOf(await root2.read(`identity/oidc/role/${s}`))));
    assert.deepEqual(oidcRolesAfter, oidcRolesBefore);
    assert.deepEqual(await metaAfter.write('identity/oidc/introspect', { token: jwt }), { active: true });
    assert.equal(((await metaAfter.write('identity/oidc/introspect', { token: tamper(jwt) })) as { active: boolean }).active, false);
    const jwksAfter = (await anon().read('identity/oidc/.well-known/keys')) as JSONWebKeySet;
    assert.deepEqual(jwksAfter, jwks, 'the signing key was kept, not regenerated');
    const newJwt = String(dataOf(await again.client.read('identity/oidc/token/core-data'))['token']);
    const newVerified = await jwtVerify(newJwt, createLocalJWKSet(jwksAfter), { issuer: ISSUER, audience: svc['core-data'].clientId });
    assert.equal(newVerified.payload.sub, svc['core-data'].entityId);
    await jwtVerify(jwt, createLocalJWKSet(jwksAfter), { issuer: ISSUER, audience: svc['core-data'].clientId });

    // The token roles, and the token-mount alias behind entity_alias (the same entity again).
    const tokenRolesAfter = await Promise.all(SERVICES.map(async (s) => dataOf(await root2.read(`auth/token/roles/${s}`))));
    assert.deepEqual(tokenRolesAfter, tokenRolesBefore);
    const reissue2 = (await root2.write('auth/token/create/core-data', { entity_alias: 'core-data' })) as { auth: AuthBlock };
    assert.equal(reissue2.auth.entity_id, roleEntity);
    assert.equal((await nodeVault({ endpoint: serve.url, token: reissue.auth.client_token }).tokenLookupSelf()).data.role, 'core-data');
  } finally {
    await serve.close();
  }
});
