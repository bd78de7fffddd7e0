/**
 * An inter-process lock on a key file: a lock file created with O_EXCL holding the owner's pid, process start time
 * and boot id. {@link withFileLock} is reentrant within a process (AsyncLocalStorage); {@link acquireFileLock} takes
 * a lock without any async context, for locks held for long. A lock whose owner is gone (dead pid, pid reused
 * by another process, or a previous boot — containers reuse small pids at every boot) is recovered.
 *
 * The file operations are synchronous (microseconds each on a local folder; through the thread pool each would be a
 * round trip of 0.1–0.3 ms, and taking the lock made about 15 of them); only the wait between attempts is a timer.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, linkSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
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

function readProcText(path: string): string | null {
  return readText(path)?.trim() ?? null;
}

/** A file's text, or undefined when it is gone or unreadable. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Removes `path` if it is there (a failure is left for the next cleanup). */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // not ours to remove, or the folder is gone: nothing to do
  }
}

/** Start time of `pid` from /proc, or null when unknown (no /proc) or the process is gone. */
function processStart(pid: number): string | null {
  const stat = readProcText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Field 2 (comm) is parenthesized and may contain spaces: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null; // field 22 overall = index 19 after pid and comm
}

function currentOwner(): LockOwner {
  return { pid: process.pid, start: processStart(process.pid), boot: readProcText('/proc/sys/kernel/random/boot_id') };
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
function ownerGone(owner: LockOwner, me: LockOwner): boolean {
  if (owner.boot !== null && me.boot !== null && owner.boot !== me.boot) return true;
  if (!pidAlive(owner.pid)) return true;
  if (owner.start !== null) {
    const start = processStart(owner.pid);
    if (start !== null && start !== owner.start) return true; // pid reused by another process
  }
  return false;
}

/** Locks held by this process (any async context), so a same-pid lock file is never mistaken for a stale one. */
const processHeld = new Set<string>();

function tryCreate(lockPath: string, owner: LockOwner): boolean {
  // Write the owner to a private file first, then link it into place: the lock file appears atomically with content.
  const tmp = `${lockPath}.${process.pid}-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // No fsync: after a crash the lock is stale anyway (other boot id), so its durability does not matter.
    const text = Buffer.from(JSON.stringify(owner));
    for (let offset = 0; offset < text.length; ) offset += writeSync(fd, text, offset);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, lockPath);
    // Mark it held at once, so another task of this process never takes our fresh lock file (which carries our own
    // pid) for a stale one.
    processHeld.add(lockPath);
    return true;
  } catch (err) {
    if (describeCause(err) === 'EEXIST') return false;
    throw err;
  } finally {
    removeQuietly(tmp);
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
function breakStale(lockPath: string, staleText: string, me: LockOwner): void {
  const guard = `${lockPath}.break`;
  let created: boolean;
  try {
    created = !processHeld.has(guard) && tryCreate(guard, me);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot create the lock file ${guard} (${describeCause(err)})`, { cause: err });
  }
  if (!created) {
    const text = readText(guard);
    const owner = text === undefined ? undefined : parseOwner(text);
    if (text !== undefined && (owner === undefined || (owner.pid === me.pid ? !processHeld.has(guard) : ownerGone(owner, me)))) {
      moveAsideStale(guard, text);
    }
    return; // another breaker is at work (or was, and its guard is gone now): the caller looks again
  }
  try {
    if (readText(lockPath) === staleText) removeQuietly(lockPath);
  } finally {
    removeQuietly(guard);
    processHeld.delete(guard);
  }
}

/** Moves a stale file aside, checking that what was moved is the stale one, and putting it back otherwise. */
function moveAsideStale(path: string, staleText: string): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else broke or released it
  }
  if (readText(aside) !== staleText) {
    try {
      linkSync(aside, path);
    } catch {
      // a new lock is in place already: the moved one was stale after all
    }
  }
  removeQuietly(aside);
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

/** A lock file's text; undefined when it is gone (released meanwhile); IO when it cannot be read. */
function readLockText(lockPath: string): string | undefined {
  try {
    return readFileSync(lockPath, 'utf8');
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return undefined;
    throw new SecretStoreError('IO', `cannot read the lock file ${lockPath} (${describeCause(err)}); check the owner and permissions of its folder`, { cause: err });
  }
}

/** How many times in a row a waiter looks again at once (a lock released or broken meanwhile) before it sleeps. */
const IMMEDIATE_RETRIES = 3;

/** Takes the lock file, waiting (polling with backoff) while a live owner holds it, until `timeoutMs`. */
async function acquire(lockPath: string, options: LockOptions): Promise<void> {
  const me = currentOwner();
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let delay = 5;
  let immediate = 0;
  for (;;) {
    let created: boolean;
    if (processHeld.has(lockPath)) {
      created = false; // another task of this process holds it: wait for it
    } else {
      try {
        created = tryCreate(lockPath, me);
      } catch (err) {
        throw new SecretStoreError('IO', `cannot create the lock file ${lockPath} (${describeCause(err)})`, { cause: err });
      }
    }
    if (created) return;
    let holder: string;
    if (processHeld.has(lockPath)) {
      holder = 'is held by another task of this process; try again';
    } else {
      const text = readLockText(lockPath);
      const owner = text === undefined ? undefined : parseOwner(text);
      // Lock files appear whole (linked into place), so an unreadable one is garbage. Our own pid in a lock file we
      // do not hold means a previous process with the same pid (a container's pid 1 after a reboot) left it.
      if (owner === undefined || (owner.pid === me.pid ? !processHeld.has(lockPath) : ownerGone(owner, me))) {
        if (text !== undefined) breakStale(lockPath, text, me);
        // Look again at once: released meanwhile, or a stale lock just broken. The file calls are synchronous, so a
        // lock that keeps coming back (or a breaker's guard that cannot be cleared) is waited for like any other,
        // never spun on.
        if (++immediate <= IMMEDIATE_RETRIES) continue;
        holder = 'keeps changing, or a stale lock beside it cannot be removed; check its folder and try again';
      } else {
        holder = `is held by process ${owner.pid}; wait for it to finish (or stop it) and try again`;
      }
    }
    immediate = 0;
    if (Date.now() >= deadline) throw new SecretStoreError('KEYFILE_LOCKED', `${lockPath} ${holder}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

function releaseHeld(lockPath: string): void {
  removeQuietly(lockPath);
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
    release: () =>
      (released ??= new Promise<void>((resolve) => {
        releaseHeld(lockPath);
        resolve();
      })),
  };
}

/** How many {@link withFileLock} callbacks are running, to turn the async context off again when none is. */
let activeRuns = 0;

/**
 * Runs `fn` while holding the lock file `lockPath` (its folder must exist). Reentrant: a nested call from the same
 * async context runs `fn` directly. Waits (polling with backoff) while another live process holds it.
 */
export async function withFileLock<T>(lockPath: string, fn: () => T | Promise<T>, options: LockOptions = {}): Promise<T> {
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
    releaseHeld(lockPath);
  }
}

/**
 * Removes the private files a process killed while taking or breaking `lockPath` left beside it
 * (`<lock>.<pid>-<12 hex>`, `<lock>.stale-<pid>-<12 hex>`): only those whose process is gone, because a live one may
 * be about to link its file into place. Returns how many were removed.
 */
export function removeStaleLockTemps(lockPath: string): number {
  const base = basename(lockPath);
  let names: string[];
  try {
    names = readdirSync(dirname(lockPath));
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
      rmSync(join(dirname(lockPath), name));
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
