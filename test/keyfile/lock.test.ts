import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withKeyFileLock } from '../../src/keyfile/keyfile.js';
import { acquireFileLock, heldFileLocks, withFileLock } from '../../src/keyfile/lock.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

const WORKER = fileURLToPath(new URL('./fixtures/lock-worker.js', import.meta.url));
const LOCK_MODULE = new URL('../../src/keyfile/lock.js', import.meta.url).href;
let dir = '';
before(async () => {
  dir = await makeTempDir('sss-lock-');
});
after(async () => {
  await removeTempDir(dir);
});

function worker(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve(code);
    });
  });
}

test('two processes incrementing under the lock never lose an update', async () => {
  const sub = join(dir, 'two');
  const counter = join(dir, 'counter.txt');
  const codes = await Promise.all([worker([sub, counter, '25']), worker([sub, counter, '25'])]);
  assert.deepEqual(codes, [0, 0]);
  assert.equal(await readFile(counter, 'utf8'), '50');
  assert.deepEqual(await readdir(sub), [], 'the lock file is removed after use');
});

test('a live holder in another process makes us wait, then KEYFILE_LOCKED names it', async () => {
  const sub = join(dir, 'held');
  const counter = join(dir, 'held-counter.txt');
  const holder = worker([sub, counter, '1', '1500']);
  const lockPath = join(sub, '.resp-init.json.lock');
  for (let i = 0; i < 200; i++) {
    if ((await readdir(sub).catch(() => [] as string[])).includes('.resp-init.json.lock')) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await assert.rejects(
    withFileLock(lockPath, () => Promise.resolve(1), { timeoutMs: 200 }),
    { code: 'KEYFILE_LOCKED', message: /is held by process \d+; wait for it to finish/ },
  );
  assert.equal(await holder, 0);
  assert.equal(await withFileLock(lockPath, () => Promise.resolve(2), { timeoutMs: 2000 }), 2);
});

test('a stale lock (dead pid, other boot, own pid not held, garbage) is recovered', async () => {
  const sub = join(dir, 'stale');
  await withKeyFileLock({ dir: sub }, () => Promise.resolve()); // creates the folder
  const lockPath = join(sub, '.resp-init.json.lock');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  const contents = [
    JSON.stringify({ pid: deadPid, start: null, boot: null }),
    JSON.stringify({ pid: 1, start: '1', boot: 'another-boot' }),
    JSON.stringify({ pid: process.pid, start: null, boot: null }),
    'garbage',
  ];
  for (const text of contents) {
    await writeFile(lockPath, text);
    assert.equal(await withFileLock(lockPath, () => Promise.resolve('ok'), { timeoutMs: 1000 }), 'ok', text);
  }
});

test('reentrant within an async context; concurrent callers in one process are serialized', async () => {
  const loc = { dir: join(dir, 'reentrant') };
  const inner = await withKeyFileLock(loc, () => withKeyFileLock(loc, () => Promise.resolve('nested')));
  assert.equal(inner, 'nested');
  let active = 0;
  let maxActive = 0;
  await Promise.all(
    [1, 2, 3].map(() =>
      withKeyFileLock(loc, async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
      }),
    ),
  );
  assert.equal(maxActive, 1);
});

test('acquireFileLock: holds until release, refuses a second taker (timeout 0), release is idempotent', async () => {
  const sub = join(dir, 'acquire');
  await withKeyFileLock({ dir: sub }, () => Promise.resolve()); // creates the folder
  const lockPath = join(sub, 'LOCK');
  const lock = await acquireFileLock(lockPath, { timeoutMs: 0 });
  assert.equal(lock.path, lockPath);
  assert.equal((JSON.parse(await readFile(lockPath, 'utf8')) as { pid: number }).pid, process.pid);
  assert.equal(heldFileLocks().size, 0, 'no async context is entered');
  await assert.rejects(acquireFileLock(lockPath, { timeoutMs: 0 }), {
    code: 'KEYFILE_LOCKED',
    message: `${lockPath} is held by another task of this process; try again`,
  });
  // Not reentrant with withFileLock either: the same path waits, then times out.
  await assert.rejects(withFileLock(lockPath, () => Promise.resolve(1), { timeoutMs: 50 }), { code: 'KEYFILE_LOCKED' });
  // A waiter gets it as soon as it is released.
  const waiter = acquireFileLock(lockPath, { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 20));
  await lock.release();
  const second = await waiter;
  await lock.release(); // a second release must not remove the lock the waiter now holds
  assert.equal((JSON.parse(await readFile(lockPath, 'utf8')) as { pid: number }).pid, process.pid);
  await second.release();
  assert.deepEqual(await readdir(sub), []);
});

