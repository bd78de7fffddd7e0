/**
 * The plaintext inside an escrow (recovery) copy: a Vault-init-response-like JSON document, so that in a disaster
 * an operator can decrypt it with the stock `age` CLI and paste `keys_base64` into any Vault/OpenBao unseal prompt
 * without our tool:
 *
 *     {"format":"secretstore-setup-escrow","version":1,"created":"<ISO time>","threshold":3,
 *      "keys":[hex...],"keys_base64":[b64...],"root_token":"..."}     (threshold and root_token optional)
 *
 * Parsing is strict: known fields only, exact types, shares validated like key-file shares.
 */
import { SecretStoreError } from '../errors.js';
import { wipe } from '../crypto.js';
import type { InitSecrets } from '../keyfile/keyfile.js';
import { decodeHexString } from '../vmk/hex.js';
import { type JsonObject, integerField, onlyFields, parseJsonObject, serializeDocument, stringArrayField, stringField } from '../vmk/json-fields.js';
import { MAX_SHARES, validateRootToken, validateShares, validateThreshold } from '../vmk/shares.js';

/** The `format` marker of an escrow document. */
export const ESCROW_FORMAT = 'secretstore-setup-escrow';
/** The version this code writes and reads. */
export const ESCROW_VERSION = 1;

const CODE = 'ESCROW_MALFORMED';

/** Serializes the secrets (strings of secrets are unavoidable in JSON; the caller wipes the returned Buffer). */
export function serializeEscrow(secrets: InitSecrets, created: Date): Buffer {
  const doc: Record<string, unknown> = { format: ESCROW_FORMAT, version: ESCROW_VERSION, created: created.toISOString() };
  if (secrets.threshold !== undefined) doc.threshold = secrets.threshold;
  doc.keys = secrets.shares.map((s) => s.toString('hex'));
  doc.keys_base64 = secrets.shares.map((s) => s.toString('base64'));
  if (secrets.rootToken !== undefined) doc.root_token = secrets.rootToken.toString('utf8');
  return serializeDocument(doc);
}

/** What an escrow document holds besides the secrets. */
export interface EscrowInfo {
  created: string;
}

/** Parses and validates an escrow document; `where` names it in messages. The caller wipes the returned secrets. */
export function parseEscrow(bytes: Buffer, where: string): { secrets: InitSecrets; info: EscrowInfo } {
  const obj: JsonObject = parseJsonObject(bytes, where, CODE);
  onlyFields(obj, ['format', 'version', 'created', 'threshold', 'keys', 'keys_base64', 'root_token'], where, CODE);
  if (obj.format !== ESCROW_FORMAT) throw new SecretStoreError(CODE, `${where} is not a secretstore-setup escrow copy`);
  const version = integerField(obj, 'version', where, CODE);
  if (version !== ESCROW_VERSION) {
    throw new SecretStoreError(CODE, `${where} has escrow version ${version}; this secretstore-setup reads version ${ESCROW_VERSION}`);
  }
  const created = stringField(obj, 'created', where, CODE);
  if (created.length > 40 || Number.isNaN(Date.parse(created))) throw new SecretStoreError(CODE, `${where}: "created" is not a time`);
  const hex = stringArrayField(obj, 'keys', where, CODE, MAX_SHARES);
  const b64 = stringArrayField(obj, 'keys_base64', where, CODE, MAX_SHARES);
  if (hex.length !== b64.length) throw new SecretStoreError(CODE, `${where}: "keys" and "keys_base64" differ in length`);
  const shares: Buffer[] = [];
  try {
    hex.forEach((text, i) => {
      const share = decodeHexString(text);
      if (share === undefined) throw new SecretStoreError(CODE, `${where}: keys[${i}] is not hex`);
      shares.push(share);
      const other = Buffer.from(b64[i] ?? '', 'base64');
      const same = other.equals(share);
      wipe(other);
      if (!same) throw new SecretStoreError(CODE, `${where}: keys[${i}] and keys_base64[${i}] differ`);
    });
    validateShares(shares, where, CODE);
    const secrets: InitSecrets = { shares };
    if (obj.threshold !== undefined) {
      const threshold = integerField(obj, 'threshold', where, CODE);
      validateThreshold(threshold, shares.length, where, CODE);
      secrets.threshold = threshold;
    }
    if (obj.root_token !== undefined) {
      const token = Buffer.from(stringField(obj, 'root_token', where, CODE), 'utf8');
      try {
        validateRootToken(token, where, CODE);
      } catch (err) {
        wipe(token);
        throw err;
      }
      secrets.rootToken = token;
    }
    return { secrets, info: { created } };
  } catch (err) {
    wipe(...shares);
    throw err;
  }
}
