/**
 * Key derivation for the VMK envelopes: RFC 5869 HKDF-SHA256 (Extract then Expand), through the crypto facade.
 * One derived key per purpose: the `info` label names the purpose (and, in our formats, the format version).
 */
import { AES_KEY_LENGTH, SHA256_LENGTH, hkdfSha256 } from '../crypto.js';
import { SecretStoreError } from '../errors.js';

/** HKDF-SHA256 output limit (RFC 5869 §2.3: L <= 255 * HashLen). */
const MAX_OKM_LENGTH = 255 * SHA256_LENGTH;

/**
 * Derives `length` bytes (default 32, an AES-256 key) from `ikm` with `salt` and the `info` label.
 * `info` is a UTF-8 label (our formats) or raw bytes (RFC 5869's test vectors). Returns a fresh Buffer the caller wipes.
 */
export function deriveKey(ikm: Buffer, salt: Buffer, info: string | Uint8Array, length: number = AES_KEY_LENGTH): Buffer {
  if (!Number.isSafeInteger(length) || length < 1 || length > MAX_OKM_LENGTH) {
    throw new SecretStoreError('INTERNAL', `HKDF output length must be 1..${MAX_OKM_LENGTH}, got ${length}`);
  }
  return hkdfSha256(ikm, salt, info, length);
}
