/**
 * The root key stored under the unseal key at `core/hsm/barrier-unseal-keys`, in Vault's format for Shamir seals
 * with stored keys: `nonce (12) ‖ AES-256-GCM(unseal key, JSON ["<base64 root key>"])`, no AAD. The JSON is built
 * and parsed byte by byte so the root key never becomes a JavaScript string (strings cannot be wiped).
 */
import { AES_KEY_LENGTH, aesGcmDecrypt, aesGcmEncrypt, GCM_NONCE_LENGTH, GCM_TAG_LENGTH, randomBytes, wipe } from '../../crypto.js';
import { SecretStoreError } from '../../errors.js';
import type { Storage } from '../storage/storage.js';

/** Physical path of the root key encrypted under the unseal key. */
export const STORED_KEYS_PATH = 'core/hsm/barrier-unseal-keys';

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'ascii');

/** Standard padded base64 of `data`, as bytes. */
export function base64Bytes(data: Uint8Array): Buffer {
  const out = Buffer.alloc(Math.ceil(data.length / 3) * 4);
  let o = 0;
  for (let i = 0; i < data.length; i += 3) {
    const n = ((data[i] ?? 0) << 16) | ((data[i + 1] ?? 0) << 8) | (data[i + 2] ?? 0);
    out[o++] = B64[(n >> 18) & 63] ?? 0;
    out[o++] = B64[(n >> 12) & 63] ?? 0;
    out[o++] = i + 1 < data.length ? (B64[(n >> 6) & 63] ?? 0) : 0x3d;
    out[o++] = i + 2 < data.length ? (B64[n & 63] ?? 0) : 0x3d;
  }
  return out;
}

function sextet(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c === 0x2b) return 62;
  if (c === 0x2f) return 63;
  return -1;
}

/** Decodes standard padded base64 bytes; `undefined` when malformed. */
export function fromBase64Bytes(text: Uint8Array): Buffer | undefined {
  if (text.length % 4 !== 0) return undefined;
  let pad = 0;
  if (text.length > 0 && text[text.length - 1] === 0x3d) pad++;
  if (text.length > 1 && text[text.length - 2] === 0x3d) pad++;
  const out = Buffer.alloc((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text[i + j] ?? 0;
      const isPad = c === 0x3d && i + 4 === text.length && j >= 4 - pad;
      const v = isPad ? 0 : sextet(c);
      if (v < 0) {
        wipe(out);
        return undefined;
      }
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

/** Encrypts `rootKey` under `unsealKey` and writes it to {@link STORED_KEYS_PATH}. */
export async function writeStoredKeys(physical: Storage, unsealKey: Buffer, rootKey: Buffer): Promise<void> {
  const b64 = base64Bytes(rootKey);
  const json = Buffer.concat([Buffer.from('["'), b64, Buffer.from('"]')]);
  try {
    const nonce = randomBytes(GCM_NONCE_LENGTH);
    const { ciphertext, tag } = aesGcmEncrypt(unsealKey, nonce, json);
    await physical.put(STORED_KEYS_PATH, Buffer.concat([nonce, ciphertext, tag]));
  } finally {
    wipe(b64, json);
  }
}

/** Outcome of {@link readStoredKeys}. */
export type StoredKeysResult =
  | { ok: true; rootKey: Buffer }
  | { ok: false; reason: 'key-size'; size: number }
  | { ok: false; reason: 'auth' };

/**
 * Decrypts the stored root key with a candidate unseal key. A key that is not a valid AES size reports
 * `key-size` (Vault: `crypto/aes: invalid key size N`); a wrong key or altered entry reports `auth`.
 */
export async function readStoredKeys(physical: Storage, unsealKey: Buffer): Promise<StoredKeysResult> {
  if (unsealKey.length !== 16 && unsealKey.length !== 24 && unsealKey.length !== AES_KEY_LENGTH) {
    return { ok: false, reason: 'key-size', size: unsealKey.length };
  }
  const entry = await physical.get(STORED_KEYS_PATH);
  if (entry === undefined) throw new SecretStoreError('STORE_CORRUPT', `${STORED_KEYS_PATH} is missing from the data folder; restore it from a backup`);
  // The store only ever writes 32-byte keys (AES-256); a 16/24-byte candidate cannot be right.
  if (unsealKey.length !== AES_KEY_LENGTH || entry.length < GCM_NONCE_LENGTH + GCM_TAG_LENGTH) return { ok: false, reason: 'auth' };
  const nonce = entry.subarray(0, GCM_NONCE_LENGTH);
  const ciphertext = entry.subarray(GCM_NONCE_LENGTH, entry.length - GCM_TAG_LENGTH);
  const tag = entry.subarray(entry.length - GCM_TAG_LENGTH);
  const json = aesGcmDecrypt(unsealKey, nonce, ciphertext, tag);
  if (json === undefined) return { ok: false, reason: 'auth' };
  try {
    // ["<base64>"] — one element, as Vault writes it.
    const ok = json.length > 4 && json[0] === 0x5b && json[1] === 0x22 && json[json.length - 2] === 0x22 && json[json.length - 1] === 0x5d;
    const rootKey = ok ? fromBase64Bytes(json.subarray(2, json.length - 2)) : undefined;
    if (rootKey?.length !== AES_KEY_LENGTH) {
      wipe(rootKey);
      throw new SecretStoreError('STORE_CORRUPT', `${STORED_KEYS_PATH} decrypted but is malformed; restore the data folder from a backup`);
    }
    return { ok: true, rootKey };
  } finally {
    wipe(json);
  }
}
