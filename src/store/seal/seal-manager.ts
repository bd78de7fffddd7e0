/**
 * The seal state machine of the embedded store (Vault's core, Shamir seal): initialized or not, sealed or not,
 * unseal progress, generate-root and rekey. Starts sealed whenever it opens existing storage. The HTTP layer
 * calls these methods and renders what they return or throw ({@link StoreApiError} with Vault's statuses and
 * messages). Secrets (shares, unseal key, root key, keyring) live in Buffers that are wiped on seal.
 */
import { hkdfSha256, randomBytes, randomUUID, wipe } from '../../crypto.js';
import { SecretStoreError } from '../../errors.js';
import { badRequest, sealedError, StoreApiError } from '../api-error.js';
import { Barrier } from '../barrier.js';
import type { Storage } from '../storage/storage.js';
import { ALREADY_INITIALIZED, commitByCreate, type ClusterCoordination } from './cluster-coordination.js';
import type { SealCore } from './core-context.js';
import { RootGeneration } from './generate-root.js';
import { initializeStore, parseInitRequest } from './init.js';
import {
  attemptMatches,
  deleteInitAttempt,
  eraseStore,
  finishInterruptedReset,
  NO_RECORDED_ATTEMPT,
  parseAbandonAttempt,
  readInitAttempt,
} from './init-attempt.js';
import { decodeKey, keyLengthProblem } from './key-input.js';
import { KeyProgress } from './key-progress.js';
import { Mutex } from './mutex.js';
import { recoverRootKey, STORED_KEYS_AUTH_FAILED } from './recover-key.js';
import { Rekey } from './rekey.js';
import { boolField, stringField } from './request-fields.js';
import { readSealConfig, type SealConfig } from './seal-config.js';
import { healthResponse, sealStatusBody, type CoreState } from './status.js';

/** Exactly Vault's `sys/seal-status` body. */
export type SealStatusJson = Record<string, unknown>;

/** Options of {@link SealManager.open}. */
export interface SealManagerOptions {
  /** Reported as `version` (e.g. the package version). */
  version: string;
  /** Reported as `storage_type` (e.g. "file"). */
  storageType: string;
  /** Cluster name given at init (default `vault-cluster-<8 hex>`, as Vault). */
  clusterName?: string;
  /** Reported as `build_date` (default ""). */
  buildDate?: string;
  /**
   * Set when the storage is shared by several nodes (HA): the seal configuration and the init attempt are re-read
   * while sealed (another node may init the cluster or unseal it first), init and its abandonment run under the HA
   * lock, an unseal writes nothing (the node that becomes active removes the init attempt, fenced), and the root
   * key is kept while unsealed so the keyring can be re-read when this node becomes active.
   */
  cluster?: ClusterCoordination;
}

/** Barrier path of the cluster name and id chosen at init (Vault keeps them at the same path). */
export const CLUSTER_INFO_PATH = 'core/cluster/local/info';

/** The seal state machine. Create with {@link SealManager.open}. */
export class SealManager {
  private readonly physical: Storage;
  private readonly options: SealManagerOptions;
  private readonly barrierImpl: Barrier;
  private readonly mutex = new Mutex();
  private readonly unsealProgress = new KeyProgress();
  private readonly rootGeneration = new RootGeneration();
  private readonly rekeyOp = new Rekey();
  private readonly unsealCallbacks: ((barrier: Storage) => Promise<void>)[] = [];
  private readonly sealCallbacks: (() => void)[] = [];
  private readonly resetCallbacks: (() => void)[] = [];
  private config: SealConfig | undefined;
  /** The recorded init attempt hash (`core/init-attempt`) while initialized and never unsealed since. */
  private initAttempt: string | undefined;
  private cluster: { name: string; id: string } | undefined;
  private closed = false;
  private readonly core: SealCore;
  /** HA only: a copy of the root key while unsealed (re-reading the keyring on activation); wiped on seal. */
  private rootKey: Buffer | undefined;
  /** Bumped by every change of `config`/`initAttempt`, so a refresh that overlapped one does not undo it. */
  private stateVersion = 0;
  /** HA: whether this unsealed node is a standby (the HA node reports it); a single node never is. */
  private standbyProbe: () => boolean = () => false;

