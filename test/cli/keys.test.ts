import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { OTHER_IKM_HEX, TEST_IKM_HEX, writeHook, writeIkmHook } from '../vmk/hook-scripts.js';
import { loadGolden } from '../vmk/vectors.js';
import { plaintextDir, snapshot } from './keys-fixtures.js';

let root = '';
let hook = '';
let otherHook = '';
let failingHook = '';
const golden = loadGolden();
const plain = golden.plaintext[0];
const ikm = Buffer.from(TEST_IKM_HEX, 'hex');

before(async () => {
  root = await makeTempDir('sss-cli-keys-');
  hook = await writeIkmHook(root, 'hook.sh', TEST_IKM_HEX);
  otherHook = await writeIkmHook(root, 'other-hook.sh', OTHER_IKM_HEX);
  failingHook = await writeHook(root, 'failing.sh', 'echo "TPM says no" >&2\nexit 1');
});
after(async () => {
  await removeTempDir(root);
});

function envWith(hookPath?: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.EDGEX_IKM_HOOK;
  if (hookPath !== undefined) env.EDGEX_IKM_HOOK = hookPath;
  return env;
}
function keys(args: string[], hookPath?: string): Promise<CliResult> {
  return runCli(['keys', ...args], { env: envWith(hookPath) });
}
function oneLineFailure(r: CliResult, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, message);
}

test('encrypt (default v2) → verify → inspect; the shares are the original ones', async () => {
  assert.ok(plain !== undefined);
  const dir = await plaintextDir(root);
  const enc = await keys(['encrypt', '--dir', dir], hook);
  assert.equal(enc.code, 0, enc.stderr);
  assert.match(enc.stdout, /^encrypted: .*resp-init.json: v2 format, encrypted, 5 shares, root token encrypted\n$/);
  const text = await readFile(join(dir, 'resp-init.json'), 'utf8');
  assert.ok(!text.includes(plain.shares[0] ?? 'x') && !text.includes(plain.root_token), 'no secret in the clear');
  const ver = await keys(['verify', '--dir', dir], hook);
  assert.equal(ver.code, 0, ver.stderr);
  assert.match(ver.stdout, /^ok: every share decrypts: .*v2 format, encrypted, 5 shares, root token encrypted\n$/);
  const ins = await keys(['inspect', '--dir', dir]);
  assert.equal(ins.code, 0);
  assert.match(ins.stdout, /format: +v2 \(encrypted\)\nshares: +5\n/);
  const json = await keys(['inspect', '--dir', dir, '--json']);
  assert.deepEqual(JSON.parse(json.stdout), {
    path: join(dir, 'resp-init.json'),
    format: 'v2',
    encrypted: true,
    shareCount: 5,
    hasRootToken: true,
    rootTokenEncrypted: true,
    saltPresent: true,
  });
  const { secrets } = await readKeyFile({ dir }, ikm);
  assert.deepEqual(secrets.shares.map((s) => s.toString('hex')), plain.shares);
  assert.equal(secrets.rootToken?.toString(), plain.root_token);
});

test('encrypt --format edgex needs --drop-root-token when a root token is kept', async () => {
  const dir = await plaintextDir(root);
  const before = await snapshot(dir);
  // Refused before the hook runs: hardware may release the IKM only a few times per boot.
  const runs = join(root, `runs-${basename(dir)}.txt`);
  const counted = await writeHook(root, `counted-${basename(dir)}.sh`, `echo run >> '${runs}'\nprintf '%s\\n' '${TEST_IKM_HEX}'`);
  oneLineFailure(await keys(['encrypt', '--dir', dir, '--format', 'edgex'], counted), 1, /edgex format can only hold in plaintext; use --format v2, or add --drop-root-token/);
  await assert.rejects(readFile(runs), { code: 'ENOENT' }, 'the hook was not run');
  assert.deepEqual(await snapshot(dir), before);
  const r = await keys(['encrypt', '--dir', dir, '--format', 'edgex', '--drop-root-token'], hook);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(Object.keys(await snapshot(dir)), ['kdf-salt.dat', 'resp-init.json']);
  const text = await readFile(join(dir, 'resp-init.json'), 'utf8');
  assert.match(text, /^\{"encrypted_keys":\[[^\]]+\],"nonces":\[[^\]]+\]\}\n$/);
  const v = await keys(['verify', '--dir', dir], hook);
  assert.match(v.stdout, /edgex format, encrypted, 5 shares, no root token, labels secretstore<i>/);
});

