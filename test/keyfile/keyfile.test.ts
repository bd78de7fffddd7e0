import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type InitSecrets,
  type KeyFileLocation,
  inspectKeyFile,
  readKeyFile,
  writeKeyFile,
} from '../../src/keyfile/keyfile.js';
import { encryptEdgexShares, serializeEdgexDocument } from '../../src/vmk/envelope-edgex.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { loadGolden } from '../vmk/vectors.js';

let root = '';
let n = 0;
before(async () => {
  root = await makeTempDir('sss-keyfile-');
});
after(async () => {
  await removeTempDir(root);
});
/** A fresh key-file folder per test. */
function freshLoc(): KeyFileLocation {
  n++;
  return { dir: join(root, `case-${n}`) };
}

const ikm = Buffer.alloc(32, 0x21);
const otherIkm = Buffer.alloc(32, 0x22);
function secrets(count = 5, withToken = false): InitSecrets {
  const s: InitSecrets = { shares: Array.from({ length: count }, (_, i) => Buffer.alloc(33, i + 1)), threshold: Math.min(3, count) };
  if (withToken) s.rootToken = Buffer.from('hvs.TESTROOTTOKEN');
  return s;
}
const files = async (loc: KeyFileLocation): Promise<string[]> => (await readdir(loc.dir)).sort();

test('v2: write, inspect, read back; file 0600 in a 0700 folder; no salt file', async () => {
  const loc = freshLoc();
  const s = secrets(5, true);
  const summary = await writeKeyFile(loc, s, { format: 'v2', ikm });
  assert.deepEqual(summary, {
    path: join(loc.dir, 'resp-init.json'),
    format: 'v2',
    encrypted: true,
    shareCount: 5,
    threshold: 3,
    hasRootToken: true,
    rootTokenEncrypted: true,
    saltPresent: true,
  });
  assert.deepEqual(await inspectKeyFile(loc), summary);
  assert.equal((await stat(summary.path)).mode & 0o777, 0o600);
  assert.equal((await stat(loc.dir)).mode & 0o777, 0o700);
  assert.deepEqual(await files(loc), ['resp-init.json']);
  const back = await readKeyFile(loc, ikm);
  assert.deepEqual(back.secrets, s);
});

test('edgex: write creates kdf-salt.dat (32 bytes, 0600); a rewrite with the same IKM reuses it', async () => {
  const loc = freshLoc();
  const s = secrets(5);
  delete s.threshold;
  const summary = await writeKeyFile(loc, s, { format: 'edgex', ikm });
  assert.equal(summary.format, 'edgex');
  assert.equal(summary.saltPresent, true);
  const salt = await readFile(join(loc.dir, 'kdf-salt.dat'));
  assert.equal(salt.length, 32);
  assert.equal((await stat(join(loc.dir, 'kdf-salt.dat'))).mode & 0o777, 0o600);
  const text = await readFile(summary.path, 'utf8');
  assert.match(text, /^\{"encrypted_keys":\["[0-9a-f]{98}"(,"[0-9a-f]{98}"){4}\],"nonces":\["[0-9a-f]{24}"(,"[0-9a-f]{24}"){4}\]\}\n$/);
  const back = await readKeyFile(loc, ikm);
  assert.deepEqual(back.secrets.shares, s.shares);
  assert.equal(back.summary.edgexLabel, 'secretstore');
  await writeKeyFile(loc, s, { format: 'edgex', ikm });
  assert.deepEqual(await readFile(join(loc.dir, 'kdf-salt.dat')), salt);
  assert.deepEqual(await files(loc), ['kdf-salt.dat', 'resp-init.json']);
});

