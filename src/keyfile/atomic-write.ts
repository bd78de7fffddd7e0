/**
 * Crash-safe file operations: replacement (write a temp file in the same folder (O_EXCL, 0600), fsync it, optionally
 * read it back and verify it, rename it over the target, fsync the folder — a crash at any point leaves the old file
 * or the new one, whole; Node's fs.writeFile truncates in place and never fsyncs — EdgeX defect 1), durable removal,
 * and reads that tell "absent" apart from "unreadable".
 *
 * They are synchronous: they work on a few small local files, each call takes microseconds (an fsync a millisecond
 * or two), and the callers — the boot flow, `keys`, `protect`, EdgeX's duties — have nothing else to do meanwhile.
 * Through libuv's thread pool every call would be a round trip of 0.1–0.3 ms: a sealed boot made about 85 of them
 * in a row (docs/packaging.md, "Start-up"). The one asynchronous call, {@link fsyncDir}, is for the store, whose
 * event loop must keep serving while its storage syncs a folder.
 */
import { close, closeSync, fchmodSync, fsync, fsyncSync, mkdirSync, open, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from '../crypto.js';
import { SecretStoreError, describeCause } from '../errors.js';
import { pidAlive } from './process-alive.js';

// node:fs's callbacks, not node:fs/promises: this module is on the boot path (test/cli/boot-imports.test.ts).
const openAsync = promisify(open);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

/** Mode of files holding secrets. */
export const SECRET_FILE_MODE = 0o600;
/** Mode of folders holding secret files. */
export const SECRET_DIR_MODE = 0o700;

/** The temp-file prefix for `target`; leftovers from a crashed writer start with it. */
export function tempPrefix(target: string): string {
  return `.${basename(target)}.tmp-`;
}

/**
 * Makes sure `dir` exists. A missing folder is created 0700; an existing one that others can write to (without the
 * sticky bit) is refused, because anyone able to write there could swap our files.
 */
export function ensureSecretDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: SECRET_DIR_MODE });
    const info = statSync(dir);
    if (!info.isDirectory()) throw new SecretStoreError('IO', `${dir} is not a folder`);
    if ((info.mode & 0o002) !== 0 && (info.mode & 0o1000) === 0) {
      throw new SecretStoreError('UNSAFE_PERMISSIONS', `${dir} is writable by every user; chmod 700 it before keeping secrets there`);
    }
  } catch (err) {
    if (err instanceof SecretStoreError) throw err;
    throw new SecretStoreError('IO', `cannot create or use the folder ${dir} (${describeCause(err)})`, { cause: err });
  }
}

/** fsyncs a folder so a rename or unlink in it is durable. */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** {@link fsyncDirSync} through the thread pool: for the store, whose event loop keeps serving meanwhile. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

/**
 * Writes `data` to a fresh temp file next to `target` and fsyncs it; returns the temp path. Used directly when a
 * multi-file update must decide itself when to rename (edgex key file + salt).
 */
