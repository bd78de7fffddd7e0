/**
 * Our own key-file envelope ("v2"): one self-describing JSON document holding the KDF salt, a key-check value, and
 * each share sealed with AES-256-GCM under its own versioned HKDF label, with AAD binding the format, version,
 * purpose, share index, share count, threshold and share length. The document must be byte-for-byte canonical
 * (compact JSON in a fixed field order + one newline), so any change to the file is detected, whitespace included.
 * See docs/key-file-formats.md.
 */
import { SHA256_LENGTH, constantTimeEqual, hmacSha256, randomBytes, wipe } from '../crypto.js';
import { SecretStoreError } from '../errors.js';
import { type Box, boxFromJson, boxToJson, fixedHexField, keyCheckMatches, keyCheckValue, openBox, sealBox } from './aead-box.js';
import { toHex } from './hex.js';
import { type JsonObject, integerField, onlyFields, serializeDocument, stringField } from './json-fields.js';
import { MAX_ROOT_TOKEN_BYTES, MAX_SHARES, MAX_SHARE_BYTES, MIN_SHARE_BYTES, validateRootToken, validateShares, validateThreshold } from './shares.js';

/** The `format` marker of a v2 key file. */
export const V2_FORMAT = 'secretstore-setup/keyfile';
/** The `version` of this layout. */
export const V2_VERSION = 2;
/** Salt length (HashLen, RFC 5869 §3.1). */
export const V2_SALT_LENGTH = SHA256_LENGTH;

/** HKDF info label of share `index`. */
export function v2ShareInfo(index: number): string {
  return `secretstore-setup/v2/share/${index}`;
}
/** HKDF info label of the root token. */
export const V2_ROOT_TOKEN_INFO = 'secretstore-setup/v2/root-token';
/** HKDF info label of the key-check value. */
export const V2_KEY_CHECK_INFO = 'secretstore-setup/v2/key-check';

/** What a v2 document protects. */
export interface V2Contents {
  shares: Buffer[];
  threshold?: number;
  rootToken?: Buffer;
}

/** A structurally valid v2 document (nothing decrypted yet). */
export interface V2Document {
  salt: Buffer;
  keyCheck: Buffer;
  shareCount: number;
  shareLength: number;
  threshold?: number;
  shares: Box[];
  rootToken?: Box;
}

/**
 * The AAD of one sealed item: a JSON array naming format, version, purpose, index, share count, threshold (0 when
 * unknown) and share length, so a box cannot be moved to another slot, file layout or purpose unnoticed.
 */
export function v2Aad(purpose: 'share' | 'root-token', index: number, shareCount: number, threshold: number | undefined, shareLength: number): Buffer {
  return Buffer.from(JSON.stringify([V2_FORMAT, V2_VERSION, purpose, index, shareCount, threshold ?? 0, shareLength]), 'utf8');
}

/** True when `obj` claims to be a v2 key file (detection only). */
export function looksLikeV2(obj: JsonObject): boolean {
  return obj.format === V2_FORMAT;
}

function toJson(doc: V2Document): unknown {
  return {
    format: V2_FORMAT,
    version: V2_VERSION,
    kdf: 'hkdf-sha256',
    cipher: 'aes-256-gcm',
    salt: toHex(doc.salt),
    key_check: toHex(doc.keyCheck),
    share_count: doc.shareCount,
    share_length: doc.shareLength,
    threshold: doc.threshold ?? null,
    shares: doc.shares.map(boxToJson),
    root_token: doc.rootToken === undefined ? null : boxToJson(doc.rootToken),
  };
}

/** Serializes a v2 document canonically. */
export function serializeV2(doc: V2Document): Buffer {
  return serializeDocument(toJson(doc));
}

const V2_FIELDS = ['format', 'version', 'kdf', 'cipher', 'salt', 'key_check', 'share_count', 'share_length', 'threshold', 'shares', 'root_token'] as const;

/**
 * Validates a v2 document: every field, count and length, and that `bytes` is exactly its canonical serialization.
 * Throws KEYFILE_UNSUPPORTED for another version, KEYFILE_MALFORMED for anything else wrong.
 */