  private constructor(physical: Storage, options: SealManagerOptions, config: SealConfig | undefined, initAttempt: string | undefined) {
    this.physical = physical;
    this.options = options;
    this.config = config;
    this.initAttempt = initAttempt;
    this.barrierImpl = new Barrier(physical);
    const barrier = this.barrierImpl;
    this.core = {
      physical,
      barrier,
      sealConfig: () => this.config,
      setSealConfig: (c) => {
        this.config = c;
      },
      isSealed: () => barrier.sealed,
    };
  }

  /**
   * Opens the state machine over `physical`: reads `core/seal-config` and `core/init-attempt`; always starts sealed.
   * Without a seal configuration, the leftovers of an interrupted init or reset (the init marker present) are erased.
   */
  static async open(physical: Storage, options: SealManagerOptions): Promise<SealManager> {
    const config = await readSealConfig(physical);
    // Over shared storage a missing configuration with the init marker is most likely another node's init in
    // progress, not leftovers: never erase at open (init clears leftovers under the HA lock).
    if (config === undefined && options.cluster === undefined) await finishInterruptedReset(physical);
    const initAttempt = config === undefined ? undefined : await readInitAttempt(physical);
    return new SealManager(physical, options, config, initAttempt);
  }

  /** Whether `sys/init` has completed on this storage. */
  get initialized(): boolean {
    return this.config !== undefined;
  }

  /** Whether the barrier is sealed (always true when not initialized). */
  get sealed(): boolean {
    return this.barrierImpl.sealed;
  }

  /** `GET sys/seal-status`. */
  sealStatus(): SealStatusJson {
    return sealStatusBody(this.state());
  }

  /**
   * HA only (undefined otherwise, so a single node's status calls stay synchronous): while sealed, re-reads the seal
   * configuration and the init attempt, which other nodes may have written (init, rekey, the first activation).
   * Read failures keep what was known (a status answer must not fail because the engine blinked).
   */
  refresh(): Promise<void> | undefined {
    if (this.options.cluster === undefined || !this.sealed || this.closed) return undefined;
    return this.reloadSealState().catch(() => undefined);
  }

  /** Registers how to tell whether this unsealed node is a standby (HA); reported by health. */
  reportStandby(probe: () => boolean): void {
    this.standbyProbe = probe;
  }

  /** `GET|HEAD sys/health`: status code and body; a non-integer code parameter → StoreApiError(400, []). */
  health(query: Record<string, string>): { status: number; body: Record<string, unknown> } {
    return healthResponse(this.state(), query);
  }

  /**
   * `PUT sys/init`. Validates as Vault, creates U, R, the keyring, the stored keys and the seal config, calls
   * `createRootToken` with the briefly unsealed barrier, and ends SEALED. The caller renders `keys` (hex and
   * base64) and wipes them.
   */
  async init(req: Record<string, unknown>, createRootToken: (barrier: Storage) => Promise<string>): Promise<{ keys: Buffer[]; rootToken: string }> {
    const params = parseInitRequest(req);
    return await this.mutex.run(async () => {
      this.assertOpen();
      const cluster = this.options.cluster;
      if (cluster !== undefined) await this.reloadSealState();
      if (this.config !== undefined) throw badRequest(ALREADY_INITIALIZED);
      let rootToken = '';
      const ceremony = (physical: Storage): ReturnType<typeof initializeStore> =>
        initializeStore(physical, this.barrierImpl, params, async (barrier) => {
          const name = this.options.clusterName ?? `vault-cluster-${randomBytes(4).toString('hex')}`;
          await barrier.put(CLUSTER_INFO_PATH, Buffer.from(JSON.stringify({ name, id: randomUUID() }), 'utf8'));
          rootToken = await createRootToken(barrier);
        });
      const outcome =
        cluster === undefined
          ? await ceremony(this.physical)
          : await cluster.exclusive(async () => {
              // Another node may have committed while this one waited for the lock.
              const committed = await readSealConfig(this.physical);
              if (committed !== undefined) {
                this.setSealState(committed, await readInitAttempt(this.physical));
                throw badRequest(ALREADY_INITIALIZED);
              }
              return await ceremony(commitByCreate(this.physical, cluster));
            });
      this.stateVersion++;
      this.config = outcome.config;
      this.initAttempt = params.attemptSha256;
      this.unsealProgress.clear();
      return { keys: outcome.keys, rootToken };
    });
  }

