/**
 * Durable storage with one file per entry. A put writes `<name>.<random>.tmp` (O_EXCL, 0600), fsyncs it, renames
 * it over `<name>` and fsyncs the folder; rename is atomic, so after a crash each entry is wholly old or wholly
 * new. File names are the SHA-256 of the key in hex: any key Vault allows is safe and no key can name a path
 * outside the folder. The key is stored inside the file (with a checksum) and an in-memory index of keys,
 * rebuilt at open, serves `list`.
 */
import { open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, sha256 } from '../../crypto.js';
import { SecretStoreError, describeCause } from '../../errors.js';
import { assertStorageKey, DirSyncer, ensurePrivateDir, fsyncDir } from './fs-durable.js';
import { listChildren, type Storage } from './storage.js';

const MAGIC = Buffer.from('SSF1', 'ascii');
const HEADER = MAGIC.length + 4 + 4;
const CHECKSUM = 32;
const ENTRY_NAME = /^[0-9a-f]{64}$/;

/** Serializes `key` and `value` as `SSF1 ‖ keyLen(4) ‖ valueLen(4) ‖ key ‖ value ‖ sha256(all before)`. */
export function encodeEntryFile(keyBytes: Buffer, value: Buffer): Buffer {
  const out = Buffer.alloc(HEADER + keyBytes.length + value.length + CHECKSUM);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(keyBytes.length, 4);
  out.writeUInt32BE(value.length, 8);
  keyBytes.copy(out, HEADER);
  value.copy(out, HEADER + keyBytes.length);
  sha256(out.subarray(0, out.length - CHECKSUM)).copy(out, out.length - CHECKSUM);
  return out;
}

/** Parses {@link encodeEntryFile}'s output; `undefined` when malformed or the checksum fails. */
export function decodeEntryFile(bytes: Buffer): { key: string; value: Buffer } | undefined {
  if (bytes.length < HEADER + CHECKSUM || !bytes.subarray(0, 4).equals(MAGIC)) return undefined;
  const keyLen = bytes.readUInt32BE(4);
  const valueLen = bytes.readUInt32BE(8);
  if (HEADER + keyLen + valueLen + CHECKSUM !== bytes.length) return undefined;
  const body = bytes.subarray(0, bytes.length - CHECKSUM);
  if (!sha256(body).equals(bytes.subarray(bytes.length - CHECKSUM))) return undefined;
  return {
    key: bytes.subarray(HEADER, HEADER + keyLen).toString('utf8'),
    value: Buffer.from(bytes.subarray(HEADER + keyLen, HEADER + keyLen + valueLen)),
  };
}

function corrupt(file: string): SecretStoreError {
  return new SecretStoreError('STORE_CORRUPT', `data file ${file} is damaged (bad checksum); restore the data folder from a backup`);
}

/** One file per entry, atomic rename + fsync of file and folder. Open with {@link FileStorage.open}. */
export class FileStorage implements Storage {
  private readonly dir: string;
  private readonly index = new Set<string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly dirSync: DirSyncer;
  private closed = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.dirSync = new DirSyncer(dir);
  }

  /** Opens (creating 0700) `dir`, removes temp files left by a crash, and indexes every entry. */
  static async open(dir: string): Promise<FileStorage> {
    await ensurePrivateDir(dir);
    const fsStore = new FileStorage(dir);
    let removed = false;
    for (const name of await readdir(dir)) {
      if (name.endsWith('.tmp')) {
        await rm(join(dir, name), { force: true });
        removed = true;
        continue;
      }
      if (!ENTRY_NAME.test(name)) continue;
      const entry = decodeEntryFile(await readFile(join(dir, name)));
      if (entry === undefined || FileStorage.fileName(entry.key) !== name) throw corrupt(name);
      fsStore.index.add(entry.key);
    }
    if (removed) await fsyncDir(dir);
    return fsStore;
  }

  /** The file name of `key`: SHA-256 of its UTF-8 bytes, hex. */
  static fileName(key: string): string {
    return sha256(Buffer.from(key, 'utf8')).toString('hex');
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.assertOpen();
    assertStorageKey(key);
    if (!this.index.has(key)) return undefined;
    return this.withLock(key, async () => {
      const name = FileStorage.fileName(key);
      let bytes: Buffer;
      try {
        bytes = await readFile(join(this.dir, name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw ioError('read', err);
      }
      const entry = decodeEntryFile(bytes);
      if (entry?.key !== key) throw corrupt(name);
      return entry.value;
    });
  }

  async put(key: string, value: Buffer): Promise<void> {
    this.assertOpen();
    const keyBytes = assertStorageKey(key);
    await this.withLock(key, async () => {
      const name = FileStorage.fileName(key);
      const tmp = join(this.dir, `${name}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        const handle = await open(tmp, 'wx', 0o600);
        try {
          await handle.writeFile(encodeEntryFile(keyBytes, value));
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmp, join(this.dir, name));
      } catch (err) {
        await rm(tmp, { force: true });
        throw ioError('write', err);
      }
      this.index.add(key);
      await this.dirSync.sync();
    });
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    assertStorageKey(key);
    await this.withLock(key, async () => {
      try {
        await unlink(join(this.dir, FileStorage.fileName(key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          this.index.delete(key);
          return;
        }
        throw ioError('delete', err);
      }
      this.index.delete(key);
      await this.dirSync.sync();
    });
  }

  async list(prefix: string): Promise<string[]> {
    await Promise.resolve();
    this.assertOpen();
    return listChildren(this.index, prefix);
  }

  /** Waits for in-flight operations, then refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.locks.values()]);
  }

  private assertOpen(): void {
    if (this.closed) throw new SecretStoreError('INTERNAL', 'storage is closed');
  }

  /** Runs `fn` after earlier operations on the same key, so a put and a delete never interleave their renames. */
  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return run;
  }
}

function ioError(op: string, err: unknown): SecretStoreError {
  if (err instanceof SecretStoreError) return err;
  return new SecretStoreError('IO', `cannot ${op} a data file (${describeCause(err)}); check disk space and permissions of the data folder`, {
    cause: err,
  });
}
