/**
 * The store's durable physical backend: the append-only log ({@link LogStorage}), chosen by measurement over one
 * file per entry (see docs/store-internals.md and bench/storage.bench.ts), guarded by a lock file so two
 * processes never append to the same log.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretStoreError, describeCause } from '../../errors.js';
import { ensurePrivateDir } from './fs-durable.js';
import { LogStorage } from './log-storage.js';
import type { Storage } from './storage.js';

/** Name of the lock file inside the data folder (holds the owner's pid). */
export const LOCK_FILE = 'LOCK';
/** Reported by the store as `storage_type`. */
export const DURABLE_STORAGE_TYPE = 'file';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the folder's lock: creates LOCK exclusively, or takes over a lock whose owner process is gone. */
async function acquireLock(dir: string): Promise<string> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await open(path, 'wx', 0o600);
      try {
        await h.writeFile(`${process.pid}\n`);
        await h.sync();
      } finally {
        await h.close();
      }
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SecretStoreError('IO', `cannot create ${path} (${describeCause(err)}); check the data folder's permissions`, { cause: err });
      }
    }
    const owner = Number.parseInt((await readFile(path, 'utf8').catch(() => '')).trim(), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new SecretStoreError('STORE_LOCKED', `the data folder ${dir} is in use by process ${owner}; stop it or use another --data folder`);
    }
    // Stale lock (its owner crashed or was killed): remove it and retry once.
    await rm(path, { force: true });
  }
  throw new SecretStoreError('STORE_LOCKED', `cannot lock the data folder ${dir}; another process keeps taking it`);
}

/**
 * Opens the durable store in `dir` (created 0700): a write acknowledged by `put`/`delete` survives kill -9 and
 * power loss, and a crash at any point leaves each entry wholly old or wholly new. `close()` flushes and unlocks.
 */
export async function openDurableStorage(dir: string): Promise<Storage & { close(): Promise<void> }> {
  await ensurePrivateDir(dir);
  const lock = await acquireLock(dir);
  let log: LogStorage;
  try {
    log = await LogStorage.open(dir);
  } catch (err) {
    await rm(lock, { force: true });
    throw err;
  }
  return {
    get: (key) => log.get(key),
    put: (key, value) => log.put(key, value),
    delete: (key) => log.delete(key),
    list: (prefix) => log.list(prefix),
    close: async () => {
      await log.close();
      await rm(lock, { force: true });
    },
  };
}