test('edgex with newSalt (rewrap): a fresh salt, the file decrypts with the new IKM, nothing pending is left', async () => {
  const loc = freshLoc();
  await writeKeyFile(loc, { shares: secrets(3).shares }, { format: 'edgex', ikm });
  const salt = await readFile(join(loc.dir, 'kdf-salt.dat'));
  await writeKeyFile(loc, { shares: secrets(3).shares }, { format: 'edgex', ikm: otherIkm, newSalt: true });
  assert.notDeepEqual(await readFile(join(loc.dir, 'kdf-salt.dat')), salt);
  assert.deepEqual(await files(loc), ['kdf-salt.dat', 'resp-init.json']);
  assert.deepEqual((await readKeyFile(loc, otherIkm)).secrets.shares, secrets(3).shares);
  await assert.rejects(readKeyFile(loc, ikm), { code: 'KEYFILE_WRONG_IKM' });
});

test('crash states of a salt replacement are finished or discarded by the next read', async () => {
  const shares = secrets(2).shares;
  const oldSalt = Buffer.alloc(32, 0xaa);
  const newSalt = Buffer.alloc(32, 0xbb);
  // Crash after the new key file was renamed in but before kdf-salt.dat.pending was renamed over kdf-salt.dat.
  const a = freshLoc();
  await mkdir(a.dir, { mode: 0o700 });
  await writeFile(join(a.dir, 'resp-init.json'), serializeEdgexDocument(encryptEdgexShares(ikm, newSalt, shares)));
  await writeFile(join(a.dir, 'kdf-salt.dat'), oldSalt);
  await writeFile(join(a.dir, 'kdf-salt.dat.pending'), newSalt);
  assert.equal((await inspectKeyFile(a))?.saltPending, true);
  assert.deepEqual((await readKeyFile(a, ikm)).secrets.shares, shares);
  assert.deepEqual(await readFile(join(a.dir, 'kdf-salt.dat')), newSalt);
  assert.deepEqual(await files(a), ['kdf-salt.dat', 'resp-init.json']);
  // Crash after the pending salt was written but before the new key file replaced the old one.
  const b = freshLoc();
  await mkdir(b.dir, { mode: 0o700 });
  await writeFile(join(b.dir, 'resp-init.json'), serializeEdgexDocument(encryptEdgexShares(ikm, oldSalt, shares)));
  await writeFile(join(b.dir, 'kdf-salt.dat'), oldSalt);
  await writeFile(join(b.dir, 'kdf-salt.dat.pending'), newSalt);
  // A new-salt write now would overwrite the pending salt the file might need: refused until a read settles it.
  await assert.rejects(writeKeyFile(b, { shares }, { format: 'edgex', ikm, newSalt: true }), { code: 'SALT_PENDING', message: /run "secretstore-setup keys verify"/ });
  assert.deepEqual((await readKeyFile(b, ikm)).secrets.shares, shares);
  assert.deepEqual(await readFile(join(b.dir, 'kdf-salt.dat')), oldSalt);
  assert.deepEqual(await files(b), ['kdf-salt.dat', 'resp-init.json']);
});

test('a missing kdf-salt.dat is SALT_MISSING and is never regenerated (EdgeX defect 6)', async () => {
  const loc = freshLoc();
  await writeKeyFile(loc, { shares: secrets(3).shares }, { format: 'edgex', ikm });
  await unlink(join(loc.dir, 'kdf-salt.dat'));
  const before = await readFile(join(loc.dir, 'resp-init.json'));
  await assert.rejects(readKeyFile(loc, ikm), {
    code: 'SALT_MISSING',
    message: /kdf-salt.dat is missing, and the encrypted shares in resp-init.json cannot be decrypted without it; restore it from a backup/,
  });
  assert.deepEqual(await files(loc), ['resp-init.json']);
  assert.deepEqual(await readFile(join(loc.dir, 'resp-init.json')), before);
  assert.equal((await inspectKeyFile(loc))?.saltPresent, false);
});

