/**
 * The boot flow's state machine against the in-process fake (fault injection, request counting). The same flows
 * run end to end against the real `serve` process in bootstrap.e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FakeVault } from '../helpers/fake-vault.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { Logger } from '../../src/log.js';
import { resolveConfig, type SecretStoreConfig } from '../../src/config/config.js';
import { runBootstrap, type BootstrapOptions } from '../../src/bootstrap/flow.js';
import { inspectKeyFile, readKeyFile } from '../../src/keyfile/keyfile.js';
import { FixedIkm } from './flow-fixtures.js';
import { isSecretStoreError, type ErrorCode } from '../../src/errors.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { INIT_MARKER } from '../../src/bootstrap/init-marker.js';


/** Every log line and error message of every flow below, and every secret the flows handled (scanned at the end). */
const scanned: string[] = [];
const secrets: { label: string; value: Buffer }[] = [];
/** A debug logger whose lines join the scan. */
function scanLog(lines: string[] = scanned): Logger {
  return new Logger({ level: 'debug', sink: (l) => lines.push(l) });
}
/** Runs a flow, adding its error message (if any) to the scan. */
async function scanRun<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    scanned.push(err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err));
    throw err;
  }
}
/** Adds a fake store's secrets (shares, every token it ever issued, root tokens included) to the scan. */
function collectSecrets(fake: FakeVault, ikm?: Buffer): void {
  if (ikm !== undefined) secrets.push({ label: 'IKM', value: ikm });
  fake.shares.forEach((value, i) => secrets.push({ label: `share ${i}`, value }));
  fake.issued.forEach((t) => secrets.push({ label: `token ${t.policies.join('+')}`, value: Buffer.from(t.id) }));
}

interface Harness {
  fake: FakeVault;
  dir: string;
  config: SecretStoreConfig;
  ikm: Buffer;
  lines: string[];
  run(extra?: Partial<BootstrapOptions> & { hook?: boolean; ikm?: Buffer }): ReturnType<typeof runBootstrap>;
  close(): Promise<void>;
}

async function harness(settings: Record<string, unknown> = {}): Promise<Harness> {
  const fake = new FakeVault();
  const url = await fake.start();
  const dir = await makeTempDir('sss-flow-');
  const config = resolveConfig(
    { TokenFolderPath: join(dir, 'assets'), TokenProviderAdminTokenPath: join(dir, 'run', 'token.json'), WaitTimeout: 2, ...settings },
    { addrs: [url] },
    {},
    dir,
  );
  const ikm = randomBytes(32);
  const lines: string[] = [];
  const log = scanLog(lines);
  return {
    fake,
    dir,
    config,
    ikm,
    lines,
    run: (extra = {}) => {
      const source = extra.hook === false ? undefined : new FixedIkm(extra.ikm ?? ikm);
      return scanRun(runBootstrap({ config, log, ...(source === undefined ? {} : { ikmSource: source }), ...extra }));
    },
    close: async () => {
      scanned.push(...lines);
      collectSecrets(fake, ikm);
      await fake.stop();
      await removeTempDir(dir);
    },
  };
}

/** Awaits `p`, asserting it rejects with a SecretStoreError of `code` whose message matches every one of `messages`. */
async function rejectsWithCode(p: Promise<unknown>, code: ErrorCode, ...messages: RegExp[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isSecretStoreError(err, code));
    for (const m of messages) assert.match(err.message, m);
    return true;
  });
}

/** A flow test's body: gets a fresh harness, which {@link flowTest} always closes afterwards. */
type FlowBody = (h: Harness) => Promise<void>;

/**
 * Declares a test that runs `body` against a fresh {@link harness} (built from the optional config `settings`) and
 * closes it whatever happens, so its logs and secrets always join the final scan and nothing is left running.
 */
function flowTest(name: string, ...args: [FlowBody] | [Record<string, unknown>, FlowBody]): void {
  const [settings, body] = args.length === 1 ? [{}, args[0]] : args;
  test(name, async () => {
    const h = await harness(settings);
    try {
      await body(h);
    } finally {
      await h.close();
    }
  });
}

function rootTokens(fake: FakeVault): number {
  return [...fake.tokens.values()].filter((t) => t.policies.includes('root')).length;
}