  /** `PUT sys/unseal {key?, reset?, migrate?}` (field names case-insensitive). Returns the seal status. */
  async unseal(req: Record<string, unknown>): Promise<SealStatusJson> {
    const keyText = stringField(req, 'UnsealRequest', 'key');
    const reset = boolField(req, 'UnsealRequest', 'reset');
    const migrate = boolField(req, 'UnsealRequest', 'migrate');
    return await this.mutex.run(async () => {
      this.assertOpen();
      if (reset) {
        if (!this.sealed) throw badRequest('vault is unsealed');
        this.unsealProgress.clear();
        return this.sealStatus();
      }
      // There is no seal migration here, so `migrate: true` is refused as Vault refuses it outside migration mode.
      if (migrate) throw badRequest("'migrate' parameter set true in JSON body when not in seal migration mode");
      if (keyText === '') throw badRequest("'key' must be specified in request body as JSON, or 'reset' set to true");
      const key = decodeKey(keyText);
      try {
        // Another node may have initialized the cluster, or rekeyed it, since this one last looked.
        if (this.options.cluster !== undefined && this.sealed) await this.reloadSealState();
        const config = this.config;
        if (config === undefined) throw badRequest('Vault is not initialized');
        const lengthProblem = keyLengthProblem(key, 'invalid key: ');
        if (lengthProblem !== undefined) throw badRequest(lengthProblem);
        if (!this.sealed) return this.sealStatus();
        this.unsealProgress.start();
        if (!this.unsealProgress.has(key)) this.unsealProgress.add(key);
        if (this.unsealProgress.count < config.secret_threshold) return this.sealStatus();
        // Threshold reached: progress and nonce are cleared whatever happens next.
        const parts = this.unsealProgress.take();
        this.unsealProgress.clear();
        const result = await recoverRootKey(this.physical, parts, config.secret_threshold);
        if (!result.ok) {
          if (result.reason === 'combine') throw badRequest(`invalid key: failed to compute combined key: ${result.message}`);
          if (result.reason === 'key-size') throw badRequest(`invalid key: failed to setup unseal key: crypto/aes: invalid key size ${result.size}`);
          throw badRequest(`unable to retrieve stored keys: invalid key: ${STORED_KEYS_AUTH_FAILED}`);
        }
        try {
          await this.barrierImpl.unseal(result.rootKey);
          if (this.options.cluster !== undefined) this.rootKey = Buffer.from(result.rootKey);
        } finally {
          wipe(result.rootKey);
        }
        if (this.options.cluster === undefined) {
          await this.forgetInitAttempt();
        } else {
          // A standby writes nothing: the node that becomes active removes the recorded attempt under the HA lock
          // (see activate), and abandoning needs that lock too, so an unsealed cluster is never erased.
          this.stateVersion++;
          this.initAttempt = undefined;
        }
        await this.afterUnseal();
        return this.sealStatus();
      } finally {
        wipe(key);
      }
    });
  }

