/**
 * An inter-process lock on a key file: a lock file created with O_EXCL holding the owner's pid, process start time
 * and boot id. {@link withFileLock} is reentrant within a process (AsyncLocalStorage); {@link acquireFileLock} takes
 * a lock without any async context, for locks held for long. A lock whose owner is gone (dead pid, pid reused
 * by another process, or a previous boot — containers reuse small pids at every boot) is recovered.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { link, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SecretStoreError, describeCause } from '../errors.js';
import { randomBytes } from '../crypto.js';
import { pidAlive } from './process-alive.js';

/** Who holds a lock, as written in the lock file. */
interface LockOwner {
  pid: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22), when known. */
  start: string | null;
  /** /proc/sys/kernel/random/boot_id, when known. */
  boot: string | null;
}

const held = new AsyncLocalStorage<ReadonlySet<string>>();

async function readProcText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** Start time of `pid` from /proc, or null when unknown (no /proc) or the process is gone. */
async function processStart(pid: number): Promise<string | null> {
  const stat = await readProcText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Field 2 (comm) is parenthesized and may contain spaces: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null; // field 22 overall = index 19 after pid and comm
}

async function currentOwner(): Promise<LockOwner> {
  return { pid: process.pid, start: await processStart(process.pid), boot: await readProcText('/proc/sys/kernel/random/boot_id') };
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid <= 0) return undefined;
    const start = typeof o.start === 'string' ? o.start : null;
    const boot = typeof o.boot === 'string' ? o.boot : null;
    return { pid: o.pid, start, boot };
  } catch {
    return undefined;
  }
}

/** True when the recorded owner (another pid) certainly no longer holds the lock. */
async function ownerGone(owner: LockOwner, me: LockOwner): Promise<boolean> {
  if (owner.boot !== null && me.boot !== null && owner.boot !== me.boot) return true;
  if (!pidAlive(owner.pid)) return true;
  if (owner.start !== null) {
    const start = await processStart(owner.pid);
    if (start !== null && start !== owner.start) return true; // pid reused by another process
  }
  return false;
}

/** Locks held by this process (any async context), so a same-pid lock file is never mistaken for a stale one. */
const processHeld = new Set<string>();

