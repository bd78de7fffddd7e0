/**
 * Detection and structural validation of a key file's bytes, without any IKM: plaintext Vault init response,
 * EdgeX encrypted file, or our v2 document. Everything is checked before anything is decrypted (EdgeX defects 4, 5).
 */
import { wipe } from '../crypto.js';
import { SecretStoreError } from '../errors.js';
import { type EdgexDocument, looksLikeEdgex, parseEdgexDocument } from '../vmk/envelope-edgex.js';
import { type V2Document, looksLikeV2, parseV2 } from '../vmk/envelope-v2.js';
import { parseJsonObject } from '../vmk/json-fields.js';
import { type PlaintextContents, looksLikePlaintext, parsePlaintext } from './plaintext.js';

/** A key file after structural validation. */
export type ParsedKeyFile =
  | { format: 'plaintext'; contents: PlaintextContents }
  | { format: 'edgex'; doc: EdgexDocument }
  | { format: 'v2'; doc: V2Document };

/** Detects the format of `bytes` and validates it; throws KEYFILE_MALFORMED or KEYFILE_UNSUPPORTED naming `where`. */
export function parseKeyFile(bytes: Buffer, where: string): ParsedKeyFile {
  const obj = parseJsonObject(bytes, where, 'KEYFILE_MALFORMED');
  if ('format' in obj) {
    if (looksLikeV2(obj)) return { format: 'v2', doc: parseV2(bytes, obj, where) };
    throw new SecretStoreError('KEYFILE_UNSUPPORTED', `${where} has an unknown "format"; it was not written by this tool or by EdgeX`);
  }
  if (looksLikeEdgex(obj)) return { format: 'edgex', doc: parseEdgexDocument(obj, where) };
  if (looksLikePlaintext(obj)) return { format: 'plaintext', contents: parsePlaintext(obj, where) };
  throw new SecretStoreError(
    'KEYFILE_UNSUPPORTED',
    `${where} is neither a Vault init response ("keys"), an EdgeX encrypted key file ("encrypted_keys") nor a secretstore-setup v2 key file`,
  );
}

/** Wipes whatever secrets a parsed file holds (only the plaintext format holds any before decryption). */
export function wipeParsed(parsed: ParsedKeyFile): void {
  if (parsed.format === 'plaintext') wipe(...parsed.contents.shares, parsed.contents.rootToken);
  if (parsed.format === 'edgex') wipe(parsed.doc.rootToken);
}

/**
 * Parses `bytes`, runs `fn` on the result, then wipes both the parsed secrets and `bytes` (a plaintext file's bytes
 * are secrets too), whatever happens.
 */
export async function withParsedKeyFile<T>(bytes: Buffer, where: string, fn: (parsed: ParsedKeyFile) => T | Promise<T>): Promise<T> {
  try {
    const parsed = parseKeyFile(bytes, where);
    try {
      return await fn(parsed);
    } finally {
      wipeParsed(parsed);
    }
  } finally {
    bytes.fill(0);
  }
}
