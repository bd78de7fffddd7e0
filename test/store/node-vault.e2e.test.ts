/**
 * End to end with a real third-party client, node-vault 0.12 (CommonJS, imported through createRequire), against
 * `secretstore-setup serve` running as a separate process: init 5/3, unseal with mixed hex/base64 shares, KV v2,
 * a policy-limited token, generate-root with the OTP decode, seal — then a process restart on the same data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { startServe, type ServeProcess } from '../cli/serve-helper.js';

interface VaultError extends Error {
  response?: { statusCode: number; body: unknown };
}
/** The parts of node-vault's client this test uses (its own .d.ts types everything as any). */
interface VaultClient {
  token: string;
  initialized(): Promise<{ initialized: boolean }>;
  init(o: { secret_shares: number; secret_threshold: number }): Promise<{ keys: string[]; keys_base64: string[]; root_token: string }>;
  status(): Promise<{ sealed: boolean; progress: number; t: number; n: number; initialized: boolean }>;
  unseal(o: { key: string }): Promise<{ sealed: boolean; progress: number }>;
  seal(): Promise<unknown>;
  health(): Promise<{ initialized: boolean; sealed: boolean }>;
  mount(o: { mount_point: string; type: string; options?: Record<string, string> }): Promise<unknown>;
  mounts(): Promise<Record<string, unknown>>;
  write(path: string, data: unknown): Promise<{ data?: Record<string, unknown> } | undefined>;
  read(path: string): Promise<{ data: Record<string, unknown> }>;
  list(path: string): Promise<{ data: { keys: string[] } }>;
  delete(path: string): Promise<unknown>;
  addPolicy(o: { name: string; rules: string }): Promise<unknown>;
  getPolicy(o: { name: string }): Promise<{ rules: string }>;
  policies(): Promise<{ policies: string[] }>;
  tokenCreate(o: { policies: string[] }): Promise<{ auth: { client_token: string; policies: string[] } }>;
  tokenLookupSelf(): Promise<{ data: { policies: string[]; path: string } }>;
  generateRootInit(o?: Record<string, string>): Promise<{ nonce: string; otp: string; otp_length: number; started: boolean }>;
  generateRootUpdate(o: { key: string; nonce: string }): Promise<{ complete: boolean; encoded_token: string; encoded_root_token: string; progress: number }>;
}
type VaultFactory = (o: { endpoint: string; token?: string; apiVersion?: string }) => VaultClient;

const nodeVault = createRequire(import.meta.url)('node-vault') as VaultFactory;

