import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCK_FILE, openDurableStorage } from '../../../src/store/storage/durable.js';
import { heldFileLocks } from '../../../src/keyfile/lock.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { closeServer } from '../../helpers/close-server.js';

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await makeTempDir();
  try {
    await fn(root);
  } finally {
    await removeTempDir(root);
  }
}

/** Field 22 of /proc/<pid>/stat (process start time), as the lock records it. */
async function startTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** The pid recorded in the folder's lock file. */
async function lockPid(dir: string): Promise<unknown> {
  return (JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid?: unknown }).pid;
}

const bootId = async (): Promise<string> => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();

test('openDurableStorage: creates the folder 0700, locks it with pid/start/boot, unlocks on close (idempotent)', () =>
  withRoot(async (root) => {
    const dir = join(root, 'nested', 'data');
    const s = await openDurableStorage(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const owner = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(owner, { pid: process.pid, start: await startTime(process.pid), boot: await bootId() });
    // A second open in the same process while the first is open is refused too.
    await assert.rejects(openDurableStorage(dir), { code: 'STORE_LOCKED' });
    await s.put('a', Buffer.from('1'));
    await s.close();
    await assert.rejects(stat(join(dir, LOCK_FILE)), { code: 'ENOENT' });
    // A second close must not remove a lock someone else has taken since.
    const other = await openDurableStorage(dir);
    await s.close();
    await stat(join(dir, LOCK_FILE));
    assert.deepEqual(await other.get('a'), Buffer.from('1'));
    await other.close();
  }));

test('a lock held by a live process refuses a second opener with STORE_LOCKED', () =>
  withRoot(async (root) => {
    const dir = join(root, 'data');
    await mkdir(dir, { mode: 0o700 });
    // pid 1 is alive; same boot, same start time: a genuine holder.
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, start: await startTime(1), boot: await bootId() }));
    await assert.rejects(openDurableStorage(dir), {
      name: 'SecretStoreError',
      code: 'STORE_LOCKED',
      message: `the data folder ${dir} is in use by process 1; stop it or use another --data folder`,
    });
    assert.equal(await lockPid(dir), 1, 'the holder keeps its lock');
  }));

test('stale locks are taken over: dead pid, a pid reused after a power cut (other boot / other start time), garbage', () =>
  withRoot(async (root) => {
    const dir = join(root, 'data');
    const first = await openDurableStorage(dir);
    await first.put('a', Buffer.from('1'));
    await first.close();
    const boot = await bootId();
    const stale = [
      JSON.stringify({ pid: 2147483646, start: null, boot }),
      // The case that used to lock the store out forever after a reboot: the pid is alive, but it is another program.
      JSON.stringify({ pid: 1, start: await startTime(1), boot: '00000000-0000-0000-0000-000000000000' }),
      JSON.stringify({ pid: 1, start: 'not-its-start-time', boot }),
      '1234\n',
    ];
    for (const text of stale) {
      await writeFile(join(dir, LOCK_FILE), text);
      const s = await openDurableStorage(dir);
      assert.deepEqual(await s.get('a'), Buffer.from('1'), text);
      assert.equal(await lockPid(dir), process.pid);
      await s.close();
    }
  }));

test('a shared folder (world-writable or sticky, like /tmp) is refused, not chmod-ed', () =>
  withRoot(async (root) => {
    const shared = join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    await assert.rejects(openDurableStorage(shared), {
      name: 'SecretStoreError',
      code: 'UNSAFE_PERMISSIONS',
      message: `the data folder ${shared} is shared with other users (world-writable or sticky, like /tmp); use a dedicated folder inside it — it is created 0700`,
    });
    assert.equal((await stat(shared)).mode & 0o7777, 0o1777, 'left untouched');
    // A merely loose private folder is tightened, and a folder inside the shared one is fine.
    const loose = join(root, 'loose');
    await mkdir(loose);
    await chmod(loose, 0o755);
    await (await openDurableStorage(loose)).close();
    assert.equal((await stat(loose)).mode & 0o777, 0o700);
    await (await openDurableStorage(join(shared, 'data'))).close();
  }));

test('an open store runs outside any lock context: none in a request handler, and no promise hooks', () =>
  withRoot(async (root) => {
    const dir = join(root, 'data');
    const s = await openDurableStorage(dir);
    try {
      await s.put('k', Buffer.from('v'));
      const server = createServer((_req, res) => {
        void (async () => {
          const value = await s.get('k');
          res.end(JSON.stringify({ locks: [...heldFileLocks()], value: value?.toString() }));
        })();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const address = server.address();
        assert.ok(address !== null && typeof address === 'object');
        const res = await fetch(`http://127.0.0.1:${address.port}/`);
        assert.deepEqual(await res.json(), { locks: [], value: 'v' });
      } finally {
        await closeServer(server);
      }
    } finally {
      await s.close();
    }
    // In a plain process (the test runner has hooks of its own): a promise continuation has an async id only while
    // promise hooks are on, which an enabled AsyncLocalStorage does for every promise.
    const module = new URL('../../../src/store/storage/durable.js', import.meta.url).href;
    const script = `
import { executionAsyncId } from 'node:async_hooks';
import { openDurableStorage } from ${JSON.stringify(module)};
const probe = async () => { await null; return executionAsyncId(); };
const s = await openDurableStorage(${JSON.stringify(join(root, 'child'))});
const open = await probe();
await s.get('missing');
const afterRead = await probe();
await s.close();
console.log(JSON.stringify({ open, afterRead }));
`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { open: 0, afterRead: 0 });
  }));
