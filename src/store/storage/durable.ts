/**
 * The store's durable physical backend: the append-only log ({@link LogStorage}), chosen by measurement over one
 * file per entry (see docs/store-internals.md and bench/storage.bench.ts), guarded by a lock file so two
 * processes never append to the same log.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretStoreError, isSecretStoreError } from '../../errors.js';
import { acquireFileLock } from '../../keyfile/lock.js';
import { ensurePrivateDir } from './fs-durable.js';
import { LogStorage } from './log-storage.js';
import type { Storage } from './storage.js';

/** Name of the lock file inside the data folder (JSON: the owner's pid, process start time and boot id). */
export const LOCK_FILE = 'LOCK';
/** Reported by the store as `storage_type`. */
export const DURABLE_STORAGE_TYPE = 'file';

/**
 * Takes the folder's lock for as long as the store is open, failing at once when a live process holds it. The
 * project's lock file (keyfile/lock.ts) records pid, process start time and boot id, so a lock left by a process
 * that died — including one from before a power cut whose pid now belongs to another program — is taken over,
 * and two processes breaking the same stale lock cannot both win. Taken with `acquireFileLock`, not `withFileLock`:
 * the server runs for as long as the lock is held, and inside `withFileLock`'s AsyncLocalStorage context every
 * promise of every request would pay for Node's promise hooks. Returns the release function.
 */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  try {
    const lock = await acquireFileLock(path, { timeoutMs: 0 });
    return () => lock.release();
  } catch (err) {
    if (!isSecretStoreError(err, 'KEYFILE_LOCKED')) throw err;
    const owner = /"pid":(\d+)/.exec(await readFile(path, 'utf8').catch(() => ''))?.[1];
    const who = owner === undefined ? 'another process' : `process ${owner}`;
    throw new SecretStoreError('STORE_LOCKED', `the data folder ${dir} is in use by ${who}; stop it or use another --data folder`, { cause: err });
  }
}

/**
 * Opens the durable store in `dir` (created 0700): a write acknowledged by `put`/`delete` survives kill -9 and
 * power loss, and a crash at any point leaves each entry wholly old or wholly new. `close()` flushes and unlocks.
 */
export async function openDurableStorage(dir: string): Promise<Storage & { close(): Promise<void> }> {
  await ensurePrivateDir(dir);
  const unlock = await acquireLock(dir);
  let log: LogStorage;
  try {
    log = await LogStorage.open(dir);
  } catch (err) {
    await unlock();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    get: (key) => log.get(key),
    put: (key, value) => log.put(key, value),
    delete: (key) => log.delete(key),
    list: (prefix) => log.list(prefix),
    writeOrdered: (ops) => log.writeOrdered(ops),
    // Idempotent: a second close must not remove a lock another process has taken since.
    close: () =>
      (closing ??= (async () => {
        try {
          await log.close();
        } finally {
          await unlock();
        }
      })()),
  };
}
