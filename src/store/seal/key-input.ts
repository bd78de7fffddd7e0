/**
 * Decoding an unseal key or key share submitted over the API, exactly as Vault's handlers do: hex first; if that
 * fails or gives a length outside [16, 33] bytes, standard base64 (padded; `\r` and `\n` ignored as Go does);
 * neither → 400. Then the core's length check. Shares are secrets: the decoded Buffer is the caller's to wipe.
 * The input's length is checked before anything else looks at it (see {@link MAX_KEY_INPUT_LENGTH}).
 */
import { badRequest } from '../api-error.js';
import { SHARE_OVERHEAD } from '../shamir.js';

/** Shortest key the API accepts (AES-128, Vault's barrier minimum). */
export const MIN_KEY_LENGTH = 16;
/** Longest key the API accepts: a 32-byte key plus the share's x byte. */
export const MAX_KEY_LENGTH = 32 + SHARE_OVERHEAD;

/**
 * Longest key text decoded. A 33-byte key is 66 hex digits or 44 base64 characters; this leaves room for line breaks
 * (which Go's base64 decoder skips) and still keeps every later step — the regular expressions, the decoding — to a
 * few microseconds. Longer text is not looked at: it stands for a key longer than any accepted one.
 */
export const MAX_KEY_INPUT_LENGTH = 1024;

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The bytes of `key` (hex, else base64), or a 400 `'key' must be a valid hex or base64 string`. Text longer than
 * {@link MAX_KEY_INPUT_LENGTH} is not decoded: the result is then a zero-filled Buffer one byte over
 * {@link MAX_KEY_LENGTH}, so the caller's {@link keyLengthProblem} answers Vault's `key is longer than maximum 33
 * bytes` at the point of its checks where Vault would (after "not initialized" for unseal, after "sealed" for rekey).
 */
export function decodeKey(key: string): Buffer {
  if (key.length > MAX_KEY_INPUT_LENGTH) return Buffer.alloc(MAX_KEY_LENGTH + 1);
  if (HEX.test(key)) {
    const bytes = Buffer.from(key, 'hex');
    if (bytes.length >= MIN_KEY_LENGTH && bytes.length <= MAX_KEY_LENGTH) return bytes;
    bytes.fill(0);
  }
  const compact = key.replace(/[\r\n]/g, '');
  if (!BASE64.test(compact)) throw badRequest("'key' must be a valid hex or base64 string");
  return Buffer.from(compact, 'base64');
}

/**
 * The core's length check: the message when `key` is outside [16, 33] bytes, with `prefix` (`"invalid key: "` for
 * unseal and generate-root, `""` for rekey as Vault words it), else `undefined`.
 */
export function keyLengthProblem(key: Buffer, prefix: string): string | undefined {
  if (key.length < MIN_KEY_LENGTH) return `${prefix}key is shorter than minimum ${MIN_KEY_LENGTH} bytes`;
  if (key.length > MAX_KEY_LENGTH) return `${prefix}key is longer than maximum ${MAX_KEY_LENGTH} bytes`;
  return undefined;
}