  /**
   * `PUT sys/init/abandon {init_attempt}`: erases a store whose recorded init attempt (never unsealed since init)
   * hashes from `init_attempt`, so it can be initialized again. Refuses (400/409/403) otherwise; see
   * src/bootstrap/init-control.ts for the contract.
   */
  async abandonInit(req: Record<string, unknown>): Promise<{ initialized: false }> {
    return await this.mutex.run(async () => {
      this.assertOpen();
      const cluster = this.options.cluster;
      if (cluster !== undefined && this.sealed) await this.reloadSealState();
      if (this.config === undefined) throw badRequest('the store is not initialized');
      const check = (recorded: string | undefined): void => {
        if (recorded === undefined) throw new StoreApiError(409, NO_RECORDED_ATTEMPT);
        const attempt = parseAbandonAttempt(req);
        try {
          if (!attemptMatches(attempt, recorded)) throw new StoreApiError(403, 'init attempt mismatch');
        } finally {
          wipe(attempt);
        }
      };
      // An unsealed node proves the shares exist: whatever storage says, nothing is abandoned then.
      check(this.sealed ? this.initAttempt : undefined);
      // Never unsealed since init: the barrier is sealed and there is no logical layer to drop.
      this.sealNow();
      if (cluster === undefined) {
        await eraseStore(this.physical);
      } else {
        await cluster.exclusive(async () => {
          // Under the lock, from storage: no node became active (which removes the attempt) meanwhile.
          if ((await readSealConfig(this.physical)) === undefined) throw badRequest('the store is not initialized');
          check(await readInitAttempt(this.physical));
          await eraseStore(this.physical);
        });
      }
      this.stateVersion++;
      this.config = undefined;
      this.initAttempt = undefined;
      for (const cb of this.resetCallbacks) cb();
      return { initialized: false };
    });
  }

  /** Registers a callback run after `sys/init/abandon` erased the store (log one line, no secret). */
  onInitAbandoned(cb: () => void): void {
    this.resetCallbacks.push(cb);
  }

  /** `PUT sys/seal`: wipes every key from memory; sealing a sealed store is fine. */
  seal(): Promise<void> {
    return this.mutex.run(() => {
      this.sealNow();
      return Promise.resolve();
    });
  }

  /** The barrier for the logical layers; throws 503 `Vault is sealed` when sealed. */
  barrier(): Storage {
    if (this.sealed) throw sealedError();
    return this.barrierImpl;
  }

  /** Registers a callback run after every successful unseal (load tokens, policies, mounts); a failure re-seals. */
  onUnseal(cb: (barrier: Storage) => Promise<void>): void {
    this.unsealCallbacks.push(cb);
  }

  /** Registers a callback run when the store seals (drop the logical layers). */
  onSeal(cb: () => void): void {
    this.sealCallbacks.push(cb);
  }

  /**
   * HA: this node just took the lock (writes are fenced by it). Re-reads the keyring (the previous active node may
   * have rotated it) and removes the recorded init attempt: the cluster has been unsealed. Throws when sealed.
   */
  activate(): Promise<void> {
    return this.mutex.run(async () => {
      const rootKey = this.rootKey;
      if (this.sealed || rootKey === undefined) throw sealedError();
      await this.barrierImpl.unseal(rootKey);
      if ((await readInitAttempt(this.physical)) !== undefined) await deleteInitAttempt(this.physical);
    });
  }

  /**
   * HA: a key every unsealed node of the cluster derives alike from the root key (HKDF-SHA256, `label` as info),
   * e.g. the MAC key of forwarded client addresses; undefined while sealed. The caller wipes it when done.
   */
  deriveClusterKey(label: string): Buffer | undefined {
    if (this.sealed || this.rootKey === undefined) return undefined;
    return hkdfSha256(this.rootKey, Buffer.alloc(0), label, 32);
  }

  /** `GET sys/generate-root/attempt`. */
  generateRootStatus(): Record<string, unknown> {
    return this.rootGeneration.status(this.core);
  }

  /** `PUT sys/generate-root/attempt {otp?, pgp_key?}`: a generated OTP is returned once in `otp`. */
  generateRootStart(req: Record<string, unknown>): Record<string, unknown> {
    return this.rootGeneration.start(this.core, req);
  }

  /** `DELETE sys/generate-root/attempt`. */
  generateRootCancel(): void {
    this.rootGeneration.cancel(this.core);
  }

  /** `PUT sys/generate-root/update {key, nonce}`; at the threshold `mintRootToken` creates the token (`hvs.` + 24). */
  generateRootUpdate(req: Record<string, unknown>, mintRootToken: () => Promise<string>): Promise<Record<string, unknown>> {
    return this.mutex.run(() => this.rootGeneration.update(this.core, req, mintRootToken));
  }

