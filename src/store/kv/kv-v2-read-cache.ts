/**
 * Decoded KV v2 reads, kept per backend: a key's parsed metadata and its versions' parsed data, so a hot read does
 * no JSON parsing, no buffer copies and no timestamp formatting. The bytes stay cached (and wiped on seal) one layer
 * down in the {@link ReadCache}; this layer removes the decoding on top of it.
 *
 * Rules that keep it correct:
 * - Values are deep-frozen: readers share them (versions also as response data whose JSON text is kept, see
 *   shared-json.ts), and a reader that tried to change one would throw, not corrupt it.
 *   Writers never use them: they parse their own mutable copy.
 * - Every write of the backend invalidates its key before and after the write and bumps an epoch; a read fills the
 *   cache only if no write started or ended while it was reading, so a stale value is never stored after the write
 *   that replaced it.
 * - Bounded by keys and by the bytes the values were decoded from; large values are not cached at all.
 *
 * Plaintext held here is in JavaScript strings, which cannot be zeroed; references are dropped when the backend is
 * (on seal the whole logical layer is dropped), exactly as the strings a parse per request would leave behind.
 */
import type { JsonObject } from '../logical.js';
import type { KeyMeta } from './kv-v2-metadata.js';
import { deepFreeze, shareFrozen } from '../shared-json.js';

/** Most keys whose decoded reads one backend keeps. */
export const KV_READ_CACHE_KEYS = 1024;
/** Most source bytes (stored JSON) kept per backend. */
export const KV_READ_CACHE_BYTES = 4 * 1024 * 1024;
/** Values decoded from more bytes than this are served uncached. */
export const KV_READ_CACHE_MAX_VALUE = 64 * 1024;

/**
 * One version exactly as a `data/<key>` read returns it (the response's `data`): `data` and its `metadata` object
 * (created/deletion time, destroyed, version, custom metadata).
 */
export type CachedVersion = Readonly<JsonObject> & { readonly data: Readonly<JsonObject>; readonly metadata: Readonly<JsonObject> };

interface CachedKey {
  meta: KeyMeta;
  metaBytes: number;
  versions: Map<number, { value: CachedVersion; bytes: number }>;
}

/** The decoded-read cache of one KV v2 backend. */
export class KvReadCache {
  private readonly keys = new Map<string, CachedKey>();
  private bytes = 0;
  private epochValue = 0;
  private readonly maxKeys: number;
  private readonly maxBytes: number;

  constructor(maxKeys = KV_READ_CACHE_KEYS, maxBytes = KV_READ_CACHE_BYTES) {
    this.maxKeys = maxKeys;
    this.maxBytes = maxBytes;
  }

  /** The current write epoch: take it before reading storage, pass it back when filling. */
  get epoch(): number {
    return this.epochValue;
  }

  /** A key's frozen metadata, if cached (marks the key recently used). */
  meta(key: string): KeyMeta | undefined {
    const hit = this.keys.get(key);
    if (hit === undefined) return undefined;
    this.keys.delete(key);
    this.keys.set(key, hit);
    return hit.meta;
  }

  /** A version of a key, if cached together with the key's metadata. */
  version(key: string, n: number): CachedVersion | undefined {
    return this.keys.get(key)?.versions.get(n)?.value;
  }

  /** Stores a key's metadata (freezing it) read at `epoch`, unless a write happened since. */
  rememberMeta(key: string, meta: KeyMeta, bytes: number, epoch: number): KeyMeta {
    if (epoch !== this.epochValue || bytes > KV_READ_CACHE_MAX_VALUE || this.maxKeys === 0) return meta;
    this.drop(key);
    this.keys.set(key, { meta: deepFreeze(meta), metaBytes: bytes, versions: new Map() });
    this.bytes += bytes;
    this.evict();
    return meta;
  }

  /** Stores a version of a key whose metadata is cached, read at `epoch`, unless a write happened since. */
  rememberVersion(key: string, n: number, value: CachedVersion, bytes: number, epoch: number): void {
    const entry = this.keys.get(key);
    if (entry === undefined || epoch !== this.epochValue || bytes > KV_READ_CACHE_MAX_VALUE) return;
    if (entry.versions.has(n)) return;
    entry.versions.set(n, { value: shareFrozen(value), bytes });
    this.bytes += bytes;
    this.evict();
  }

  /** Forgets a key and bumps the epoch (call before and after every write touching it). */
  invalidate(key: string): void {
    this.epochValue++;
    this.drop(key);
  }

  /** Forgets everything and bumps the epoch. */
  clear(): void {
    this.epochValue++;
    this.keys.clear();
    this.bytes = 0;
  }

  /** Cached keys and source bytes (for tests). */
  get size(): { keys: number; bytes: number } {
    return { keys: this.keys.size, bytes: this.bytes };
  }

  private drop(key: string): void {
    const entry = this.keys.get(key);
    if (entry === undefined) return;
    this.keys.delete(key);
    this.bytes -= entry.metaBytes;
    for (const v of entry.versions.values()) this.bytes -= v.bytes;
  }

  private evict(): void {
    while (this.keys.size > this.maxKeys || this.bytes > this.maxBytes) {
      const oldest = this.keys.keys().next();
      if (oldest.done === true) break;
      this.drop(oldest.value);
    }
  }
}
