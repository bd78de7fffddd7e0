/**
 * An in-memory {@link SharedStorage} for HA tests without etcd: one {@link MemorySharedCluster} holds the entries
 * and the one HA lock; every in-process "node" gets its own {@link MemorySharedStorage} handle on it (its own fence),
 * as every `serve` process opens its own etcd connection. The engine contract of src/store/storage/shared-storage.ts is kept:
 * one lock holder at a time, fenced writes (checked and applied atomically, in one synchronous step), put-if-absent
 * `create`, linearizable reads. Tests make the lock go away with {@link MemorySharedCluster.expire} (the lease ran
 * out) or {@link MemorySharedCluster.kill} (that node's process died), and the engine unreachable with
 * {@link MemorySharedCluster.unavailable}.
 */
import { SecretStoreError } from '../../src/errors.js';
import type { HaBackend, HeldLock, NodeIdentity, SharedStorage } from '../../src/store/storage/shared-storage.js';
import { listChildren } from '../../src/store/storage/storage.js';

/** A lock of the memory cluster: held until expired, killed or released. */
class MemoryLock implements HeldLock {
  readonly lost: Promise<void>;
  readonly holder: NodeIdentity;
  private markLost!: () => void;
  private readonly cluster: MemorySharedCluster;
  held = true;

  constructor(cluster: MemorySharedCluster, holder: NodeIdentity) {
    this.cluster = cluster;
    this.holder = holder;
    this.lost = new Promise<void>((resolve) => {
      this.markLost = resolve;
    });
  }

  /** Ends the hold (from the cluster's side). */
  drop(): void {
    if (!this.held) return;
    this.held = false;
    this.markLost();
  }

  release(): Promise<void> {
    this.cluster.releaseLock(this);
    return Promise.resolve();
  }
}

/** The shared state of several memory "nodes": one ordered map and one HA lock. */
export class MemorySharedCluster {
  /** The entries (tests may look at them: they must hold only ciphertext and the clear seal configuration). */
  readonly entries = new Map<string, Buffer>();
  /** While true every operation fails with STORE_UNAVAILABLE (no quorum), and nobody can take the lock. */
  unavailable = false;
  /** Successful acquisitions so far (a test waits for the next one). */
  acquisitions = 0;
  /**
   * Nodes (by id or by API address) that may not take the lock for now (a test picks who becomes active); call
   * {@link wake} after removing one.
   */
  readonly barred = new Set<string>();
  private lock: MemoryLock | undefined;
  private wakers = new Set<() => void>();

  /** A new node's handle on the cluster. */
  node(): MemorySharedStorage {
    return new MemorySharedStorage(this);
  }

  /** The node holding the lock now. */
  get holder(): NodeIdentity | undefined {
    return this.lock?.holder;
  }

  /** The lock's lease expires: its holder loses it, and a campaigning node may take it. */
  expire(): void {
    const l = this.lock;
    if (l === undefined) return;
    this.lock = undefined;
    l.drop();
    this.wake();
  }

  /** The node `nodeId` died: if it holds the lock, the lock expires. */
  kill(nodeId: string): void {
    if (this.lock?.holder.nodeId === nodeId) this.expire();
  }

  /** Whether `lock` is the one held right now. */
  isHeld(lock: HeldLock): boolean {
    return lock === this.lock && this.lock.held;
  }

  /** @internal */
  releaseLock(lock: MemoryLock): void {
    if (this.lock === lock) {
      this.lock = undefined;
      this.wake();
    }
    lock.drop();
  }

  /** @internal Takes the lock for `self` when free. */
  tryTake(self: NodeIdentity): MemoryLock | undefined {
    if (this.lock !== undefined || this.unavailable || this.barred.has(self.nodeId) || this.barred.has(self.apiAddr)) return undefined;
    this.lock = new MemoryLock(this, { ...self });
    this.acquisitions++;
    return this.lock;
  }

  /** @internal Registers a wake-up for the next change of the lock. */
  onChange(fn: () => void): () => void {
    this.wakers.add(fn);
    return () => this.wakers.delete(fn);
  }

  /** Wakes campaigners (also after `unavailable` is switched off). */
  wake(): void {
    const all = [...this.wakers];
    this.wakers.clear();
    for (const fn of all) fn();
  }
}

/** One node's view of a {@link MemorySharedCluster}: its own fence, the shared entries and lock. */
export class MemorySharedStorage implements SharedStorage {
  readonly ha: HaBackend;
  private readonly cluster: MemorySharedCluster;
  private fence: HeldLock | undefined;
  private closed = false;
  /** Writes refused by the fence so far (a test checks that a deposed node's writes never landed). */
  fencedWrites = 0;

  constructor(cluster: MemorySharedCluster) {
    this.cluster = cluster;
    this.ha = {
      acquire: (self, signal) => this.acquire(self, signal),
      leader: () => {
        this.check();
        return Promise.resolve(this.cluster.holder === undefined ? undefined : { ...this.cluster.holder });
      },
    };
  }

  fenceWith(lock: HeldLock | undefined): void {
    this.fence = lock;
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.run(() => {
      const v = this.cluster.entries.get(key);
      return v === undefined ? undefined : Buffer.from(v);
    });
  }

  put(key: string, value: Buffer): Promise<void> {
    return this.run(() => {
      this.checkFence();
      this.cluster.entries.set(key, Buffer.from(value));
    });
  }

  delete(key: string): Promise<void> {
    return this.run(() => {
      this.checkFence();
      this.cluster.entries.delete(key);
    });
  }

  list(prefix: string): Promise<string[]> {
    return this.run(() => listChildren(this.cluster.entries.keys(), prefix));
  }

  create(key: string, value: Buffer): Promise<boolean> {
    return this.run(() => {
      this.checkFence();
      if (this.cluster.entries.has(key)) return false;
      this.cluster.entries.set(key, Buffer.from(value));
      return true;
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Runs `fn` atomically after a macrotask (real engines answer asynchronously too). */
  private run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        try {
          this.check();
          resolve(fn());
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  }

  private check(): void {
    if (this.closed) throw new SecretStoreError('INTERNAL', 'memory shared storage used after close');
    if (this.cluster.unavailable) throw new SecretStoreError('STORE_UNAVAILABLE', 'memory cluster unavailable');
  }

  private checkFence(): void {
    const fence = this.fence;
    if (fence !== undefined && !this.cluster.isHeld(fence)) {
      this.fencedWrites++;
      throw new SecretStoreError('STORE_STANDBY', 'this node does not hold the HA lock; the write was refused');
    }
  }

  private acquire(self: NodeIdentity, signal: AbortSignal): Promise<HeldLock> {
    return new Promise<HeldLock>((resolve, reject) => {
      let unsubscribe: () => void = () => undefined;
      const onAbort = (): void => {
        unsubscribe();
        reject(new DOMException('campaign aborted', 'AbortError'));
      };
      const attempt = (): void => {
        if (signal.aborted) return;
        if (!this.closed) {
          const lock = this.cluster.tryTake(self);
          if (lock !== undefined) {
            signal.removeEventListener('abort', onAbort);
            resolve(lock);
            return;
          }
        }
        unsubscribe = this.cluster.onChange(() => setImmediate(attempt));
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      setImmediate(attempt);
    });
  }
}
