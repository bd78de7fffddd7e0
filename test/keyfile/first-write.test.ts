/**
 * The first key file: prepared before `sys/init` (folder, stale temps, edgex salt, temp file), committed after it
 * synchronously; discard and failures leave no temp file; a synced temp file left by a kill is adopted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { adoptKeyFileTemp, inspectKeyFile, prepareFirstKeyFile, readKeyFile, type InitSecrets } from '../../src/keyfile/keyfile.js';

const ikm = randomBytes(32);
const secrets = (): InitSecrets => ({ shares: [randomBytes(33), randomBytes(33), randomBytes(33)], threshold: 2 });

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const root = await makeTempDir('sss-first-');
  try {
    await body(join(root, 'assets'));
  } finally {
    await removeTempDir(root);
  }
}

const names = async (dir: string): Promise<string[]> => (await readdir(dir)).sort();

for (const format of ['v2', 'edgex', 'plaintext'] as const) {
  test(`prepare then commit (${format}): the file reads back, 0600, no temp left; edgex salt written at prepare`, async () => {
    await withDir(async (dir) => {
      const prepared = prepareFirstKeyFile({ dir }, format === 'plaintext' ? { format } : { format, ikm });
      const before = await names(dir);
      assert.equal(before.filter((n) => n.startsWith('.resp-init.json.tmp-')).length, 1, 'the temp file exists before the commit');
      assert.equal(before.includes('kdf-salt.dat'), format === 'edgex');
      const s = secrets();
      const bytes = prepared.commitSync(s);
      bytes.fill(0);
      prepared.discard(); // after a commit: nothing to do
      const { secrets: back } = await readKeyFile({ dir }, format === 'plaintext' ? undefined : ikm);
      assert.deepEqual(back.shares, s.shares);
      assert.equal((await stat(join(dir, 'resp-init.json'))).mode & 0o777, 0o600);
      assert.deepEqual((await names(dir)).filter((n) => n.includes('.tmp-')), []);
      assert.equal((await inspectKeyFile({ dir }))?.format, format);
    });
  });
}

test('discard (init failed) and a failed commit leave no temp file and no key file', async () => {
  await withDir(async (dir) => {
    const a = prepareFirstKeyFile({ dir }, { format: 'v2', ikm });
    a.discard();
    assert.deepEqual((await names(dir)).filter((n) => n.includes('.tmp-') || n === 'resp-init.json'), []);
    const b = prepareFirstKeyFile({ dir }, { format: 'v2', ikm });
    await mkdir(join(dir, 'resp-init.json')); // the rename onto it fails
    assert.throws(() => b.commitSync(secrets()), { code: 'IO', message: /cannot write .*resp-init\.json/ });
    b.discard();
    assert.deepEqual((await names(dir)).filter((n) => n.includes('.tmp-')), []);
    assert.throws(() => b.commitSync(secrets()), { code: 'INTERNAL' }, 'once only');
  });
});

test('prepare refuses when a key file exists, and removes stale temps of earlier writers', async () => {
  await withDir(async (dir) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, '.resp-init.json.tmp-12345-0123456789ab'), 'torn');
    const p = prepareFirstKeyFile({ dir }, { format: 'v2', ikm });
    assert.ok(!(await names(dir)).includes('.resp-init.json.tmp-12345-0123456789ab'));
    p.commitSync(secrets()).fill(0);
    assert.throws(() => prepareFirstKeyFile({ dir }, { format: 'v2', ikm }), { code: 'IO', message: /already exists/ });
  });
});

test('invalid shares are refused at commit (USAGE), the temp file removed', async () => {
  await withDir(async (dir) => {
    const p = prepareFirstKeyFile({ dir }, { format: 'v2', ikm });
    assert.throws(() => p.commitSync({ shares: [] }), { code: 'USAGE' });
    assert.deepEqual((await names(dir)).filter((n) => n.includes('.tmp-')), []);
  });
});

for (const format of ['v2', 'edgex'] as const) {
  test(`adoption (${format}): a whole synced temp file is renamed into place; the IKM is fetched only for it`, async () => {
    await withDir(async (dir) => {
      const s = secrets();
      const p = prepareFirstKeyFile({ dir }, { format, ikm });
      p.commitSync(s).fill(0);
      const temp = join(dir, '.resp-init.json.tmp-99999-abcdefabcdef');
      await rename(join(dir, 'resp-init.json'), temp);
      let fetched = 0;
      assert.equal(await adoptKeyFileTemp({ dir }, () => Promise.resolve((fetched++, randomBytes(32)))), undefined, 'another IKM: not adopted');
      assert.ok((await names(dir)).includes('.resp-init.json.tmp-99999-abcdefabcdef'), 'and kept');
      assert.equal(await adoptKeyFileTemp({ dir }, () => Promise.resolve((fetched++, Buffer.from(ikm)))), '.resp-init.json.tmp-99999-abcdefabcdef');
      assert.equal(fetched, 2);
      const { secrets: back } = await readKeyFile({ dir }, ikm);
      assert.deepEqual(back.shares, s.shares);
      assert.equal(await adoptKeyFileTemp({ dir }, () => Promise.reject(new Error('not called'))), undefined, 'a key file exists: nothing to adopt');
    });
  });
}

test('adoption removes torn temp files and never asks for the IKM for them', async () => {
  await withDir(async (dir) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const torn = join(dir, '.resp-init.json.tmp-99999-000000000000');
    await writeFile(torn, '{"format":"secretstore-setup/keyfile","vers');
    assert.equal(await adoptKeyFileTemp({ dir }, () => Promise.reject(new Error('not called'))), undefined);
    assert.deepEqual(await names(dir), [], 'the torn temp file is gone (and the lock released)');
  });
});