test('decrypt writes a Vault init response and warns loudly', async () => {
  assert.ok(plain !== undefined);
  const dir = await plaintextDir(root);
  assert.equal((await keys(['encrypt', '--dir', dir], hook)).code, 0);
  const r = await keys(['decrypt', '--dir', dir], hook);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /WARNING: the unseal key shares and the root token are now stored in PLAINTEXT/);
  const doc = JSON.parse(await readFile(join(dir, 'resp-init.json'), 'utf8')) as { keys: string[]; keys_base64: string[]; root_token: string };
  assert.deepEqual(doc.keys, plain.shares);
  assert.deepEqual(doc.keys_base64, plain.shares.map((h) => Buffer.from(h, 'hex').toString('base64')));
  assert.equal(doc.root_token, plain.root_token);
});

test('convert v2 → edgex → v2', async () => {
  const dir = await plaintextDir(root);
  assert.equal((await keys(['encrypt', '--dir', dir], hook)).code, 0);
  oneLineFailure(await keys(['convert', '--dir', dir, '--to', 'v2'], hook), 1, /already in the v2 format; nothing was changed/);
  oneLineFailure(await keys(['convert', '--dir', dir], hook), 2, /--to v2\|edgex is required/);
  const e = await keys(['convert', '--dir', dir, '--to', 'edgex', '--drop-root-token'], hook);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /converted: .*edgex format/);
  const v = await keys(['convert', '--dir', dir, '--to', 'v2'], hook);
  assert.equal(v.code, 0, v.stderr);
  assert.deepEqual(Object.keys(await snapshot(dir)), ['resp-init.json']);
});

test('rewrap moves the file to the new hook\'s IKM with a fresh salt', async () => {
  const dir = await plaintextDir(root);
  assert.equal((await keys(['encrypt', '--dir', dir, '--format', 'edgex', '--drop-root-token'], hook)).code, 0);
  const salt = await readFile(join(dir, 'kdf-salt.dat'));
  const r = await keys(['rewrap', '--dir', dir, '--new-hook', otherHook], hook);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rewrapped: .*edgex format.*set EDGEX_IKM_HOOK=.*other-hook.sh from now on/);
  assert.notDeepEqual(await readFile(join(dir, 'kdf-salt.dat')), salt);
  assert.equal((await keys(['verify', '--dir', dir], otherHook)).code, 0);
  oneLineFailure(await keys(['verify', '--dir', dir], hook), 1, /the IKM does not decrypt resp-init.json: the hook returned a different key .*, or the file or its salt was altered \(the edgex format cannot tell which\); nothing was changed\n$/);
});

test('a wrong IKM leaves every file byte for byte unchanged (verify, decrypt, convert, rewrap)', async () => {
  const dir = await plaintextDir(root);
  assert.equal((await keys(['encrypt', '--dir', dir], hook)).code, 0);
  const before = await snapshot(dir);
  const message = /the IKM does not decrypt resp-init.json: the hook returned a different key than the one that encrypted it \(changed TPM state or PCRs\?\); nothing was changed/;
  oneLineFailure(await keys(['verify', '--dir', dir], otherHook), 1, message);
  oneLineFailure(await keys(['decrypt', '--dir', dir], otherHook), 1, message);
  oneLineFailure(await keys(['convert', '--dir', dir, '--to', 'edgex', '--drop-root-token'], otherHook), 1, message);
  oneLineFailure(await keys(['rewrap', '--dir', dir, '--new-hook', hook], otherHook), 1, message);
  assert.deepEqual(await snapshot(dir), before);
});

