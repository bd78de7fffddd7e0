/**
 * End to end against the real store (`secretstore-setup serve`, a separate process): services provisioned as EdgeX 4
 * provisions them (policy, entity, userpass user, alias, token role, login → token file), then the re-issue endpoint,
 * wired to `reissueServiceToken` with the `privileged-token-creator` token, called as go-mod-bootstrap calls it with
 * the `auth.entity_id` of the service's token file. The new file replaces the old one atomically (0600); its token
 * carries the service policy and works on `secret/edgex/<svc>/…` only; and a second re-issue with the NEW file's
 * entity id (an entity of the token mount, without policies) works too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '../../../src/log.js';
import { VaultClient } from '../../../src/vault/client.js';
import { writeTokenFile } from '../../../src/edgex/token-provider/token-file.js';
import { reissueServiceToken, type ReissueTokenSettings } from '../../../src/edgex/reissue/create-token.js';
import { startReissueServer } from '../../../src/edgex/reissue/reissue-server.js';
import { startServe } from '../../helpers/serve.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { assertNoSecrets } from '../../helpers/secret-scan.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(base: string, method: string, path: string, opts: { token?: string; body?: unknown; expect?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token !== undefined) headers['x-vault-token'] = opts.token;
  const res = await fetch(`${base}/v1/${path}`, { method, headers, ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }) });
  const text = await res.text();
  const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  if (opts.expect !== undefined) assert.equal(res.status, opts.expect, `${method} ${path}: ${text}`);
  return { status: res.status, body };
}

function field(v: unknown, ...path: string[]): unknown {
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** EdgeX 4's `privileged-token-creator` policy (HCL). */
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

/** EdgeX's file token provider for one service (reference §3, 4.x); returns the login answer. */
async function provision(base: string, admin: string, svc: string): Promise<Answer> {
  const password = Buffer.from(crypto.getRandomValues(new Uint8Array(33))).toString('base64');
  const policy = JSON.stringify({
    path: {
      [`secret/edgex/${svc}/*`]: { capabilities: ['create', 'update', 'delete', 'list', 'read'] },
      [`identity/oidc/token/${svc}`]: { capabilities: ['read'] },
      'identity/oidc/introspect': { capabilities: ['create', 'update'] },
    },
  });
  await call(base, 'PUT', `sys/policies/acl/edgex-service-${svc}`, { token: admin, body: { policy }, expect: 204 });
  const entity = await call(base, 'POST', `identity/entity/name/${svc}`, { token: admin, body: { metadata: { name: svc }, policies: [`edgex-service-${svc}`] }, expect: 200 });
  const id = field(entity.body, 'data', 'id');
  await call(base, 'POST', `auth/userpass/users/${svc}`, { token: admin, body: { password, token_period: '1h', token_policies: [] }, expect: 204 });
  const accessor = field((await call(base, 'GET', 'sys/auth', { token: admin, expect: 200 })).body, 'data', 'userpass/', 'accessor');
  const alias = await call(base, 'POST', 'identity/entity-alias', { token: admin, body: { name: svc, canonical_id: id, mount_accessor: accessor } });
  assert.ok(alias.status === 200 || alias.status === 204);
  await call(base, 'POST', `auth/token/roles/${svc}`, {
    token: admin,
    body: { allowed_policies: [`edgex-service-${svc}`], name: svc, renewable: true, allowed_entity_aliases: [svc], orphan: true },
    expect: 204,
  });
  return call(base, 'POST', `auth/userpass/login/${svc}`, { body: { password }, expect: 200 });
}

/** The request go-mod-bootstrap's secret-store-setup client sends. */
async function regen(url: string, entityId: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/api/v3/token/entityId/${entityId}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: 'null' });
  return { status: res.status, text: await res.text() };
}