export function parseV2(bytes: Buffer, obj: JsonObject, where: string): V2Document {
  const code = 'KEYFILE_MALFORMED';
  if (obj.format !== V2_FORMAT) throw new SecretStoreError(code, `${where} is not a ${V2_FORMAT} document`);
  const version = integerField(obj, 'version', where, code);
  if (version !== V2_VERSION) {
    throw new SecretStoreError('KEYFILE_UNSUPPORTED', `${where} is key-file version ${version}; this release reads version ${V2_VERSION}; upgrade secretstore-setup`);
  }
  onlyFields(obj, V2_FIELDS, where, code);
  if (stringField(obj, 'kdf', where, code) !== 'hkdf-sha256') throw new SecretStoreError('KEYFILE_UNSUPPORTED', `${where}: unsupported "kdf"`);
  if (stringField(obj, 'cipher', where, code) !== 'aes-256-gcm') throw new SecretStoreError('KEYFILE_UNSUPPORTED', `${where}: unsupported "cipher"`);
  const salt = fixedHexField(obj, 'salt', V2_SALT_LENGTH, where, code);
  const keyCheck = fixedHexField(obj, 'key_check', SHA256_LENGTH, where, code);
  const shareCount = integerField(obj, 'share_count', where, code);
  if (shareCount < 1 || shareCount > MAX_SHARES) throw new SecretStoreError(code, `${where}: "share_count" must be 1..${MAX_SHARES}`);
  const shareLength = integerField(obj, 'share_length', where, code);
  if (shareLength < MIN_SHARE_BYTES || shareLength > MAX_SHARE_BYTES) {
    throw new SecretStoreError(code, `${where}: "share_length" must be ${MIN_SHARE_BYTES}..${MAX_SHARE_BYTES}`);
  }
  let threshold: number | undefined;
  if (obj.threshold !== null) {
    threshold = integerField(obj, 'threshold', where, code);
    validateThreshold(threshold, shareCount, where);
  }
  const list = obj.shares;
  if (!Array.isArray(list) || list.length !== shareCount) throw new SecretStoreError(code, `${where}: "shares" must be an array of "share_count" items`);
  const shares = (list as unknown[]).map((item, i) => boxFromJson(item, `${where}: share ${i}`, code, shareLength, shareLength));
  const doc: V2Document = { salt, keyCheck, shareCount, shareLength, shares };
  if (threshold !== undefined) doc.threshold = threshold;
  if (obj.root_token !== null) doc.rootToken = boxFromJson(obj.root_token, `${where}: root_token`, code, 1, MAX_ROOT_TOKEN_BYTES);
  if (!serializeV2(doc).equals(bytes)) {
    throw new SecretStoreError(code, `${where} is not in canonical form (it was edited or damaged); restore it from a backup`);
  }
  return doc;
}

/** Encrypts `contents` into a new v2 document under a fresh salt; returns the canonical bytes. */
export function encryptV2(ikm: Buffer, contents: V2Contents): Buffer {
  const where = 'the shares to encrypt';
  validateShares(contents.shares, where, 'KEYFILE_VERIFY_FAILED');
  validateThreshold(contents.threshold, contents.shares.length, where, 'KEYFILE_VERIFY_FAILED');
  if (contents.rootToken !== undefined) validateRootToken(contents.rootToken, where, 'KEYFILE_VERIFY_FAILED');
  const salt = randomBytes(V2_SALT_LENGTH);
  const shareCount = contents.shares.length;
  const shareLength = contents.shares[0]?.length ?? 0;
  const doc: V2Document = {
    salt,
    keyCheck: keyCheckValue(ikm, salt, V2_KEY_CHECK_INFO),
    shareCount,
    shareLength,
    shares: contents.shares.map((share, i) => sealBox(ikm, salt, v2ShareInfo(i), v2Aad('share', i, shareCount, contents.threshold, shareLength), share)),
  };
  if (contents.threshold !== undefined) doc.threshold = contents.threshold;
  if (contents.rootToken !== undefined) {
    doc.rootToken = sealBox(ikm, salt, V2_ROOT_TOKEN_INFO, v2Aad('root-token', 0, shareCount, contents.threshold, shareLength), contents.rootToken);
  }
  return serializeV2(doc);
}

/** HKDF-SHA256(ikm, salt, V2_KEY_CHECK_INFO, 32) written out (RFC 5869: one Expand block), for the salt search below. */
export function v2KeyCheckValue(ikm: Buffer, salt: Buffer): Buffer {
  const prk = hmacSha256(salt, ikm);
  try {
    return hmacSha256(prk, Buffer.concat([KEY_CHECK_INFO_BYTES, Buffer.from([1])]));
  } finally {
    wipe(prk);
  }
}
const KEY_CHECK_INFO_BYTES = Buffer.from(V2_KEY_CHECK_INFO, 'utf8');

function keyCheckMatchesFast(ikm: Buffer, salt: Buffer, expected: Buffer): boolean {
  const actual = v2KeyCheckValue(ikm, salt);
  try {
    return constantTimeEqual(actual, expected);
  } finally {
    wipe(actual);
  }
}