  /** `GET sys/rekey/init`. */
  rekeyStatus(): Record<string, unknown> {
    return this.rekeyOp.status(this.core);
  }

  /** `PUT sys/rekey/init {secret_shares, secret_threshold, …}`. */
  rekeyInit(req: Record<string, unknown>): Record<string, unknown> {
    return this.rekeyOp.start(this.core, req);
  }

  /** `DELETE sys/rekey/init`. */
  rekeyCancel(): void {
    this.rekeyOp.cancel(this.core);
  }

  /** `PUT sys/rekey/update {key, nonce}`; the completing call returns `keys`/`keys_base64` of the new unseal key. */
  rekeyUpdate(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.mutex.run(() => this.rekeyOp.update(this.core, req));
  }

  /** Seals (wiping keys) and refuses further state changes. Does not close the physical storage (the caller owns it). */
  close(): Promise<void> {
    return this.mutex.run(() => {
      this.sealNow();
      this.closed = true;
      return Promise.resolve();
    });
  }

  /** First successful unseal: deletes `core/init-attempt` durably before any answer or logical write; a failure re-seals. */
  private async forgetInitAttempt(): Promise<void> {
    if (this.initAttempt === undefined) return;
    try {
      await deleteInitAttempt(this.physical);
      this.initAttempt = undefined;
    } catch (err) {
      this.sealNow();
      throw new SecretStoreError('IO', 'unsealed, but deleting the recorded init attempt failed; the store was sealed again', { cause: err });
    }
  }

  private async afterUnseal(): Promise<void> {
    try {
      const info = await this.barrierImpl.get(CLUSTER_INFO_PATH);
      this.cluster = info === undefined ? undefined : parseClusterInfo(info);
      for (const cb of this.unsealCallbacks) await cb(this.barrierImpl);
    } catch (err) {
      this.sealNow();
      if (err instanceof StoreApiError) throw err;
      throw new SecretStoreError('INTERNAL', 'unsealed, but loading the store failed; the store was sealed again', { cause: err });
    }
  }

  /** Re-reads the seal configuration and the init attempt (HA), unless a local change overlapped the read. */
  private async reloadSealState(): Promise<void> {
    const version = this.stateVersion;
    const config = await readSealConfig(this.physical);
    const attempt = config === undefined ? undefined : await readInitAttempt(this.physical);
    if (version === this.stateVersion && this.sealed) this.setSealState(config, attempt);
  }

  private setSealState(config: SealConfig | undefined, initAttempt: string | undefined): void {
    this.stateVersion++;
    this.config = config;
    this.initAttempt = initAttempt;
  }

  private sealNow(): void {
    const wasUnsealed = !this.barrierImpl.sealed;
    wipe(this.rootKey);
    this.rootKey = undefined;
    this.barrierImpl.seal();
    this.unsealProgress.clear();
    this.rootGeneration.reset();
    this.rekeyOp.reset();
    this.cluster = undefined;
    if (wasUnsealed) for (const cb of this.sealCallbacks) cb();
  }

  private assertOpen(): void {
    if (this.closed) throw sealedError();
  }

  private state(): CoreState {
    const c = this.config;
    return {
      initialized: c !== undefined,
      sealed: this.sealed,
      threshold: c?.secret_threshold ?? 0,
      shares: c?.secret_shares ?? 0,
      progress: this.unsealProgress.count,
      nonce: this.unsealProgress.nonce,
      version: this.options.version,
      buildDate: this.options.buildDate ?? '',
      storageType: this.options.storageType,
      cluster: this.cluster,
      standby: !this.sealed && this.standbyProbe(),
      initAttemptSha256: this.initAttempt,
    };
  }
}

function parseClusterInfo(raw: Buffer): { name: string; id: string } | undefined {
  try {
    const doc = JSON.parse(raw.toString('utf8')) as unknown;
    if (typeof doc !== 'object' || doc === null) return undefined;
    const { name, id } = doc as Record<string, unknown>;
    return typeof name === 'string' && typeof id === 'string' ? { name, id } : undefined;
  } catch {
    return undefined;
  }
}
