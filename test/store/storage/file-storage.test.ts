import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEntryFile, encodeEntryFile, FileStorage } from '../../../src/store/storage/file-storage.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

test('file-per-entry: round-trip, safe file names for hostile keys, temp leftovers removed, 0600 files', async () => {
  const root = await makeTempDir();
  try {
    const dir = join(root, 'data');
    const s = await FileStorage.open(dir);
    const keys = ['../../escape', 'a/b/c', 'ünï/日本', '/abs', '.'];
    for (const k of keys) await s.put(k, Buffer.from(k));
    await s.delete('a/b/c');
    await s.delete('absent');
    assert.deepEqual(await s.list(''), ['.', '../', '/', 'ünï/']);
    await s.close();
    const names = await readdir(dir);
    for (const n of names) assert.match(n, /^[0-9a-f]{64}$/);
    assert.equal(names.length, 4);
    assert.equal((await readdir(root)).length, 1, 'nothing escaped the folder');
    for (const n of names) assert.equal((await stat(join(dir, n))).mode & 0o777, 0o600);
    await writeFile(join(dir, `${'0'.repeat(64)}.abc.tmp`), 'partial');
    const again = await FileStorage.open(dir);
    assert.equal((await readdir(dir)).some((n) => n.endsWith('.tmp')), false);
    assert.deepEqual(await again.get('../../escape'), Buffer.from('../../escape'));
    assert.equal(await again.get('a/b/c'), undefined);
    await again.close();
    // A damaged entry file fails closed.
    const victim = join(dir, FileStorage.fileName('.'));
    const bytes = await readFile(victim);
    bytes[bytes.length - 40] = (bytes[bytes.length - 40] ?? 0) ^ 1;
    await writeFile(victim, bytes);
    await assert.rejects(FileStorage.open(dir), { code: 'STORE_CORRUPT' });
  } finally {
    await removeTempDir(root);
  }
});

test('entry file codec rejects truncation', () => {
  const f = encodeEntryFile(Buffer.from('k'), Buffer.from('value'));
  assert.deepEqual(decodeEntryFile(f), { key: 'k', value: Buffer.from('value') });
  for (let n = 0; n < f.length; n++) assert.equal(decodeEntryFile(f.subarray(0, n)), undefined);
});