test('a salt of the wrong size is SALT_MALFORMED', async () => {
  const loc = freshLoc();
  await writeKeyFile(loc, { shares: secrets(3).shares }, { format: 'edgex', ikm });
  await writeFile(join(loc.dir, 'kdf-salt.dat'), Buffer.alloc(31));
  const key = await readFile(join(loc.dir, 'resp-init.json'));
  await assert.rejects(readKeyFile(loc, ikm), {
    code: 'SALT_MALFORMED',
    message: /^kdf-salt.dat is 31 bytes, not 32: it was damaged or replaced, and the encrypted shares cannot be decrypted without the original; restore it from a backup$/,
  });
  assert.deepEqual(await files(loc), ['kdf-salt.dat', 'resp-init.json']);
  assert.deepEqual(await readFile(join(loc.dir, 'kdf-salt.dat')), Buffer.alloc(31));
  assert.deepEqual(await readFile(join(loc.dir, 'resp-init.json')), key);
});

test('plaintext is refused while an IKM is given (unless explicitly allowed); encryption needs an IKM', async () => {
  const loc = freshLoc();
  await assert.rejects(writeKeyFile(loc, secrets(), { format: 'plaintext', ikm }), { code: 'KEYFILE_PLAINTEXT', message: /refusing to write the key shares in plaintext/ });
  await assert.rejects(writeKeyFile(loc, secrets(), { format: 'v2' }), { code: 'HOOK_NOT_CONFIGURED' });
  await assert.rejects(writeKeyFile(loc, secrets(5, true), { format: 'edgex', ikm }), { code: 'KEYFILE_UNSUPPORTED', message: /cannot hold the root token encrypted/ });
  assert.equal(await inspectKeyFile(loc), undefined);
  const s = await writeKeyFile(loc, secrets(5, true), { format: 'plaintext', ikm, allowPlaintext: true });
  assert.equal(s.encrypted, false);
  const text = await readFile(s.path, 'utf8');
  assert.match(text, /^\{"keys":\[.*\],"keys_base64":\[.*\],"root_token":"hvs.TESTROOTTOKEN"\}\n$/);
});

test('an encrypted file without an IKM is KEYFILE_ENCRYPTED_NO_HOOK (EdgeX defect 5)', async () => {
  const loc = freshLoc();
  await writeKeyFile(loc, secrets(), { format: 'v2', ikm });
  await assert.rejects(readKeyFile(loc, undefined), { code: 'KEYFILE_ENCRYPTED_NO_HOOK', message: /is encrypted \(v2 format\) but no IKM hook is configured/ });
});

test('golden EdgeX files (v4 and v3) and a Vault init response read through the key-file layer', async () => {
  const golden = loadGolden();
  for (const c of golden.edgex) {
    const loc = freshLoc();
    await mkdir(loc.dir, { mode: 0o700 });
    await writeFile(join(loc.dir, 'resp-init.json'), c.key_file);
    await writeFile(join(loc.dir, 'kdf-salt.dat'), Buffer.from(c.salt, 'hex'));
    const { secrets: got, summary } = await readKeyFile(loc, Buffer.from(c.ikm, 'hex'));
    assert.deepEqual(got.shares.map((x) => x.toString('hex')), c.shares, c.name);
    assert.equal(summary.edgexLabel, c.label, c.name);
    assert.equal(summary.hasRootToken, c.root_token !== null);
    assert.equal(summary.rootTokenEncrypted, false);
    assert.equal(got.rootToken?.toString() ?? null, c.root_token);
  }
  for (const c of golden.plaintext) {
    const loc = freshLoc();
    await mkdir(loc.dir, { mode: 0o700 });
    await writeFile(join(loc.dir, 'resp-init.json'), c.key_file);
    const { secrets: got, summary } = await readKeyFile(loc, ikm);
    assert.equal(summary.format, 'plaintext');
    assert.deepEqual(got.shares.map((x) => x.toString('hex')), c.shares);
    assert.equal(got.rootToken?.toString(), c.root_token);
  }
});

