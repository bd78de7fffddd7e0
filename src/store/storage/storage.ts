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
}
