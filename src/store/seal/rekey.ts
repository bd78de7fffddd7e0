/**
 * `sys/rekey`: a quorum of current unseal-key holders replaces the unseal key and its shares (new count and
 * threshold allowed). The root key and the keyring stay; the root key is re-encrypted under the new unseal key,
 * so old shares stop working at once. Vault's statuses, checks and messages; PGP and verification unsupported.
 */
import { AES_KEY_LENGTH, randomBytes, wipe } from '../../crypto.js';
import { badRequest, sealedError } from '../api-error.js';
import { split } from '../shamir.js';
import type { SealCore } from './core-context.js';
import { decodeKey, keyLengthProblem } from './key-input.js';
import { KeyProgress } from './key-progress.js';
import { recoverRootKey, STORED_KEYS_AUTH_FAILED } from './recover-key.js';
import { boolField, intField, stringArrayField, stringField } from './request-fields.js';
import { newSealConfig, sealConfigProblem, writeSealConfig } from './seal-config.js';
import { writeStoredKeys } from './stored-keys.js';

/** State of the rekey operation (at most one at a time). */
export class Rekey {
  private target: { shares: number; threshold: number } | undefined;
  private readonly progress = new KeyProgress();

  /** `GET sys/rekey/init`. */
  status(core: SealCore): Record<string, unknown> {
    const config = core.sealConfig();
    if (config === undefined) throw badRequest('server is not yet initialized');
    if (core.isSealed()) throw sealedError();
    const t = this.target;
    return {
      nonce: t === undefined ? '' : this.progress.nonce,
      started: t !== undefined,
      t: t?.threshold ?? 0,
      n: t?.shares ?? 0,
      progress: t === undefined ? 0 : this.progress.count,
      required: config.secret_threshold,
      pgp_fingerprints: null,
      backup: false,
      verification_required: false,
    };
  }

  /** `PUT sys/rekey/init {secret_shares, secret_threshold, pgp_keys?, backup?, require_verification?}`. */
  start(core: SealCore, req: Record<string, unknown>): Record<string, unknown> {
    const shares = intField(req, 'RekeyRequest', 'secret_shares');
    const threshold = intField(req, 'RekeyRequest', 'secret_threshold');
    const pgpKeys = stringArrayField(req, 'RekeyRequest', 'pgp_keys');
    const backup = boolField(req, 'RekeyRequest', 'backup');
    const verify = boolField(req, 'RekeyRequest', 'require_verification');
    if (backup && pgpKeys.length === 0) throw badRequest('cannot request a backup of the new keys without providing PGP keys for encryption');
    if (pgpKeys.length > 0 && pgpKeys.length !== shares) throw badRequest('incorrect number of PGP keys for rekey');
    if (pgpKeys.length > 0) throw badRequest('pgp_keys are not supported by this server; omit them to receive the new shares in clear');
    if (verify) throw badRequest('require_verification is not supported by this server');
    // Vault's Core.RekeyInit checks this first, in its own words.
    if (threshold > shares) throw badRequest('provided threshold greater than the total shares');
    const problem = sealConfigProblem(shares, threshold, 0);
    // Vault's message; Vault codes it 500 (CodedError(StatusInternalServerError, …)), but it is the client's mistake
    // (e.g. `{}`: no shares or threshold), and a client mistake here is always a 400.
    if (problem !== undefined) throw badRequest(`invalid rekey seal configuration: ${problem}`);
    if (core.isSealed()) throw sealedError();
    if (this.target !== undefined) throw badRequest('rekey already in progress');
    this.progress.clear();
    this.progress.start();
    this.target = { shares, threshold };
    return this.status(core);
  }

  /** `DELETE sys/rekey/init`. */
  cancel(core: SealCore): void {
    if (core.isSealed()) throw sealedError();
    this.reset();
  }

  /** Forgets the operation and wipes its shares (also called when sealing). */
  reset(): void {
    this.progress.clear();
    this.target = undefined;
  }

  /** `PUT sys/rekey/update {key, nonce}`; at the threshold installs the new unseal key and returns its shares. */
  async update(core: SealCore, req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const keyText = stringField(req, 'RekeyUpdateRequest', 'key');
    const nonce = stringField(req, 'RekeyUpdateRequest', 'nonce');
    if (keyText === '') throw badRequest("'key' must be specified in request body as JSON");
    const key = decodeKey(keyText);
    try {
      if (core.isSealed()) throw sealedError();
      const lengthProblem = keyLengthProblem(key, '');
      if (lengthProblem !== undefined) throw badRequest(lengthProblem);
      const config = core.sealConfig();
      if (config === undefined) throw badRequest('Vault is not initialized');
      const target = this.target;
      if (target === undefined) throw badRequest('no barrier rekey in progress');
      if (nonce !== this.progress.nonce) {
        throw badRequest(`incorrect nonce supplied; nonce for this rekey operation is ${JSON.stringify(this.progress.nonce)}`);
      }
      if (this.progress.has(key)) throw badRequest('given key has already been provided during this generation operation');
      this.progress.add(key);
      if (this.progress.count < config.secret_threshold) return this.status(core);

      const result = await recoverRootKey(core.physical, this.progress.take(), config.secret_threshold);
      if (!result.ok) {
        // Vault's messages; Vault codes these 500, but shares that do not recombine to the unseal key are the
        // submitters' mistake (as for unseal and generate-root, which answer 400).
        if (result.reason === 'combine') throw badRequest(`failed to compute root key: ${result.message}`);
        if (result.reason === 'key-size') throw badRequest(`failed to setup unseal key: crypto/aes: invalid key size ${result.size}`);
        throw badRequest(`failed to read root key: invalid key: ${STORED_KEYS_AUTH_FAILED}`);
      }
      const newUnsealKey = randomBytes(AES_KEY_LENGTH);
      let shares: Buffer[] = [];
      try {
        if (!core.barrier.verifyRoot(result.rootKey)) throw badRequest('root key verification failed');
        shares = target.shares === 1 ? [Buffer.from(newUnsealKey)] : split(newUnsealKey, target.shares, target.threshold);
        // Stored keys first: if we crash before the config is written, the old config (t/n) still describes a
        // valid quorum of the NEW shares only when t/n did not change — documented in docs/store-internals.md.
        await writeStoredKeys(core.physical, newUnsealKey, result.rootKey);
        const newConfig = newSealConfig(target.shares, target.threshold);
        await writeSealConfig(core.physical, newConfig);
        core.setSealConfig(newConfig);
        this.reset();
        return {
          nonce,
          complete: true,
          keys: shares.map((s) => s.toString('hex')),
          keys_base64: shares.map((s) => s.toString('base64')),
          pgp_fingerprints: null,
          backup: false,
          verification_required: false,
        };
      } finally {
        wipe(result.rootKey, newUnsealKey, ...shares);
      }
    } finally {
      wipe(key);
    }
  }
}
