/**
 * The in-process token provider against `serve` (a separate process): EdgeX's default 4.x service list plus
 * `EDGEX_ADD_SECRETSTORE_TOKENS=app-x`, provisioned with EdgeX's admin token; every token file works as the service's
 * token (lookup-self, its own secrets, its JWT), a second run gives new tokens on the same entities, and a bad name
 * in the environment is refused before anything is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSecretStoreError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import { VaultClient } from '../../../src/vault/client.js';
import { issueAdminToken } from '../../../src/edgex/token-issuer.js';
import { edgexAdminToken } from '../../../src/edgex/admin-token.js';
import { TOKEN_PROVIDER_DEFAULTS } from '../../../src/edgex/token-provider/provider-settings.js';
import { resolveServices, runTokenProvider } from '../../../src/edgex/token-provider/run-token-provider.js';
import { startServe } from '../../helpers/serve.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

test('token provider: EdgeX 4 default services + app-x against serve; reboot gives new tokens, same entities', async () => {
  const serve = await startServe();
  const dir = await makeTempDir('sss-tp-');
  const lines: string[] = [];
  const log = new Logger({ level: 'debug', sink: (l) => lines.push(l) });
  try {
    const client = new VaultClient({ address: serve.url });
    const init = await client.init(1, 1);
    const share = init.shares[0];
    assert.ok(share);
    await client.unseal(share);
    const root = init.rootToken.toString('utf8');
    await client.call('POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' } }, [204]);
    await client.call('POST', 'identity/oidc/key/edgex-identity', { token: root, body: { allowed_client_ids: ['*'], algorithm: 'ES384' } }, [204]);
    await client.call('POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '1' } } }, [204]);
    const settings = { ...TOKEN_PROVIDER_DEFAULTS, configFile: join(dir, 'absent.json'), outputDir: join(dir, 'out') };

    await assert.rejects(resolveServices(settings, { EDGEX_ADD_SECRETSTORE_TOKENS: 'good, bad.name,sp ace' }, '4', log), (e: unknown) =>
      isSecretStoreError(e, 'CONFIG') && e.message.includes('"bad.name"') && e.message.includes('"sp ace"'),
    );
    await assert.rejects(resolveServices({ ...settings, configFileExplicit: true }, {}, '4', log), (e: unknown) =>
      isSecretStoreError(e, 'CONFIG') && e.message.includes('does not exist'),
    );
    const services = await resolveServices(settings, { EDGEX_ADD_SECRETSTORE_TOKENS: 'app-x' }, '4', log);
    assert.ok(services.some((s) => s.name === 'app-x'));
    assert.ok(services.some((s) => s.name === 'core-data'));
    const admin = await issueAdminToken(client, root, join(dir, 'admin', 'secrets-token.json'), log, edgexAdminToken('4'));
    const first = await runTokenProvider(client, admin.token, services, settings, '4', log);
    assert.equal(first.length, services.length);
    assert.deepEqual((await readdir(settings.outputDir)).sort(), services.map((s) => s.name).sort());

    const appX = first.find((p) => p.service === 'app-x');
    assert.ok(appX);
    assert.equal((await stat(appX.path)).mode & 0o777, 0o600);
    const file = JSON.parse(await readFile(appX.path, 'utf8')) as { auth: { client_token: string; entity_id: string; policies: string[] } };
    assert.equal(file.auth.entity_id, appX.entityId);
    assert.deepEqual(file.auth.policies, ['default', 'edgex-service-app-x']);
    const token = file.auth.client_token;
    const self = await client.call('GET', 'auth/token/lookup-self', { token }, [200]);
    assert.equal((self.body as { data: { period: number } }).data.period, 3600);
    await client.call('POST', 'secret/edgex/app-x/mine', { token, body: { a: 'b' } }, [204]);
    await client.call('GET', 'secret/edgex/core-data/x', { token }, [403]);
    const jwt = await client.call('GET', 'identity/oidc/token/app-x', { token }, [200]);
    assert.equal((jwt.body as { data: { client_id: string } }).data.client_id, 'edgex');
    // A custom policy from EdgeX's token-config (security-proxy-setup may manage other services' policies).
    const proxy = await client.call('GET', 'sys/policies/acl/edgex-service-security-proxy-setup', { token: root }, [200]);
    assert.match(JSON.stringify(proxy.body), /edgex-service-/);

    // Reboot: a second run gives new tokens on the same entities.
    const second = await runTokenProvider(client, admin.token, services, settings, '4', log);
    const appX2 = second.find((p) => p.service === 'app-x');
    assert.equal(appX2?.entityId, appX.entityId);
    assert.notEqual(appX2.accessor, appX.accessor);
    await client.revokeSelf(admin.token);
    // Nothing secret in the log.
    const text = lines.join('\n');
    assert.ok(!text.includes(token), 'a token leaked into the log');
    assert.ok(!text.includes('hvs.'), 'a token leaked into the log');
  } finally {
    await serve.close();
    await removeTempDir(dir);
  }
});
