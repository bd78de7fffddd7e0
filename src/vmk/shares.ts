/**
 * Checks on unseal key shares and root tokens, shared by every key-file format: a share set that passes here is
 * safe to encrypt, write, or hand to an unseal call.
 */
import { constantTimeEqual } from '../crypto.js';
import { SecretStoreError, type ErrorCode } from '../errors.js';

/** Smallest share accepted: a 128-bit key. */
export const MIN_SHARE_BYTES = 16;
/** Largest share accepted: Vault's 32-byte key plus the Shamir x-coordinate byte. */
export const MAX_SHARE_BYTES = 33;
/** Shamir over GF(2^8) allows at most 255 shares. */
export const MAX_SHARES = 255;
/** Longest root token kept (Vault tokens are ~100 bytes; the bound stops absurd input). */
export const MAX_ROOT_TOKEN_BYTES = 1024;

/**
 * Throws `code` (KEYFILE_MALFORMED by default) unless `shares` is 1..255 buffers of 16..33 bytes, all the same
 * length, none repeated. `where` names the file for the message.
 */
export function validateShares(shares: readonly Buffer[], where: string, code: ErrorCode = 'KEYFILE_MALFORMED'): void {
  if (shares.length < 1) throw new SecretStoreError(code, `${where} holds no key shares`);
  if (shares.length > MAX_SHARES) throw new SecretStoreError(code, `${where} holds ${shares.length} key shares, more than ${MAX_SHARES}`);
  const first = shares[0]?.length ?? 0;
  shares.forEach((share, i) => {
    if (share.length < MIN_SHARE_BYTES || share.length > MAX_SHARE_BYTES) {
      throw new SecretStoreError(code, `${where}: key share ${i} is ${share.length} bytes, not ${MIN_SHARE_BYTES}..${MAX_SHARE_BYTES}`);
    }
    if (share.length !== first) throw new SecretStoreError(code, `${where}: key shares differ in length (share ${i})`);
    for (let j = 0; j < i; j++) {
      const other = shares[j];
      if (other !== undefined && constantTimeEqual(other, share)) {
        throw new SecretStoreError(code, `${where}: key shares ${j} and ${i} are identical`);
      }
    }
  });
}

/** Throws unless `threshold` is undefined or a whole number in 1..shareCount. */
export function validateThreshold(threshold: number | undefined, shareCount: number, where: string, code: ErrorCode = 'KEYFILE_MALFORMED'): void {
  if (threshold === undefined) return;
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > shareCount) {
    throw new SecretStoreError(code, `${where}: threshold must be between 1 and the share count ${shareCount}`);
  }
}

/** Throws unless the root token is 1..1024 bytes of printable ASCII (Vault tokens are). */
export function validateRootToken(token: Buffer, where: string, code: ErrorCode = 'KEYFILE_MALFORMED'): void {
  if (token.length < 1 || token.length > MAX_ROOT_TOKEN_BYTES) {
    throw new SecretStoreError(code, `${where}: root token must be 1..${MAX_ROOT_TOKEN_BYTES} bytes`);
  }
  for (const c of token) {
    if (c < 0x21 || c > 0x7e) throw new SecretStoreError(code, `${where}: root token holds a non-printable character`);
  }
}

/** Constant-time equality of two share lists (same count, same bytes in order). */
export function sharesEqual(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  let same = true;
  a.forEach((share, i) => {
    const other = b[i];
    same = other !== undefined && constantTimeEqual(share, other) && same;
  });
  return same;
}
