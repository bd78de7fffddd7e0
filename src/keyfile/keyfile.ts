/**
 * The key file on disk (`<dir>/resp-init.json`, plus `kdf-salt.dat` for the edgex format): the facade others use to
 * inspect, read and write it. Writes are locked, atomic, durable and verified (the new file is decrypted back and
 * compared before it replaces the old one); the write protocol lives in write.ts, the salt handling in salt.ts.
 */
import { join } from 'node:path';
import { SecretStoreError } from '../errors.js';
import { validateRootToken, validateShares, validateThreshold } from '../vmk/shares.js';
import { decryptV2 } from '../vmk/envelope-v2.js';
import { ensureSecretDir, exists, readOptional, removeStaleTemps } from './atomic-write.js';
import { type IkmGetter, adoptInterruptedKeyFile } from './first-write.js';
import { parseKeyFile, wipeParsed, withParsedKeyFile } from './format.js';
import { removeStaleLockTemps, withFileLock } from './lock.js';
import { type KeyFileLocation, keyFilePaths } from './paths.js';
import { openEdgexWithSalts } from './salt.js';
import { type InitSecrets, plaintextSecrets } from './secrets.js';
import { type KeyFileSummary, summarize } from './summary.js';
import { type WriteKeyFileOptions, writeKeyFiles } from './write.js';

export { type InitSecrets, type KeyFileFormat, wipeInitSecrets } from './secrets.js';
export { type KeyFileLocation, type KeyFilePaths, DEFAULT_KEY_FILE, DEFAULT_SALT_FILE, keyFilePaths } from './paths.js';
export type { KeyFileSummary } from './summary.js';
export type { WriteKeyFileOptions } from './write.js';
export { type PreparedKeyFile, prepareFirstKeyFile } from './first-write.js';

/**
 * Describes the key file without an IKM (nothing is decrypted; plaintext shares are read and wiped at once).
 * Resolves to undefined when the key file does not exist.
 */
export async function inspectKeyFile(loc: KeyFileLocation): Promise<KeyFileSummary | undefined> {
  const paths = keyFilePaths(loc);
  const bytes = readOptional(paths.keyFile);
  if (bytes === undefined) return undefined;
  return withParsedKeyFile(bytes, paths.name, (parsed) => {
    const edgex = parsed.format === 'edgex';
    return summarize(paths.keyFile, parsed, edgex && exists(paths.saltFile), edgex && exists(paths.pendingSalt));
  });
}

/** Runs `fn` holding the inter-process lock of this key file (reentrant; stale locks are recovered). */
export async function withKeyFileLock<T>(loc: KeyFileLocation, fn: () => T | Promise<T>): Promise<T> {
  const paths = keyFilePaths(loc);
  ensureSecretDir(loc.dir);
  return withFileLock(paths.lockFile, fn);
}

/**
 * Removes what writers killed mid-way left in the key folder (call under the key-file lock, so that no writer of
 * ours is running): the temp files of each of `others` (file names in the folder, e.g. the init marker), the private
 * files of a killed lock taker, and the temp files of the key file and its salt files — these only when the key file
 * exists, because without one a synced temp file may hold the only copy of the shares ({@link adoptKeyFileTemp}).
 * Only files matching our exact temp-name patterns are touched. Returns how many were removed.
 */
export function removeCrashLeftovers(loc: KeyFileLocation, others: readonly string[] = []): number {
  const paths = keyFilePaths(loc);
  let removed = removeStaleLockTemps(paths.lockFile);
  for (const name of others) removed += removeStaleTemps(join(loc.dir, name));
  if (exists(paths.keyFile)) {
    for (const target of [paths.keyFile, paths.saltFile, paths.pendingSalt]) removed += removeStaleTemps(target);
  }
  return removed;
}

/**
 * No key file, but a writer killed between its temp file's fsync and the rename left the shares whole in that temp
 * file: renames the newest temp file that parses and opens with the IKM (fetched only if needed) into place. Returns its name, or undefined
 * (nothing adoptable, or a key file exists). Takes the key-file lock (reentrant).
 */
export async function adoptKeyFileTemp(loc: KeyFileLocation, getIkm: IkmGetter): Promise<string | undefined> {
  return withKeyFileLock(loc, () => adoptInterruptedKeyFile(loc, getIkm));
}

