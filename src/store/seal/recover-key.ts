/**
 * Turning a threshold of submitted shares back into the root key: combine the shares (threshold 1: the key as
 * given), decrypt the stored root key with the result. Unseal, generate-root and rekey word the failures
 * differently, so this returns a tagged outcome and each caller builds Vault's message.
 */
import { wipe } from '../../crypto.js';
import { combine, ShamirError } from '../shamir.js';
import type { Storage } from '../storage/storage.js';
import { readStoredKeys } from './stored-keys.js';

/** Outcome of {@link recoverRootKey}. */
export type RecoverResult =
  | { ok: true; rootKey: Buffer }
  /** `shamir.Combine` refused the shares; `message` is its Vault error text. */
  | { ok: false; reason: 'combine'; message: string }
  /** The combined key is not an AES key size. */
  | { ok: false; reason: 'key-size'; size: number }
  /** The combined key did not decrypt the stored root key (wrong or foreign shares). */
  | { ok: false; reason: 'auth' };

/** Combines `parts` (wiped before returning) and decrypts the stored root key with the result. */
export async function recoverRootKey(physical: Storage, parts: Buffer[], threshold: number): Promise<RecoverResult> {
  let unsealKey: Buffer | undefined;
  try {
    if (threshold === 1) {
      unsealKey = Buffer.from(parts[0] ?? Buffer.alloc(0));
    } else {
      try {
        unsealKey = combine(parts);
      } catch (err) {
        if (err instanceof ShamirError) return { ok: false, reason: 'combine', message: err.message };
        throw err;
      }
    }
    const stored = await readStoredKeys(physical, unsealKey);
    if (stored.ok) return { ok: true, rootKey: stored.rootKey };
    return stored.reason === 'key-size' ? { ok: false, reason: 'key-size', size: stored.size } : { ok: false, reason: 'auth' };
  } finally {
    wipe(unsealKey, ...parts);
  }
}

/** Vault's wording of a GCM failure on the stored keys. */
export const STORED_KEYS_AUTH_FAILED = 'failed to decrypt keys from storage: cipher: message authentication failed';
