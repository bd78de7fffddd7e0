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
import { listChildren, type Storage, type StorageOp } from './storage.js';

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

/** Longest key a record may carry (the storage refuses longer keys): a header announcing more is damage. */
const MAX_KEY_BYTES = 65_535;
/** Longest value a record may carry: far above Vault's 32 MiB request limit; a header announcing more is damage. */
const MAX_VALUE_BYTES = 256 * 1024 * 1024;

/** Result of replaying a log image. */
export interface Replay {
  entries: Map<string, Buffer>;
  /** Offset after the last whole record; bytes past it are a torn tail. */
  validLength: number;
}

/** Length of the whole, checksum-valid record starting at `off`, or `undefined` when there is none. */
function recordLengthAt(bytes: Buffer, off: number): number | undefined {
  if (bytes.length - off < HEADER + CHECKSUM) return undefined;
  if (bytes[off] !== MAGIC || (bytes[off + 1] !== OP_PUT && bytes[off + 1] !== OP_DELETE)) return undefined;
  const keyLen = bytes.readUInt32BE(off + 2);
  const valueLen = bytes.readUInt32BE(off + 6);
  if (keyLen === 0 || keyLen > MAX_KEY_BYTES || valueLen > MAX_VALUE_BYTES) return undefined;
  const total = HEADER + keyLen + valueLen + CHECKSUM;
  if (total > bytes.length - off) return undefined;
  const sum = sha256(bytes.subarray(off, off + total - CHECKSUM)).subarray(0, CHECKSUM);
  return sum.equals(bytes.subarray(off + total - CHECKSUM, off + total)) ? total : undefined;
}

/** Whether a whole, checksum-valid record starts anywhere at or after `from` (only candidates with a header are hashed). */
function anyRecordFrom(bytes: Buffer, from: number): boolean {
  for (let i = bytes.indexOf(MAGIC, from); i !== -1; i = bytes.indexOf(MAGIC, i + 1)) {
    if (recordLengthAt(bytes, i) !== undefined) return true;
  }
  return false;
}

/**
 * Replays a log image. Where the bytes stop being a whole record, they are accepted as a torn tail (a crash
 * mid-append: cut off at open) only when no whole record follows anywhere after that point — a crash can only
 * tear the LAST append. Anything else (a damaged length, header or body with records after it) is corruption and
 * throws STORE_CORRUPT: later entries are never silently dropped.
 */
