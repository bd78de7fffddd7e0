/**
 * The flow's use of the key file: save new shares durably and verify them by reading back BEFORE any unseal (EdgeX
 * defect 1); load and decrypt them whenever they are needed, including when the store is already unsealed (defect 2);
 * detect plaintext vs encrypted and act (defect 5): plaintext + hook → migrate in place (atomic, verified); encrypted
 * + no hook → refuse; never write shares or a root token in plaintext while a hook is set (defects 3 and 7).
 */
import { SecretStoreError, describeCause, isSecretStoreError } from '../errors.js';
import { delay } from '../vault/transport.js';
import { constantTimeEqual, wipe } from '../crypto.js';
import type { Logger } from '../log.js';
import type { WriteFormat } from '../config/config.js';
import {
  adoptKeyFileTemp,
  inspectKeyFile,
  removeCrashLeftovers,
  readKeyFile,
  writeKeyFile,
  type InitSecrets,
  type KeyFileLocation,
  type KeyFileSummary,
} from '../keyfile/keyfile.js';
import type { LazyIkm } from './ikm.js';
import { monotonicMs } from '../clock.js';

/** How the flow reaches the key file. */
export interface KeyFileAccess {
  loc: KeyFileLocation;
  ikm: LazyIkm;
  /** Format for encrypted writes (v2 default, or edgex). */
  format: WriteFormat;
  /** RevokeRootTokens: when true, a root token found in the file is removed from it. */
  revokeRootTokens: boolean;
  log: Logger;
}

/** The refusal when the key file is encrypted and no hook is set (EdgeX defect 5: never guess, never change). */
export function encryptedNoHook(path: string): SecretStoreError {
  return new SecretStoreError(
    'KEYFILE_ENCRYPTED_NO_HOOK',
    `the key file ${path} is encrypted but no IKM hook is configured; set EDGEX_IKM_HOOK to the hook that encrypted it (nothing was changed)`,
  );
}

/** Wipes every secret buffer of `secrets`. */
export function wipeSecrets(secrets: InitSecrets | undefined): void {
  if (secrets === undefined) return;
  wipe(...secrets.shares, secrets.rootToken);
}

function sameSecrets(a: InitSecrets, b: InitSecrets): boolean {
  if (a.shares.length !== b.shares.length) return false;
  let same = true;
  a.shares.forEach((s, i) => {
    const o = b.shares[i];
    same = o !== undefined && constantTimeEqual(s, o) && same;
  });
  if ((a.rootToken === undefined) !== (b.rootToken === undefined)) return false;
  if (a.rootToken !== undefined && b.rootToken !== undefined) same = constantTimeEqual(a.rootToken, b.rootToken) && same;
  return same;
}

/** Reads the file back (decrypting with the same IKM) and compares it with what was meant to be written. */
export async function verifyKeyFile(access: KeyFileAccess, expected: InitSecrets): Promise<KeyFileSummary> {
  const ikm = await access.ikm.get();
  const { secrets, summary } = await readKeyFile(access.loc, ikm);
  try {
    if (!sameSecrets(secrets, expected)) {
      throw new SecretStoreError(
        'KEYFILE_VERIFY_FAILED',
        `the key file ${summary.path} did not read back as written; the store was NOT unsealed — check the disk and rerun`,
      );
    }
    if (access.ikm.configured && (!summary.encrypted || (summary.hasRootToken && !summary.rootTokenEncrypted))) {
      throw new SecretStoreError('KEYFILE_VERIFY_FAILED', `the key file ${summary.path} holds plaintext secrets although an IKM hook is set`);
    }
    return summary;
  } finally {
    wipeSecrets(secrets);
  }
}

/** The warning when shares are about to be written without encryption. */
export function warnPlaintext(access: KeyFileAccess): void {
  access.log.warn('no IKM hook configured (EDGEX_IKM_HOOK): the unseal key shares are stored in PLAINTEXT', { dir: access.loc.dir });
}

/** What was just written, for the log line that says so. */
export interface WrittenFile {
  path: string;
  format: string;
  encrypted: boolean;
  shares: number;
  /** First boot only: milliseconds from the init answer to the key file's folder fsync (docs/bootstrap.md). */
  windowMs?: number;
}

/** Logs `event` for a file just written, then verifies it by reading back ({@link verifyKeyFile}) and logs that. */
export async function reportAndVerify(access: KeyFileAccess, secrets: InitSecrets, event: string, written: WrittenFile): Promise<KeyFileSummary> {
  access.log.info(event, { ...written });
  const summary = await verifyKeyFile(access, secrets);
  access.log.info('key file verified', { path: summary.path, format: summary.format, encrypted: summary.encrypted });
  return summary;
}

/** Writes `secrets` (encrypted when a hook is set, else plaintext as EdgeX does) and verifies by reading back. */
export async function saveSecrets(access: KeyFileAccess, secrets: InitSecrets, event: string): Promise<KeyFileSummary> {
  const ikm = await access.ikm.get();
  if (ikm === undefined) warnPlaintext(access);
  const written = await writeKeyFile(access.loc, secrets, ikm === undefined ? { format: 'plaintext' } : { format: access.format, ikm });
  return reportAndVerify(access, secrets, event, { path: written.path, format: written.format, encrypted: written.encrypted, shares: written.shareCount });
}

