/**
 * What the seal state machine needs when its storage is shared by several nodes (HA, src/store/ha/): a way to run
 * the few writes a SEALED node makes (init, and the abandonment of an init) while holding the cluster's HA lock, so
 * they are fenced like an active node's writes, and put-if-absent for init's commit point, so two nodes initialized
 * at the same instant cannot both succeed even if the lock were lost between them.
 */
import { badRequest } from '../api-error.js';
import type { Storage } from '../storage/storage.js';
import { SEAL_CONFIG_PATH } from './seal-config.js';

/** Provided by the HA composition (src/store/ha/) to {@link SealManager} over shared storage. */
export interface ClusterCoordination {
  /**
   * Runs `fn` while this node holds the cluster's HA lock with every write fenced by it; gives the lock up after.
   * Rejects (503) when the lock cannot be had within a bounded time (another node active, or the engine down).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Writes `value` at `key` only when absent, atomically across nodes; false when present. */
  create(key: string, value: Buffer): Promise<boolean>;
}

/** Vault's answer to a second init. */
export const ALREADY_INITIALIZED = 'Vault is already initialized';

/**
 * `physical` with the seal configuration written put-if-absent: init's commit point fails with Vault's "already
 * initialized" when another node committed first (its entries are then not ours to clean: the fence and the lock
 * already kept them apart).
 */
export function commitByCreate(physical: Storage, cluster: ClusterCoordination): Storage {
  return {
    get: (key) => physical.get(key),
    delete: (key) => physical.delete(key),
    list: (prefix) => physical.list(prefix),
    put: async (key, value) => {
      if (key !== SEAL_CONFIG_PATH) {
        await physical.put(key, value);
        return;
      }
      if (!(await cluster.create(key, value))) throw badRequest(ALREADY_INITIALIZED);
    },
  };
}