async function tryCreate(lockPath: string, owner: LockOwner): Promise<boolean> {
  // Write the owner to a private file first, then link it into place: the lock file appears atomically with content.
  const tmp = `${lockPath}.${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    // No fsync: after a crash the lock is stale anyway (other boot id), so its durability does not matter.
    await handle.writeFile(JSON.stringify(owner));
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, lockPath);
    // Mark it held before any further await, so another task of this process never takes our fresh lock file
    // (which carries our own pid) for a stale one.
    processHeld.add(lockPath);
    return true;
  } catch (err) {
    if (describeCause(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Removes a stale lock whose text was `staleText`. Breakers take turns through a second lock file, `<lock>.break`,
 * and the one holding it re-reads the lock before removing it: while the owner is dead only a breaker removes the
 * lock, and a fresh lock cannot replace the stale one before it is removed, so the text read under the guard is
 * still what is removed. (Moving the lock aside and putting it back when the moved one was fresh — the way this
 * worked before — let a third waiter take the slot while it was empty: two waiters then held the lock at once.) A
 * guard left by a breaker that died in its few microseconds is itself broken the old way, by moving it aside: that
 * race needs a dead breaker and three waiters at once.
 */
async function breakStale(lockPath: string, staleText: string, me: LockOwner): Promise<void> {
  const guard = `${lockPath}.break`;
  let created: boolean;
  try {
    created = !processHeld.has(guard) && (await tryCreate(guard, me));
  } catch (err) {
    throw new SecretStoreError('IO', `cannot create the lock file ${guard} (${describeCause(err)})`, { cause: err });
  }
  if (!created) {
    const text = await readFile(guard, 'utf8').catch(() => undefined);
    const owner = text === undefined ? undefined : parseOwner(text);
    if (text !== undefined && (owner === undefined || (owner.pid === me.pid ? !processHeld.has(guard) : await ownerGone(owner, me)))) {
      await moveAsideStale(guard, text);
    }
    return; // another breaker is at work (or was, and its guard is gone now): the caller looks again
  }
  try {
    const current = await readFile(lockPath, 'utf8').catch(() => undefined);
    if (current === staleText) await unlink(lockPath).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
    processHeld.delete(guard);
  }
}

/** Moves a stale file aside, checking that what was moved is the stale one, and putting it back otherwise. */
async function moveAsideStale(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== staleText) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/** Options of {@link withFileLock} and {@link acquireFileLock}. */
export interface LockOptions {
  /** Give up after this long (default 30 s) with KEYFILE_LOCKED. */
  timeoutMs?: number;
}

/** A lock taken with {@link acquireFileLock}. */
export interface FileLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file. Idempotent: a second call must not remove a lock another process has taken since. */
  release(): Promise<void>;
}

/** Takes the lock file, waiting (polling with backoff) while a live owner holds it, until `timeoutMs`. */
async function acquire(lockPath: string, options: LockOptions): Promise<void> {
  const me = await currentOwner();
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let delay = 5;
  for (;;) {
    let created: boolean;
    if (processHeld.has(lockPath)) {
      created = false; // another task of this process holds it: wait for it
    } else {
      try {
        created = await tryCreate(lockPath, me);
      } catch (err) {
        throw new SecretStoreError('IO', `cannot create the lock file ${lockPath} (${describeCause(err)})`, { cause: err });
      }
    }
    if (created) return;
    if (!processHeld.has(lockPath)) {
      const text = await readFile(lockPath, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // released meanwhile: try again at once
      const owner = parseOwner(text);
      // Lock files appear whole (linked into place), so an unreadable one is garbage. Our own pid in a lock file we
      // do not hold means a previous process with the same pid (a container's pid 1 after a reboot) left it.
      if (owner === undefined || (owner.pid === me.pid ? !processHeld.has(lockPath) : await ownerGone(owner, me))) {
        await breakStale(lockPath, text, me);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new SecretStoreError('KEYFILE_LOCKED', `${lockPath} is held by process ${owner.pid}; wait for it to finish (or stop it) and try again`);
      }
    } else if (Date.now() >= deadline) {
      throw new SecretStoreError('KEYFILE_LOCKED', `${lockPath} is held by another task of this process; try again`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

async function releaseHeld(lockPath: string): Promise<void> {
  await unlink(lockPath).catch(() => undefined);
  processHeld.delete(lockPath);
}

/**
 * Takes the lock file `lockPath` (its folder must exist) until `release()`, with the same owner record and stale-lock
 * recovery as {@link withFileLock}, but without any async context: for a lock held for a long time (the store's data
 * folder, for the server's whole life), so that the code running meanwhile does not pay for AsyncLocalStorage's
 * promise hooks on every promise. Not reentrant: while this process holds `lockPath` (by either API), another
 * acquisition waits for it like any other task, and fails with KEYFILE_LOCKED after `timeoutMs` (0: at once).
 */
export async function acquireFileLock(lockPath: string, options: LockOptions = {}): Promise<FileLock> {
  await acquire(lockPath, options);
  let released: Promise<void> | undefined;
  return {
    path: lockPath,
    release: () => (released ??= releaseHeld(lockPath)),
  };
}

/** How many {@link withFileLock} callbacks are running, to turn the async context off again when none is. */
let activeRuns = 0;

/**
 * Runs `fn` while holding the lock file `lockPath` (its folder must exist). Reentrant: a nested call from the same
 * async context runs `fn` directly. Waits (polling with backoff) while another live process holds it.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const mine = held.getStore();
  if (mine?.has(lockPath) === true) return fn();
  await acquire(lockPath, options);
  activeRuns++;
  try {
    const next = new Set(mine ?? []);
    next.add(lockPath);
    return await held.run(next, fn);
  } finally {
    // Once enabled, an AsyncLocalStorage keeps Node's promise hooks on for every later promise of the process;
    // switch it off when no callback needs it (work left behind by a finished callback no longer holds the lock).
    if (--activeRuns === 0) held.disable();
    await releaseHeld(lockPath);
  }
}

/**
 * Removes the private files a process killed while taking or breaking `lockPath` left beside it
 * (`<lock>.<pid>-<12 hex>`, `<lock>.stale-<pid>-<12 hex>`): only those whose process is gone, because a live one may
 * be about to link its file into place. Returns how many were removed.
 */
export async function removeStaleLockTemps(lockPath: string): Promise<number> {
  const base = basename(lockPath);
  let names: string[];
  try {
    names = await readdir(dirname(lockPath));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^(?:stale-)?([0-9]{1,10})-[0-9a-f]{12}$/.exec(name.slice(base.length + 1));
    const pid = m?.[1] === undefined ? undefined : Number(m[1]);
    if (pid === undefined || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    try {
      await unlink(join(dirname(lockPath), name));
      removed++;
    } catch {
      // removed by someone else meanwhile
    }
  }
  return removed;
}

/**
 * The lock files held by the calling async context through {@link withFileLock} (empty outside any). Lets tests
 * check that long-lived code, such as the store's server, does not run inside a lock's async context.
 */
export function heldFileLocks(): ReadonlySet<string> {
  return held.getStore() ?? new Set<string>();
}