/**
 * Reads and decrypts the key file. `ikm` is needed for the edgex and v2 formats (KEYFILE_ENCRYPTED_NO_HOOK without
 * it); a plaintext file is returned as is (the summary says so; callers decide whether to migrate it).
 * Throws KEYFILE_NOT_FOUND, KEYFILE_MALFORMED, KEYFILE_UNSUPPORTED, KEYFILE_WRONG_IKM, KEYFILE_TAMPERED,
 * SALT_MISSING, SALT_MALFORMED. The caller wipes the returned secrets ({@link wipeInitSecrets}).
 */
export async function readKeyFile(loc: KeyFileLocation, ikm: Buffer | undefined): Promise<{ secrets: InitSecrets; summary: KeyFileSummary }> {
  const paths = keyFilePaths(loc);
  if (!exists(paths.keyFile)) {
    // Checked before the lock too, which would create a missing folder just to report that nothing is there.
    throw new SecretStoreError('KEYFILE_NOT_FOUND', `${paths.keyFile} does not exist; nothing to read`);
  }
  return withKeyFileLock(loc, () => {
    const bytes = readOptional(paths.keyFile);
    if (bytes === undefined) {
      throw new SecretStoreError('KEYFILE_NOT_FOUND', `${paths.keyFile} does not exist; nothing to read`);
    }
    let parsed;
    try {
      parsed = parseKeyFile(bytes, paths.name);
    } finally {
      bytes.fill(0); // a plaintext file's bytes are secrets; the parsed buffers are copies
    }
    if (parsed.format === 'plaintext') {
      return { secrets: plaintextSecrets(parsed), summary: summarize(paths.keyFile, parsed, false, false) };
    }
    if (ikm === undefined) {
      wipeParsed(parsed);
      throw new SecretStoreError('KEYFILE_ENCRYPTED_NO_HOOK', `${paths.name} is encrypted (${parsed.format} format) but no IKM hook is configured; set EDGEX_IKM_HOOK to the hook that encrypted it`);
    }
    if (parsed.format === 'edgex') {
      let shares: Buffer[];
      let label;
      try {
        ({ shares, label } = openEdgexWithSalts(paths, parsed.doc, ikm));
      } catch (err) {
        wipeParsed(parsed);
        throw err;
      }
      const summary = summarize(paths.keyFile, parsed, true, false);
      summary.edgexLabel = label;
      const secrets: InitSecrets = { shares };
      if (parsed.doc.rootToken !== undefined) secrets.rootToken = parsed.doc.rootToken;
      return { secrets, summary };
    }
    const contents = decryptV2(ikm, parsed.doc, paths.name);
    return { secrets: contents, summary: summarize(paths.keyFile, parsed, true, false) };
  });
}

/** Checks what the caller asks to write. */
function checkSecrets(secrets: InitSecrets): void {
  const where = 'the key shares to write';
  validateShares(secrets.shares, where, 'USAGE');
  validateThreshold(secrets.threshold, secrets.shares.length, where, 'USAGE');
  if (secrets.rootToken !== undefined) validateRootToken(secrets.rootToken, where, 'USAGE');
}

/**
 * Writes `secrets` to the key file in `options.format`: locked, atomic, durable, and verified by decrypting the
 * written bytes before they replace the old file. Refuses the plaintext format while an IKM is given unless
 * `allowPlaintext`, and an encrypted format without an IKM. The edgex format cannot hold a root token.
 * The caller keeps ownership of `secrets`.
 */
export async function writeKeyFile(loc: KeyFileLocation, secrets: InitSecrets, options: WriteKeyFileOptions): Promise<KeyFileSummary> {
  const paths = keyFilePaths(loc);
  checkSecrets(secrets);
  const { format, ikm } = options;
  if (format === 'plaintext' && ikm !== undefined && options.allowPlaintext !== true) {
    throw new SecretStoreError('KEYFILE_PLAINTEXT', `refusing to write the key shares in plaintext while an IKM hook is configured; nothing was changed`);
  }
  if (format !== 'plaintext' && ikm === undefined) {
    throw new SecretStoreError('HOOK_NOT_CONFIGURED', `the ${format} format needs an IKM: set EDGEX_IKM_HOOK to the hook's absolute path`);
  }
  if (format === 'edgex' && secrets.rootToken !== undefined) {
    // EdgeX defect 7: its format keeps the root token only in plaintext.
    throw new SecretStoreError('KEYFILE_UNSUPPORTED', 'the edgex format cannot hold the root token encrypted; use the v2 format, or revoke and drop the root token first');
  }
  return withKeyFileLock(loc, async () => {
    const bytes = await writeKeyFiles(paths, secrets, options);
    return withParsedKeyFile(bytes, paths.name, (parsed) => summarize(paths.keyFile, parsed, format === 'edgex', false));
  });
}