test('acquireFileLock: a live holder in another process → KEYFILE_LOCKED naming it; stale locks are recovered', async () => {
  const sub = join(dir, 'acquire-other');
  const counter = join(dir, 'acquire-counter.txt');
  const holder = worker([sub, counter, '1', '1500']);
  const lockPath = join(sub, '.resp-init.json.lock');
  for (let i = 0; i < 200; i++) {
    if ((await readdir(sub).catch(() => [] as string[])).includes('.resp-init.json.lock')) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await assert.rejects(acquireFileLock(lockPath, { timeoutMs: 100 }), {
    code: 'KEYFILE_LOCKED',
    message: /is held by process \d+; wait for it to finish/,
  });
  assert.equal(await holder, 0);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  for (const text of [JSON.stringify({ pid: Number(dead.stdout), start: null, boot: null }), JSON.stringify({ pid: process.pid, start: null, boot: null }), 'garbage']) {
    await writeFile(lockPath, text);
    const lock = await acquireFileLock(lockPath, { timeoutMs: 1000 });
    assert.equal((JSON.parse(await readFile(lockPath, 'utf8')) as { pid: number }).pid, process.pid, text);
    await lock.release();
  }
});

test('withFileLock: its async context (and the promise hooks it costs) ends with the outermost callback', async () => {
  const sub = join(dir, 'context');
  await withKeyFileLock({ dir: sub }, () => Promise.resolve());
  const lockPath = join(sub, 'L');
  assert.deepEqual(
    await withFileLock(lockPath, async () => {
      await Promise.resolve();
      return [...heldFileLocks()];
    }),
    [lockPath],
  );
  assert.equal(heldFileLocks().size, 0);
  // Outside the test runner (which has hooks of its own): a promise continuation has an async id only while promise
  // hooks are on, i.e. while an AsyncLocalStorage is enabled.
  const script = `
import { AsyncLocalStorage, executionAsyncId } from 'node:async_hooks';
import { acquireFileLock, withFileLock } from ${JSON.stringify(LOCK_MODULE)};
const probe = async () => { await null; return executionAsyncId(); };
const out = { before: await probe() };
out.inside = await withFileLock(${JSON.stringify(lockPath)}, probe);
out.after = await probe();
const lock = await acquireFileLock(${JSON.stringify(lockPath)});
out.acquired = await probe();
await lock.release();
out.reference = await new AsyncLocalStorage().run(1, probe); // last: on Node 20/22 it leaves the hooks on
console.log(JSON.stringify(out));
`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const ids = JSON.parse(child.stdout) as Record<string, number>;
  assert.equal(ids.before, 0);
  // Node 24's AsyncLocalStorage (AsyncContextFrame) needs no promise hooks: then there are none inside either.
  assert.equal(ids.inside !== 0, ids.reference !== 0, 'inside, promise hooks are on exactly when an AsyncLocalStorage turns them on');
  assert.equal(ids.after, 0);
  assert.equal(ids.acquired, 0);
});

test('a lock file that cannot be read is an IO error that says so, not an endless retry', async () => {
  const sub = join(dir, 'unreadable');
  await mkdir(join(sub, '.resp-init.json.lock'), { recursive: true }); // a folder where the lock file belongs: EISDIR
  await assert.rejects(withFileLock(join(sub, '.resp-init.json.lock'), () => Promise.resolve(1), { timeoutMs: 2000 }), {
    code: 'IO',
    message: /cannot read the lock file .*\.resp-init\.json\.lock \(EISDIR\); check the owner and permissions of its folder/,
  });
});

test('a stale lock whose breaker guard cannot be cleared is waited for until the deadline, never spun on', async () => {
  const sub = join(dir, 'stuck-guard');
  const lockPath = join(sub, '.resp-init.json.lock');
  await mkdir(join(sub, '.resp-init.json.lock.break'), { recursive: true }); // a guard nobody can read or remove
  await writeFile(lockPath, JSON.stringify({ pid: 999_999_999, start: null, boot: null })); // a dead owner
  // The event loop keeps running while it waits: a timer set now fires before the acquisition gives up.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  try {
    await assert.rejects(withFileLock(lockPath, () => Promise.resolve(1), { timeoutMs: 300 }), {
      code: 'KEYFILE_LOCKED',
      message: /keeps changing, or a stale lock beside it cannot be removed; check its folder and try again/,
    });
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks >= 3, `the event loop ran meanwhile (${ticks} ticks)`);
});
