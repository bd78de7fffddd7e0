/**
 * The key-value contract shared by the embedded store's layers. The physical backend implements it over the disk
 * (opaque bytes, already encrypted by the barrier); the barrier implements it again over the physical backend with
 * every value encrypted (AAD = key). Logical backends (tokens, policies, mounts, KV) are written against this
 * interface only, so they can be tested over {@link MemoryStorage} and run over the barrier.
 */

/** An ordered key-value store with `/`-separated keys. */
export interface Storage {
  /** The value at `key`, or `undefined` when absent. */
  get(key: string): Promise<Buffer | undefined>;
  /** Writes `value` at `key`; durable once the promise resolves (for physical backends). */
  put(key: string, value: Buffer): Promise<void>;
  /** Removes `key`; removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * The direct children of `prefix` (which is empty or ends with `/`), sorted: leaf names as they are, and each
   * deeper "folder" once with a trailing `/` (Vault's List semantics).
   */
  list(prefix: string): Promise<string[]>;
  /**
   * Optional: applies `ops` (a value to put, or `undefined` to delete) in order with ONE durability wait, and
   * resolves once all of them are durable. After a crash a prefix of `ops` is applied, never a later one without
   * every earlier one, exactly as when each was awaited in turn; a reader sees them only once all are durable. An
   * engine that cannot do better leaves it out, and {@link writeInOrder} awaits each in turn instead.
   */
  writeOrdered?(ops: readonly StorageOp[]): Promise<void>;
}

/** One write of {@link Storage.writeOrdered}: `[key, value]` puts, `[key, undefined]` deletes. */
export type StorageOp = readonly [key: string, value: Buffer | undefined];

/**
 * Writes `ops` in order through `storage`: in one durability wait when it offers {@link Storage.writeOrdered} (so a
 * KV v2 write — the version, then the metadata that makes it current, then pruned versions — costs one fsync, not
 * three), else one write after the other. The crash guarantee is the same either way: a prefix of `ops`.
 */
export async function writeInOrder(storage: Storage, ops: readonly StorageOp[]): Promise<void> {
  if (storage.writeOrdered !== undefined) {
    await storage.writeOrdered(ops);
    return;
  }
  for (const [key, value] of ops) {
    if (value === undefined) await storage.delete(key);
    else await storage.put(key, value);
  }
}

/** An in-memory {@link Storage}, for unit tests of the logical layers and for nothing durable. */
export class MemoryStorage implements Storage {
  private readonly entries = new Map<string, Buffer>();

  get(key: string): Promise<Buffer | undefined> {
    const v = this.entries.get(key);
    return Promise.resolve(v === undefined ? undefined : Buffer.from(v));
  }

  put(key: string, value: Buffer): Promise<void> {
    this.entries.set(key, Buffer.from(value));
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.entries.delete(key);
    return Promise.resolve();
  }

  list(prefix: string): Promise<string[]> {
    return Promise.resolve(listChildren(this.entries.keys(), prefix));
  }

  writeOrdered(ops: readonly StorageOp[]): Promise<void> {
    for (const [key, value] of ops) {
      if (value === undefined) this.entries.delete(key);
      else this.entries.set(key, Buffer.from(value));
    }
    return Promise.resolve();
  }
}

/** Vault's List semantics over a set of keys: direct children of `prefix`, folders once with a trailing `/`, sorted. */
export function listChildren(keys: Iterable<string>, prefix: string): string[] {
  const out = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    if (rest === '') continue;
    const slash = rest.indexOf('/');
    out.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...out].sort();
}

/** A view of another {@link Storage} with every key under `prefix` (which ends with `/`): a mount's own namespace. */
export class PrefixedStorage implements Storage {
  private readonly inner: Storage;
  private readonly prefix: string;

  constructor(inner: Storage, prefix: string) {
    this.inner = inner;
    this.prefix = prefix;
    if (!prefix.endsWith('/')) throw new Error('storage prefix must end with "/"');
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.inner.get(this.prefix + key);
  }

  put(key: string, value: Buffer): Promise<void> {
    return this.inner.put(this.prefix + key, value);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(this.prefix + key);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(this.prefix + prefix);
  }

  writeOrdered(ops: readonly StorageOp[]): Promise<void> {
    return writeInOrder(this.inner, ops.map(([key, value]) => [this.prefix + key, value] as const));
  }
}
