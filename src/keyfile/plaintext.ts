/**
 * The plaintext key file: Vault's init response `{"keys":[hex],"keys_base64":[b64],"root_token":"..."}`, as EdgeX
 * writes it when no IKM hook is configured. Read for migration to an encrypted format; written only by an explicit
 * `keys decrypt`.
 */
import { SecretStoreError } from '../errors.js';
import { wipe } from '../crypto.js';
import { decodeHexString } from '../vmk/hex.js';
import { type JsonObject, onlyFields, serializeDocument, stringArrayField } from '../vmk/json-fields.js';
import { MAX_SHARES, validateRootToken, validateShares } from '../vmk/shares.js';

/** What a plaintext key file holds. */
export interface PlaintextContents {
  shares: Buffer[];
  rootToken?: Buffer;
}

/** True when `obj` looks like a Vault init response (detection only). */
export function looksLikePlaintext(obj: JsonObject): boolean {
  return 'keys' in obj || 'keys_base64' in obj;
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Strict standard base64 (padded, canonical: the bits the padding leaves unused are zero), so that exactly one text
 * stands for each share. Checked on the text itself rather than by re-encoding, which would make one more string of
 * the secret.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  // The last data character carries 2 (one '=') or 4 (two '=') bits that must be zero.
  const last = BASE64_ALPHABET.indexOf(text.charAt(text.length - 1 - pad));
  if (pad > 0 && (last & (pad === 1 ? 0b11 : 0b1111)) !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== (text.length / 4) * 3 - pad) {
    wipe(bytes);
    return undefined;
  }
  return bytes;
}

/**
 * Validates a Vault init response: `keys` and/or `keys_base64` (which must agree), an optional root token.
 * Throws KEYFILE_MALFORMED naming `where`. Returned buffers are the caller's to wipe.
 */
export function parsePlaintext(obj: JsonObject, where: string): PlaintextContents {
  const code = 'KEYFILE_MALFORMED';
  onlyFields(obj, ['keys', 'keys_base64', 'root_token', 'recovery_keys', 'recovery_keys_base64'], where, 'KEYFILE_UNSUPPORTED');
  for (const name of ['recovery_keys', 'recovery_keys_base64'] as const) {
    // Vault's raw init response has these (empty without auto-unseal); recovery keys would be lost on rewrite.
    const v = obj[name];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) {
      throw new SecretStoreError('KEYFILE_UNSUPPORTED', `${where} holds recovery keys (auto-unseal); secretstore-setup manages unseal key shares only`);
    }
  }
  const hex = obj.keys === undefined ? undefined : stringArrayField(obj, 'keys', where, code, MAX_SHARES);
  const b64 = obj.keys_base64 === undefined ? undefined : stringArrayField(obj, 'keys_base64', where, code, MAX_SHARES);
  const fromHex: Buffer[] = [];
  const fromB64: Buffer[] = [];
  try {
    hex?.forEach((text, i) => {
      const bytes = decodeHexString(text);
      if (bytes === undefined) throw new SecretStoreError(code, `${where}: keys[${i}] is not hex`);
      fromHex.push(bytes);
    });
    b64?.forEach((text, i) => {
      const bytes = decodeBase64Strict(text);
      if (bytes === undefined) throw new SecretStoreError(code, `${where}: keys_base64[${i}] is not base64`);
      fromB64.push(bytes);
    });
    if (hex !== undefined && b64 !== undefined) {
      const agree = fromHex.length === fromB64.length && fromHex.every((s, i) => fromB64[i]?.equals(s) === true);
      if (!agree) throw new SecretStoreError(code, `${where}: "keys" and "keys_base64" hold different shares; fix or restore the file`);
    }
    const shares = hex !== undefined ? fromHex : fromB64;
    validateShares(shares, where);
    const out: PlaintextContents = { shares };
    const token = obj.root_token;
    if (token !== undefined && token !== null && token !== '') {
      if (typeof token !== 'string') throw new SecretStoreError(code, `${where}: "root_token" must be a string`);
      const bytes = Buffer.from(token, 'utf8');
      validateRootToken(bytes, where);
      out.rootToken = bytes;
    }
    if (hex !== undefined) wipe(...fromB64);
    return out;
  } catch (err) {
    wipe(...fromHex, ...fromB64);
    throw err;
  }
}

/** Serializes a Vault init response (compact, trailing newline). Strings of secrets are unavoidable in this format. */
export function serializePlaintext(contents: PlaintextContents): Buffer {
  const doc: Record<string, unknown> = {
    keys: contents.shares.map((s) => s.toString('hex')),
    keys_base64: contents.shares.map((s) => s.toString('base64')),
  };
  if (contents.rootToken !== undefined) doc.root_token = contents.rootToken.toString('utf8');
  return serializeDocument(doc);
}