async function rejectsWith(p: Promise<unknown>, status: number, message?: string): Promise<void> {
  await assert.rejects(p, (err: VaultError) => {
    assert.equal(err.response?.statusCode, status);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

/** Vault's OTP scheme: encoded = base64 (raw or padded) of token XOR otp. */
function decodeRootToken(encoded: string, otp: string): string {
  const xored = Buffer.from(encoded, 'base64');
  const otpBytes = Buffer.from(otp, 'utf8');
  assert.equal(xored.length, otpBytes.length);
  const out = Buffer.alloc(xored.length);
  for (let i = 0; i < out.length; i++) out[i] = (xored[i] ?? 0) ^ (otpBytes[i] ?? 0);
  return out.toString('utf8');
}

test('node-vault 0.12 against serve: full lifecycle, then a process restart with all data intact', async () => {
  const dir = await makeTempDir();
  let server: ServeProcess | undefined;
  try {
    server = await startServe(['--data', dir, '--listen', '127.0.0.1:0']);
    const vault = nodeVault({ endpoint: server.url });
    assert.deepEqual(await vault.initialized(), { initialized: false });

    // init 5/3
    const init = await vault.init({ secret_shares: 5, secret_threshold: 3 });
    assert.equal(init.keys.length, 5);
    assert.ok(init.keys.every((k) => /^[0-9a-f]{66}$/.test(k)));
    assert.ok(init.keys_base64.every((k) => k.length === 44));
    assert.match(init.root_token, /^hvs\.[0-9A-Za-z]{24}$/);
    await rejectsWith(vault.init({ secret_shares: 5, secret_threshold: 3 }), 400, 'Vault is already initialized');
    assert.equal((await vault.status()).sealed, true);

    // unseal with mixed hex / base64 shares
    assert.equal((await vault.unseal({ key: init.keys[0] ?? '' })).progress, 1);
    assert.equal((await vault.unseal({ key: init.keys_base64[3] ?? '' })).progress, 2);
    assert.equal((await vault.unseal({ key: init.keys[4] ?? '' })).sealed, false);
    assert.deepEqual(await vault.health().then((h) => [h.initialized, h.sealed]), [true, false]);

    // KV v2: mount, write, read, list, delete
    vault.token = init.root_token;
    await vault.mount({ mount_point: 'secret', type: 'kv', options: { version: '2' } });
    assert.ok('secret/' in (await vault.mounts()));
    const w1 = await vault.write('secret/data/app/db', { data: { password: 'p1' } });
    assert.equal(w1?.data?.version, 1);
    await vault.write('secret/data/app/db', { data: { password: 'p2' } });
    await vault.write('secret/data/app/other', { data: { user: 'u' } });
    const read = await vault.read('secret/data/app/db');
    assert.deepEqual(read.data.data, { password: 'p2' });
    assert.equal((read.data.metadata as { version: number }).version, 2);
    assert.deepEqual((await vault.list('secret/metadata/app')).data.keys, ['db', 'other']);
    assert.deepEqual((await vault.list('secret/metadata/')).data.keys, ['app/']);
    await vault.write('secret/data/tmp/x', { data: { a: 1 } });
    await vault.delete('secret/data/tmp/x');
    await rejectsWith(vault.read('secret/data/tmp/x'), 404);
    await rejectsWith(vault.read('secret/data/nothing'), 404);

    // a policy-limited token is denied where it should be
    await vault.addPolicy({
      name: 'app-read',
      rules: 'path "secret/data/app/*" { capabilities = ["read"] }\npath "secret/metadata/app/*" { capabilities = ["list"] }',
    });
    assert.ok((await vault.policies()).policies.includes('app-read'));
    assert.match((await vault.getPolicy({ name: 'app-read' })).rules, /secret\/data\/app/);
    const child = await nodeVault({ endpoint: server.url, token: init.root_token }).tokenCreate({ policies: ['app-read'] });
    assert.deepEqual([...child.auth.policies].sort(), ['app-read', 'default']);
    const limited = nodeVault({ endpoint: server.url, token: child.auth.client_token });
    assert.deepEqual((await limited.read('secret/data/app/other')).data.data, { user: 'u' });
    assert.deepEqual((await limited.list('secret/metadata/app')).data.keys, ['db', 'other']);
    await rejectsWith(limited.write('secret/data/app/other', { data: { user: 'evil' } }), 403, 'permission denied');
    await rejectsWith(limited.read('secret/data/tmp/x'), 403, 'permission denied');
    await rejectsWith(limited.mounts(), 403, 'permission denied');
    await rejectsWith(limited.seal(), 403, 'permission denied');
    await rejectsWith(limited.tokenCreate({ policies: ['root'] }), 403);
    assert.deepEqual((await limited.tokenLookupSelf()).data.policies, ['app-read', 'default']);
    await rejectsWith(nodeVault({ endpoint: server.url, token: 'hvs.notarealtoken000000000' }).read('secret/data/app/db'), 403, 'permission denied');

    // generate-root: server-generated OTP, three shares, decode the token and use it
    const attempt = await vault.generateRootInit();
    assert.equal(attempt.otp.length, attempt.otp_length);
    let update = await vault.generateRootUpdate({ key: init.keys_base64[1] ?? '', nonce: attempt.nonce });
    assert.equal(update.complete, false);
    update = await vault.generateRootUpdate({ key: init.keys[2] ?? '', nonce: attempt.nonce });
    update = await vault.generateRootUpdate({ key: init.keys[3] ?? '', nonce: attempt.nonce });
    assert.equal(update.complete, true);
    const newRoot = decodeRootToken(update.encoded_token, attempt.otp);
    assert.match(newRoot, /^hvs\.[0-9A-Za-z]{24}$/);
    assert.notEqual(newRoot, init.root_token);
    const rootClient = nodeVault({ endpoint: server.url, token: newRoot });
    const self = await rootClient.tokenLookupSelf();
    assert.deepEqual(self.data.policies, ['root']);
    assert.deepEqual((await rootClient.read('secret/data/app/db')).data.data, { password: 'p2' });

    // seal
    await rootClient.seal();
    assert.equal((await vault.status()).sealed, true);
    await rejectsWith(vault.read('secret/data/app/db'), 503, 'Vault is sealed');
    assert.deepEqual(await server.stop(), { code: 0, signal: null });

    // restart the PROCESS on the same data: sealed, unseal again, everything is there
    server = await startServe(['--data', dir, '--listen', '127.0.0.1:0']);
    const again = nodeVault({ endpoint: server.url });
    const st = await again.status();
    assert.deepEqual([st.initialized, st.sealed, st.t, st.n], [true, true, 3, 5]);
    await again.unseal({ key: init.keys_base64[4] ?? '' });
    await again.unseal({ key: init.keys[0] ?? '' });
    assert.equal((await again.unseal({ key: init.keys_base64[2] ?? '' })).sealed, false);
    again.token = newRoot;
    assert.deepEqual((await again.read('secret/data/app/db')).data.data, { password: 'p2' });
    assert.deepEqual((await again.list('secret/metadata/app')).data.keys, ['db', 'other']);
    assert.ok((await again.policies()).policies.includes('app-read'));
    const limitedAgain = nodeVault({ endpoint: server.url, token: child.auth.client_token });
    assert.deepEqual((await limitedAgain.read('secret/data/app/other')).data.data, { user: 'u' });
    await rejectsWith(limitedAgain.write('secret/data/app/other', { data: {} }), 403, 'permission denied');
    // the original root token survives too
    again.token = init.root_token;
    assert.deepEqual((await again.tokenLookupSelf()).data.policies, ['root']);
  } finally {
    if (server !== undefined) await server.stop();
    await removeTempDir(dir);
  }
});