/**
 * Why a key check failed: a wrong IKM, or an altered `key_check` or `salt` field — as far as the file lets us tell.
 *
 * Every key of the file — the key check's and each box's — is HKDF(IKM, salt, label). So:
 * - CAN be told apart: an altered `key_check` alone. If a box still opens under this IKM and the file's salt,
 *   both are right (AES-GCM authentication; a forgery has probability 2^-128), so the stored key check itself was
 *   changed: KEYFILE_TAMPERED.
 * - CAN be told apart: a `salt` altered in one hex digit (which covers every single-bit error of the salt). Each of
 *   its 64 × 15 neighbours is tried: one that reproduces the stored key check proves the IKM right and the salt
 *   altered (a chance match has probability about 960 / 2^256): KEYFILE_TAMPERED. (About 30 ms, on this failure
 *   path only.)
 * - CANNOT be told apart: a salt replaced by an unrelated value (or altered in several digits), or salt and key
 *   check both altered beyond that, versus a wrong IKM. Keys derived from a wrong salt are as unrelated to the right
 *   ones as keys derived from a wrong IKM, and nothing in the file is bound to the salt without the IKM — so no
 *   computation on the file alone can decide; the file would have to carry something about the salt that an attacker
 *   cannot recompute, which only the IKM can key. Such a file reads as KEYFILE_WRONG_IKM, and the message says that
 *   an altered salt looks the same.
 * (Every other field is covered by the canonical-form check, the AAD or the boxes' tags.)
 */
function keyCheckFailure(ikm: Buffer, doc: V2Document, where: string): SecretStoreError {
  const shareOpens = (salt: Buffer): boolean => {
    const box = doc.shares[0];
    if (box === undefined) return false;
    const share = openBox(ikm, salt, v2ShareInfo(0), v2Aad('share', 0, doc.shareCount, doc.threshold, doc.shareLength), box);
    wipe(share);
    return share !== undefined;
  };
  const tampered = (what: string, proof: string): SecretStoreError =>
    new SecretStoreError(
      'KEYFILE_TAMPERED',
      `${where}: ${what}: the file was altered or damaged, the IKM is right (${proof}); restore the file from a backup, nothing was changed`,
    );
  if (shareOpens(doc.salt)) return tampered('its "key_check" field was changed', 'the key shares open under it');
  const candidate = Buffer.from(doc.salt);
  try {
    for (let i = 0; i < candidate.length; i++) {
      const original = doc.salt[i] ?? 0;
      for (const half of [0xf0, 0x0f]) {
        for (let v = 0; v < 16; v++) {
          const digit = half === 0xf0 ? v << 4 : v;
          if (digit === (original & half)) continue;
          candidate[i] = (original & ~half & 0xff) | digit;
          if (keyCheckMatchesFast(ikm, candidate, doc.keyCheck)) {
            return tampered(`hex digit ${2 * i + (half === 0xf0 ? 1 : 2)} of its "salt" field was changed`, 'it reproduces the key check with the original digit');
          }
        }
        candidate[i] = original;
      }
    }
  } finally {
    wipe(candidate);
  }
  return new SecretStoreError(
    'KEYFILE_WRONG_IKM',
    `the IKM does not decrypt ${where}: the hook returned a different key than the one that encrypted it (changed TPM state or PCRs?); nothing was changed ` +
      `(if the hook and the platform state are unchanged, the file's "salt" field may have been replaced, which looks exactly like a different key: restore the file from a backup)`,
  );
}

/**
 * Decrypts a parsed v2 document. KEYFILE_WRONG_IKM when the key check fails and nothing shows the IKM is right (the
 * IKM is not the one that wrote it — or the salt was replaced, which cannot be told apart: see
 * {@link keyCheckFailure}), KEYFILE_TAMPERED when the file was provably altered: a box fails authentication although
 * the key check passes, or the key check fails although the IKM opens the shares (an altered key check, or a salt
 * altered in one hex digit).
 */
export function decryptV2(ikm: Buffer, doc: V2Document, where: string): V2Contents {
  if (!keyCheckMatches(ikm, doc.salt, V2_KEY_CHECK_INFO, doc.keyCheck)) throw keyCheckFailure(ikm, doc, where);
  const tampered = (what: string): SecretStoreError =>
    new SecretStoreError('KEYFILE_TAMPERED', `${where}: ${what} fails authentication although the IKM is right, so the file was altered or damaged; restore it from a backup, nothing was changed`);
  const shares: Buffer[] = [];
  let rootToken: Buffer | undefined;
  try {
    doc.shares.forEach((box, i) => {
      const share = openBox(ikm, doc.salt, v2ShareInfo(i), v2Aad('share', i, doc.shareCount, doc.threshold, doc.shareLength), box);
      if (share === undefined) throw tampered(`key share ${i}`);
      shares.push(share);
    });
    validateShares(shares, where, 'KEYFILE_TAMPERED');
    if (doc.rootToken !== undefined) {
      rootToken = openBox(ikm, doc.salt, V2_ROOT_TOKEN_INFO, v2Aad('root-token', 0, doc.shareCount, doc.threshold, doc.shareLength), doc.rootToken);
      if (rootToken === undefined) throw tampered('the root token');
      validateRootToken(rootToken, where, 'KEYFILE_TAMPERED');
    }
  } catch (err) {
    wipe(...shares, rootToken);
    throw err;
  }
  const out: V2Contents = { shares };
  if (doc.threshold !== undefined) out.threshold = doc.threshold;
  if (rootToken !== undefined) out.rootToken = rootToken;
  return out;
}

