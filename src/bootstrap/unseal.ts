/**
 * Unsealing one node with the decrypted shares: share by share until the store reports unsealed. A rejected share
 * (HTTP 400) stops at once with UNSEAL_REJECTED — never a retry loop (EdgeX retries forever).
 */
import { SecretStoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';

/** What happened on one node. */
export type UnsealOutcome = 'already-unsealed' | 'unsealed';

/** Unseals `client` with `shares` (any order; the store needs its threshold `t` of them). */
export async function unsealNode(client: VaultClient, shares: readonly Buffer[], log: Logger): Promise<UnsealOutcome> {
  let status = await client.sealStatus();
  if (!status.initialized) {
    throw new SecretStoreError('STORE_NOT_INITIALIZED', `the secret store at ${client.address} is not initialized; run bootstrap against the first node of the cluster`);
  }
  if (!status.sealed) return 'already-unsealed';
  if (shares.length < status.t) {
    throw new SecretStoreError(
      'UNSEAL_REJECTED',
      `the key file holds ${shares.length} shares but the store at ${client.address} needs ${status.t}; the key file does not belong to this store`,
    );
  }
  if (status.progress > 0) {
    // A partial attempt (a crash mid-unseal, or someone else's shares) would mix with ours: start clean.
    log.warn('resetting a partial unseal attempt', { node: client.address, progress: status.progress });
    await client.unsealReset();
  }
  for (const share of shares) {
    status = await client.unseal(share);
    if (!status.sealed) {
      log.info('node unsealed', { node: client.address });
      return 'unsealed';
    }
    log.info('unseal share accepted', { node: client.address, progress: status.progress, threshold: status.t });
  }
  throw new SecretStoreError(
    'UNSEAL_REJECTED',
    `the secret store at ${client.address} is still sealed after all ${shares.length} shares; the key file does not belong to this store`,
  );
}
