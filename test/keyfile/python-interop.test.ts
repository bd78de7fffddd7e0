/**
 * Our writer's output, decrypted by an independent implementation: test/vectors/gen_edgex_golden.py (python3 +
 * `cryptography`, written from EdgeX's algorithm and docs/key-file-formats.md). The golden files prove we read what
 * others write; this proves others read what we write — for EdgeX compatibility that is the direction that matters.
 * python3 with `cryptography` is required under CI; elsewhere a missing one skips loudly (test/helpers/require-tools).
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from '../../src/crypto.js';
import { type InitSecrets, writeKeyFile } from '../../src/keyfile/keyfile.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

const SCRIPT = join(REPO_ROOT, 'test', 'vectors', 'gen_edgex_golden.py');
let root = '';
let n = 0;
before(async () => {
  root = await makeTempDir('sss-pyinterop-');
});
after(async () => {
  await removeTempDir(root);
});

/** True when python3 can import `cryptography`; otherwise fails under CI and skips loudly elsewhere. */
function requirePythonCryptography(t: TestContext): boolean {
  const probe = spawnSync('python3', ['-c', 'import cryptography'], { stdio: 'ignore' });
  if (probe.status === 0) return true;
  const reason = 'python3 with the cryptography module is missing — install the Debian package python3-cryptography';
  if (process.env.CI === 'true') throw new Error(`required under CI: ${reason}`);
  process.stderr.write(`\n*** SKIPPED ${t.name}: ${reason} ***\n`);
  t.skip(reason);
  return false;
}

interface PythonResult {
  format: 'edgex' | 'v2';
  keys: string[];
  threshold: number | null;
  root_token: string | null;
}

function pythonDecrypt(dir: string, ikm: Buffer): PythonResult {
  const r = spawnSync('python3', [SCRIPT, '--decrypt', dir, ikm.toString('hex')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `the Python implementation refused our file: ${r.stderr}`);
  return JSON.parse(r.stdout) as PythonResult;
}

async function written(secrets: InitSecrets, format: 'edgex' | 'v2', ikm: Buffer): Promise<string> {
  const dir = join(root, `case-${++n}`);
  await writeKeyFile({ dir }, secrets, { format, ikm });
  return dir;
}

const shareSet = (count: number, length: number): Buffer[] => Array.from({ length: count }, () => randomBytes(length));

test('edgex files we write decrypt with the independent Python implementation (5×33, 1×32, random sets)', async (t) => {
  if (!requirePythonCryptography(t)) return;
  const cases: [number, number][] = [[5, 33], [1, 32], [3, 33], [2, 16], [10, 33]];
  for (const [count, length] of cases) {
    const ikm = randomBytes(32 + (count % 3));
    const shares = shareSet(count, length);
    const got = pythonDecrypt(await written({ shares }, 'edgex', ikm), ikm);
    assert.equal(got.format, 'edgex');
    assert.deepEqual(got.keys, shares.map((s) => s.toString('hex')), `${count}×${length}`);
    assert.equal(got.root_token, null);
  }
});

test('v2 files we write decrypt with the Python implementation written from the docs', async (t) => {
  if (!requirePythonCryptography(t)) return;
  const ikm = randomBytes(32);
  const shares = shareSet(5, 33);
  const full = pythonDecrypt(await written({ shares, threshold: 3, rootToken: Buffer.from('hvs.CAESIPythonInteropToken') }, 'v2', ikm), ikm);
  assert.deepEqual(full, { format: 'v2', keys: shares.map((s) => s.toString('hex')), threshold: 3, root_token: 'hvs.CAESIPythonInteropToken' });
  const single = shareSet(1, 32);
  const bare = pythonDecrypt(await written({ shares: single }, 'v2', ikm), ikm);
  assert.deepEqual(bare, { format: 'v2', keys: single.map((s) => s.toString('hex')), threshold: null, root_token: null });
});

test('the Python implementation refuses our file under a wrong IKM (the cross-check can fail)', async (t) => {
  if (!requirePythonCryptography(t)) return;
  const dir = await written({ shares: shareSet(2, 33) }, 'edgex', randomBytes(32));
  const r = spawnSync('python3', [SCRIPT, '--decrypt', dir, randomBytes(32).toString('hex')], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /InvalidTag/);
});
