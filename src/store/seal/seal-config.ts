/**
 * The seal configuration stored in plaintext at `core/seal-config` (it must be readable while sealed to report
 * `t`/`n`), in Vault's JSON shape, and its validation with Vault's messages.
 */
import { SecretStoreError } from '../../errors.js';
import type { Storage } from '../storage/storage.js';

/** Physical path of the seal configuration. */
export const SEAL_CONFIG_PATH = 'core/seal-config';

/** Vault's `SealConfig` as stored (Shamir seal, root key stored under the unseal key: `stored_shares` 1). */
export interface SealConfig {
  type: 'shamir';
  secret_shares: number;
  secret_threshold: number;
  pgp_keys: string[] | null;
  nonce: string;
  backup: boolean;
  stored_shares: number;
}

/** Vault's `SealConfig.Validate` messages, in Vault's order; `undefined` when valid. */
export function sealConfigProblem(shares: number, threshold: number, pgpKeyCount: number): string | undefined {
  if (shares < 1) return 'shares must be at least one';
  if (threshold < 1) return 'threshold must be at least one';
  if (shares > 1 && threshold === 1) return 'threshold must be greater than one for multiple shares';
  if (shares > 255) return 'shares must be less than 256';
  if (threshold > 255) return 'threshold must be less than 256';
  if (threshold > shares) return 'threshold cannot be larger than shares';
  if (pgpKeyCount > 0 && pgpKeyCount !== shares) return 'count mismatch between number of provided PGP keys and number of shares';
  return undefined;
}

/** A new Shamir seal configuration. */
export function newSealConfig(shares: number, threshold: number): SealConfig {
  return { type: 'shamir', secret_shares: shares, secret_threshold: threshold, pgp_keys: null, nonce: '', backup: false, stored_shares: 1 };
}

/** Reads and validates `core/seal-config`; `undefined` when absent (not initialized). Malformed → STORE_CORRUPT. */
export async function readSealConfig(physical: Storage): Promise<SealConfig | undefined> {
  const raw = await physical.get(SEAL_CONFIG_PATH);
  if (raw === undefined) return undefined;
  const corrupt = (): SecretStoreError =>
    new SecretStoreError('STORE_CORRUPT', `${SEAL_CONFIG_PATH} in the data folder is malformed; restore the data folder from a backup`);
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new SecretStoreError('STORE_CORRUPT', corrupt().message, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null) throw corrupt();
  const d = doc as Record<string, unknown>;
  const shares = d.secret_shares;
  const threshold = d.secret_threshold;
  if (d.type !== 'shamir' || typeof shares !== 'number' || typeof threshold !== 'number') throw corrupt();
  if (!Number.isInteger(shares) || !Number.isInteger(threshold) || sealConfigProblem(shares, threshold, 0) !== undefined) throw corrupt();
  return newSealConfig(shares, threshold);
}

/** Writes `core/seal-config` (durable when the physical backend resolves). */
export async function writeSealConfig(physical: Storage, config: SealConfig): Promise<void> {
  await physical.put(SEAL_CONFIG_PATH, Buffer.from(JSON.stringify(config), 'utf8'));
}
