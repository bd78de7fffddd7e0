/**
 * Durable storage as an append-only log with group commit: every put/delete is a checksummed record appended to
 * `store.log`; concurrent writes are batched into one write + one fdatasync, and each is acknowledged only after
 * that sync. All live values are kept in memory (the store holds small encrypted entries). At open the log is
 * replayed; a torn record at the tail (a crash mid-append) is cut off, damage anywhere else fails closed. When
 * the log is mostly garbage it is compacted: snapshot to a temp file, fsync, rename over the log, fsync folder.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../../crypto.js';
import { SecretStoreError, describeCause } from '../../errors.js';
import { assertStorageKey, ensurePrivateDir, fsyncDir } from './fs-durable.js';
import { listChildren, type Storage } from './storage.js';

/** Name of the log file inside the data folder. */
export const LOG_FILE = 'store.log';
const COMPACT_TMP = 'store.log.compact.tmp';
const MAGIC = 0xa5;
const OP_PUT = 1;
const OP_DELETE = 2;
/** magic(1) ‖ op(1) ‖ keyLen(4) ‖ valueLen(4) */
const HEADER = 10;
/** First 16 bytes of SHA-256 over header ‖ key ‖ value. */
const CHECKSUM = 16;
/** Compact when the log exceeds this size and is more than twice the live data. */
const COMPACT_MIN_BYTES = 4 * 1024 * 1024;

/** One log record. */
export function encodeRecord(op: number, keyBytes: Buffer, value: Buffer): Buffer {
  const out = Buffer.alloc(HEADER + keyBytes.length + value.length + CHECKSUM);
  out[0] = MAGIC;
  out[1] = op;
  out.writeUInt32BE(keyBytes.length, 2);
  out.writeUInt32BE(value.length, 6);
  keyBytes.copy(out, HEADER);
  value.copy(out, HEADER + keyBytes.length);
  sha256(out.subarray(0, out.length - CHECKSUM)).copy(out, out.length - CHECKSUM, 0, CHECKSUM);
  return out;
}

/** Result of replaying a log image. */
export interface Replay {
  entries: Map<string, Buffer>;
  /** Offset after the last whole record; bytes past it are a torn tail. */
  validLength: number;
}

/**
 * Replays a log image. A damaged record is accepted as a torn tail only when nothing valid could follow it (it
 * runs to end of file, or the rest is zeros from a size extension whose data never reached the disk); anything
 * else is corruption and throws STORE_CORRUPT.
 */
export function replayLog(bytes: Buffer): Replay {
  const entries = new Map<string, Buffer>();
  let off = 0;
  while (off < bytes.length) {
    const rest = bytes.length - off;
    const torn = (): Replay => ({ entries, validLength: off });
    if (rest < HEADER) return torn();
    const keyLen = bytes.readUInt32BE(off + 2);
    const valueLen = bytes.readUInt32BE(off + 6);
    const total = HEADER + keyLen + valueLen + CHECKSUM;
    const headerOk = bytes[off] === MAGIC && (bytes[off + 1] === OP_PUT || bytes[off + 1] === OP_DELETE);
    if (!headerOk) {
      if (bytes.subarray(off).every((b) => b === 0)) return torn();
      throw logCorrupt();
    }
    if (total > rest) return torn();
    const body = bytes.subarray(off, off + total - CHECKSUM);
    if (!sha256(body).subarray(0, CHECKSUM).equals(bytes.subarray(off + total - CHECKSUM, off + total))) {
      if (off + total === bytes.length || bytes.subarray(off + total).every((b) => b === 0)) return torn();
      throw logCorrupt();
    }
    const key = bytes.subarray(off + HEADER, off + HEADER + keyLen).toString('utf8');
    if (bytes[off + 1] === OP_PUT) entries.set(key, Buffer.from(bytes.subarray(off + HEADER + keyLen, off + HEADER + keyLen + valueLen)));
    else entries.delete(key);
    off += total;
  }
  return { entries, validLength: off };
}

/** Runs `fn` so that a synchronous throw becomes a rejection (callers only ever see promises fail). */
function settle<T>(fn: () => T | PromiseLike<T>): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(fn());
  });
}

function logCorrupt(): SecretStoreError {
  return new SecretStoreError('STORE_CORRUPT', `${LOG_FILE} is damaged before its end; restore the data folder from a backup`);
}

interface Pending {
  record: Buffer;
  apply: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Append-only log storage with group commit and compaction. Open with {@link LogStorage.open}. */
export class LogStorage implements Storage {
  private readonly dir: string;
  private readonly entries: Map<string, Buffer>;
  private handle: FileHandle;
  private size: number;
  private liveBytes = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  private constructor(dir: string, handle: FileHandle, entries: Map<string, Buffer>, size: number) {
    this.dir = dir;
    this.handle = handle;
    this.entries = entries;
    this.size = size;
    for (const [k, v] of entries) this.liveBytes += HEADER + Buffer.byteLength(k) + v.length + CHECKSUM;
  }

