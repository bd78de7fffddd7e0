/**
 * The small AEAD building blocks our own formats (v2 key file, protected blob) share: a "box" is a random 12-byte
 * nonce plus AES-256-GCM ciphertext||tag, stored as lowercase hex; a key-check value is a separate HKDF output
 * that tells a wrong IKM apart from altered ciphertext without revealing anything about the encryption keys.
 */
import { GCM_NONCE_LENGTH, GCM_TAG_LENGTH, SHA256_LENGTH, aesGcmDecrypt, aesGcmEncrypt, constantTimeEqual, randomBytes, wipe } from '../crypto.js';
import { SecretStoreError, type ErrorCode } from '../errors.js';
import { decodeHexString, toHex } from './hex.js';
import { type JsonObject, onlyFields, stringField } from './json-fields.js';
import { deriveKey } from './kdf.js';

/** A sealed value as it appears in JSON. */
export interface BoxJson {
  nonce: string;
  ciphertext: string;
}

/** A sealed value, decoded. */
export interface Box {
  nonce: Buffer;
  /** ciphertext || 16-byte tag */
  sealed: Buffer;
}

/** Encrypts `plaintext` under HKDF(ikm, salt, info) with `aad`; a fresh nonce every time. */
export function sealBox(ikm: Buffer, salt: Buffer, info: string, aad: Buffer, plaintext: Buffer): Box {
  const key = deriveKey(ikm, salt, info);
  try {
    const nonce = randomBytes(GCM_NONCE_LENGTH);
    const { ciphertext, tag } = aesGcmEncrypt(key, nonce, plaintext, aad);
    return { nonce, sealed: Buffer.concat([ciphertext, tag]) };
  } finally {
    wipe(key);
  }
}

/** Decrypts a box; undefined when authentication fails. */
export function openBox(ikm: Buffer, salt: Buffer, info: string, aad: Buffer, box: Box): Buffer | undefined {
  const key = deriveKey(ikm, salt, info);
  try {
    const split = box.sealed.length - GCM_TAG_LENGTH;
    if (split < 0) return undefined;
    return aesGcmDecrypt(key, box.nonce, box.sealed.subarray(0, split), box.sealed.subarray(split), aad);
  } finally {
    wipe(key);
  }
}

/** JSON form of a box. */
export function boxToJson(box: Box): BoxJson {
  return { nonce: toHex(box.nonce), ciphertext: toHex(box.sealed) };
}

/**
 * Reads a box from JSON, requiring lowercase hex, a 12-byte nonce, and a plaintext length within [minPlain, maxPlain]
 * (so the ciphertext is exactly 2*(len+16) hex digits). Throws `code`.
 */
export function boxFromJson(value: unknown, where: string, code: ErrorCode, minPlain: number, maxPlain: number): Box {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SecretStoreError(code, `${where} must be an object`);
  const obj = value as JsonObject;
  onlyFields(obj, ['nonce', 'ciphertext'], where, code);
  const nonceText = stringField(obj, 'nonce', where, code);
  const nonce = nonceText.length === 2 * GCM_NONCE_LENGTH ? decodeHexString(nonceText, true) : undefined;
  if (nonce === undefined) throw new SecretStoreError(code, `${where}: nonce must be ${2 * GCM_NONCE_LENGTH} lowercase hex digits`);
  const ctText = stringField(obj, 'ciphertext', where, code);
  const plainLength = ctText.length / 2 - GCM_TAG_LENGTH;
  if (ctText.length % 2 !== 0 || plainLength < minPlain || plainLength > maxPlain) {
    throw new SecretStoreError(code, `${where}: ciphertext has the wrong length`);
  }
  const sealed = decodeHexString(ctText, true);
  if (sealed === undefined) throw new SecretStoreError(code, `${where}: ciphertext must be lowercase hex`);
  return { nonce, sealed };
}

/** The key-check value: HKDF(ikm, salt, info), 32 bytes. */
export function keyCheckValue(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return deriveKey(ikm, salt, info, SHA256_LENGTH);
}

/** True when `ikm` reproduces `expected`. */
export function keyCheckMatches(ikm: Buffer, salt: Buffer, info: string, expected: Buffer): boolean {
  const actual = keyCheckValue(ikm, salt, info);
  try {
    return constantTimeEqual(actual, expected);
  } finally {
    wipe(actual);
  }
}

/** Reads a lowercase hex field of exactly `length` bytes, or throws `code`. */
export function fixedHexField(obj: JsonObject, name: string, length: number, where: string, code: ErrorCode): Buffer {
  const text = stringField(obj, name, where, code);
  const bytes = text.length === 2 * length ? decodeHexString(text, true) : undefined;
  if (bytes === undefined) throw new SecretStoreError(code, `${where}: "${name}" must be ${2 * length} lowercase hex digits`);
  return bytes;
}