test('a tampered file is KEYFILE_TAMPERED and stays as it is', async () => {
  const dir = await plaintextDir(root);
  assert.equal((await keys(['encrypt', '--dir', dir], hook)).code, 0);
  const path = join(dir, 'resp-init.json');
  const doc = JSON.parse(await readFile(path, 'utf8')) as { shares: { ciphertext: string }[] };
  const ct = doc.shares[2]?.ciphertext ?? '';
  const text = (await readFile(path, 'utf8')).replace(ct, (ct.startsWith('0') ? '1' : '0') + ct.slice(1));
  await writeFile(path, text);
  const before = await snapshot(dir);
  oneLineFailure(await keys(['verify', '--dir', dir], hook), 1, /key share 2 fails authentication although the IKM is right, so the file was altered or damaged/);
  oneLineFailure(await keys(['decrypt', '--dir', dir], hook), 1, /fails authentication/);
  assert.deepEqual(await snapshot(dir), before);
});

test('a missing salt is SALT_MISSING; nothing is created', async () => {
  const dir = await plaintextDir(root);
  assert.equal((await keys(['encrypt', '--dir', dir, '--format', 'edgex', '--drop-root-token'], hook)).code, 0);
  await unlink(join(dir, 'kdf-salt.dat'));
  const before = await snapshot(dir);
  oneLineFailure(await keys(['verify', '--dir', dir], hook), 1, /kdf-salt.dat is missing.*restore it from a backup/);
  oneLineFailure(await keys(['convert', '--dir', dir, '--to', 'v2'], hook), 1, /kdf-salt.dat is missing/);
  assert.deepEqual(await snapshot(dir), before);
  const ins = await keys(['inspect', '--dir', dir]);
  assert.match(ins.stdout, /salt: +MISSING/);
});

test('no hook set, a failing hook, or plaintext with a hook: clear one-line errors, nothing changed', async () => {
  const dir = await plaintextDir(root);
  const before = await snapshot(dir);
  oneLineFailure(await keys(['encrypt', '--dir', dir]), 1, /encrypting the key file needs the IKM: set EDGEX_IKM_HOOK/);
  oneLineFailure(await keys(['encrypt', '--dir', dir], failingHook), 1, /exited with status 1; hook stderr: "TPM says no"/);
  oneLineFailure(await keys(['verify', '--dir', dir], hook), 1, /holds the key shares in plaintext although an IKM hook is configured; run "secretstore-setup keys encrypt"/);
  oneLineFailure(await keys(['decrypt', '--dir', dir], hook), 1, /is not encrypted; nothing to decrypt/);
  oneLineFailure(await keys(['encrypt', '--dir', dir], 'relative/hook'), 1, /must be absolute/);
  assert.deepEqual(await snapshot(dir), before);
  const v = await keys(['verify', '--dir', dir]);
  assert.equal(v.code, 0);
  assert.match(v.stderr, /stored in plaintext/);
  assert.equal((await keys(['encrypt', '--dir', dir], hook)).code, 0);
  const after = await snapshot(dir);
  oneLineFailure(await keys(['verify', '--dir', dir]), 1, /is encrypted: verifying it needs the IKM: set EDGEX_IKM_HOOK/);
  oneLineFailure(await keys(['encrypt', '--dir', dir], hook), 1, /already encrypted \(v2 format\); use "keys convert" or "keys rewrap"/);
  assert.deepEqual(await snapshot(dir), after);
});

test('usage errors exit 2: no subcommand, unknown subcommand, no --dir, bad --format; a missing file exits 1', async () => {
  oneLineFailure(await keys([]), 2, /keys needs a subcommand: inspect, verify, encrypt, decrypt, convert, rewrap/);
  oneLineFailure(await keys(['frobnicate']), 2, /keys needs a subcommand/);
  oneLineFailure(await keys(['inspect']), 2, /--dir is required/);
  oneLineFailure(await keys(['encrypt', '--dir', root, '--format', 'xml'], hook), 2, /--format must be v2 or edgex, got "xml"/);
  oneLineFailure(await keys(['inspect', '--dir', join(root, 'nowhere')]), 1, /no key file at .*nowhere\/resp-init.json; check --dir and --file/);
  for (const sub of [['encrypt'], ['decrypt'], ['verify'], ['convert', '--to', 'edgex'], ['rewrap', '--new-hook', otherHook]]) {
    oneLineFailure(await keys([...sub, '--dir', join(root, 'nowhere')], hook), 1, /no key file at/);
  }
  assert.ok(!(await readdir(root)).includes('nowhere'), 'a failed command creates no folder');
  const help = await keys(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: secretstore-setup keys <subcommand>/);
});