test('re-issue against serve: a working token with the role’s policy, the file replaced atomically, and again from the new file', async () => {
  const serve = await startServe();
  const dir = await makeTempDir('sss-reissue-e2e-');
  const lines: string[] = [];
  const log = new Logger({ level: 'debug', sink: (l) => lines.push(l) });
  const secrets: Array<{ label: string; value: Buffer }> = [];
  try {
    const base = serve.url;
    const init = await call(base, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 }, expect: 200 });
    await call(base, 'PUT', 'sys/unseal', { body: { key: (field(init.body, 'keys') as string[])[0] }, expect: 200 });
    const root = String(field(init.body, 'root_token'));
    secrets.push({ label: 'root token', value: Buffer.from(root) });
    await call(base, 'PUT', 'sys/policies/acl/privileged-token-creator', { token: root, body: { policy: ADMIN_POLICY_HCL }, expect: 204 });
    const adminAnswer = await call(base, 'POST', 'auth/token/create', {
      token: root,
      body: { display_name: 'privileged-token-creator', no_parent: true, period: '1h', policies: ['privileged-token-creator'], ttl: '1h' },
      expect: 200,
    });
    const admin = String(field(adminAnswer.body, 'auth', 'client_token'));
    secrets.push({ label: 'admin token', value: Buffer.from(admin) });
    await call(base, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' }, expect: 204 });
    await call(base, 'POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', description: 'key/value secret storage', options: { version: '1' } }, expect: 204 });

    const settings: ReissueTokenSettings = { outputDir: join(dir, 'secrets'), outputFilename: 'secrets-token.json', tokenTtl: '1h' };
    const logins = new Map<string, Answer>();
    for (const svc of ['core-data', 'core-metadata']) {
      const login = await provision(base, admin, svc);
      logins.set(svc, login);
      secrets.push({ label: `${svc} login token`, value: Buffer.from(String(field(login.body, 'auth', 'client_token'))) });
      await writeTokenFile(settings.outputDir, svc, settings.outputFilename, login.body);
    }
    const file = join(settings.outputDir, 'core-data', 'secrets-token.json');
    const before = await stat(file);
    const oldFile = JSON.parse(await readFile(file, 'utf8')) as unknown;
    const userpassEntity = String(field(oldFile, 'auth', 'entity_id'));
    const oldToken = String(field(oldFile, 'auth', 'client_token'));
    assert.match(userpassEntity, /^[0-9a-f-]{36}$/);

    const client = new VaultClient({ address: base });
    const reissued: string[] = [];
    const server = await startReissueServer({
      host: '127.0.0.1',
      port: 0,
      log,
      reissue: async (entityId) => {
        const r = await reissueServiceToken(client, admin, entityId, settings, log);
        reissued.push(r.service);
      },
    });
    try {
      // 1. Re-issue with the userpass entity's id (what a service's first token file holds).
      let reply = await regen(server.url, userpassEntity);
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.text, '{"apiVersion":"v3","statusCode":200}\n');
      assert.deepEqual(reissued, ['core-data']);
      const after = await stat(file);
      assert.notEqual(after.ino, before.ino, 'the token file was replaced by a rename');
      assert.equal(after.mode & 0o777, 0o600);
      const newFile = JSON.parse(await readFile(file, 'utf8')) as unknown;
      const token = String(field(newFile, 'auth', 'client_token'));
      secrets.push({ label: 're-issued token', value: Buffer.from(token) });
      assert.notEqual(token, oldToken);
      const self = await call(base, 'GET', 'auth/token/lookup-self', { token, expect: 200 });
      assert.ok((field(self.body, 'data', 'policies') as string[]).includes('edgex-service-core-data'));
      assert.equal(field(self.body, 'data', 'period'), 3600);
      assert.equal(field(self.body, 'data', 'renewable'), true);
      // The store prefixes "token-" to a created token's display name (as Vault does), so EdgeX's "token-<svc>" shows twice.
      assert.equal(field(self.body, 'data', 'display_name'), 'token-token-core-data');
      assert.deepEqual(field(self.body, 'data', 'meta'), { user: 'core-data' });
      assert.equal(field(self.body, 'data', 'orphan'), true);
      await call(base, 'POST', 'auth/token/renew-self', { token, body: {}, expect: 200 });
      await call(base, 'POST', 'secret/edgex/core-data/redisdb', { token, body: { username: 'default', password: 'x' }, expect: 204 });
      assert.deepEqual(field((await call(base, 'GET', 'secret/edgex/core-data/redisdb', { token, expect: 200 })).body, 'data'), { username: 'default', password: 'x' });
      await call(base, 'GET', 'secret/edgex/core-metadata/redisdb', { token, expect: 403 });
      // The token is bound to an entity of the token mount (Vault's entity_alias), not the userpass one.
      const tokenEntity = String(field(newFile, 'auth', 'entity_id'));
      assert.match(tokenEntity, /^[0-9a-f-]{36}$/);
      assert.notEqual(tokenEntity, userpassEntity);
      // The other service's file is untouched.
      assert.deepEqual(JSON.parse(await readFile(join(settings.outputDir, 'core-metadata', 'secrets-token.json'), 'utf8')), logins.get('core-metadata')?.body);

      // 2. When that token expires, the service calls again with the entity id of its NEW file.
      reply = await regen(server.url, tokenEntity);
      assert.equal(reply.status, 200, reply.text);
      const third = JSON.parse(await readFile(file, 'utf8')) as unknown;
      const token3 = String(field(third, 'auth', 'client_token'));
      secrets.push({ label: 'second re-issued token', value: Buffer.from(token3) });
      assert.notEqual(token3, token);
      assert.equal(field(third, 'auth', 'entity_id'), tokenEntity, 'the token-mount entity is reused');
      assert.deepEqual(field((await call(base, 'GET', 'secret/edgex/core-data/redisdb', { token: token3, expect: 200 })).body, 'data'), { username: 'default', password: 'x' });
      assert.deepEqual(reissued, ['core-data', 'core-data']);

      // 3. An entity the store does not know → a real error status, with the reason.
      reply = await regen(server.url, '00000000-0000-0000-0000-000000000000');
      assert.equal(reply.status, 500);
      assert.match(reply.text, /no identity entity with id 00000000-0000-0000-0000-000000000000/);
    } finally {
      await server.close();
    }
    assertNoSecrets(lines, secrets);
  } finally {
    await serve.close();
    await removeTempDir(dir);
  }
});
