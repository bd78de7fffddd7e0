/**
 * A purpose-bound AEAD document for other secrets at rest (the store's TLS key, `protect`/`unprotect`): versioned
 * canonical JSON with its own salt, an HKDF info label naming the purpose, AAD binding format/version/purpose, and
 * a key-check value so a wrong IKM is told apart from an altered file.
 */
import { SHA256_LENGTH, randomBytes } from '../crypto.js';
import { SecretStoreError } from '../errors.js';
import { boxFromJson, boxToJson, fixedHexField, keyCheckMatches, keyCheckValue, openBox, sealBox } from './aead-box.js';
import { toHex } from './hex.js';
import { integerField, onlyFields, parseJsonObject, serializeDocument, stringField } from './json-fields.js';

/** The `format` marker of a protected blob. */
export const PROTECTED_FORMAT = 'secretstore-setup/protected';
/** The `version` of this layout. */
export const PROTECTED_VERSION = 1;
/** Largest plaintext protected (a TLS key or a config file, not bulk data). */
export const MAX_PROTECTED_PLAINTEXT = 1024 * 1024;
/** Purposes are short lowercase labels such as `tls-key` or `store/tls-key`. */
const PURPOSE_RE = /^[a-z0-9][a-z0-9._/-]{0,63}$/;

/** HKDF info label of the data key for `purpose`. */
export function protectedInfo(purpose: string): string {
  return `secretstore-setup/protected/v${PROTECTED_VERSION}/${purpose}`;
}
/** HKDF info label of the key-check value (per purpose, so checks of different purposes are unrelated). */
export function protectedKeyCheckInfo(purpose: string): string {
  return `secretstore-setup/protected/v${PROTECTED_VERSION}/key-check/${purpose}`;
}
function aad(purpose: string): Buffer {
  return Buffer.from(JSON.stringify([PROTECTED_FORMAT, PROTECTED_VERSION, purpose]), 'utf8');
}
function checkPurpose(purpose: string): void {
  if (!PURPOSE_RE.test(purpose)) {
    throw new SecretStoreError('USAGE', 'a protection purpose must be 1..64 characters of a-z 0-9 . _ / - starting with a letter or digit');
  }
}

function toJson(purpose: string, salt: Buffer, keyCheck: Buffer, box: { nonce: Buffer; sealed: Buffer }): unknown {
  return {
    format: PROTECTED_FORMAT,
    version: PROTECTED_VERSION,
    purpose,
    kdf: 'hkdf-sha256',
    cipher: 'aes-256-gcm',
    salt: toHex(salt),
    key_check: toHex(keyCheck),
    ...boxToJson(box),
  };
}

/** Encrypts `plaintext` for `purpose` under `ikm`; returns the serialized document (canonical JSON + newline). */
export function protectBlob(ikm: Buffer, purpose: string, plaintext: Buffer): Buffer {
  checkPurpose(purpose);
  if (plaintext.length > MAX_PROTECTED_PLAINTEXT) {
    throw new SecretStoreError('USAGE', `data to protect is larger than ${MAX_PROTECTED_PLAINTEXT} bytes`);
  }
  const salt = randomBytes(SHA256_LENGTH);
  const keyCheck = keyCheckValue(ikm, salt, protectedKeyCheckInfo(purpose));
  const box = sealBox(ikm, salt, protectedInfo(purpose), aad(purpose), plaintext);
  return serializeDocument(toJson(purpose, salt, keyCheck, box));
}

/** True when `document` claims to be a protected blob (format marker present); does not validate it. */
export function isProtectedBlob(document: Buffer): boolean {
  if (document.length > 4 * MAX_PROTECTED_PLAINTEXT) return false;
  try {
    const value: unknown = JSON.parse(document.toString('utf8'));
    return typeof value === 'object' && value !== null && (value as { format?: unknown }).format === PROTECTED_FORMAT;
  } catch {
    return false;
  }
}

const FIELDS = ['format', 'version', 'purpose', 'kdf', 'cipher', 'salt', 'key_check', 'nonce', 'ciphertext'] as const;

/**
 * Decrypts a protected blob made for `purpose`. Throws PROTECTED_FILE_MALFORMED (not a valid document, another
 * purpose, not canonical), KEYFILE_WRONG_IKM (key check fails) or KEYFILE_TAMPERED (authentication fails).
 * Returns a fresh Buffer the caller wipes.
 */
export function unprotectBlob(ikm: Buffer, purpose: string, document: Buffer): Buffer {
  checkPurpose(purpose);
  const code = 'PROTECTED_FILE_MALFORMED';
  const where = `the protected ${purpose} file`;
  const obj = parseJsonObject(document, where, code);
  if (obj.format !== PROTECTED_FORMAT) throw new SecretStoreError(code, `${where} is not a ${PROTECTED_FORMAT} document`);
  if (integerField(obj, 'version', where, code) !== PROTECTED_VERSION) {
    throw new SecretStoreError(code, `${where} has an unsupported version; upgrade secretstore-setup`);
  }
  onlyFields(obj, FIELDS, where, code);
  const stored = stringField(obj, 'purpose', where, code);
  if (stored !== purpose) throw new SecretStoreError(code, `${where} was protected for another purpose; use the file made for ${purpose}`);
  if (stringField(obj, 'kdf', where, code) !== 'hkdf-sha256' || stringField(obj, 'cipher', where, code) !== 'aes-256-gcm') {
    throw new SecretStoreError(code, `${where} uses an unsupported algorithm`);
  }
  const salt = fixedHexField(obj, 'salt', SHA256_LENGTH, where, code);
  const keyCheck = fixedHexField(obj, 'key_check', SHA256_LENGTH, where, code);
  const box = boxFromJson({ nonce: obj.nonce, ciphertext: obj.ciphertext }, where, code, 0, MAX_PROTECTED_PLAINTEXT);
  if (!serializeDocument(toJson(purpose, salt, keyCheck, box)).equals(document)) {
    throw new SecretStoreError(code, `${where} is not in canonical form (it was edited or damaged)`);
  }
  if (!keyCheckMatches(ikm, salt, protectedKeyCheckInfo(purpose), keyCheck)) {
    throw new SecretStoreError('KEYFILE_WRONG_IKM', `the IKM does not decrypt ${where}: the hook returned a different key than the one that protected it (changed TPM state or PCRs?); nothing was changed`);
  }
  const plaintext = openBox(ikm, salt, protectedInfo(purpose), aad(purpose), box);
  if (plaintext === undefined) {
    throw new SecretStoreError('KEYFILE_TAMPERED', `${where} fails authentication although the IKM is right, so it was altered or damaged; restore it from a backup`);
  }
  return plaintext;
}

