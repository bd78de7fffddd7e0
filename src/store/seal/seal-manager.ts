/**
 * The seal state machine of the embedded store (Vault's core, Shamir seal): initialized or not, sealed or not,
 * unseal progress, generate-root and rekey. Starts sealed whenever it opens existing storage. The HTTP layer
 * calls these methods and renders what they return or throw ({@link StoreApiError} with Vault's statuses and
 * messages). Secrets (shares, unseal key, root key, keyring) live in Buffers that are wiped on seal.
 */
import { randomBytes, randomUUID, wipe } from '../../crypto.js';
import { SecretStoreError } from '../../errors.js';
import { badRequest, sealedError, StoreApiError } from '../api-error.js';
import { Barrier } from '../barrier.js';
import type { Storage } from '../storage/storage.js';
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
    if (config === undefined) await finishInterruptedReset(physical);
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
      if (this.config !== undefined) throw badRequest('Vault is already initialized');
      let rootToken = '';
      const outcome = await initializeStore(this.physical, this.barrierImpl, params, async (barrier) => {
        const name = this.options.clusterName ?? `vault-cluster-${randomBytes(4).toString('hex')}`;
        await barrier.put(CLUSTER_INFO_PATH, Buffer.from(JSON.stringify({ name, id: randomUUID() }), 'utf8'));
        rootToken = await createRootToken(barrier);
      });
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
        } finally {
          wipe(result.rootKey);
        }
        await this.forgetInitAttempt();
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
      if (this.config === undefined) throw badRequest('the store is not initialized');
      const recorded = this.initAttempt;
      if (recorded === undefined) throw new StoreApiError(409, NO_RECORDED_ATTEMPT);
      const attempt = parseAbandonAttempt(req);
      try {
        if (!attemptMatches(attempt, recorded)) throw new StoreApiError(403, 'init attempt mismatch');
      } finally {
        wipe(attempt);
      }
      // Never unsealed since init: the barrier is sealed and there is no logical layer to drop.
      this.sealNow();
      await eraseStore(this.physical);
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

  private sealNow(): void {
    const wasUnsealed = !this.barrierImpl.sealed;
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
