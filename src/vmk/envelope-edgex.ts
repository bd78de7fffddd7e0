/**
 * EdgeX's key-file envelope, byte-compatible: `{"encrypted_keys":[hex],"nonces":[hex]}` (+ an optional plaintext
 * `root_token`, accepted on read only). Share i is AES-256-GCM under HKDF-SHA256(IKM, salt, "secretstore<i>")
 * (EdgeX v4+) or "vault<i>" (EdgeX v2/v3), random 12-byte nonce, no AAD; the salt lives in kdf-salt.dat.
 * Without AAD or a key check, a wrong IKM cannot be told apart from altered bytes (EdgeX defect 9) except by
 * reasoning: if share 0 decrypts, the IKM is right and a later failure means tampering.
 */
import { GCM_NONCE_LENGTH, GCM_TAG_LENGTH, aesGcmDecrypt, aesGcmEncrypt, randomBytes, wipe } from '../crypto.js';
import { SecretStoreError } from '../errors.js';
import { decodeHexString, toHex } from './hex.js';
import { type JsonObject, onlyFields, serializeDocument, stringArrayField } from './json-fields.js';
import { deriveKey } from './kdf.js';
import { MAX_SHARES, MAX_SHARE_BYTES, MIN_SHARE_BYTES, validateRootToken, validateShares } from './shares.js';

/** The info-label prefix: EdgeX v4+ uses "secretstore", EdgeX v2/v3 used "vault". */
export type EdgexLabel = 'secretstore' | 'vault';

/** Length of the raw salt in kdf-salt.dat. */
export const EDGEX_SALT_LENGTH = 32;

/** The HKDF info label EdgeX uses for share `index`. */
export function edgexInfo(label: EdgexLabel, index: number): string {
  return `${label}${index}`;
}

/** A structurally valid EdgeX document: per-share ciphertext||tag and nonce, all checked for length. */
export interface EdgexDocument {
  /** ciphertext || 16-byte tag, one per share, all the same length. */
  encryptedKeys: Buffer[];
  /** 12-byte nonces, one per share. */
  nonces: Buffer[];
  /** A plaintext root token EdgeX left in the file (RevokeRootTokens=false); never written by us. */
  rootToken?: Buffer;
}

/** Fields EdgeX's InitResponse may hold; keys/keys_base64 only empty in an encrypted file. */
const EDGEX_FIELDS = ['encrypted_keys', 'nonces', 'root_token', 'keys', 'keys_base64'] as const;

/** True when `obj` looks like an EdgeX encrypted key file (detection only; {@link parseEdgexDocument} validates). */
export function looksLikeEdgex(obj: JsonObject): boolean {
  return 'encrypted_keys' in obj || 'nonces' in obj;
}

/** Validates every field, count and length of an EdgeX document; throws KEYFILE_MALFORMED naming `where`. */
export function parseEdgexDocument(obj: JsonObject, where: string): EdgexDocument {
  const code = 'KEYFILE_MALFORMED';
  onlyFields(obj, EDGEX_FIELDS, where, 'KEYFILE_UNSUPPORTED');
  for (const name of ['keys', 'keys_base64'] as const) {
    const v = obj[name];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) {
      throw new SecretStoreError(code, `${where} holds both encrypted and plaintext key shares ("${name}"); refusing to guess which are current`);
    }
  }
  const cts = stringArrayField(obj, 'encrypted_keys', where, code, MAX_SHARES);
  const nonceTexts = stringArrayField(obj, 'nonces', where, code, MAX_SHARES);
  if (cts.length === 0) throw new SecretStoreError(code, `${where} holds no encrypted key shares`);
  if (cts.length !== nonceTexts.length) {
    // EdgeX defect 4: it indexed nonces[i] blindly and panicked.
    throw new SecretStoreError(code, `${where} has ${cts.length} encrypted keys but ${nonceTexts.length} nonces`);
  }
  const nonces = nonceTexts.map((text, i) => {
    const nonce = text.length === 2 * GCM_NONCE_LENGTH ? decodeHexString(text) : undefined;
    if (nonce === undefined) throw new SecretStoreError(code, `${where}: nonce ${i} must be ${2 * GCM_NONCE_LENGTH} hex digits`);
    return nonce;
  });
  const firstLength = cts[0]?.length ?? 0;
  const encryptedKeys = cts.map((text, i) => {
    const shareLength = text.length / 2 - GCM_TAG_LENGTH;
    if (text.length % 2 !== 0 || shareLength < MIN_SHARE_BYTES || shareLength > MAX_SHARE_BYTES) {
      throw new SecretStoreError(code, `${where}: encrypted key ${i} must be ${2 * (MIN_SHARE_BYTES + GCM_TAG_LENGTH)}..${2 * (MAX_SHARE_BYTES + GCM_TAG_LENGTH)} hex digits`);
    }
    if (text.length !== firstLength) throw new SecretStoreError(code, `${where}: encrypted keys differ in length (key ${i})`);
    const bytes = decodeHexString(text);
    if (bytes === undefined) throw new SecretStoreError(code, `${where}: encrypted key ${i} is not hex`);
    return bytes;
  });
  const doc: EdgexDocument = { encryptedKeys, nonces };
  const token = obj.root_token;
  if (token !== undefined && token !== null) {
    if (typeof token !== 'string') throw new SecretStoreError(code, `${where}: "root_token" must be a string`);
    if (token !== '') {
      const bytes = Buffer.from(token, 'utf8');
      validateRootToken(bytes, where);
      doc.rootToken = bytes;
    }
  }
  return doc;
}

