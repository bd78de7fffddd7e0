import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, stat } from 'node:fs/promises';
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
