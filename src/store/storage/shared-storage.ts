/**
 * The seam between shared physical storage and high availability (Vault's physical.HABackend): a storage engine
 * that several store nodes share (etcd today; PostgreSQL could follow) implements {@link SharedStorage}, and the
 * store's HA layer (src/store/ha/, above this folder: it imports this file, never the other way) elects one active
 * node through its {@link HaBackend} without knowing the engine.
 *
 * The contract every engine keeps:
 * - one lock per key prefix, held by at most one node at a time, tied to a lease that expires when its holder stops
 *   renewing it (a killed node loses the lock within the lease TTL, with no help from it);
 * - a held lock FENCES writes: once {@link SharedStorage.fenceWith} names a lock, every `put`/`delete` commits only
 *   while that lock is still held (etcd: one transaction comparing the lock key's create revision), so a node that
 *   lost the lock — paused, partitioned, slow — can never overwrite what the new active node wrote;
 * - reads are linearizable (never a stale value from a follower), and a write resolves only once the engine has it
 *   durably (for etcd: committed by a majority);
 * - an engine that cannot answer (no quorum, unreachable) fails the call with `SecretStoreError('STORE_UNAVAILABLE')`
 *   within its request timeout, never hangs.
 */
import type { Storage } from './storage.js';

/** A node as the other nodes see it: what the lock's value holds while it is active. */
export interface NodeIdentity {
  /** Random per process start (`randomUUID()`): tells a restarted node from its previous life. */
  nodeId: string;
  /** The URL clients (and forwarding standbys) use to reach this node, Vault's `api_addr`. */
  apiAddr: string;
}

/** An HA lock this node holds: it is the active node for as long as {@link HeldLock.lost} has not resolved. */
export interface HeldLock {
  /**
   * Resolves (never rejects) once the lock is lost for any reason: its lease expired or was revoked, or the engine
   * stayed unreachable for long enough that the lease may have expired. After it resolves no write fenced by this
   * lock can commit.
   */
  readonly lost: Promise<void>;
  /** Gives the lock up now (revokes the lease, so a standby takes over at once). Idempotent; never throws. */
  release(): Promise<void>;
}

/** The election: one active node per prefix. */
export interface HaBackend {
  /**
   * Campaigns until this node holds the lock, then resolves with it. Rejects with an `AbortError` when `signal`
   * aborts; keeps trying (with a bounded back-off) while the engine is unreachable.
   */
  acquire(self: NodeIdentity, signal: AbortSignal): Promise<HeldLock>;
  /** The node holding the lock right now, read from the engine (linearizable), or `undefined` when none does. */
  leader(): Promise<NodeIdentity | undefined>;
}

/** Physical storage shared by several nodes (values are barrier ciphertext, except what Vault also keeps clear). */
export interface SharedStorage extends Storage {
  /** The election over the same engine and prefix. */
  readonly ha: HaBackend;
  /**
   * From now on, `put`/`delete` commit only while `lock` is held, and fail with
   * `SecretStoreError('STORE_STANDBY')` once it is not; `undefined` lifts the fence (used while no node is active:
   * init, and a sealed node's seal bookkeeping).
   */
  fenceWith(lock: HeldLock | undefined): void;
  /**
   * Writes `value` at `key` only when `key` is absent, atomically across every node; `false` when it was present.
   * Init claims the cluster with it, so two nodes initialized at once cannot both succeed.
   */
  create(key: string, value: Buffer): Promise<boolean>;
  /** Stops timers and connections (does not release a held lock: that is {@link HeldLock.release}). */
  close(): Promise<void>;
}
