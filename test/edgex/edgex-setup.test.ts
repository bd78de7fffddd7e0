/** The orchestrator's own rules: refusals before anything is touched, and the certificate upload against `serve`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/config.js';
import { prepareEdgexSetup, uploadCertificate } from '../../src/edgex/edgex-setup.js';
import { isSecretStoreError } from '../../src/errors.js';
import { Logger } from '../../src/log.js';
import { VaultClient } from '../../src/vault/client.js';
import { startServe } from '../helpers/serve.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

const log = new Logger({ level: 'error', sink: () => undefined });

function edgexConfig(extra: Record<string, unknown>, cwd: string): ReturnType<typeof resolveConfig> {
  return resolveConfig(extra, {}, {}, cwd, { doc: { SecretStore: { TokenProvider: '/security-file-token-provider', ...extra } }, source: 'test' });
}

test('prepare refuses KvVersion 2 before anything is touched (an empty admin token path is refused by the configuration)', async () => {
  const dir = await makeTempDir('sss-edgex-setup-');
  try {
    await assert.rejects(prepareEdgexSetup(edgexConfig({ KvVersion: 2 }, dir), {}, dir, log), (e: unknown) => isSecretStoreError(e, 'CONFIG') && /KvVersion 2/.test(e.message));
    assert.throws(() => edgexConfig({ TokenProviderAdminTokenPath: '' }, dir), (e: unknown) => isSecretStoreError(e, 'CONFIG') && /TokenProviderAdminTokenPath/.test(e.message));
    const plan = await prepareEdgexSetup(edgexConfig({}, dir), { EDGEX_ADD_SECRETSTORE_TOKENS: 'app-x' }, dir, log);
    assert.ok(plan.services.some((s) => s.name === 'app-x'));
  } finally {
    await removeTempDir(dir);
  }
});

test('certificate upload: none without CertPath; uploaded once as {cert, key}; kept when present', async () => {
  const serve = await startServe();
  const dir = await makeTempDir('sss-cert-');
  try {
    const client = new VaultClient({ address: serve.url });
    const init = await client.init(1, 1);
    const share = init.shares[0];
    assert.ok(share);
    await client.unseal(share);
    const root = init.rootToken.toString('utf8');
    await client.call('POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '1' } } }, [204]);
    await writeFile(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    await writeFile(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nMIIE"x\n-----END PRIVATE KEY-----\n');
    const base = edgexConfig({}, dir).edgex;
    assert.equal(await uploadCertificate(client, root, base, log), 'none');
    const settings = { ...base, certPath: 'secret/edgex/security-proxy-setup/proxy-cert', certFilePath: join(dir, 'cert.pem'), keyFilePath: join(dir, 'key.pem') };
    assert.equal(await uploadCertificate(client, root, settings, log), 'uploaded');
    const stored = (await client.read(root, settings.certPath)) as { data: { cert: string; key: string } };
    assert.match(stored.data.cert, /BEGIN CERTIFICATE/);
    assert.match(stored.data.key, /MIIE"x/, 'the key is JSON-escaped correctly');
    assert.equal(await uploadCertificate(client, root, settings, log), 'present');
    await assert.rejects(uploadCertificate(client, root, { ...settings, certPath: 'secret/other', keyFilePath: join(dir, 'missing.pem') }, log), (e: unknown) => isSecretStoreError(e, 'IO'));
  } finally {
    await serve.close();
    await removeTempDir(dir);
  }
});
