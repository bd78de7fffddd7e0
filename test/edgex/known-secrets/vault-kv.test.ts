/**
 * The KV v1 adapter over VaultClient, against the in-process fake Vault: 404 absent, 200 with both fields present,
 * 200 without them invalid, other statuses fatal; POST bodies; encoded paths; a whole ensure run twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretStoreError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import { VaultClient } from '../../../src/vault/client.js';
import { ensureKnownSecrets } from '../../../src/edgex/known-secrets/apply-known-secrets.js';
import { planKnownSecrets } from '../../../src/edgex/known-secrets/known-secrets-plan.js';
import { encodeSecretPath, vaultKnownSecretsKv } from '../../../src/edgex/known-secrets/vault-kv.js';
import { FakeVault } from '../../helpers/fake-vault.js';
import { assertNoSecrets } from '../../helpers/secret-scan.js';
import { v4Settings } from './fixtures.js';

const TOKEN = 'hvs.test-root-token-0000';

async function withFake(fn: (fake: FakeVault, client: VaultClient, lines: string[]) => Promise<void>): Promise<void> {
  const fake = new FakeVault();
  await fake.start();
  fake.initialized = true;
  fake.sealed = false;
  fake.tokens.set(TOKEN, { id: TOKEN, accessor: 'acc', policies: ['root'], orphan: true, meta: {} });
  const lines: string[] = [];
  const client = new VaultClient({ address: fake.url, retries: 0, log: new Logger({ level: 'debug', sink: (l) => lines.push(l) }) });
  try {
    await fn(fake, client, lines);
  } finally {
    await fake.stop();
  }
}

test('read: 404 absent, 200 present, 200 without username/password invalid; write: POST {"username","password"}', async () => {
  await withFake(async (fake, client) => {
    const kv = vaultKnownSecretsKv(client, TOKEN);
    assert.equal(await kv.read('secret/edgex/core-data/redisdb'), undefined);
    await kv.write('secret/edgex/core-data/redisdb', { username: 'default', password: Buffer.from('p"w\\d\u00e9') });
    assert.deepEqual(fake.kv.get('secret/edgex/core-data/redisdb'), { username: 'default', password: 'p"w\\d\u00e9' });
    const read = await kv.read('secret/edgex/core-data/redisdb');
    assert.ok(read !== undefined && read !== 'invalid');
    assert.equal(read.username, 'default');
    assert.equal(read.password.toString(), 'p"w\\d\u00e9');
    for (const stored of [{ username: 'u', password: '' }, { username: '', password: 'p' }, { password: 'p' }, { username: 'u', password: 5 }, {}]) {
      fake.kv.set('secret/edgex/x/redisdb', stored);
      assert.equal(await kv.read('secret/edgex/x/redisdb'), 'invalid', JSON.stringify(stored));
    }
    assert.ok(fake.requests.includes('POST secret/edgex/core-data/redisdb'));
  });
});

test('read: any other status is a fatal STORE_ERROR; a 200 with an empty body is invalid; write: a refused POST is fatal', async () => {
  await withFake(async (fake, client) => {
    const kv = vaultKnownSecretsKv(client, TOKEN);
    fake.hook = (_req, res, path) => {
      if (path === 'secret/edgex/a/redisdb') res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"errors":["internal"]}');
      else if (path === 'secret/edgex/b/redisdb') res.writeHead(200).end();
      else if (path === 'secret/edgex/c/redisdb') res.writeHead(403, { 'Content-Type': 'application/json' }).end('{"errors":["permission denied"]}');
      else return false;
      return true;
    };
    await assert.rejects(kv.read('secret/edgex/a/redisdb'), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR') && /HTTP 500 to secret\/edgex\/a\/redisdb: internal/.test(err.message));
    assert.equal(await kv.read('secret/edgex/b/redisdb'), 'invalid');
    await assert.rejects(kv.write('secret/edgex/c/redisdb', { username: 'u', password: Buffer.from('p') }), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR') && /denied secret\/edgex\/c\/redisdb \(HTTP 403\)/.test(err.message));
  });
});

test('path segments are percent-encoded (service names may hold spaces and braces)', async () => {
  assert.equal(encodeSecretPath('secret/edgex/my svc{1}|x/redisdb'), 'secret/edgex/my%20svc%7B1%7D%7Cx/redisdb');
  await withFake(async (fake, client) => {
    const kv = vaultKnownSecretsKv(client, TOKEN);
    await kv.write('secret/edgex/my svc/redisdb', { username: 'default', password: Buffer.from('pw') });
    assert.ok(fake.kv.has('secret/edgex/my%20svc/redisdb'));
    const back = await kv.read('secret/edgex/my svc/redisdb');
    assert.ok(back !== undefined && back !== 'invalid' && back.password.toString() === 'pw');
  });
});

test('a whole EdgeX 4 ensure run against the fake store, twice: the second run only reads', async () => {
  await withFake(async (fake, client, clientLines) => {
    const lines: string[] = [];
    const log = new Logger({ level: 'debug', sink: (l) => lines.push(l) });
    const plan = planKnownSecrets(v4Settings('mqtt'), { redisdb: [], 'message-bus': ['app-rules-engine'], postgres: ['app-rules-engine'] });
    const kv = vaultKnownSecretsKv(client, TOKEN);
    const first = await ensureKnownSecrets(kv, plan, log);
    assert.ok(first.created.length > 20);
    const posts = fake.requests.filter((r) => r.startsWith('POST')).length;
    assert.equal(posts, first.created.length);
    const second = await ensureKnownSecrets(kv, plan, log);
    assert.equal(second.created.length, 0);
    assert.equal(fake.requests.filter((r) => r.startsWith('POST')).length, posts, 'no write on the second run');
    const secrets = [...fake.kv.entries()].map(([path, v]) => ({ label: path, value: Buffer.from((v as { password: string }).password) }));
    assertNoSecrets([...lines, ...clientLines], [...secrets, { label: 'token', value: Buffer.from(TOKEN) }]);
  });
});
