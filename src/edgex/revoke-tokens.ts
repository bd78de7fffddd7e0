/**
 * EdgeX's every-boot token sweep (edgex-go `internal/security/secretstore/init.go`, step 3 of the boot sequence):
 * with the root token, revoke every token that is not a root token and not the one in use — the previous boot's admin
 * and service tokens stop working, so a token copied off the device is dead after the next reboot. As in EdgeX, a
 * failure here is a warning, not a failed boot: the services get new tokens either way.
 */
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';

/** What the sweep did. */
export interface SweepResult {
  revoked: number;
  /** Accessors that could not be looked up or revoked (logged as warnings). */
  failed: number;
}

/** Revokes every non-root token except `token` itself; never throws (EdgeX only warns). */
export async function revokeNonRootTokens(client: VaultClient, token: string, log: Logger): Promise<SweepResult> {
  const result: SweepResult = { revoked: 0, failed: 0 };
  let own: string;
  let accessors: string[];
  try {
    const self = await client.lookupSelf(token);
    if (self === undefined) throw new Error('the token in use was rejected');
    own = self.accessor;
    accessors = await client.listAccessors(token);
  } catch (err) {
    log.warn('could not list tokens to revoke; old service tokens stay valid until they expire', { cause: describeCause(err) });
    return { revoked: 0, failed: 1 };
  }
  for (const accessor of accessors) {
    if (accessor === own) continue;
    try {
      const info = await client.lookupAccessor(token, accessor);
      // Gone meanwhile (expired, revoked with its parent): nothing to do.
      if (info === undefined) continue;
      if (info.policies.includes('root')) continue;
      await client.revokeAccessor(token, accessor);
      result.revoked++;
    } catch (err) {
      result.failed++;
      log.warn('could not revoke a token', { accessor, cause: describeCause(err) });
    }
  }
  log.info('non-root tokens revoked', { node: client.address, revoked: result.revoked, failed: result.failed });
  return result;
}
