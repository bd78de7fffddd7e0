/**
 * A bounded cache of decrypted entries, a {@link Storage} the server puts between the barrier and the logical layer
 * while the store is unsealed. Every read through the barrier costs an AES-256-GCM decrypt plus a copy out of the
 * physical backend; a KV v2 read needs two (the key's metadata and the version), so repeated reads of the same
 * secrets are served from memory instead.
 *
 * Rules that keep it safe:
 * - Bounded by entry count and by bytes; least recently used entries go first; values larger than a fraction of
 *   the byte budget are never cached.
 * - A put or delete drops the key before and after the write, and a read that overlapped any write does not fill
 *   the cache (a write epoch), so a stale value can never be stored after the write that replaced it.
 * - Values are handed out as copies (callers may wipe or mutate theirs) and stored as private copies.
 * - {@link wipe} (on seal) zeroes every cached plaintext and turns the cache into a pass-through for good: requests
 *   still in flight on the old logical layer then reach the sealed barrier, which answers 503.
 * - Only this process writes through it: every writer of logical data must go through the same instance (the
 *   server builds one per unseal and hands it to the whole logical layer).
 */
import { wipe } from '../crypto.js';
import { writeInOrder, type Storage, type StorageOp } from './storage/storage.js';

/** Limits of a {@link ReadCache}. */
export interface ReadCacheLimits {
  /** Most entries kept (default 4096). */
  maxEntries?: number;
  /** Most plaintext bytes kept, keys included (default 16 MiB). */
  maxBytes?: number;
}

/** Default entry bound: enough for every token, policy and secret of an edge node's services. */
export const DEFAULT_READ_CACHE_ENTRIES = 4096;
/** Default byte bound. */
export const DEFAULT_READ_CACHE_BYTES = 16 * 1024 * 1024;

/** Counters, for tests and the benchmark. */
export interface ReadCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/** A read-through, write-invalidated cache of another {@link Storage}'s values. */
export class ReadCache implements Storage {
  private readonly inner: Storage;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  /** Map iteration order is insertion order: re-inserting on a hit makes the first key the least recently used. */
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;
  /** Bumped at the start and the end of every write: a read that saw it change must not fill the cache. */
  private epoch = 0;
  private wiped = false;
  private hits = 0;
  private misses = 0;

  constructor(inner: Storage, limits: ReadCacheLimits = {}) {
    this.inner = inner;
    this.maxEntries = limits.maxEntries ?? DEFAULT_READ_CACHE_ENTRIES;
    this.maxBytes = limits.maxBytes ?? DEFAULT_READ_CACHE_BYTES;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 0) throw new RangeError('maxEntries must be a non-negative integer');
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 0) throw new RangeError('maxBytes must be a non-negative integer');
  }

  async get(key: string): Promise<Buffer | undefined> {
    const hit = this.wiped ? undefined : this.entries.get(key);
    if (hit !== undefined) {
      this.hits++;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return Buffer.from(hit);
    }
    this.misses++;
    const epoch = this.epoch;
    const value = await this.inner.get(key);
    if (value !== undefined && !this.wiped && epoch === this.epoch) this.remember(key, value);
    return value;
  }

  async put(key: string, value: Buffer): Promise<void> {
    this.forget(key);
    try {
      await this.inner.put(key, value);
    } finally {
      this.forget(key);
    }
  }

  async delete(key: string): Promise<void> {
    this.forget(key);
    try {
      await this.inner.delete(key);
    } finally {
      this.forget(key);
    }
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  async writeOrdered(ops: readonly StorageOp[]): Promise<void> {
    for (const [key] of ops) this.forget(key);
    try {
      await writeInOrder(this.inner, ops);
    } finally {
      for (const [key] of ops) this.forget(key);
    }
  }

  /** Zeroes and drops every cached value and stops caching for good (call on seal). */
  wipe(): void {
    this.wiped = true;
    this.epoch++;
    for (const v of this.entries.values()) wipe(v);
    this.entries.clear();
    this.bytes = 0;
  }

  /** Hit/miss counters and the current size. */
  stats(): ReadCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size, bytes: this.bytes };
  }

  private cost(key: string, value: Buffer): number {
    return key.length * 2 + value.length;
  }

  private remember(key: string, value: Buffer): void {
    const cost = this.cost(key, value);
    // One big value must not push out everything else.
    if (this.maxEntries === 0 || cost > this.maxBytes / 8) return;
    this.drop(key);
    this.entries.set(key, Buffer.from(value));
    this.bytes += cost;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.drop(oldest.value);
    }
  }

  private forget(key: string): void {
    this.epoch++;
    this.drop(key);
  }

  private drop(key: string): void {
    const v = this.entries.get(key);
    if (v === undefined) return;
    this.entries.delete(key);
    this.bytes -= this.cost(key, v);
    wipe(v);
  }
}