/** Attempts of {@link saveNewSecrets} before giving up, and the first wait between them (doubled each time). */
export const NEW_SECRETS_SAVE_ATTEMPTS = 4;
const NEW_SECRETS_RETRY_MS = 500;

/**
 * Saves the shares a `sys/init` just returned. They exist nowhere else (Vault hands them out only in that answer),
 * so a transient failure (an I/O error, a verify mismatch, a disk being freed) is retried before giving up; the
 * caller's init marker stays until this succeeds, so a final failure is diagnosed by the next run. `firstAttempt`,
 * when given, replaces the first attempt (the flow's first-boot write, already done in the window: it reports and
 * verifies it, or rethrows its failure); later attempts are ordinary verified atomic writes.
 */
export async function saveNewSecrets(
  access: KeyFileAccess,
  secrets: InitSecrets,
  signal?: AbortSignal,
  firstAttempt?: () => Promise<KeyFileSummary>,
): Promise<KeyFileSummary> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (attempt === 1 && firstAttempt !== undefined) return await firstAttempt();
      return await saveSecrets(access, secrets, 'key file saved');
    } catch (err) {
      if (isSecretStoreError(err, 'ABORTED')) throw err;
      const fields = { attempt, attempts: NEW_SECRETS_SAVE_ATTEMPTS, code: isSecretStoreError(err) ? err.code : 'INTERNAL', error: isSecretStoreError(err) ? err.message : describeCause(err) };
      if (attempt >= NEW_SECRETS_SAVE_ATTEMPTS) {
        access.log.error('the store is initialized but its new unseal key shares could not be saved: they are lost when this process exits', fields);
        throw err;
      }
      access.log.error('saving the new key file failed; retrying (the unseal key shares exist only in memory until it succeeds)', fields);
      await delay(NEW_SECRETS_RETRY_MS * 2 ** (attempt - 1), signal);
    }
  }
}

/** What {@link loadSecrets} found and did. */
export interface LoadedSecrets {
  secrets: InitSecrets;
  summary: KeyFileSummary;
  /** The file was rewritten: plaintext → encrypted, or a stored root token removed. */
  rewritten: 'migrated' | 'root-token-removed' | undefined;
}

/**
 * Loads and decrypts the key file; `undefined` when there is none. Refuses (no change anywhere) when the file is
 * encrypted and no hook is set, or the IKM is wrong (readKeyFile's KEYFILE_WRONG_IKM).
 */
export async function loadSecrets(access: KeyFileAccess): Promise<LoadedSecrets | undefined> {
  const started = monotonicMs();
  const found = await inspectKeyFile(access.loc);
  if (found === undefined) return undefined;
  if (found.encrypted && !access.ikm.configured) throw encryptedNoHook(found.path);
  const hookBefore = access.ikm.hookMs ?? 0;
  const ikm = found.encrypted ? await access.ikm.get() : undefined;
  const { secrets, summary } = await readKeyFile(access.loc, ikm);
  try {
    // Time to read and decrypt, the hook's own time excluded (reported apart by the flow).
    const ms = monotonicMs() - started - ((access.ikm.hookMs ?? 0) - hookBefore);
    access.log.info('key file loaded', {
      path: summary.path,
      format: summary.format,
      encrypted: summary.encrypted,
      shares: summary.shareCount,
      ms: Math.round(ms * 100) / 100,
    });
    let rewritten: LoadedSecrets['rewritten'];
    let next = secrets;
    if (access.revokeRootTokens && secrets.rootToken !== undefined) {
      next = { shares: secrets.shares, ...(secrets.threshold === undefined ? {} : { threshold: secrets.threshold }) };
      rewritten = 'root-token-removed';
    }
    // Plaintext shares, or a root token EdgeX left in plaintext beside encrypted shares (defect 7), while a hook is set.
    const plaintextRoot = next.rootToken !== undefined && !summary.rootTokenEncrypted;
    if (access.ikm.configured && (!summary.encrypted || plaintextRoot)) rewritten = 'migrated';
    if (rewritten === undefined) return { secrets, summary, rewritten };
    const event = rewritten === 'migrated' ? 'key file migrated to encrypted' : 'stored root token removed from the key file';
    const newSummary = await saveSecrets(access, next, event);
    if (next !== secrets) wipe(secrets.rootToken);
    return { secrets: next, summary: newSummary, rewritten };
  } catch (err) {
    wipeSecrets(secrets);
    throw err;
  }
}

/**
 * No key file: a first save may have been killed after its temp file was synced and before the rename, leaving the
 * shares whole in that temp file. Adopts such a file (it must decrypt with the IKM; the hook runs only if an
 * encrypted candidate is there) and says so; true when a key file is now in place. The unseal that follows checks
 * the shares against the store.
 */
export async function recoverInterruptedSave(access: KeyFileAccess): Promise<boolean> {
  const adopted = await adoptKeyFileTemp(access.loc, () => access.ikm.get());
  if (adopted === undefined) return false;
  access.log.warn('key file recovered from a save that was interrupted before its rename', { dir: access.loc.dir, from: adopted });
  removeCrashLeftovers(access.loc); // the other temp files: torn, or older
  return true;
}
