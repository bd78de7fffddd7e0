/**
 * Strict hex handling for secret bytes. Decoding works byte by byte on the raw buffer so that no JavaScript string
 * holding the secret is ever built (strings cannot be wiped); encoding is for non-secret values (nonces, ciphertext).
 */

/** Why a hex buffer was refused; never contains the bytes themselves. */
export type HexProblem = 'empty' | 'odd-length' | 'not-hex' | 'cr' | 'whitespace' | 'prefix-0x';

/** Value of one ASCII hex digit (both cases), or -1. */
function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10; // a-f
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10; // A-F (EdgeX's Go hex.DecodeString accepts them too)
  return -1;
}

/** Classifies why `digits` (no trailing newline) is not an even run of hex digits; undefined when it is fine. */
export function hexProblem(digits: Uint8Array): HexProblem | undefined {
  if (digits.length === 0) return 'empty';
  if (digits.length >= 2 && digits[0] === 0x30 && (digits[1] === 0x78 || digits[1] === 0x58)) return 'prefix-0x';
  for (const c of digits) {
    if (nibble(c) >= 0) continue;
    if (c === 0x0d) return 'cr';
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0b || c === 0x0c) return 'whitespace';
    return 'not-hex';
  }
  if (digits.length % 2 !== 0) return 'odd-length';
  return undefined;
}

/**
 * Decodes an even run of hex digits into a fresh Buffer, nibble by nibble, without building strings.
 * Returns undefined when the input is not exactly that (use {@link hexProblem} for the reason).
 */
export function decodeHexBytes(digits: Uint8Array): Buffer | undefined {
  if (hexProblem(digits) !== undefined) return undefined;
  const out = Buffer.alloc(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = (nibble(digits[2 * i] ?? 0) << 4) | nibble(digits[2 * i + 1] ?? 0);
  }
  return out;
}

/**
 * Decodes a hex string from a JSON document (ciphertexts, nonces, salts, or shares already held as strings by the
 * parser) into bytes. `lowercaseOnly` makes it refuse uppercase digits (our canonical formats write lowercase).
 */
export function decodeHexString(text: string, lowercaseOnly = false): Buffer | undefined {
  if (text.length === 0 || text.length % 2 !== 0) return undefined;
  const re = lowercaseOnly ? /^[0-9a-f]+$/ : /^[0-9a-fA-F]+$/;
  if (!re.test(text)) return undefined;
  return Buffer.from(text, 'hex');
}

/** Lowercase hex of non-secret bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