/** Serializes an EdgeX document as EdgeX does (compact JSON, trailing newline). A root token is never written. */
export function serializeEdgexDocument(doc: EdgexDocument): Buffer {
  if (doc.rootToken !== undefined) {
    // EdgeX defect 7: the format can only hold the root token in plaintext, so we refuse rather than write it.
    throw new SecretStoreError('KEYFILE_UNSUPPORTED', 'the edgex format cannot hold the root token encrypted; use the v2 format or drop the root token');
  }
  return serializeDocument({ encrypted_keys: doc.encryptedKeys.map(toHex), nonces: doc.nonces.map(toHex) });
}

/** Encrypts shares the EdgeX way; the caller serializes. Fresh random nonce per share. */
export function encryptEdgexShares(ikm: Buffer, salt: Buffer, shares: readonly Buffer[], label: EdgexLabel = 'secretstore'): EdgexDocument {
  if (salt.length !== EDGEX_SALT_LENGTH) throw new SecretStoreError('SALT_MALFORMED', `the KDF salt must be ${EDGEX_SALT_LENGTH} bytes`);
  validateShares(shares, 'the shares to encrypt', 'KEYFILE_VERIFY_FAILED');
  const encryptedKeys: Buffer[] = [];
  const nonces: Buffer[] = [];
  shares.forEach((share, i) => {
    const key = deriveKey(ikm, salt, edgexInfo(label, i));
    try {
      const nonce = randomBytes(GCM_NONCE_LENGTH);
      const sealed = aesGcmEncrypt(key, nonce, share);
      encryptedKeys.push(Buffer.concat([sealed.ciphertext, sealed.tag]));
      nonces.push(nonce);
    } finally {
      wipe(key);
    }
  });
  return { encryptedKeys, nonces };
}

/** Decrypts share `index` with the given label; undefined when GCM authentication fails. */
function openShare(ikm: Buffer, salt: Buffer, doc: EdgexDocument, label: EdgexLabel, index: number): Buffer | undefined {
  const sealed = doc.encryptedKeys[index];
  const nonce = doc.nonces[index];
  if (sealed === undefined || nonce === undefined) return undefined;
  const key = deriveKey(ikm, salt, edgexInfo(label, index));
  try {
    const split = sealed.length - GCM_TAG_LENGTH;
    return aesGcmDecrypt(key, nonce, sealed.subarray(0, split), sealed.subarray(split));
  } finally {
    wipe(key);
  }
}

/** Result of {@link decryptEdgexShares}. */
export interface EdgexOpened {
  shares: Buffer[];
  /** Which label decrypted the file ("vault" = written by EdgeX v2/v3). */
  label: EdgexLabel;
  /** Index into the `salts` argument of the salt that worked. */
  saltIndex: number;
}

/**
 * Decrypts every share. Tries each salt in `salts` (normally one; two while a salt replacement is pending) and the
 * labels "secretstore" then "vault" on share 0; the first pair that opens share 0 must open all the others.
 * Throws KEYFILE_WRONG_IKM when nothing opens share 0, KEYFILE_TAMPERED when a later share fails.
 */
export function decryptEdgexShares(ikm: Buffer, salts: readonly Buffer[], doc: EdgexDocument, where: string): EdgexOpened {
  for (let s = 0; s < salts.length; s++) {
    const salt = salts[s];
    if (salt === undefined) continue;
    for (const label of ['secretstore', 'vault'] as const) {
      const first = openShare(ikm, salt, doc, label, 0);
      if (first === undefined) continue;
      const shares = [first];
      try {
        for (let i = 1; i < doc.encryptedKeys.length; i++) {
          const share = openShare(ikm, salt, doc, label, i);
          if (share === undefined) {
            throw new SecretStoreError('KEYFILE_TAMPERED', `${where}: key share ${i} fails authentication although share 0 decrypts, so the file was altered or damaged; restore it from a backup, nothing was changed`);
          }
          shares.push(share);
        }
        validateShares(shares, where, 'KEYFILE_TAMPERED');
        return { shares, label, saltIndex: s };
      } catch (err) {
        wipe(...shares);
        throw err;
      }
    }
  }
  throw new SecretStoreError(
    'KEYFILE_WRONG_IKM',
    `the IKM does not decrypt ${where}: the hook returned a different key than the one that encrypted it (changed TPM state or PCRs?), or the file or its salt was altered (the edgex format cannot tell which); nothing was changed`,
  );
}
