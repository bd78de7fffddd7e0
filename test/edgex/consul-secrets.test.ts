/**
 * EdgeX 3.1's Consul duties against `serve`: the management token (EdgeX's policy and body, file 0600, still valid),
 * and the engine mount, which the embedded store refuses clearly (it has no Consul engine); against a fake store
 * that lists a `consul/` mount, nothing is mounted again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSecretStoreError } from '../../src/errors.js';
import { Logger } from '../../src/log.js';
import { VaultClient } from '../../src/vault/client.js';
import { CONSUL_POLICY_NAME, ensureConsulSecretsEngine, issueConsulManagementToken } from '../../src/edgex/consul-secrets.js';
import { FakeVault } from '../helpers/fake-vault.js';
import { startServe } from '../helpers/serve.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

const log = new Logger({ level: 'error', sink: () => undefined });

test('3.1 Consul: the management token as EdgeX makes it; the embedded store refuses the engine with its reason', async () => {
  const serve = await startServe();
  const dir = await makeTempDir('sss-consul-');
  try {
    const client = new VaultClient({ address: serve.url });
    const init = await client.init(1, 1);
    const share = init.shares[0];
    assert.ok(share);
    await client.unseal(share);
    const root = init.rootToken.toString('utf8');
    await assert.rejects(ensureConsulSecretsEngine(client, root, log), (e: unknown) => isSecretStoreError(e, 'STORE_ERROR') && e.message.includes('plugin not found in the catalog: consul'));
    const path = join(dir, 'edgex-consul', 'admin', 'token.json');
    const issued = await issueConsulManagementToken(client, root, path, log);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const file = JSON.parse(await readFile(path, 'utf8')) as { auth: { client_token: string; policies: string[] } };
    assert.deepEqual(file.auth.policies, ['consul_secrets_engine_management_policy', 'default']);
    const self = await client.call('GET', 'auth/token/lookup-self', { token: issued.token }, [200]);
    const data = (self.body as { data: { period: number; orphan: boolean; display_name: string; meta: Record<string, string> } }).data;
    assert.equal(data.period, 3600);
    assert.equal(data.orphan, true);
    assert.equal(data.display_name, 'token-for-Consul-ACL-bootstrap');
    assert.deepEqual(data.meta, { description: 'Consul secrets engine management token' });
    const policy = await client.call('GET', `sys/policies/acl/${CONSUL_POLICY_NAME}`, { token: root }, [200]);
    assert.match(JSON.stringify(policy.body), /consul\/roles\/\*/);
  } finally {
    await serve.close();
    await removeTempDir(dir);
  }
});

test('3.1 Consul: an existing consul/ mount is left alone', async () => {
  const fake = new FakeVault();
  const url = await fake.start();
  const posts: string[] = [];
  fake.hook = (req, res, path) => {
    if (req.method === 'GET' && path === 'sys/mounts') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { 'consul/': { type: 'consul', options: null } } }));
      return true;
    }
    if (req.method === 'POST') posts.push(path);
    return false;
  };
  try {
    assert.equal(await ensureConsulSecretsEngine(new VaultClient({ address: url }), 'hvs.root', log), false);
    assert.deepEqual(posts, []);
  } finally {
    await fake.stop();
  }
});
