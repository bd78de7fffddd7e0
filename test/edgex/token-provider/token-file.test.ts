import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sortedJson, tokenFilePath, writeTokenFile } from '../../../src/edgex/token-provider/token-file.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

test('sortedJson sorts object keys at every level, keeps array order (as Go marshals a map)', () => {
  assert.equal(sortedJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
});

test('writeTokenFile: folder 0700 (also when it existed wider), file 0600, sorted JSON and a newline, replaced atomically', async () => {
  const dir = await makeTempDir('sss-tokenfile-');
  try {
    await mkdir(join(dir, 'core-data'), { mode: 0o755 });
    await chmod(join(dir, 'core-data'), 0o755);
    const path = await writeTokenFile(dir, 'core-data', 'secrets-token.json', { auth: { client_token: 'hvs.x', accessor: 'a' }, data: null });
    assert.equal(path, tokenFilePath(dir, 'core-data', 'secrets-token.json'));
    assert.equal((await stat(join(dir, 'core-data'))).mode & 0o777, 0o700);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await readFile(path, 'utf8'), '{"auth":{"accessor":"a","client_token":"hvs.x"},"data":null}\n');
    await writeTokenFile(dir, 'core-data', 'secrets-token.json', { auth: { client_token: 'hvs.y' } });
    assert.equal(await readFile(path, 'utf8'), '{"auth":{"client_token":"hvs.y"}}\n');
    assert.deepEqual(await readdir(join(dir, 'core-data')), ['secrets-token.json'], 'no temp file left behind');
  } finally {
    await removeTempDir(dir);
  }
});

test('a token file that existed keeps its owner (a re-issued token stays readable by its service)', async (t) => {
  if (process.getuid?.() !== 0) {
    // Only root can give a file to another user; CI and the development machine run as root.
    assert.fail('this test needs root (as EdgeX setup runs)');
  }
  t.diagnostic('running as root');
  const dir = await makeTempDir('sss-tokenfile-');
  try {
    await mkdir(join(dir, 'svc'), { mode: 0o700 });
    const path = join(dir, 'svc', 'secrets-token.json');
    await writeFile(path, '{}\n', { mode: 0o600 });
    await chown(path, 2002, 2001);
    await writeTokenFile(dir, 'svc', 'secrets-token.json', { auth: { client_token: 'hvs.new' } });
    const st = await stat(path);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [2002, 2001, 0o600]);
    // A new file belongs to whoever writes it.
    const fresh = await writeTokenFile(dir, 'other', 'secrets-token.json', {});
    assert.equal((await stat(fresh)).uid, 0);
  } finally {
    await removeTempDir(dir);
  }
});
