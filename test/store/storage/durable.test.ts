import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCK_FILE, openDurableStorage } from '../../../src/store/storage/durable.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

test('openDurableStorage: creates the folder 0700, locks it, unlocks on close, takes over a stale lock', async () => {
  const root = await makeTempDir();
  try {
    const dir = join(root, 'nested', 'data');
    const s = await openDurableStorage(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await readFile(join(dir, LOCK_FILE), 'utf8')).trim(), String(process.pid));
    await s.put('a', Buffer.from('1'));
    await s.close();
    await assert.rejects(stat(join(dir, LOCK_FILE)), { code: 'ENOENT' });

    // A lock held by a live process (here: pid 1, init) refuses a second opener.
    await writeFile(join(dir, LOCK_FILE), '1\n');
    await assert.rejects(openDurableStorage(dir), {
      name: 'SecretStoreError',
      code: 'STORE_LOCKED',
      message: `the data folder ${dir} is in use by process 1; stop it or use another --data folder`,
    });
    // A lock left by a dead process (a pid that cannot exist) is taken over.
    await writeFile(join(dir, LOCK_FILE), '2147483646\n');
    const again = await openDurableStorage(dir);
    assert.deepEqual(await again.get('a'), Buffer.from('1'));
    await again.close();
  } finally {
    await removeTempDir(root);
  }
});