flowTest('first boot: init, encrypted v2 key file verified before unseal, provisioned, no root token left', async (h) => {
  // EdgeX defect 1: what is on disk when the store receives the first unseal share (and the init marker then).
  const keyFilePath = join(h.config.tokenFolderPath, 'resp-init.json');
  let onDiskAtFirstUnseal: Buffer | null | undefined;
  let markerAtFirstUnseal: boolean | undefined;
  h.fake.hook = (_req, _res, path) => {
    if (path === 'sys/unseal' && onDiskAtFirstUnseal === undefined) {
      onDiskAtFirstUnseal = existsSync(keyFilePath) ? readFileSync(keyFilePath) : null;
      markerAtFirstUnseal = existsSync(join(h.config.tokenFolderPath, INIT_MARKER));
    }
    return false;
  };
  const r = await h.run();
  assert.equal(r.initialized, true);
  assert.equal(r.initialState, 'uninitialized');
  assert.deepEqual(r.unsealedNodes, [h.fake.url]);
  assert.equal(h.fake.sealed, false);
  // The complete, encrypted key file was on disk before the first unseal request reached the store, and it is the
  // file that decrypts to the store's shares (saved, verified, THEN unsealed).
  assert.ok(onDiskAtFirstUnseal instanceof Buffer, 'the key file existed when the first unseal share was sent');
  assert.deepEqual(onDiskAtFirstUnseal, await readFile(keyFilePath), 'and was already complete (not rewritten after)');
  assert.equal(markerAtFirstUnseal, false, 'the init marker was cleared once the shares were durable');
  const summary = await inspectKeyFile({ dir: h.config.tokenFolderPath });
  assert.equal(summary?.format, 'v2');
  assert.equal(summary.encrypted, true);
  assert.equal(summary.hasRootToken, false);
  const { secrets } = await readKeyFile({ dir: h.config.tokenFolderPath }, h.ikm);
  assert.deepEqual(secrets.shares, h.fake.shares);
  assert.equal(rootTokens(h.fake), 0, 'every root token revoked');
  assert.ok(h.fake.policies.get('privileged-token-creator')?.includes('auth/token/create'));
  assert.deepEqual(h.fake.mounts.get('secret/'), { type: 'kv', options: { version: '1' } });
  const tokenFile = JSON.parse(await readFile(h.config.tokenProviderAdminTokenPath, 'utf8')) as { auth: { client_token: string; policies: string[] } };
  assert.ok(h.fake.tokens.has(tokenFile.auth.client_token));
  assert.ok(tokenFile.auth.policies.includes('privileged-token-creator'));
  assert.equal((await stat(h.config.tokenProviderAdminTokenPath)).mode & 0o777, 0o600);
  assert.equal((await stat(join(h.dir, 'run'))).mode & 0o777, 0o700);
  // RevokeRootTokens: no root token (init's or a generated one) was written anywhere on disk, in any form.
  const roots = h.fake.issued.filter((t) => t.policies.includes('root'));
  assert.ok(roots.length >= 2, 'the init root token and a generated one');
  const files = (await readdir(h.dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  assert.ok(files.length >= 2);
  const contents = await Promise.all(files.map(async (e) => (await readFile(join(e.parentPath, e.name))).toString('latin1')));
  assertNoSecrets(contents, roots.map((t) => ({ label: 'root token', value: Buffer.from(t.id) })));
});

flowTest('a failing save right after init is retried: the shares (which exist nowhere else) reach the disk', async (h) => {
  const keyFilePath = join(h.config.tokenFolderPath, 'resp-init.json');
  // While init is answered, something occupies the key file's name (a directory: the atomic rename onto it
  // fails); it goes away when the flow reports the failure — no timing involved.
  h.fake.hook = (_req, _res, path) => {
    if (path === 'sys/init') mkdirSync(keyFilePath);
    return false;
  };
  const sink = (l: string): void => {
    h.lines.push(l);
    if (l.includes('saving the new key file failed; retrying')) rmSync(keyFilePath, { recursive: true, force: true });
  };
  const r = await h.run({ log: new Logger({ level: 'debug', sink }) });
  assert.equal(r.initialized, true);
  assert.equal(h.lines.filter((l) => l.includes('saving the new key file failed; retrying')).length, 1);
  assert.ok(h.lines.some((l) => l.includes('attempt=1') && l.includes('code=')));
  const { secrets } = await readKeyFile({ dir: h.config.tokenFolderPath }, h.ikm);
  assert.deepEqual(secrets.shares, h.fake.shares, 'the saved file holds the shares of the store');
  assert.equal(h.fake.sealed, false);
  assert.equal(existsSync(join(h.config.tokenFolderPath, INIT_MARKER)), false);
});

flowTest('already unsealed: shares are decrypted for root regeneration (EdgeX defect 2); previous admin token revoked', async (h) => {
  await h.run();
  const first = JSON.parse(await readFile(h.config.tokenProviderAdminTokenPath, 'utf8')) as { auth: { client_token: string } };
  const r = await h.run();
  assert.equal(r.initialState, 'unsealed');
  assert.deepEqual(r.unsealedNodes, []);
  assert.equal(r.initialized, false);
  assert.equal(r.kvMount, 'present', 'KV mount is idempotent');
  assert.equal(h.fake.requests.filter((x) => x === 'POST sys/mounts/secret').length, 1, 'mounted once over two runs');
  assert.equal(h.fake.tokens.has(first.auth.client_token), false, 'previous token-issuing token revoked');
  assert.equal(rootTokens(h.fake), 0);
});

flowTest('secret/ already mounted with another engine: reported as a conflict, never replaced (its data kept)', async (h) => {
  h.fake.mounts.set('secret/', { type: 'kv', options: { version: '2' } });
  const r = await h.run();
  assert.equal(r.kvMount, 'conflict');
  assert.deepEqual(h.fake.mounts.get('secret/'), { type: 'kv', options: { version: '2' } });
  assert.equal(h.fake.requests.filter((x) => x.startsWith('POST sys/mounts/') || x.startsWith('DELETE sys/mounts/')).length, 0);
  assert.ok(h.lines.some((l) => l.includes('secret/ is mounted with another engine; left unchanged')));
});

flowTest('sealed (restart): loads, decrypts and unseals', async (h) => {
  await h.run();
  h.fake.seal();
  const r = await h.run();
  assert.equal(r.initialState, 'sealed');
  assert.deepEqual(r.unsealedNodes, [h.fake.url]);
  assert.equal(h.fake.sealed, false);
});

flowTest('shares the store rejects (400): stops at once with UNSEAL_REJECTED, no loop', async (h) => {
  await h.run();
  h.fake.shares = h.fake.shares.map(() => randomBytes(33));
  h.fake.seal();
  const before = h.fake.requests.length;
  await rejectsWithCode(h.run(), 'UNSEAL_REJECTED', /rejected the unseal key shares/, /do not retry/);
  const unseals = h.fake.requests.slice(before).filter((r) => r === 'PUT sys/unseal').length;
  assert.equal(unseals, 3, 'exactly threshold unseal requests');
});

flowTest('unreachable store: visible progress, then a clear failure at the deadline', { WaitTimeout: 1 }, async (h) => {
  await h.fake.stop();
  await rejectsWithCode(h.run(), 'STORE_UNREACHABLE', /was not ready after \d+ s/);
  assert.ok(h.lines.some((l) => l.includes('waiting for the secret store')));
});

flowTest('initialized but no key file: clear error saying what to do, store untouched', async (h) => {
  await h.run();
  h.fake.seal();
  const keyFile = join(h.config.tokenFolderPath, 'resp-init.json');
  await writeFile(keyFile, '');
  const { rm } = await import('node:fs/promises');
  await rm(keyFile);
  await rejectsWithCode(h.run(), 'STORE_INITIALIZED_NO_KEYFILE', /already initialized but there is no key file/, /restore the key file/);
  assert.equal(h.fake.sealed, true);
});

flowTest('uninitialized store but a key file exists: refuses to overwrite it', async (h) => {
  await h.run();
  const fresh = new FakeVault();
  const url = await fresh.start();
  try {
    const config = { ...h.config, nodes: [url] };
    await rejectsWithCode(scanRun(runBootstrap({ config, log: scanLog(), ikmSource: new FixedIkm(h.ikm) })), 'STORE_KEYFILE_MISMATCH', /refusing to overwrite/);
    assert.equal(fresh.initialized, false);
  } finally {
    await fresh.stop();
  }
});

flowTest('encrypted key file and no hook: refuses before any request, file unchanged', async (h) => {
  await h.run();
  h.fake.seal();
  const keyFile = join(h.config.tokenFolderPath, 'resp-init.json');
  const before = await readFile(keyFile);
  const requests = h.fake.requests.length;
  await rejectsWithCode(h.run({ hook: false }), 'KEYFILE_ENCRYPTED_NO_HOOK', /set EDGEX_IKM_HOOK/);
  assert.equal(h.fake.requests.length, requests);
  assert.deepEqual(await readFile(keyFile), before);
});

flowTest('wrong IKM: fails closed (KEYFILE_WRONG_IKM), file and store untouched', async (h) => {
  await h.run();
  h.fake.seal();
  const keyFile = join(h.config.tokenFolderPath, 'resp-init.json');
  const before = await readFile(keyFile);
  await rejectsWithCode(h.run({ ikm: randomBytes(32) }), 'KEYFILE_WRONG_IKM', /the IKM does not decrypt .*resp-init\.json.*; nothing was changed/);
  assert.deepEqual(await readFile(keyFile), before);
  assert.equal(h.fake.sealed, true);
  assert.equal(h.fake.requests.filter((r) => r === 'PUT sys/unseal').length, 3, 'only the first boot unsealed');
});

flowTest('leftovers of an interrupted run (partial unseal, root generation in progress) are cleared', async (h) => {
  await h.run();
  h.fake.seal();
  h.fake.progress.add('00'.repeat(33));
  const r = await h.run();
  assert.equal(r.initialState, 'sealed');
  assert.ok(h.lines.some((l) => l.includes('resetting a partial unseal attempt')));
  h.fake.generateRoot = { nonce: 'stale', otp: 'x'.repeat(28), progress: new Set(['ab']) };
  await h.run();
  assert.ok(h.lines.some((l) => l.includes('cancelling a root token generation')));
});

flowTest('RevokeRootTokens=false: the root token is kept encrypted in the v2 file and reused', { RevokeRootTokens: false }, async (h) => {
  await h.run();
  const summary = await inspectKeyFile({ dir: h.config.tokenFolderPath });
  assert.equal(summary?.hasRootToken, true);
  assert.equal(summary.rootTokenEncrypted, true);
  const raw = await readFile(join(h.config.tokenFolderPath, 'resp-init.json'), 'utf8');
  const { secrets } = await readKeyFile({ dir: h.config.tokenFolderPath }, h.ikm);
  assert.ok(secrets.rootToken !== undefined && !raw.includes(secrets.rootToken.toString('utf8')));
  assert.equal(rootTokens(h.fake), 1, 'only the kept root token remains');
  const gen = h.fake.requests.filter((x) => x.startsWith('PUT sys/generate-root')).length;
  h.fake.seal();
  await h.run();
  assert.equal(h.fake.requests.filter((x) => x.startsWith('PUT sys/generate-root')).length, gen, 'no regeneration needed');
  assert.equal(rootTokens(h.fake), 1);
});

flowTest('edgex format with a kept root token is refused up front (it cannot encrypt it)', { RevokeRootTokens: false, KeyFileFormat: 'edgex' }, async (h) => {
  await rejectsWithCode(h.run(), 'CONFIG', /KeyFileFormat edgex/);
  assert.equal(h.fake.initialized, false);
});

flowTest('no hook: plaintext file (as EdgeX); later with a hook it is migrated in place and verified', async (h) => {
  await h.run({ hook: false });
  assert.equal((await inspectKeyFile({ dir: h.config.tokenFolderPath }))?.format, 'plaintext');
  assert.ok(h.lines.some((l) => l.includes('PLAINTEXT')));
  h.fake.seal();
  const r = await h.run();
  assert.equal(r.keyFileRewritten, 'migrated');
  const s = await inspectKeyFile({ dir: h.config.tokenFolderPath });
  assert.equal(s?.format, 'v2');
  assert.equal(s.encrypted, true);
  assert.equal(h.fake.sealed, false);
});

flowTest('--keyfile-format edgex writes EdgeX-compatible encrypted files', { KeyFileFormat: 'edgex' }, async (h) => {
  await h.run();
  const s = await inspectKeyFile({ dir: h.config.tokenFolderPath });
  assert.equal(s?.format, 'edgex');
  assert.equal(s.saltPresent, true);
  const doc = JSON.parse(await readFile(join(h.config.tokenFolderPath, 'resp-init.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc).sort(), ['encrypted_keys', 'nonces']);
  h.fake.seal();
  await h.run();
  assert.equal(h.fake.sealed, false);
});

flowTest('EdgeX defect 3: removing a stored root token re-saves the shares ENCRYPTED, never plaintext', { RevokeRootTokens: false }, async (h) => {
  await h.run();
  assert.equal((await inspectKeyFile({ dir: h.config.tokenFolderPath }))?.hasRootToken, true);
  h.fake.seal();
  const strict = { ...h.config, revokeRootTokens: true };
  const r = await scanRun(runBootstrap({ config: strict, log: scanLog(), ikmSource: new FixedIkm(h.ikm) }));
  assert.equal(r.keyFileRewritten, 'root-token-removed');
  const s = await inspectKeyFile({ dir: h.config.tokenFolderPath });
  assert.equal(s?.hasRootToken, false);
  assert.equal(s.encrypted, true);
  assert.equal(rootTokens(h.fake), 0);
});

flowTest('EdgeX defect 4: an edgex file with fewer nonces than keys is a clean error, store untouched', { KeyFileFormat: 'edgex' }, async (h) => {
  await h.run();
  h.fake.seal();
  const path = join(h.config.tokenFolderPath, 'resp-init.json');
  const doc = JSON.parse(await readFile(path, 'utf8')) as { encrypted_keys: string[]; nonces: string[] };
  doc.nonces.pop();
  await writeFile(path, JSON.stringify(doc) + '\n');
  await rejectsWithCode(h.run(), 'KEYFILE_MALFORMED', /has 5 encrypted keys but 4 nonces/);
  assert.equal(h.fake.sealed, true);
});

flowTest('EdgeX defect 6: a missing kdf-salt.dat is SALT_MISSING, never silently regenerated', { KeyFileFormat: 'edgex' }, async (h) => {
  await h.run();
  h.fake.seal();
  const { rm, access } = await import('node:fs/promises');
  const salt = join(h.config.tokenFolderPath, 'kdf-salt.dat');
  await rm(salt);
  await rejectsWithCode(h.run(), 'SALT_MISSING', /restore it from a backup/);
  await assert.rejects(access(salt), 'no new salt was made');
  assert.equal(h.fake.sealed, true);
});

flowTest('EdgeX defect 8: a relative hook path is refused before the store is touched (no PATH lookup)', async (h) => {
  const { HookIkmSource } = await import('../../src/vmk/ikm-hook.js');
  await rejectsWithCode(scanRun(runBootstrap({ config: h.config, log: scanLog(), ikmSource: new HookIkmSource({ path: 'ikm-dev' }) })), 'HOOK_INVALID_PATH', /must be absolute \(it is never looked up on PATH\)/);
  assert.equal(h.fake.initialized, false, 'no init without a working hook');
});

flowTest('EdgeX defect 9: a tampered key file is KEYFILE_TAMPERED, told apart from a wrong IKM; store untouched', async (h) => {
  await h.run();
  h.fake.seal();
  const path = join(h.config.tokenFolderPath, 'resp-init.json');
  const doc = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  // Flip one hex digit inside the first share's ciphertext, keeping the document well-formed.
  const text = JSON.stringify(doc);
  const m = /"ciphertext":"([0-9a-f])/.exec(text);
  assert.ok(m?.[1] !== undefined, 'v2 document has a ciphertext field');
  const flipped = text.replace(/"ciphertext":"[0-9a-f]/, `"ciphertext":"${m[1] === '0' ? '1' : '0'}`);
  await writeFile(path, flipped + '\n');
  await rejectsWithCode(h.run(), 'KEYFILE_TAMPERED', /fails authentication although the IKM is right, so the file was altered or damaged/);
  assert.equal(h.fake.sealed, true);
});

flowTest('several nodes of one cluster: initialized once through the first, each unsealed', async (h) => {
  const second = new FakeVault();
  const url2 = await second.start();
  try {
    // The second node shares the first one's storage, as cluster members do: it sees its init and shares.
    second.hook = () => {
      second.initialized = h.fake.initialized;
      second.shares = h.fake.shares;
      second.threshold = h.fake.threshold;
      return false;
    };
    const config = { ...h.config, nodes: [h.fake.url, url2] };
    const r = await scanRun(runBootstrap({ config, log: scanLog(), ikmSource: new FixedIkm(h.ikm) }));
    assert.equal(r.initialized, true);
    assert.deepEqual(r.unsealedNodes, [h.fake.url, url2]);
    assert.equal(second.requests.filter((x) => x === 'PUT sys/init').length, 0, 'init only through the first node');
    assert.equal(second.sealed, false);
    second.seal();
    const again = await scanRun(runBootstrap({ config, log: scanLog(), ikmSource: new FixedIkm(h.ikm) }));
    assert.deepEqual(again.unsealedNodes, [url2]);
  } finally {
    collectSecrets(second);
    await second.stop();
  }
});

flowTest('init answered but lost (connection cut after the store initialized): never re-sent; the run says what happened', async (h) => {
  h.fake.hook = (req, _res, path) => {
    if (path !== 'sys/init') return false;
    // The store initializes, then the answer never arrives.
    h.fake.initialized = true;
    h.fake.threshold = 3;
    h.fake.shares = [randomBytes(33), randomBytes(33), randomBytes(33)];
    req.socket.destroy();
    return true;
  };
  // The cut connection is an outage: the run waits for the store again, finds it initialized without a key file,
  // and says so at once (a Vault-like store: no automatic start-over), instead of a bare STORE_UNREACHABLE.
  await rejectsWithCode(h.run(), 'STORE_INITIALIZED_NO_KEYFILE', /interrupted during initialization of http:\/\/127\.0\.0\.1:\d+ at \d{4}-/);
  assert.equal(h.fake.requests.filter((r) => r === 'PUT sys/init').length, 1, 'init never sent twice');
  assert.ok(h.lines.some((l) => l.includes('the secret store went away during bootstrap')));
  h.fake.hook = undefined;
  await rejectsWithCode(h.run(), 'STORE_INITIALIZED_NO_KEYFILE', /interrupted during initialization of http:\/\/127\.0\.0\.1:\d+ at \d{4}-/);
  assert.equal(h.fake.requests.filter((r) => r === 'PUT sys/init').length, 1, 'nor by the rerun');
  assert.equal(h.fake.sealed, true);
});

flowTest('a sealed boot makes only the requests it needs (docs/packaging.md, "Start-up"), the hook once', async (h) => {
  await h.run();
  h.fake.seal();
  const before = h.fake.requests.length;
  const source = new FixedIkm(h.ikm);
  const r = await h.run({ ikmSource: source });
  assert.equal(r.initialState, 'sealed');
  assert.equal(source.calls, 1);
  // One sys/health (the wait's answer stands under a free lock), no sys/seal-status (the first unseal answers
  // it), no generate-root status read (a leftover attempt shows up as a refused start).
  const requests = h.fake.requests.slice(before);
  assert.deepEqual(requests.slice(0, 8), [
    'GET sys/health',
    'PUT sys/unseal',
    'PUT sys/unseal',
    'PUT sys/unseal',
    'PUT sys/generate-root/attempt',
    'PUT sys/generate-root/update',
    'PUT sys/generate-root/update',
    'PUT sys/generate-root/update',
  ]);
  // Then the root-token sweep, the KV mount check and the token-issuing token at once (their order varies), and the
  // temporary root token's revocation last.
  const rest = requests.slice(8);
  assert.deepEqual([...rest].sort(), [
    'GET auth/token/accessors',
    'GET auth/token/lookup-self',
    'GET sys/mounts',
    'POST auth/token/create-orphan',
    'POST auth/token/lookup-accessor',
    'POST auth/token/revoke-accessor',
    'POST auth/token/revoke-self',
    'PUT sys/policies/acl/privileged-token-creator',
  ]);
  const at = (r: string): number => rest.indexOf(r);
  assert.ok(at('GET auth/token/lookup-self') < at('GET auth/token/accessors') && at('GET auth/token/accessors') < at('POST auth/token/lookup-accessor'));
  assert.ok(at('PUT sys/policies/acl/privileged-token-creator') < at('POST auth/token/create-orphan'));
  assert.ok(at('POST auth/token/create-orphan') < at('POST auth/token/revoke-accessor'));
  assert.equal(rest.at(-1), 'POST auth/token/revoke-self');
});

/** Makes the fake refuse (400) the second request to `path`; `seen` counts the requests to it. */
function refuseSecond(fake: FakeVault, path: string): { seen: number } {
  const counter = { seen: 0 };
  fake.hook = (_req, res, p) => {
    if (p !== path || ++counter.seen !== 2) return false;
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: ['injected refusal of one share'] }));
    return true;
  };
  return counter;
}

flowTest('unseal: after the first share, the rest of the threshold goes at once; a refused one is UNSEAL_REJECTED after every answer, and a rerun unseals', async (h) => {
  await h.run();
  h.fake.seal();
  const unseals = refuseSecond(h.fake, 'sys/unseal');
  await rejectsWithCode(h.run(), 'UNSEAL_REJECTED');
  assert.equal(unseals.seen, 3, 'shares 2 and 3 were sent together, and the run waited for both answers');
  assert.equal(h.fake.sealed, true);
  h.fake.hook = undefined;
  const r = await h.run(); // the partial attempt (shares 1 and 3) is found by the first share's progress and reset
  assert.equal(r.initialState, 'sealed');
  assert.equal(h.fake.sealed, false);
});

flowTest('generate-root: the threshold of shares goes at once; one refused update fails the boot with the store\'s error, and the next boot starts over', async (h) => {
  await h.run();
  h.fake.seal();
  const updates = refuseSecond(h.fake, 'sys/generate-root/update');
  await rejectsWithCode(h.run(), 'STORE_ERROR', /injected refusal of one share/);
  assert.equal(updates.seen, 3, 'all three updates were sent (at once), and the boot waited for every answer');
  assert.ok(![...h.fake.tokens.values()].some((t) => t.policies.includes('root')), 'no root token was made');
  // The attempt the failed boot left open is found by the next boot's refused start, cancelled, and made again.
  h.fake.hook = undefined;
  h.fake.seal();
  const before = h.fake.requests.length;
  assert.equal((await h.run()).initialState, 'sealed');
  assert.ok(h.fake.requests.slice(before).includes('DELETE sys/generate-root/attempt'), 'the leftover attempt was cancelled');
});

flowTest('a provisioning step that fails while the others run: its error, the others finished first, the temporary root revoked last', async (h) => {
  await h.run();
  h.fake.seal();
  const before = h.fake.requests.length;
  // sys/mounts fails at once while the sweep's accessor lookup is slow: the temporary root token may only be revoked
  // once that lookup has been answered (Promise.all would revoke it while the lookup is still in flight).
  let lookupAnswered = 0;
  let revokeArrived = 0;
  h.fake.hook = (_req, res, path) => {
    if (path === 'sys/mounts') {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: ['injected mount listing failure'] }));
      return true;
    }
    if (path === 'auth/token/lookup-accessor') {
      setTimeout(() => {
        lookupAnswered = performance.now();
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: ['invalid accessor'] }));
      }, 150);
      return true;
    }
    if (path === 'auth/token/revoke-self' && revokeArrived === 0) revokeArrived = performance.now();
    return false;
  };
  await rejectsWithCode(h.run(), 'STORE_ERROR', /sys\/mounts/);
  const rest = h.fake.requests.slice(before);
  assert.ok(lookupAnswered > 0 && revokeArrived > lookupAnswered, `the temporary root was revoked only after the lookup's answer: ${rest.join(', ')}`);
  assert.ok(rest.includes('POST auth/token/create-orphan'), rest.join(', '));
  // After the revocation only the flow's own health probe (a 5xx makes it check the store before giving up).
  const revoked = rest.indexOf('POST auth/token/revoke-self');
  assert.deepEqual(rest.slice(revoked + 1).filter((r) => r !== 'GET sys/health'), [], `nothing runs after the temporary root token is revoked: ${rest.join(', ')}`);
  const roots = [...h.fake.tokens.values()].filter((t) => t.policies.includes('root'));
  assert.deepEqual(roots, [], 'no root token is left');
  // The next boot, with the store healthy again, finishes.
  h.fake.hook = undefined;
  h.fake.seal();
  assert.equal((await h.run()).initialState, 'sealed');
});

flowTest('a first boot reads the state once and unseals without a seal-status read', async (h) => {
  await h.run();
  // The uninitialized answer is read again under the lock (init never rests on a stale answer); the one seal-status
  // read is the init-attempt capability check before init (./init-control.ts), none after: init's answer says sealed.
  const start = h.fake.requests.indexOf('PUT sys/generate-root/attempt');
  assert.deepEqual(h.fake.requests.slice(0, start), ['GET sys/health', 'GET sys/health', 'GET sys/seal-status', 'PUT sys/init', 'PUT sys/unseal', 'PUT sys/unseal', 'PUT sys/unseal']);
  assert.ok(!h.fake.requests.includes('GET sys/generate-root/attempt'));
});

flowTest('a partial unseal attempt of threshold − 1 foreign shares: our first share fails the combination, the careful path unseals', async (h) => {
  await h.run();
  h.fake.seal();
  h.fake.progress.add('01'.repeat(33));
  h.fake.progress.add('02'.repeat(33));
  const before = h.fake.requests.length;
  const r = await h.run();
  assert.equal(h.fake.sealed, false);
  assert.deepEqual(r.unsealedNodes, [h.fake.url]);
  const unseal = h.fake.requests.slice(before).filter((x) => x === 'PUT sys/unseal' || x === 'GET sys/seal-status');
  // The rejected first share, then seal-status (the failed combination cleared the progress) and the three shares.
  assert.deepEqual(unseal, ['PUT sys/unseal', 'GET sys/seal-status', 'PUT sys/unseal', 'PUT sys/unseal', 'PUT sys/unseal']);
});

flowTest('too few shares for the store (threshold above the key file): UNSEAL_REJECTED, the attempt reset', async (h) => {
  await h.run();
  h.fake.seal();
  h.fake.threshold = 9;
  await rejectsWithCode(h.run(), 'UNSEAL_REJECTED', /holds 5 shares but the store at .* needs 9/);
  assert.equal(h.fake.progress.size, 0, 'our share does not stay in that store');
  assert.equal(h.fake.sealed, true);
});

flowTest('the hook is not started for a store that is down or uninitialized beside a key file (no release spent)', { WaitTimeout: 1 }, async (h) => {
  await h.run();
  await h.fake.stop();
  const down = new FixedIkm(h.ikm);
  await rejectsWithCode(h.run({ ikmSource: down }), 'STORE_UNREACHABLE');
  assert.equal(down.calls, 0, 'a store that never answered');
  const fresh = new FakeVault(); // uninitialized
  const url = await fresh.start();
  try {
    const config = { ...h.config, nodes: [url] };
    const uninitialized = new FixedIkm(h.ikm);
    await rejectsWithCode(h.run({ config, ikmSource: uninitialized }), 'STORE_KEYFILE_MISMATCH');
    assert.equal(uninitialized.calls, 0, 'an uninitialized store beside a key file');
  } finally {
    await fresh.stop();
  }
});

test('no secret (IKM, shares, init and generated root tokens, issued tokens) in any log line or error text of the flows above', () => {
  // Runs last (tests in a file run in order). Debug-level logs of every flow, success and failure, and the
  // message and stack of every error a flow threw, against every secret in hex, base64 and text.
  assert.ok(secrets.filter((s) => s.label === 'token root').length >= 20, 'root tokens (init and generated) were collected');
  assert.ok(secrets.filter((s) => s.label.startsWith('share')).length >= 50, 'shares were collected');
  assert.ok(scanned.filter((l) => l.includes('SecretStoreError')).length >= 8, 'failure messages were collected');
  assertNoSecrets(scanned, secrets);
});
