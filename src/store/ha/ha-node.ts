/**
 * The role of one store node over shared storage (Vault's active/standby HA): **sealed** → (unseal) **standby**,
 * campaigning for the HA lock → (lock held) **active** → (lock lost) standby again, campaigning → … ; a seal from any
 * role releases the lock and drops everything.
 *
 * Only the active node has a logical layer (tokens, policies, mounts, KV, identity) and a decrypted-entry cache, both
 * built FRESH from storage each time it becomes active, after fencing its writes with the lock and re-reading the
 * keyring (the previous active node may have rotated it). The moment the lock is lost they are dropped, before any
 * other request runs: a standby has no cache to answer from, and a write still in flight from the old role fails
 * (the storage stays fenced with the lost lock). A standby answers only the seal endpoints itself; the rest is
 * forwarded to the active node (forwarder.ts).
 */
import { randomUUID } from '../../crypto.js';
import { describeCause, SecretStoreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { StoreApiError } from '../api-error.js';
import { LogicalLayer } from '../http/logical-layer.js';
import { ReadCache, type ReadCacheLimits } from '../read-cache.js';
import type { ClusterCoordination } from '../seal/cluster-coordination.js';
import type { SealManager } from '../seal/seal-manager.js';
import type { HeldLock, NodeIdentity, SharedStorage } from '../storage/shared-storage.js';

/** Where a node stands in the cluster. */
export type HaRole = 'sealed' | 'standby' | 'active';

/** Tuning of {@link HaNode} (the defaults suit production; tests shorten them). */
export interface HaNodeOptions {
  /** Bounds of the active node's decrypted-entry cache. */
  readCache?: ReadCacheLimits | undefined;
  /** How long init / init abandonment wait for the HA lock before answering 503 (default 30 s). */
  exclusiveWaitMs?: number | undefined;
  /** Pause after a failed campaign or activation before trying again (default 1 s). */
  retryMs?: number | undefined;
  /** How long a standby trusts the active node's address it looked up (default 1 s; dropped on a failed forward). */
  leaderCacheMs?: number | undefined;
  /** After `sys/step-down`, how long this node stays out of the campaign (default 10 s, as Vault). */
  stepDownHoldMs?: number | undefined;
}

/** HKDF label of the key that authenticates forwarded client addresses (see forwarded-address.ts). */
const FORWARDING_KEY_LABEL = 'secretstore-setup forwarded client address v1';

/** One node's role state machine over a {@link SharedStorage}. */
export class HaNode {
  private readonly storage: SharedStorage;
  private readonly log: Logger;
  private readonly options: HaNodeOptions;
  private readonly nodeId = randomUUID();
  private apiAddr = '';
  private seal: SealManager | undefined;
  private roleNow: HaRole = 'sealed';
  private activeSince: Date | undefined;
  private lock: HeldLock | undefined;
  private cache: ReadCache | undefined;
  private logicalLayer: LogicalLayer | undefined;
  private campaignAbort: AbortController | undefined;
  private campaignDone: Promise<void> = Promise.resolve();
  private readonly releases = new Set<Promise<void>>();
  private forwardingKeyBytes: Buffer | undefined;
  private leaderCache: { at: number; leader: NodeIdentity | undefined } | undefined;
  /** No campaign before this time (set by a manual step-down, so a standby takes over). */
  private holdOffUntil = 0;

  constructor(storage: SharedStorage, log: Logger, options: HaNodeOptions = {}) {
    this.storage = storage;
    this.log = log;
    this.options = options;
  }

  /** This node as the others see it (the address is set once the listener is bound). */
  get identity(): NodeIdentity {
    return { nodeId: this.nodeId, apiAddr: this.apiAddr };
  }

  /** The role right now. */
  get role(): HaRole {
    return this.roleNow;
  }

  /** When this node last became active (undefined unless active). */
  get activeTime(): Date | undefined {
    return this.activeSince;
  }

  /** The address other nodes forward to (Vault's `api_addr`); set before the first unseal. */
  setApiAddr(url: string): void {
    this.apiAddr = url;
  }

  /** The logical layer, only while active: a standby never answers from its own state. */
  logical(): LogicalLayer | undefined {
    return this.roleNow === 'active' ? this.logicalLayer : undefined;
  }

  /** The init / abandonment side of the cluster for {@link SealManager} (HA lock + put-if-absent). */
  coordination(): ClusterCoordination {
    return {
      exclusive: (fn) => this.exclusive(fn),
      create: (key, value) => this.storage.create(key, value),
    };
  }

  /** Connects to the seal state machine: campaign after unseal, drop everything on seal. */
  attach(seal: SealManager): void {
    this.seal = seal;
    seal.reportStandby(() => this.roleNow !== 'active');
    seal.onUnseal(() => {
      this.startCampaign();
      return Promise.resolve();
    });
    seal.onSeal(() => {
      this.onSealed();
    });
  }

  /**
   * The active node (linearizable read of the lock), remembered for a short while for forwarding; `fresh` skips the
   * remembered one. Only a found active node is remembered, never its absence: a node elected a moment later must be
   * forwarded to at once (a standby asked during an election would otherwise refuse requests for up to
   * `leaderCacheMs` while another node already answers as active).
   */
  async activeNode(fresh = false): Promise<NodeIdentity | undefined> {
    const now = Date.now();
    const cached = this.leaderCache;
    if (!fresh && cached !== undefined && now - cached.at < (this.options.leaderCacheMs ?? 1_000)) return cached.leader;
    const leader = await this.storage.ha.leader();
    this.leaderCache = leader === undefined ? undefined : { at: now, leader };
    return leader;
  }

  /** Forgets the remembered active node (a forward to it failed). */
  forgetActiveNode(): void {
    this.leaderCache = undefined;
  }

  /** The MAC key of forwarded client addresses, the same on every unsealed node; undefined while sealed. */
  forwardingKey(): Buffer | undefined {
    if (this.roleNow === 'sealed') return undefined;
    this.forwardingKeyBytes ??= this.seal?.deriveClusterKey(FORWARDING_KEY_LABEL);
    return this.forwardingKeyBytes;
  }

  /**
   * `sys/step-down`: gives the lock up (a standby takes over at once) and stays out of the campaign for a while.
   * 503 (standby) when this node is not active.
   */
  async stepDownNow(): Promise<void> {
    const lock = this.lock;
    if (this.roleNow !== 'active' || lock === undefined) throw new StoreApiError(503, 'Vault is in standby mode');
    this.holdOffUntil = Date.now() + (this.options.stepDownHoldMs ?? 10_000);
    this.log.info('stepping down on request');
    await lock.release();
  }

  /** Stops campaigning and gives up a held lock (after the seal manager sealed). */
  async close(): Promise<void> {
    this.onSealed();
    await this.campaignDone;
    await Promise.all([...this.releases]);
  }

  private startCampaign(): void {
    this.stopCampaign();
    this.roleNow = 'standby';
    const abort = new AbortController();
    this.campaignAbort = abort;
    this.log.info('standby: campaigning for the HA lock');
    this.campaignDone = this.campaign(abort.signal).catch((err: unknown) => {
      this.log.error('HA campaign stopped', { cause: describeCause(err) });
    });
  }

  private stopCampaign(): void {
    this.campaignAbort?.abort();
    this.campaignAbort = undefined;
  }

  private async campaign(signal: AbortSignal): Promise<void> {
    // A function, not the property: the flag changes across every await below.
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
      const holdOff = this.holdOffUntil - Date.now();
      if (holdOff > 0) {
        await pause(holdOff, signal);
        continue;
      }
      let lock: HeldLock;
      try {
        lock = await this.storage.ha.acquire(this.identity, signal);
      } catch (err) {
        if (stopped()) return;
        this.log.warn('campaign for the HA lock failed; retrying', { cause: describeCause(err) });
        await pause(this.options.retryMs ?? 1_000, signal);
        continue;
      }
      if (stopped()) {
        this.track(lock.release());
        return;
      }
      this.lock = lock;
      // Step down the moment the lock is lost: this callback runs before any other request is handled.
      void lock.lost.then(() => {
        this.stepDown(lock);
      });
      if (!(await this.becomeActive(lock, signal))) {
        if (this.lock === lock) this.lock = undefined;
        this.track(lock.release());
        if (stopped()) return;
        await pause(this.options.retryMs ?? 1_000, signal);
        continue;
      }
      await Promise.race([lock.lost, whenAborted(signal)]);
    }
  }

  /** Fences, re-reads the keyring, builds the logical layer; false when that failed or the lock went meanwhile. */
  private async becomeActive(lock: HeldLock, signal: AbortSignal): Promise<boolean> {
    const seal = this.seal;
    if (seal === undefined) return false;
    this.storage.fenceWith(lock);
    let cache: ReadCache | undefined;
    let logical: LogicalLayer | undefined;
    try {
      await seal.activate();
      // Every logical writer goes through this one cache, so its invalidation sees every write.
      cache = new ReadCache(seal.barrier(), this.options.readCache);
      logical = await LogicalLayer.open(cache);
    } catch (err) {
      dropLayer(cache, logical);
      if (!signal.aborted && this.lock === lock) {
        this.log.error('could not become active; retrying', { cause: err instanceof SecretStoreError ? err.message : describeCause(err) });
      }
      return false;
    }
    if (signal.aborted || this.lock !== lock) {
      dropLayer(cache, logical);
      return false;
    }
    this.cache = cache;
    this.logicalLayer = logical;
    this.activeSince = new Date();
    this.roleNow = 'active';
    this.leaderCache = undefined;
    this.log.info('active: holding the HA lock');
    return true;
  }

  /** The lock is gone: drop the logical layer and every cache at once; writes stay fenced by the lost lock. */
  private stepDown(lock: HeldLock): void {
    if (this.lock !== lock) return;
    this.lock = undefined;
    const wasActive = this.roleNow === 'active';
    this.dropActiveState();
    if (this.roleNow !== 'sealed') this.roleNow = 'standby';
    if (wasActive) this.log.warn('lost the HA lock: standby, campaigning again');
  }

  private onSealed(): void {
    this.stopCampaign();
    const lock = this.lock;
    this.lock = undefined;
    this.dropActiveState();
    this.roleNow = 'sealed';
    this.forwardingKeyBytes?.fill(0);
    this.forwardingKeyBytes = undefined;
    this.leaderCache = undefined;
    if (lock !== undefined) this.track(lock.release());
  }

  private dropActiveState(): void {
    dropLayer(this.cache, this.logicalLayer);
    this.cache = undefined;
    this.logicalLayer = undefined;
    this.activeSince = undefined;
  }

  /** Runs `fn` holding the HA lock (bounded wait), fenced by it; gives it up afterwards. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const wait = AbortSignal.timeout(this.options.exclusiveWaitMs ?? 30_000);
    let lock: HeldLock;
    try {
      lock = await this.storage.ha.acquire(this.identity, wait);
    } catch (err) {
      if (err instanceof SecretStoreError && err.code === 'STORE_UNAVAILABLE') throw err;
      const waited = String(Math.round((this.options.exclusiveWaitMs ?? 30_000) / 1000));
      throw new StoreApiError(503, `could not take the cluster lock within ${waited} s (another node is initializing, or the storage is unreachable); retry later`);
    }
    try {
      this.storage.fenceWith(lock);
      return await fn();
    } finally {
      await lock.release();
    }
  }

  private track(release: Promise<void>): void {
    const p = release.catch(() => undefined);
    this.releases.add(p);
    void p.then(() => this.releases.delete(p));
  }
}

/** Drops a logical layer and its cache: cached plaintext zeroed, token ids and decoded entries forgotten. */
function dropLayer(cache: ReadCache | undefined, logical: LogicalLayer | undefined): void {
  cache?.wipe();
  logical?.tokens.forgetSecrets();
  logical?.forgetCaches();
}

function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      resolve();
    }, { once: true });
  });
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