export function replayLog(bytes: Buffer): Replay {
  const entries = new Map<string, Buffer>();
  let off = 0;
  while (off < bytes.length) {
    const total = recordLengthAt(bytes, off);
    if (total === undefined) {
      if (anyRecordFrom(bytes, off + 1)) throw logCorrupt(off, bytes.length);
      return { entries, validLength: off };
    }
    const keyLen = bytes.readUInt32BE(off + 2);
    const key = bytes.subarray(off + HEADER, off + HEADER + keyLen).toString('utf8');
    if (bytes[off + 1] === OP_PUT) entries.set(key, Buffer.from(bytes.subarray(off + HEADER + keyLen, off + total - CHECKSUM)));
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

function logCorrupt(offset: number, size: number): SecretStoreError {
  return new SecretStoreError(
    'STORE_CORRUPT',
    `${LOG_FILE} is damaged at byte ${offset} of ${size}, before its last record; the store will not start on it — restore the data folder from a backup`,
  );
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
  /** Set when the log's tail could not be repaired after a failed append: every later write fails with it. */
  private broken: SecretStoreError | undefined;
  /** A compaction renamed the log but the folder fsync failed: the next batch must fsync the folder first. */
  private dirSyncPending = false;
  /** No compaction is attempted below this size (raised after a failed compaction, so it is not retried per batch). */
  private compactAt = COMPACT_MIN_BYTES;
  /** Bytes of a torn tail cut off at open (0 when the log ended cleanly); the caller may log it. */
  readonly tornTailBytes: number;

  private constructor(dir: string, handle: FileHandle, replay: Replay, tornTailBytes: number) {
    this.dir = dir;
    this.handle = handle;
    this.entries = replay.entries;
    this.size = replay.validLength;
    this.tornTailBytes = tornTailBytes;
    for (const [k, v] of this.entries) this.liveBytes += HEADER + Buffer.byteLength(k) + v.length + CHECKSUM;
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
      const torn = bytes.length - replay.validLength;
      if (torn > 0) {
        await keepTornTail(dir, bytes.subarray(replay.validLength));
        await handle.truncate(replay.validLength);
        await handle.sync();
      }
      await fsyncDir(dir);
      return new LogStorage(dir, handle, replay, torn);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get(key: string): Promise<Buffer | undefined> {
    return settle(() => {
      this.assertOpen();
      // No key check: a key that could never be stored (a 200 KB name from a request body) is simply absent — a
      // lookup is not a write, and refusing it would turn a client's odd name into a 500.
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

  /**
   * Appends the records of `ops` together, in order, as one queued unit: they go out in one write and one
   * fdatasync (with whatever else is queued), and a crash mid-append leaves a prefix of them (replay cuts a torn
   * tail at the first incomplete record). Applied to the in-memory index, in order, only after the sync.
   */
  writeOrdered(ops: readonly StorageOp[]): Promise<void> {
    return settle(() => {
      this.assertOpen();
      if (ops.length === 0) return undefined;
      const encoded = ops.map(([key, value]) => {
        const keyBytes = assertStorageKey(key);
        const copy = value === undefined ? undefined : Buffer.from(value);
        return { key, keyBytes, copy, record: encodeRecord(copy === undefined ? OP_DELETE : OP_PUT, keyBytes, copy ?? Buffer.alloc(0)) };
      });
      return this.enqueue(Buffer.concat(encoded.map((e) => e.record)), () => {
        for (const { key, keyBytes, copy } of encoded) {
          const old = this.entries.get(key);
          if (old !== undefined) this.liveBytes -= HEADER + keyBytes.length + old.length + CHECKSUM;
          if (copy === undefined) {
            this.entries.delete(key);
          } else {
            this.entries.set(key, copy);
            this.liveBytes += HEADER + keyBytes.length + copy.length + CHECKSUM;
          }
        }
      });
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
    if (this.broken !== undefined) return Promise.reject(this.broken);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, apply, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /**
   * Writes every queued record with one write + one fdatasync, then acknowledges them; repeats while more arrive.
   * Never rejects: a failed batch rejects its own writers, a failed compaction is skipped.
   */
  private async flushLoop(): Promise<void> {
    // Yield first: the caller assigns `flushing` only after this returns its promise, so a loop that finished
    // synchronously would clear `flushing` before it was set and leave a settled promise there forever.
    await Promise.resolve();
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        if (this.broken !== undefined) {
          for (const p of batch) p.reject(this.broken);
          continue;
        }
        const data = Buffer.concat(batch.map((p) => p.record));
        try {
          await this.append(data);
        } catch (err) {
          const e = new SecretStoreError('IO', `cannot append to ${LOG_FILE} (${describeCause(err)}); check disk space`, { cause: err });
          // The tail may now hold part of this batch: cut it so the next append does not follow garbage (which
          // would make every record after it unreadable at the next open). If even that fails, stop writing.
          try {
            await this.handle.truncate(this.size);
          } catch (truncateErr) {
            this.broken = new SecretStoreError(
              'IO',
              `${LOG_FILE} could not be repaired after a failed append (${describeCause(truncateErr)}); writes are refused — free disk space and restart the store`,
              { cause: truncateErr },
            );
          }
          for (const p of batch) p.reject(e);
          continue;
        }
        this.size += data.length;
        // Apply in order only after the sync: a read never sees a value that a crash could still lose.
        for (const p of batch) p.apply();
        for (const p of batch) p.resolve();
        if (this.size >= this.compactAt && this.size > 2 * this.liveBytes) await this.compact();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Appends `data` at the end of the log and makes it durable; a short write is a failure (libuv reports ENOSPC part-way as one). */
  private async append(data: Buffer): Promise<void> {
    if (this.dirSyncPending) {
      await fsyncDir(this.dir);
      this.dirSyncPending = false;
    }
    const { bytesWritten } = await this.handle.write(data, 0, data.length, this.size);
    if (bytesWritten !== data.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    await this.handle.datasync();
  }

  /**
   * Rewrites the log with only live entries (runs inside the flush loop, so no append interleaves). Crash points:
   * before the rename only the temp file exists (removed at open); the rename is atomic; the handle written here
   * becomes the log's handle, so no reopen can fail after the rename. A failure before the rename skips compaction.
   */
  private async compact(): Promise<void> {
    const tmp = join(this.dir, COMPACT_TMP);
    const parts: Buffer[] = [];
    for (const [k, v] of this.entries) parts.push(encodeRecord(OP_PUT, Buffer.from(k, 'utf8'), v));
    const data = Buffer.concat(parts);
    let h: FileHandle | undefined;
    try {
      await rm(tmp, { force: true });
      h = await open(tmp, 'wx', 0o600);
      await h.writeFile(data);
      await h.sync();
      await rename(tmp, join(this.dir, LOG_FILE));
    } catch {
      await h?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      // Compaction only saves space: keep appending to the intact log, and retry after another few MiB.
      this.compactAt = this.size + COMPACT_MIN_BYTES;
      return;
    }
    const old = this.handle;
    this.handle = h;
    this.size = data.length;
    this.liveBytes = data.length;
    this.compactAt = COMPACT_MIN_BYTES;
    await old.close().catch(() => undefined);
    try {
      await fsyncDir(this.dir);
    } catch {
      this.dirSyncPending = true;
    }
  }
}

/**
 * Keeps the bytes of a torn tail beside the log (0600, named after the offset) before they are cut, so a wrong
 * "torn" judgement can never destroy data: an operator can inspect or restore them. Zeros (a size extension
 * whose data never reached the disk) are not worth keeping.
 */
async function keepTornTail(dir: string, tail: Buffer): Promise<void> {
  if (tail.every((b) => b === 0)) return;
  const h = await open(join(dir, `${LOG_FILE}.torn-${Date.now()}`), 'wx', 0o600);
  try {
    await h.writeFile(tail);
    await h.sync();
  } finally {
    await h.close();
  }
}
