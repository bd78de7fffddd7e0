/** The one rule about root tokens and the edgex format, shared by encrypt, convert and rewrap. */
import { SecretStoreError } from '../../errors.js';
import type { InitSecrets, KeyFileFormat } from '../../keyfile/keyfile.js';

/**
 * The edgex format can keep a root token only in plaintext (EdgeX defect 7), so writing one there needs
 * --drop-root-token; returns the secrets to write (sharing the caller's buffers, which the caller wipes).
 */
export function dropRootTokenFor(format: KeyFileFormat, secrets: InitSecrets, drop: boolean): InitSecrets {
  if (format !== 'edgex' || secrets.rootToken === undefined) return secrets;
  if (!drop) {
    throw new SecretStoreError('KEYFILE_UNSUPPORTED', 'the key file keeps a root token, which the edgex format can only hold in plaintext; use --format v2, or add --drop-root-token after revoking it');
  }
  const out: InitSecrets = { shares: secrets.shares };
  if (secrets.threshold !== undefined) out.threshold = secrets.threshold;
  return out;
}