test('converting edgex → v2 removes the salt file no longer needed; v2 → edgex makes one', async () => {
  const loc = freshLoc();
  const s = { shares: secrets(3).shares };
  await writeKeyFile(loc, s, { format: 'edgex', ikm });
  await writeKeyFile(loc, s, { format: 'v2', ikm });
  assert.deepEqual(await files(loc), ['resp-init.json']);
  await writeKeyFile(loc, s, { format: 'edgex', ikm });
  assert.deepEqual(await files(loc), ['kdf-salt.dat', 'resp-init.json']);
  assert.deepEqual((await readKeyFile(loc, ikm)).secrets.shares, s.shares);
});

test('leftover temp files of a crashed writer are removed by the next write', async () => {
  const loc = freshLoc();
  await mkdir(loc.dir, { mode: 0o700 });
  await writeFile(join(loc.dir, '.resp-init.json.tmp-999-abcdef012345'), 'half');
  await writeKeyFile(loc, secrets(), { format: 'v2', ikm });
  assert.deepEqual(await files(loc), ['resp-init.json']);
});

const badFiles: [string, string, string, RegExp][] = [
  ['not JSON', 'keys: [1]', 'KEYFILE_MALFORMED', /resp-init.json is not valid JSON/],
  ['a JSON array', '[]', 'KEYFILE_MALFORMED', /not a JSON object/],
  ['an unknown object', '{"hello":1}', 'KEYFILE_UNSUPPORTED', /neither a Vault init response/],
  ['an unknown format marker', '{"format":"other"}', 'KEYFILE_UNSUPPORTED', /unknown "format"/],
  ['keys and keys_base64 disagree', `{"keys":["${'01'.repeat(33)}"],"keys_base64":["${Buffer.alloc(33, 2).toString('base64')}"]}`, 'KEYFILE_MALFORMED', /"keys" and "keys_base64" hold different shares/],
  ['different counts', `{"keys":["${'01'.repeat(33)}"],"keys_base64":[]}`, 'KEYFILE_MALFORMED', /hold different shares/],
  ['bad base64', '{"keys_base64":["!!!!"]}', 'KEYFILE_MALFORMED', /keys_base64\[0\] is not base64/],
  ['a short share', `{"keys":["${'01'.repeat(15)}"]}`, 'KEYFILE_MALFORMED', /key share 0 is 15 bytes, not 16..33/],
  ['duplicate shares', `{"keys":["${'01'.repeat(33)}","${'01'.repeat(33)}"]}`, 'KEYFILE_MALFORMED', /key shares 0 and 1 are identical/],
  ['recovery keys', `{"keys":["${'01'.repeat(33)}"],"recovery_keys":["aa"]}`, 'KEYFILE_UNSUPPORTED', /recovery keys/],
];
for (const [what, text, code, message] of badFiles) {
  test(`detection and validation: ${what}`, async () => {
    const loc = freshLoc();
    await mkdir(loc.dir, { mode: 0o700 });
    await writeFile(join(loc.dir, 'resp-init.json'), text);
    await assert.rejects(readKeyFile(loc, ikm), { code, message });
    await assert.rejects(inspectKeyFile(loc), { code, message });
  });
}

test('a missing key file: inspect gives undefined, read gives KEYFILE_NOT_FOUND; odd names are refused', async () => {
  const loc = freshLoc();
  assert.equal(await inspectKeyFile(loc), undefined);
  await assert.rejects(readKeyFile(loc, ikm), { code: 'KEYFILE_NOT_FOUND' });
  await assert.rejects(inspectKeyFile({ dir: loc.dir, file: '../x' }), { code: 'USAGE', message: /plain file name/ });
});

test('custom file and salt names are honoured', async () => {
  const loc = { ...freshLoc(), file: 'keys.json', saltFile: 'salt.bin' };
  await writeKeyFile(loc, { shares: secrets(2).shares }, { format: 'edgex', ikm });
  assert.deepEqual(await files(loc), ['keys.json', 'salt.bin']);
  assert.equal((await readKeyFile(loc, ikm)).secrets.shares.length, 2);
});
