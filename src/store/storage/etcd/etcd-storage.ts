/**
 * The store's physical storage in etcd (Vault's storage "etcd"), shared by every node of a cluster: each entry is
 * one etcd key, `<prefix><storage key>`, holding the entry's bytes as they are (barrier ciphertext, or what the
 * seal keeps clear, as in Vault). Reads are linearizable ranges; a write resolves once etcd answered, i.e. once a
 * majority of members committed it. Lists are one keys-only range over the folder, skipping past each sub-folder
 * once it is seen (Vault's List semantics, {@link listChildren}).
 *
 * Fencing ({@link SharedStorage.fenceWith}): while a lock fences the storage, every put and delete is one txn that
 * commits only if the lock key still has the create revision it had when this node created it — a key no other
 * holder can ever have — so a node that lost the lock (paused, partitioned) cannot overwrite the new active node's
 * writes. A refused compare fails the write with STORE_STANDBY and marks the lock lost.
 */
import { SecretStoreError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { HeldLock, SharedStorage } from '../shared-storage.js';
import { assertStorageKey } from '../fs-durable.js';
import { listChildren, type StorageOp } from '../storage.js';
import { EtcdClient, type Compare, type TxnOp } from './etcd-client.js';
import { EtcdElection, EtcdLock } from './etcd-election.js';
import { resolveEtcdOptions, type EtcdStorageOptions, type ResolvedEtcdOptions } from './etcd-options.js';

export type { EtcdStorageOptions } from './etcd-options.js';

/** The HA lock's key under the prefix (Vault's etcd backend uses the same name). */
export const LOCK_KEY = 'core/lock';
/** Keys per page of a list: bounds one answer's size; deeper folders are skipped between pages. */
const LIST_PAGE = 1000;
/** Operations per transaction etcd accepts by default (`--max-txn-ops`, 128), with room to spare. */
const MAX_TXN_OPS = 64;

/** The smallest key greater than every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: no upper bound ("\0" means "to the end of the key space").
  return Buffer.from([0]);
}

function standby(): SecretStoreError {
  return new SecretStoreError(
    'STORE_STANDBY',
    'this node is no longer the active node (it lost the HA lock in etcd); send the request to the active node',
  );
}

/** {@link SharedStorage} over etcd. Open with {@link openEtcdStorage}. */
export class EtcdStorage implements SharedStorage {
  readonly ha: EtcdElection;
  private readonly client: EtcdClient;
  private readonly prefix: Buffer;
  private readonly lockKey: Buffer;
  private fence: EtcdLock | undefined;

  constructor(options: ResolvedEtcdOptions, client: EtcdClient, log: Logger) {
    this.client = client;
    this.prefix = Buffer.from(options.prefix, 'utf8');
    this.lockKey = this.fullKey(LOCK_KEY);
    this.ha = new EtcdElection(
      client,
      { lockKey: this.lockKey, leaseTtlSeconds: options.leaseTtlSeconds, requestTimeoutMs: options.requestTimeoutMs },
      log,
    );
  }

  private fullKey(key: string): Buffer {
    return Buffer.concat([this.prefix, assertStorageKey(key)]);
  }

  /** The etcd key of a storage key that may be written: never the lock key, which only the election writes. */
  private writableKey(key: string): Buffer {
    const full = this.fullKey(key);
    if (full.equals(this.lockKey)) throw new SecretStoreError('INTERNAL', `the storage key ${LOCK_KEY} is reserved for the HA lock`);
    return full;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const full = this.fullKey(key);
    if (full.equals(this.lockKey)) return undefined;
    const { kvs } = await this.client.range(full);
    return kvs[0]?.value;
  }

  async put(key: string, value: Buffer): Promise<void> {
    const full = this.writableKey(key);
    await this.write({ put: { key: full, value: Buffer.from(value) } });
  }

  async delete(key: string): Promise<void> {
    const full = this.writableKey(key);
    await this.write({ delete: { key: full } });
  }

  /**
   * Several writes as ONE transaction (fenced like every write): all of them commit together or none does — more
   * than the prefix the contract asks for — in one raft round instead of one per write. A group etcd would refuse
   * (the same key twice, or more operations than its default per-transaction limit of 128) is written one by one.
   */
  async writeOrdered(ops: readonly StorageOp[]): Promise<void> {
    const keys = ops.map(([key]) => key);
    if (ops.length > MAX_TXN_OPS || new Set(keys).size !== keys.length) {
      for (const [key, value] of ops) {
        if (value === undefined) await this.delete(key);
        else await this.put(key, value);
      }
      return;
    }
    const txnOps = ops.map(([key, value]): TxnOp => {
      const full = this.writableKey(key);
      return value === undefined ? { delete: { key: full } } : { put: { key: full, value: Buffer.from(value) } };
    });
    if (txnOps.length > 0) await this.write(txnOps);
  }

  /**
   * Puts and deletes: plain, or fenced by the current lock (one txn comparing the lock key's create revision). A
   * single unfenced write uses etcd's plain put/delete; a group is always one txn.
   */
  private async write(op: TxnOp | TxnOp[]): Promise<void> {
    const ops = Array.isArray(op) ? op : [op];
    const fence = this.fence;
    if (fence === undefined) {
      const [only] = ops;
      if (ops.length === 1 && only !== undefined && 'put' in only) await this.client.put(only.put.key, only.put.value);
      else if (ops.length === 1 && only !== undefined && 'delete' in only) await this.client.deleteKey(only.delete.key);
      // Repeating the group is harmless: the same writes again (nobody else writes these keys meanwhile: the caller
      // holds them until this resolves).
      else await this.client.txn([], ops, [], true);
      return;
    }
    if (!fence.held) throw standby();
    const guard: Compare = { key: this.lockKey, target: 'CREATE', equals: fence.createRevision };
    // Sending it twice is harmless: the second either repeats the same write or is refused by the same compare.
    const result = await this.client.txn([guard], ops, [], true);
    if (!result.succeeded) {
      fence.markLost('a fenced write found the lock key changed');
      throw standby();
    }
  }

  async list(prefix: string): Promise<string[]> {
    if (prefix !== '' && !prefix.endsWith('/')) throw new SecretStoreError('INTERNAL', 'a list prefix must be empty or end with "/"');
    const base = Buffer.concat([this.prefix, Buffer.from(prefix, 'utf8')]);
    const rangeEnd = prefixEnd(base);
    const names: string[] = [];
    let from: Buffer = base;
    for (;;) {
      const page = await this.client.range(from, { rangeEnd, keysOnly: true, limit: LIST_PAGE });
      let last: Buffer | undefined;
      for (const kv of page.kvs) {
        last = kv.key;
        if (kv.key.equals(this.lockKey)) continue;
        if (kv.key.length <= base.length || !kv.key.subarray(0, base.length).equals(base)) continue;
        names.push(kv.key.subarray(base.length).toString('utf8'));
      }
      if (!page.more || last === undefined) break;
      // Next page: past the last key, and past its whole sub-folder when it is in one (seen once is enough).
      const rest = last.subarray(base.length);
      const slash = rest.indexOf(0x2f);
      from = slash === -1 ? Buffer.concat([last, Buffer.from([0])]) : prefixEnd(last.subarray(0, base.length + slash + 1));
      if (Buffer.compare(from, rangeEnd) >= 0 && !(rangeEnd.length === 1 && rangeEnd[0] === 0)) break;
    }
    return listChildren(names, '');
  }

  fenceWith(lock: HeldLock | undefined): void {
    if (lock === undefined) {
      this.fence = undefined;
      return;
    }
    if (!(lock instanceof EtcdLock) || !lock.lockKey.equals(this.lockKey)) {
      throw new SecretStoreError('INTERNAL', 'the etcd storage can only be fenced by a lock of its own election');
    }
    this.fence = lock;
  }

  async create(key: string, value: Buffer): Promise<boolean> {
    const full = this.writableKey(key);
    // Not repeatable: after a dropped connection, a second attempt would find our own first write and answer false.
    const result = await this.client.txn([{ key: full, target: 'CREATE', equals: '0' }], [{ put: { key: full, value: Buffer.from(value) } }], [], false);
    return result.succeeded;
  }

  close(): Promise<void> {
    this.ha.close();
    this.client.close();
    return Promise.resolve();
  }
}

/**
 * Opens the etcd storage: checks the options (CONFIG errors), then reads the lock key once, so that unreachable
 * endpoints, a TLS mismatch or refused credentials fail the start with a clear error rather than the first request.
 */
export async function openEtcdStorage(options: EtcdStorageOptions, log: Logger): Promise<SharedStorage> {
  const resolved = resolveEtcdOptions(options);
  const client = new EtcdClient(resolved, log);
  const storage = new EtcdStorage(resolved, client, log);
  try {
    await storage.ha.leader().catch((err: unknown) => {
      // A malformed lock value is the election's business, not a reason to refuse to start.
      if (err instanceof SecretStoreError && err.code === 'STORE_CORRUPT') return undefined;
      throw err;
    });
  } catch (err) {
    client.close();
    throw err;
  }
  log.info('etcd storage opened', { endpoints: client.describeEndpoints(), prefix: resolved.prefix });
  return storage;
}
