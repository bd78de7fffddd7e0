/**
 * EdgeX played end to end on the embedded store, as issue "drop-in security-secretstore-setup" asks: an EdgeX 4
 * configuration (TokenProvider set, the provider's own configuration under res-file-token-provider/), shares
 * encrypted with the software hook, first boot with `EDGEX_ADD_SECRETSTORE_TOKENS=app-x` and
 * `EDGEX_ADD_KNOWN_SECRETS=redisdb[app-x]` and the stage gate; `app-x` reading only its token file; a reboot; a
 * token re-issue through `--longRun` with the encrypted shares; and a scan of every output for tokens, passwords
 * and shares. `bootstrap` and `serve` run as separate processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { VaultClient } from '../../src/vault/client.js';
import { IKM_DEV } from '../helpers/boot-env.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { CLI_MAIN } from '../helpers/paths.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { startServe } from '../helpers/serve.js';
import { freePortPair } from '../helpers/swtpm.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

interface TokenFile {
  auth: { client_token: string; entity_id: string; accessor: string; policies: string[] };
}

async function tokenFile(dir: string, svc: string): Promise<TokenFile> {
  return JSON.parse(await readFile(join(dir, 'secrets', svc, 'secrets-token.json'), 'utf8')) as TokenFile;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

/** Starts `bootstrap` as a long-running process (stage gate or --longRun); resolves once `ready()` says so. */
async function startLongBootstrap(args: string[], env: NodeJS.ProcessEnv, cwd: string, ready: (stderr: string) => Promise<boolean>): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI_MAIN, 'bootstrap', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    resolve(code);
  }));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bootstrap exited early (${String(child.exitCode)}): ${out}`);
    if (await ready(out)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bootstrap not ready in time: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

test('EdgeX 4 on the embedded store: first boot with the stage gate, app-x, reboot, --longRun re-issue with encrypted shares', async () => {
  const dir = await makeTempDir('sss-edgex-');
  const store = await startServe();
  const outputs: string[] = [];
  const secrets: { label: string; value: Buffer }[] = [];
  const ikmHex = randomBytes(32).toString('hex');
  try {
    await writeFile(join(dir, 'ikm.hex'), ikmHex + '\n', { mode: 0o600 });
    await writeFile(
      join(dir, 'configuration.yaml'),
      [
        'SecretStore:',
        '  Type: openbao',
        `  TokenFolderPath: ${join(dir, 'assets')}`,
        '  TokenFile: resp-init.json',
        '  TokenProvider: /security-file-token-provider',
        '  TokenProviderArgs: ["-configDir", "res-file-token-provider"]',
        '  TokenProviderType: oneshot',
        `  TokenProviderAdminTokenPath: ${join(dir, 'run', 'tokenprovider', 'secrets-token.json')}`,
        '  WaitTimeout: 20',
        'Database:',
        '  Type: redis',
        '',
      ].join('\n'),
    );
    await mkdir(join(dir, 'res-file-token-provider'));
    await writeFile(join(dir, 'res-file-token-provider', 'configuration.yaml'), `TokenFileProvider:\n  OutputDir: ${join(dir, 'secrets')}\n`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      IKM_DEV_FILE: join(dir, 'ikm.hex'),
      IKM_DEV_ALLOW_INSECURE: '1',
      EDGEX_IKM_HOOK: IKM_DEV,
      EDGEX_ADD_SECRETSTORE_TOKENS: 'app-x',
      EDGEX_ADD_KNOWN_SECRETS: 'redisdb[app-x]',
    };
    const run = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> => {
      const r = await runCli(['bootstrap', '--addr', store.url, ...args], { cwd: dir, env: { ...env, ...extra } });
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    // A bad service name is refused before the store is touched.
    const bad = await run([], { EDGEX_ADD_SECRETSTORE_TOKENS: 'app-x,bad name' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"bad name"/);
    assert.equal((await new VaultClient({ address: store.url }).health()).status, 501, 'the store is still uninitialized');

    // First boot, with EdgeX's stage gate: the port opens only once every token file and known secret exists.
    const gatePort = await freePortPair();
    const first = await startLongBootstrap(['--addr', store.url, '--tokens-ready-port', String(gatePort)], { ...env, STAGEGATE_SECRETSTORESETUP_HOST: '127.0.0.1' }, dir, () => canConnect(gatePort));
    // The gate is open: everything must be there already.
    const appX = await tokenFile(dir, 'app-x');
    const coreData = await tokenFile(dir, 'core-data');
    const redisBootstrapper = await tokenFile(dir, 'security-bootstrapper-redis');
    assert.equal((await stat(join(dir, 'secrets', 'app-x', 'secrets-token.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'secrets', 'app-x'))).mode & 0o777, 0o700);
    assert.equal(await first.stop(), 0);
    outputs.push(first.output());
    assert.match(first.output(), /EdgeX setup done: 19 service token files/);

    // app-x, with only its token file.
    const client = new VaultClient({ address: store.url });
    const token = appX.auth.client_token;
    secrets.push({ label: 'app-x token', value: Buffer.from(token) }, { label: 'core-data token', value: Buffer.from(coreData.auth.client_token) });
    const self = await client.call('GET', 'auth/token/lookup-self', { token }, [200]);
    assert.equal((self.body as { data: { period: number; renewable: boolean } }).data.period, 3600);
    await client.call('POST', 'auth/token/renew-self', { token, body: {} }, [200]);
    const mine = await client.call('GET', 'secret/edgex/app-x/redisdb', { token }, [200]);
    const theirs = await client.call('GET', 'secret/edgex/security-bootstrapper-redis/redisdb', { token: redisBootstrapper.auth.client_token }, [200]);
    const redis = (mine.body as { data: { username: string; password: string } }).data;
    assert.deepEqual(redis, (theirs.body as { data: unknown }).data, "app-x's redisdb is the bootstrapper's");
    assert.equal(redis.username, 'default');
    secrets.push({ label: 'redis password', value: Buffer.from(redis.password) });
    await client.call('POST', 'secret/edgex/app-x/own', { token, body: { k: 'v' } }, [200, 204]);
    assert.deepEqual(((await client.call('GET', 'secret/edgex/app-x/own', { token }, [200])).body as { data: unknown }).data, { k: 'v' });
    const listed = await client.call('GET', 'secret/edgex/app-x', { token, query: { list: 'true' } }, [200]);
    assert.deepEqual((listed.body as { data: { keys: string[] } }).data.keys.sort(), ['own', 'redisdb']);
    await client.call('GET', 'secret/edgex/core-data/redisdb', { token }, [403]);
    const jwt = ((((await client.call('GET', 'identity/oidc/token/app-x', { token }, [200])).body as { data: { token: string } }).data.token));
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss: string; sub: string };
    assert.equal(claims.iss, '/v1/identity/oidc');
    assert.equal(claims.sub, appX.auth.entity_id);
    const introspect = await client.call('POST', 'identity/oidc/introspect', { token: coreData.auth.client_token, body: { token: jwt } }, [200]);
    assert.deepEqual(introspect.body, { active: true });
    // The admin token was revoked at the end of the run (its file stays, with a dead token).
    const admin = JSON.parse(await readFile(join(dir, 'run', 'tokenprovider', 'secrets-token.json'), 'utf8')) as TokenFile;
    await client.call('GET', 'auth/token/lookup-self', { token: admin.auth.client_token }, [403]);

    // Reboot: the store restarts sealed; old service tokens are refused; new files; the known secret is unchanged.
    await store.restart();
    const reboot = await run([]);
    assert.equal(reboot.code, 0, reboot.stderr);
    await client.call('GET', 'auth/token/lookup-self', { token }, [403]);
    const appX2 = await tokenFile(dir, 'app-x');
    assert.notEqual(appX2.auth.client_token, token);
    assert.equal(appX2.auth.entity_id, appX.auth.entity_id);
    secrets.push({ label: 'app-x token after reboot', value: Buffer.from(appX2.auth.client_token) });
    const again = await client.call('GET', 'secret/edgex/app-x/redisdb', { token: appX2.auth.client_token }, [200]);
    assert.deepEqual((again.body as { data: unknown }).data, redis);

    // --longRun: re-issue app-x's token with the encrypted shares (decrypted once by the boot, kept in memory).
    const servicePort = await freePortPair();
    const long = await startLongBootstrap(['--addr', store.url, '--longRun=true'], { ...env, SERVICE_HOST: '127.0.0.1', SERVICE_PORT: String(servicePort) }, dir, (out) =>
      Promise.resolve(out.includes('token re-issue service listening')),
    );
    const res = await fetch(`http://127.0.0.1:${String(servicePort)}/api/v3/token/entityId/${appX2.auth.entity_id}`, { method: 'PUT', body: 'null' });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { apiVersion: 'v3', statusCode: 200 });
    const appX3 = await tokenFile(dir, 'app-x');
    assert.notEqual(appX3.auth.client_token, appX2.auth.client_token);
    secrets.push({ label: 'app-x re-issued token', value: Buffer.from(appX3.auth.client_token) });
    await client.call('POST', 'secret/edgex/app-x/after', { token: appX3.auth.client_token, body: { k: 'v' } }, [200, 204]);
    await client.call('GET', 'secret/edgex/core-data/redisdb', { token: appX3.auth.client_token }, [403]);
    assert.equal(await long.stop(), 0);
    outputs.push(long.output());

    // Nothing secret in any output: tokens, the redis password, the shares (decrypted with the IKM) and the IKM.
    const ikm = Buffer.from(ikmHex, 'hex');
    secrets.push({ label: 'IKM', value: ikm });
    const { secrets: keyFile } = await readKeyFile({ dir: join(dir, 'assets') }, ikm);
    keyFile.shares.forEach((share, i) => secrets.push({ label: `share ${String(i)}`, value: share }));
    outputs.push(store.output());
    assertNoSecrets(outputs, secrets);
  } finally {
    await store.close();
    await removeTempDir(dir);
  }
});
