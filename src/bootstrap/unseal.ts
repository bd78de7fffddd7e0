/**
 * Unsealing one node with the decrypted shares: share by share until the store reports unsealed. A rejected share
 * (HTTP 400) stops at once with UNSEAL_REJECTED — never a retry loop (EdgeX retries forever).
 */
import { SecretStoreError, isSecretStoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';
import type { SealStatus } from '../vault/types.js';
import { settleAll } from '../settle.js';

/** What happened on one node. */
export type UnsealOutcome = 'already-unsealed' | 'unsealed';

/** Options of {@link unsealNode}. */
export interface UnsealOptions {
  /**
   * The caller has just read `sys/health` of this node and it answered 503 (initialized and sealed). The
   * `sys/seal-status` read is then skipped: the first `sys/unseal` answer carries the same fields (threshold,
   * progress), and what that read would have caught is caught from it instead (see {@link unsealNode}).
   */
  knownSealed?: boolean;
}

function tooFewShares(client: VaultClient, have: number, need: number): SecretStoreError {
  return new SecretStoreError(
    'UNSEAL_REJECTED',
    `the key file holds ${have} shares but the store at ${client.address} needs ${need}; the key file does not belong to this store`,
  );
}

/**
 * Unseals `client` with `shares` (any order; the store needs its threshold `t` of them).
 *
 * Without `knownSealed` it reads `sys/seal-status` first: not initialized, already unsealed, too few shares and a
 * partial attempt (reset first) are known before any share is sent. With it (a sealed boot: one round trip less) the
 * first share goes out at once and its answer says the same: unsealed (someone else finished meanwhile, or a
 * threshold of 1); a progress other than 1 means a partial attempt was there (our share went on top of it): it is
 * reset and the unseal starts over; a threshold above the shares held stops as before. A partial attempt of t − 1
 * foreign shares would turn our first share into a failed combination (400): that one answer is not trusted, the
 * node goes through the careful path once (seal-status, reset if needed, every share), whose rejection is final.
 */
export async function unsealNode(client: VaultClient, shares: readonly Buffer[], log: Logger, options: UnsealOptions = {}): Promise<UnsealOutcome> {
  const first = shares[0];
  if (options.knownSealed === true && first !== undefined) {
    let status: SealStatus;
    try {
      status = await client.unseal(first);
    } catch (err) {
      if (!isSecretStoreError(err, 'UNSEAL_REJECTED')) throw err;
      return await unsealCarefully(client, shares, log);
    }
    if (!status.sealed) return unsealed(client, log);
    if (shares.length < status.t) {
      await client.unsealReset().catch(() => undefined); // leave no share of ours in a store it does not belong to
      throw tooFewShares(client, shares.length, status.t);
    }
    if (status.progress !== 1) {
      log.warn('resetting a partial unseal attempt', { node: client.address, progress: Math.max(0, status.progress - 1) });
      await client.unsealReset();
      return await sendShares(client, shares, log, shares.length, status.t);
    }
    log.info('unseal share accepted', { node: client.address, progress: status.progress, threshold: status.t });
    return await sendShares(client, shares.slice(1), log, shares.length, status.t - 1);
  }
  return await unsealCarefully(client, shares, log);
}

/** Seal status first, then the shares (the path without `knownSealed`). */
async function unsealCarefully(client: VaultClient, shares: readonly Buffer[], log: Logger): Promise<UnsealOutcome> {
  const status = await client.sealStatus();
  if (!status.initialized) {
    throw new SecretStoreError('STORE_NOT_INITIALIZED', `the secret store at ${client.address} is not initialized; run bootstrap against the first node of the cluster`);
  }
  if (!status.sealed) return 'already-unsealed';
  if (shares.length < status.t) throw tooFewShares(client, shares.length, status.t);
  if (status.progress > 0) {
    // A partial attempt (a crash mid-unseal, or someone else's shares) would mix with ours: start clean.
    log.warn('resetting a partial unseal attempt', { node: client.address, progress: status.progress });
    await client.unsealReset();
  }
  return await sendShares(client, shares, log, shares.length, status.t);
}

function unsealed(client: VaultClient, log: Logger): UnsealOutcome {
  log.info('node unsealed', { node: client.address });
  return 'unsealed';
}

/**
 * Sends `shares` until the store says unsealed; `total` is the size of the whole set (for the error). The first
 * `atOnce` (the shares the store still needs) go out together: the store takes them one at a time (Vault under its
 * state lock, `serve` under its seal mutex), so this saves round trips, not checks; the rest, if the store still
 * says sealed, one by one.
 */
async function sendShares(client: VaultClient, shares: readonly Buffer[], log: Logger, total: number, atOnce: number): Promise<UnsealOutcome> {
  const together = shares.slice(0, Math.max(1, atOnce));
  const answers = await settleAll(together.map((share) => client.unseal(share)));
  if (answers.some((status) => !status.sealed)) return unsealed(client, log);
  for (const status of answers) log.info('unseal share accepted', { node: client.address, progress: status.progress, threshold: status.t });
  for (const share of shares.slice(together.length)) {
    const status = await client.unseal(share);
    if (!status.sealed) return unsealed(client, log);
    log.info('unseal share accepted', { node: client.address, progress: status.progress, threshold: status.t });
  }
  throw new SecretStoreError(
    'UNSEAL_REJECTED',
    `the secret store at ${client.address} is still sealed after all ${total} shares; the key file does not belong to this store`,
  );
}
