/**
 * Crash-safe file operations: replacement (write a temp file in the same folder (O_EXCL, 0600), fsync it, optionally
 * read it back and verify it, rename it over the target, fsync the folder — a crash at any point leaves the old file
 * or the new one, whole; Node's fs.writeFile truncates in place and never fsyncs — EdgeX defect 1), durable removal,
 * and reads that tell "absent" apart from "unreadable".
 */
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from '../crypto.js';
import { SecretStoreError, describeCause } from '../errors.js';
import { pidAlive } from './process-alive.js';

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
export async function ensureSecretDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: SECRET_DIR_MODE });
    const info = await stat(dir);
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
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` to a fresh temp file next to `target` and fsyncs it; returns the temp path. Used directly when a
 * multi-file update must decide itself when to rename (edgex key file + salt).
 */
export async function writeTempFile(target: string, data: Buffer, mode: number = SECRET_FILE_MODE): Promise<string> {
  const dir = dirname(target);
  const tmp = join(dir, `${tempPrefix(target)}${process.pid}-${randomBytes(6).toString('hex')}`);
  let created = false;
  try {
    const handle = await open(tmp, 'wx', mode);
    created = true;
    try {
      await handle.chmod(mode); // the umask may have narrowed it; make it exactly `mode`
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await handle.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    return tmp;
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw new SecretStoreError('IO', `cannot write ${target} (${describeCause(err)}); the previous file, if any, is unchanged`, { cause: err });
  }
}

/** Renames `from` over `to` in the same folder and fsyncs the folder. */
export async function renameDurable(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot replace ${to} (${describeCause(err)})`, { cause: err });
  }
  try {
    await fsyncDir(dirname(to));
  } catch (err) {
    // The rename happened: say so, so that no caller believes the old file is still in place.
    throw new SecretStoreError('IO', `${to} was replaced, but its folder could not be synced to disk (${describeCause(err)}); check the disk`, { cause: err });
  }
}

/** Removes `path` (absent is fine) and fsyncs its folder. */
export async function removeDurable(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return;
    throw new SecretStoreError('IO', `cannot remove ${path} (${describeCause(err)})`, { cause: err });
  }
  try {
    await fsyncDir(dirname(path));
  } catch (err) {
    throw new SecretStoreError('IO', `${path} was removed, but its folder could not be synced to disk (${describeCause(err)}); check the disk`, { cause: err });
  }
}

/** Runs a read; ENOENT gives undefined, any other failure an IO error saying what could not be done. */
async function unlessMissing<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return undefined;
    throw new SecretStoreError('IO', `cannot ${what} (${describeCause(err)})`, { cause: err });
  }
}

/** Reads a file, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<Buffer | undefined> {
  return unlessMissing(`read ${path}`, () => readFile(path));
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return (await unlessMissing(`check ${path}`, () => stat(path))) !== undefined;
}

/**
 * Atomically and durably replaces `path` with `data` (file mode `mode`, default 0600; the folder is created 0700).
 * `verify`, when given, receives the bytes read back from the synced temp file and throws to abort: the target is
 * then left untouched.
 */
export async function writeFileAtomic(path: string, data: Buffer, mode: number = SECRET_FILE_MODE, verify?: (written: Buffer) => void): Promise<void> {
  await ensureSecretDir(dirname(path));
  const tmp = await writeTempFile(path, data, mode);
  try {
    if (verify !== undefined) {
      const written = await readFile(tmp);
      try {
        verify(written);
      } finally {
        written.fill(0); // it may hold plaintext shares (keys decrypt)
      }
    }
    await renameDurable(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** True when `name` is a temp file {@link writeTempFile} makes for `target` (`.<name>.tmp-<pid>-<12 hex>`), and nothing else. */
export function isTempOf(name: string, target: string): boolean {
  const prefix = tempPrefix(target);
  return name.startsWith(prefix) && /^[0-9]{1,10}-[0-9a-f]{12}$/.test(name.slice(prefix.length));
}

/** Paths of the temp files a writer of `target` left (exact name pattern: never anyone else's file). */
export async function listTemps(target: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return [];
  }
  return names.filter((name) => isTempOf(name, target)).map((name) => join(dirname(target), name));
}

/**
 * Removes the temp files a crashed writer left next to `target` (call under the lock that serializes the writers of
 * `target`: then none of them is in use); returns how many were removed.
 */
export async function removeStaleTemps(target: string): Promise<number> {
  let removed = 0;
  for (const path of await listTemps(target)) {
    try {
      await unlink(path);
      removed++;
    } catch {
      // gone already, or not ours to remove: leave it
    }
  }
  return removed;
}

/**
 * Removes the temp files that writers of `target` which are no longer running left behind (the pid is in each temp
 * file's name), and keeps those of live writers: for writers that take no lock (`protect`, `unprotect`), where a
 * concurrent writer's temp file may be in use. A pid reused since only keeps a leftover, never removes a live one.
 */
export async function removeDeadWritersTemps(target: string): Promise<number> {
  let removed = 0;
  for (const path of await listTemps(target)) {
    const pid = Number(basename(path).slice(tempPrefix(target).length).split('-')[0]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      await unlink(path);
      removed++;
    } catch {
      // gone already, or not ours to remove: leave it
    }
  }
  return removed;
}