  /** Opens (creating 0700) `dir`, replays the log, cuts a torn tail, and finishes or discards a compaction. */
  static async open(dir: string): Promise<LogStorage> {
    await ensurePrivateDir(dir);
    // A compaction that crashed before its rename left only a temp file: the log itself is intact.
    await rm(join(dir, COMPACT_TMP), { force: true });
    const path = join(dir, LOG_FILE);
    let handle: FileHandle;
    try {
      handle = await open(path, 'a+', 0o600);
    } catch (err) {
      throw new SecretStoreError('IO', `cannot open ${path} (${describeCause(err)}); check the data folder's permissions`, { cause: err });
    }
    try {
      // The mode above applies only on creation: tighten a log that was copied in with looser permissions.
      await handle.chmod(0o600);
      const bytes = await handle.readFile();
      const replay = replayLog(bytes);
      if (replay.validLength !== bytes.length) {
        await handle.truncate(replay.validLength);
        await handle.sync();
      }
      await fsyncDir(dir);
      return new LogStorage(dir, handle, replay.entries, replay.validLength);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get(key: string): Promise<Buffer | undefined> {
    return settle(() => {
      this.assertOpen();
      assertStorageKey(key);
      const v = this.entries.get(key);
      return v === undefined ? undefined : Buffer.from(v);
    });
  }

  put(key: string, value: Buffer): Promise<void> {
    return settle(() => {
      this.assertOpen();
      const keyBytes = assertStorageKey(key);
      const copy = Buffer.from(value);
      return this.enqueue(encodeRecord(OP_PUT, keyBytes, copy), () => {
        const old = this.entries.get(key);
        if (old !== undefined) this.liveBytes -= HEADER + keyBytes.length + old.length + CHECKSUM;
        this.entries.set(key, copy);
        this.liveBytes += HEADER + keyBytes.length + copy.length + CHECKSUM;
      });
    });
  }

  delete(key: string): Promise<void> {
    return settle(() => {
      this.assertOpen();
      const keyBytes = assertStorageKey(key);
      // Nothing to delete and no write in flight that could create it: skip the fsync.
      if (!this.entries.has(key) && this.flushing === undefined) return undefined;
      return this.enqueue(encodeRecord(OP_DELETE, keyBytes, Buffer.alloc(0)), () => {
        const old = this.entries.get(key);
        if (old !== undefined) this.liveBytes -= HEADER + keyBytes.length + old.length + CHECKSUM;
        this.entries.delete(key);
      });
    });
  }

  list(prefix: string): Promise<string[]> {
    return settle(() => {
      this.assertOpen();
      return listChildren(this.entries.keys(), prefix);
    });
  }

  /** Flushes pending writes and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing !== undefined) await this.flushing;
    await this.handle.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new SecretStoreError('INTERNAL', 'storage is closed');
  }

  private enqueue(record: Buffer, apply: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, apply, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /** Writes every queued record with one write + one fdatasync, then acknowledges them; repeats while more arrive. */
  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const data = Buffer.concat(batch.map((p) => p.record));
        try {
          await this.handle.write(data, 0, data.length, null);
          await this.handle.datasync();
        } catch (err) {
          // The tail may now hold part of this batch: cut it so the next append does not follow garbage.
          await this.handle.truncate(this.size).catch(() => undefined);
          const e = new SecretStoreError('IO', `cannot append to ${LOG_FILE} (${describeCause(err)}); check disk space`, { cause: err });
          for (const p of batch) p.reject(e);
          continue;
        }
        this.size += data.length;
        // Apply in order only after the sync: a read never sees a value that a crash could still lose.
        for (const p of batch) p.apply();
        for (const p of batch) p.resolve();
        if (this.size > COMPACT_MIN_BYTES && this.size > 2 * this.liveBytes) await this.compact();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Rewrites the log with only live entries (runs inside the flush loop, so no append interleaves). */
  private async compact(): Promise<void> {
    const tmp = join(this.dir, COMPACT_TMP);
    const parts: Buffer[] = [];
    for (const [k, v] of this.entries) parts.push(encodeRecord(OP_PUT, Buffer.from(k, 'utf8'), v));
    const data = Buffer.concat(parts);
    const h = await open(tmp, 'w', 0o600);
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, join(this.dir, LOG_FILE));
    await fsyncDir(this.dir);
    const old = this.handle;
    this.handle = await open(join(this.dir, LOG_FILE), 'a+', 0o600);
    await old.close();
    this.size = data.length;
    this.liveBytes = data.length;
  }
}