export function writeTempFile(target: string, data: Buffer, mode: number = SECRET_FILE_MODE): string {
  const dir = dirname(target);
  const tmp = join(dir, `${tempPrefix(target)}${process.pid}-${randomBytes(6).toString('hex')}`);
  let created = false;
  try {
    const fd = openSync(tmp, 'wx', mode);
    created = true;
    try {
      fchmodSync(fd, mode); // the umask may have narrowed it; make it exactly `mode`
      let offset = 0;
      while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return tmp;
  } catch (err) {
    if (created) unlinkQuietly(tmp);
    throw new SecretStoreError('IO', `cannot write ${target} (${describeCause(err)}); the previous file, if any, is unchanged`, { cause: err });
  }
}

/** Removes `path` when it is there; a failure (gone already, not ours) is left for the next cleanup. */
function unlinkQuietly(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Renames `from` over `to` in the same folder and fsyncs the folder. */
export function renameDurable(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot replace ${to} (${describeCause(err)})`, { cause: err });
  }
  try {
    fsyncDirSync(dirname(to));
  } catch (err) {
    // The rename happened: say so, so that no caller believes the old file is still in place.
    throw new SecretStoreError('IO', `${to} was replaced, but its folder could not be synced to disk (${describeCause(err)}); check the disk`, { cause: err });
  }
}

/** Removes `path` (absent is fine) and fsyncs its folder. */
export function removeDurable(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return;
    throw new SecretStoreError('IO', `cannot remove ${path} (${describeCause(err)})`, { cause: err });
  }
  try {
    fsyncDirSync(dirname(path));
  } catch (err) {
    throw new SecretStoreError('IO', `${path} was removed, but its folder could not be synced to disk (${describeCause(err)}); check the disk`, { cause: err });
  }
}

/** Runs a read; ENOENT gives undefined, any other failure an IO error saying what could not be done. */
function unlessMissing<T>(what: string, read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return undefined;
    throw new SecretStoreError('IO', `cannot ${what} (${describeCause(err)})`, { cause: err });
  }
}

/** Reads a file, or undefined when it does not exist. */
export function readOptional(path: string): Buffer | undefined {
  return unlessMissing(`read ${path}`, () => readFileSync(path));
}

/** Reads a file, or undefined when it is absent or cannot be read (for best-effort checks). */
export function readIfReadable(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** True when `path` exists. */
export function exists(path: string): boolean {
  return unlessMissing(`check ${path}`, () => statSync(path)) !== undefined;
}

/**
 * Atomically and durably replaces `path` with `data` (file mode `mode`, default 0600; the folder is created 0700).
 * `verify`, when given, receives the bytes read back from the synced temp file and throws to abort: the target is
 * then left untouched.
 */
export function writeFileAtomic(path: string, data: Buffer, mode: number = SECRET_FILE_MODE, verify?: (written: Buffer) => void): void {
  ensureSecretDir(dirname(path));
  const tmp = writeTempFile(path, data, mode);
  try {
    if (verify !== undefined) {
      const written = readFileSync(tmp);
      try {
        verify(written);
      } finally {
        written.fill(0); // it may hold plaintext shares (keys decrypt)
      }
    }
    renameDurable(tmp, path);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}

/** True when `name` is a temp file {@link writeTempFile} makes for `target` (`.<name>.tmp-<pid>-<12 hex>`), and nothing else. */
export function isTempOf(name: string, target: string): boolean {
  const prefix = tempPrefix(target);
  return name.startsWith(prefix) && /^[0-9]{1,10}-[0-9a-f]{12}$/.test(name.slice(prefix.length));
}

/** Paths of the temp files a writer of `target` left (exact name pattern: never anyone else's file). */
export function listTemps(target: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return [];
  }
  return names.filter((name) => isTempOf(name, target)).map((name) => join(dirname(target), name));
}

/**
 * Removes the temp files a crashed writer left next to `target` (call under the lock that serializes the writers of
 * `target`: then none of them is in use); returns how many were removed.
 */
export function removeStaleTemps(target: string): number {
  let removed = 0;
  for (const path of listTemps(target)) if (unlinkQuietly(path)) removed++;
  return removed;
}

/**
 * Removes the temp files that writers of `target` which are no longer running left behind (the pid is in each temp
 * file's name), and keeps those of live writers: for writers that take no lock (`protect`, `unprotect`), where a
 * concurrent writer's temp file may be in use. A pid reused since only keeps a leftover, never removes a live one.
 */
export function removeDeadWritersTemps(target: string): number {
  let removed = 0;
  for (const path of listTemps(target)) {
    const pid = Number(basename(path).slice(tempPrefix(target).length).split('-')[0]);
    if (pid === process.pid || pidAlive(pid)) continue;
    if (unlinkQuietly(path)) removed++;
  }
  return removed;
}
