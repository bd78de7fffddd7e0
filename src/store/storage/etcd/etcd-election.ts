/**
 * The HA election over etcd (Vault's etcd `ha_enabled`): one lock key, `<prefix>core/lock`, created only when
 * absent and attached to a lease of the holder; its value names the holder (`{"nodeId","apiAddr"}`), which is how
 * standbys find the active node. A killed holder stops renewing its lease, etcd deletes the key when the lease
 * expires, and a waiting node (polling every {@link POLL_MS}) creates it anew.
 *
 * The holder renews its lease every TTL/6 (a failed renewal is retried after 250 ms) and steps down
 * ({@link HeldLock.lost}) as soon as any of these holds: etcd says the lease is gone; the lock key no longer carries our lease and create revision (deleted by hand,
 * recreated by another node); a fenced write was refused; or no renewal succeeded for TTL − 500 ms, counted from
 * when the last successful renewal was SENT — etcd counts the TTL from when it received it, which is later, so this
 * node steps down strictly before etcd could give the lock to another node. Writes are fenced by the lock key's
 * create revision (see etcd-storage.ts), which no later holder can share.
 */
import { SecretStoreError, isSecretStoreError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { HaBackend, HeldLock, NodeIdentity } from '../shared-storage.js';
import type { EtcdClient } from './etcd-client.js';
import { sanitize } from './etcd-json.js';

/** How often a waiting node looks whether the lock is free (a fail-over costs at most this on top of the TTL). */
export const POLL_MS = 250;
/** Renewal interval bounds: a sixth of the TTL, within these (renewals are cheap: leader-local in etcd, no raft). */
const MIN_RENEW_MS = 250;
const MAX_RENEW_MS = 10_000;
/** Pause before retrying a failed renewal. */
const RETRY_RENEW_MS = 250;
/** Subtracted from the TTL: how much sooner than the lease could expire this node steps down. */
export const SAFETY_MARGIN_MS = 500;
/** Longest pause between two campaign attempts while etcd is unreachable. */
const MAX_BACKOFF_MS = 2000;
/** Longest lock value accepted from etcd (it is read by every standby: untrusted, kept small). */
const MAX_IDENTITY_BYTES = 4096;

/** A monotonic clock in ms (wall-clock steps, NTP, must not move the step-down). */
export function monotonicMs(): number {
  return performance.now();
}

/** The abort error of {@link HaBackend.acquire} (a DOMException named `AbortError`, as fetch and timers use). */
function abortError(): DOMException {
  return new DOMException('the campaign for the HA lock was abandoned', 'AbortError');
}

/** `signal.aborted`, read through a call: it changes across awaits, which property narrowing does not know. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Sleeps `ms`, or rejects with an AbortError when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The lock value of `self`, checked so that what other nodes read back is a well-formed identity. */
export function encodeIdentity(self: NodeIdentity): Buffer {
  if (typeof self.nodeId !== 'string' || self.nodeId === '' || typeof self.apiAddr !== 'string' || self.apiAddr === '') {
    throw new SecretStoreError('INTERNAL', 'a node identity needs a nodeId and an apiAddr');
  }
  const bytes = Buffer.from(JSON.stringify({ nodeId: self.nodeId, apiAddr: self.apiAddr }));
  if (bytes.length > MAX_IDENTITY_BYTES) throw new SecretStoreError('CONFIG', 'the api address is too long');
  return bytes;
}

/** The identity in a lock value read from etcd; STORE_CORRUPT when it is not one (it never is, unless tampered). */
export function decodeIdentity(bytes: Buffer): NodeIdentity {
  let parsed: unknown;
  try {
    parsed = bytes.length > MAX_IDENTITY_BYTES ? undefined : JSON.parse(bytes.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const obj = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const { nodeId, apiAddr } = obj;
  if (typeof nodeId !== 'string' || nodeId === '' || typeof apiAddr !== 'string' || apiAddr === '') {
    throw new SecretStoreError('STORE_CORRUPT', 'the HA lock key in etcd does not hold a node identity; check what else writes under the etcd prefix');
  }
  return { nodeId, apiAddr };
}

/** Settings of an {@link EtcdElection}. */
export interface ElectionSettings {
  /** The full lock key (`<prefix>core/lock`). */
  lockKey: Buffer;
  /** The TTL asked for the lease, in seconds. */
  leaseTtlSeconds: number;
  /** Bound of a revoke on release (the request timeout). */
  requestTimeoutMs: number;
}

/** A lock this node holds in etcd: its lease, the lock key's create revision (the fencing token) and its renewal. */
export class EtcdLock implements HeldLock {
  readonly lost: Promise<void>;
  /** The lease the lock key is attached to (decimal string). */
  readonly leaseId: string;
  /** The lock key's create revision (decimal string): fenced writes compare it. */
  readonly createRevision: string;
  /** The full lock key. */
  readonly lockKey: Buffer;
  private readonly client: EtcdClient;
  private readonly log: Logger;
  private readonly requestTimeoutMs: number;
  /** How long after a successful renewal was sent this node still counts on its lease. */
  private trustMs: number;
  private readonly intervalMs: number;
  private readonly onSettled: (lock: EtcdLock) => void;
  private resolveLost!: () => void;
  private isLost = false;
  private watchdog: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private revoked: Promise<void> | undefined;
  /** The last renewal failed (logged once per outage). */
  private failing = false;

  /** `grantSentAt` is a {@link monotonicMs} reading taken before the lease grant was sent. */
  constructor(
    client: EtcdClient,
    lockKey: Buffer,
    lease: { id: string; ttlSeconds: number; grantSentAt: number },
    createRevision: string,
    settings: { requestTimeoutMs: number; log: Logger; onSettled: (lock: EtcdLock) => void },
  ) {
    this.client = client;
    this.lockKey = lockKey;
    this.leaseId = lease.id;
    this.createRevision = createRevision;
    this.requestTimeoutMs = settings.requestTimeoutMs;
    this.log = settings.log;
    this.onSettled = settings.onSettled;
    this.lost = new Promise<void>((resolve) => {
      this.resolveLost = resolve;
    });
    const ttlMs = lease.ttlSeconds * 1000;
    this.intervalMs = Math.min(Math.max(Math.floor(ttlMs / 6), MIN_RENEW_MS), MAX_RENEW_MS);
    this.trustMs = EtcdLock.trustFor(ttlMs);
    this.armWatchdog(lease.grantSentAt);
    this.schedule(lease.grantSentAt + this.intervalMs);
  }

  /**
   * How long after sending a renewal that succeeded the lease is counted on: the TTL minus {@link SAFETY_MARGIN_MS}.
   * Counting from the send (etcd counts from its receipt, later) already covers the network; the margin covers a
   * late timer and clock rate differences.
   */
  private static trustFor(ttlMs: number): number {
    return ttlMs - SAFETY_MARGIN_MS;
  }

  /** Whether {@link lost} has resolved: fenced writes are refused at once from then on. */
  get held(): boolean {
    return !this.isLost;
  }

  /** Gives the lock up: revokes the lease (bounded, best effort) so a standby takes over at once. Never throws. */
  async release(): Promise<void> {
    this.markLost('released');
    await this.revoked;
  }

  /** Resolves {@link lost} (once), stops renewing and revokes the lease in the background. */
  markLost(reason: string): void {
    if (this.isLost) return;
    this.stop();
    if (reason === 'released') this.log.info('etcd HA lock released');
    else this.log.warn('etcd HA lock lost', { reason });
    this.resolveLost();
    // Whatever the reason, the lease must not outlive our claim: revoking frees the lock for a standby now rather
    // than after the TTL (and fails harmlessly when the lease is already gone or etcd is unreachable).
    this.revoked = this.client.leaseRevoke(this.leaseId, this.requestTimeoutMs).catch((err: unknown) => {
      this.log.debug('etcd lease revoke failed', { error: isSecretStoreError(err) ? err.message : 'unexpected' });
    });
  }

  /** Whether the lock was lost meanwhile (a call, not a property read: it changes across awaits). */
  private stopped(): boolean {
    return this.isLost;
  }

  /**
   * Resolves {@link lost} without revoking the lease (the storage is closing: the lease runs out by itself, as a
   * crashed node's would).
   */
  abandon(): void {
    if (this.isLost) return;
    this.stop();
    this.log.info('etcd HA lock abandoned (storage closed)');
    this.resolveLost();
  }

  private stop(): void {
    this.isLost = true;
    clearTimeout(this.watchdog);
    clearTimeout(this.tick);
    this.onSettled(this);
  }

  private armWatchdog(sentAt: number): void {
    clearTimeout(this.watchdog);
    const wait = sentAt + this.trustMs - monotonicMs();
    this.watchdog = setTimeout(() => {
      this.markLost('no lease renewal succeeded in time (etcd unreachable or without quorum)');
    }, Math.max(0, wait));
  }

  private schedule(at: number): void {
    if (this.isLost) return;
    this.tick = setTimeout(() => void this.renew(), Math.max(0, at - monotonicMs()));
  }

  /** One renewal: keepalive the lease and check the lock key still carries it, in parallel. */
  private async renew(): Promise<void> {
    if (this.isLost) return;
    const sentAt = monotonicMs();
    // A renewal must not outlive the interval much: a hung call would leave no room for the next before the watchdog.
    const timeoutMs = Math.min(this.requestTimeoutMs, Math.max(this.intervalMs, 500));
    try {
      const [ttl, owner] = await Promise.all([
        this.client.leaseKeepAlive(this.leaseId, timeoutMs),
        this.client.range(this.lockKey, { timeoutMs }),
      ]);
      if (this.stopped()) return;
      if (ttl <= 0) {
        this.markLost('the lease expired in etcd');
        return;
      }
      const kv = owner.kvs[0];
      if (kv?.createRevision !== this.createRevision || kv.lease !== this.leaseId) {
        this.markLost('the lock key no longer carries this node\'s lease');
        return;
      }
      // etcd may grant a longer TTL than asked for (its minimum); trust only what the renewal says.
      this.trustMs = Math.min(this.trustMs, EtcdLock.trustFor(ttl * 1000));
      this.armWatchdog(sentAt);
      if (this.failing) this.log.info('etcd lease renewal works again');
      this.failing = false;
      this.schedule(sentAt + this.intervalMs);
    } catch (err) {
      if (this.stopped()) return;
      if (!this.failing) this.log.warn('etcd lease renewal failed, retrying', { error: isSecretStoreError(err) ? err.message : sanitize(String(err)) });
      this.failing = true;
      // Soon, not a whole interval later: after an etcd leader election the first renewal that can succeed should.
      this.schedule(monotonicMs() + RETRY_RENEW_MS);
    }
  }
}

/** The {@link HaBackend} of the etcd storage. */
export class EtcdElection implements HaBackend {
  private readonly client: EtcdClient;
  private readonly settings: ElectionSettings;
  private readonly log: Logger;
  /** Locks held now, abandoned by {@link close}. */
  private readonly locks = new Set<EtcdLock>();

  constructor(client: EtcdClient, settings: ElectionSettings, log: Logger) {
    this.client = client;
    this.settings = settings;
    this.log = log;
  }

  async acquire(self: NodeIdentity, signal: AbortSignal): Promise<HeldLock> {
    const value = encodeIdentity(self);
    const { lockKey } = this.settings;
    let backoff = POLL_MS;
    let warned = false;
    for (;;) {
      if (aborted(signal)) throw abortError();
      try {
        const holder = await this.client.range(lockKey, { keysOnly: true });
        if (holder.kvs.length === 0) {
          const lock = await this.tryCreate(value, signal);
          if (lock !== undefined) return lock;
        }
        backoff = POLL_MS;
        warned = false;
        await sleep(POLL_MS, signal);
      } catch (err) {
        if (aborted(signal) || (err instanceof DOMException && err.name === 'AbortError')) throw abortError();
        if (!isSecretStoreError(err) || err.code === 'INTERNAL') throw err;
        // Unreachable etcd, lost quorum, refused credentials: keep campaigning, but say so once per outage.
        if (!warned) this.log.warn('etcd HA campaign paused', { error: err.message });
        warned = true;
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** Grants a lease and creates the lock key with it if absent: the lock, or `undefined` when another node won. */
  private async tryCreate(value: Buffer, signal: AbortSignal): Promise<EtcdLock | undefined> {
    const { lockKey, leaseTtlSeconds, requestTimeoutMs } = this.settings;
    const grantSentAt = monotonicMs();
    const lease = await this.client.leaseGrant(leaseTtlSeconds);
    let result;
    try {
      // Retrying this txn is harmless: if a first attempt created the key with our lease, the revoke below frees it.
      result = await this.client.txn(
        [{ key: lockKey, target: 'CREATE', equals: '0' }],
        [{ put: { key: lockKey, value, lease: lease.id } }],
        [],
        true,
      );
    } catch (err) {
      await this.client.leaseRevoke(lease.id, requestTimeoutMs).catch(() => undefined);
      throw err;
    }
    if (!result.succeeded) {
      await this.client.leaseRevoke(lease.id, requestTimeoutMs).catch(() => undefined);
      return undefined;
    }
    const lock = new EtcdLock(this.client, lockKey, { ...lease, grantSentAt }, result.revision, {
      requestTimeoutMs,
      log: this.log,
      onSettled: (l) => this.locks.delete(l),
    });
    this.locks.add(lock);
    if (aborted(signal)) {
      await lock.release();
      throw abortError();
    }
    this.log.info('etcd HA lock acquired', { lease_ttl_s: lease.ttlSeconds });
    return lock;
  }

  /** Stops renewing every held lock (their leases run out by themselves) and resolves their `lost`. */
  close(): void {
    for (const lock of [...this.locks]) lock.abandon();
  }

  async leader(): Promise<NodeIdentity | undefined> {
    const { kvs } = await this.client.range(this.settings.lockKey);
    const kv = kvs[0];
    return kv === undefined ? undefined : decodeIdentity(kv.value);
  }
}
