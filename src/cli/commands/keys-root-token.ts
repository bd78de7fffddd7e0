/** The one rule about root tokens and the edgex format, shared by encrypt, convert and rewrap. */
import { SecretStoreError } from '../../errors.js';
import type { InitSecrets, KeyFileFormat, KeyFileSummary } from '../../keyfile/keyfile.js';

function refusal(): SecretStoreError {
  return new SecretStoreError('KEYFILE_UNSUPPORTED', 'the key file keeps a root token, which the edgex format can only hold in plaintext; use --format v2, or add --drop-root-token after revoking it');
}

/**
 * Refuses, from the summary alone, a write of a kept root token to the edgex format without --drop-root-token — before
 * the hook runs, since hardware may release the IKM only a limited number of times per boot.
 */
export function checkRootTokenFor(format: KeyFileFormat, before: KeyFileSummary, drop: boolean): void {
  if (format === 'edgex' && before.hasRootToken && !drop) throw refusal();
}

/**
 * The edgex format can keep a root token only in plaintext (EdgeX defect 7), so writing one there needs
 * --drop-root-token; returns the secrets to write (sharing the caller's buffers, which the caller wipes).
 */
export function dropRootTokenFor(format: KeyFileFormat, secrets: InitSecrets, drop: boolean): InitSecrets {
  if (format !== 'edgex' || secrets.rootToken === undefined) return secrets;
  if (!drop) throw refusal();
  const out: InitSecrets = { shares: secrets.shares };
  if (secrets.threshold !== undefined) out.threshold = secrets.threshold;
  return out;
}
