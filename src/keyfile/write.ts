/**
 * Writing the key file: encrypt, write a temp file, decrypt it back and compare, rename it into place — and, for the
 * two-file edgex format, order the salt and key-file steps so that a crash or a failure at any point never leaves a
 * key file whose salt is gone or replaced (docs/key-file-formats.md, "Crash safety"). Callers hold the key-file lock.
 * The file operations come in through {@link FileOps} so tests can fail or "crash" any single step.
 */
import { randomBytes } from '../crypto.js';
import { SecretStoreError, describeCause, isSecretStoreError } from '../errors.js';
import { EDGEX_SALT_LENGTH, decryptEdgexShares, encryptEdgexShares, serializeEdgexDocument } from '../vmk/envelope-edgex.js';
import { decryptV2, encryptV2 } from '../vmk/envelope-v2.js';
import { exists, readIfReadable, readOptional, removeDurable, removeStaleTemps, renameDurable, writeFileAtomic } from './atomic-write.js';
import { parseKeyFile, wipeParsed, withParsedKeyFile } from './format.js';
import type { KeyFilePaths } from './paths.js';
import { serializePlaintext } from './plaintext.js';
import { readSalt } from './salt.js';
import { type InitSecrets, type KeyFileFormat, initSecretsEqual, plaintextSecrets, wipeInitSecrets } from './secrets.js';

/** Options of a key-file write. */
export interface WriteKeyFileOptions {
  format: KeyFileFormat;
  /** The IKM; required for edgex and v2. */
  ikm?: Buffer;
  /** Allow the plaintext format although an IKM is given (only the explicit `keys decrypt` command sets this). */
  allowPlaintext?: boolean;
  /** edgex format: use a fresh salt even if kdf-salt.dat exists (rewrap). v2 always uses a fresh salt. */
  newSalt?: boolean;
}

/** The file operations a write performs, each one durable on its own (see atomic-write.ts). */
export interface FileOps {
  writeFileAtomic: (path: string, data: Buffer, mode: number, verify?: (written: Buffer) => void) => Promise<void>;
  renameDurable: (from: string, to: string) => Promise<void>;
  removeDurable: (path: string) => Promise<void>;
}

/** A step that does nothing. */
const nothing = (): Promise<void> => Promise.resolve();

/** A synchronous file operation as a step (its exception a rejection), the shape tests inject failures into. */
function asStep<A extends unknown[]>(operation: (...args: A) => void): (...args: A) => Promise<void> {
  return (...args) =>
    new Promise<void>((resolve) => {
      operation(...args);
      resolve();
    });
}

/** The real, durable file operations. */
export const DURABLE_FILE_OPS: FileOps = {
  writeFileAtomic: asStep(writeFileAtomic),
  renameDurable: asStep(renameDurable),
  removeDurable: asStep(removeDurable),
};

/** Decrypts freshly written bytes and compares them with what was meant to be written; throws KEYFILE_VERIFY_FAILED. */
function verifyWritten(bytes: Buffer, name: string, format: KeyFileFormat, ikm: Buffer | undefined, salt: Buffer | undefined, secrets: InitSecrets): void {
  const fail = (why: string, cause?: unknown): SecretStoreError =>
    new SecretStoreError('KEYFILE_VERIFY_FAILED', `the new ${name} did not read back correctly (${why}); the previous file is unchanged — check the disk`, { cause });
  let got: InitSecrets | undefined;
  try {
    const parsed = parseKeyFile(bytes, name);
    if (parsed.format !== format) {
      wipeParsed(parsed);
      throw fail('wrong format');
    }
    if (parsed.format === 'plaintext') got = plaintextSecrets(parsed);
    else if (ikm === undefined) throw fail('no IKM');
    else if (parsed.format === 'v2') got = decryptV2(ikm, parsed.doc, name);
    else if (salt === undefined) throw fail('no salt');
    else got = { shares: decryptEdgexShares(ikm, [salt], parsed.doc, name).shares };
    if (!initSecretsEqual(got, secrets, format === 'v2')) throw fail('content differs');
  } catch (err) {
    if (isSecretStoreError(err, 'KEYFILE_VERIFY_FAILED')) throw err;
    throw fail(isSecretStoreError(err) ? err.code : describeCause(err), err);
  } finally {
    wipeInitSecrets(got);
  }
}

/** A salt file's read-back check. */
function verifySalt(name: string, salt: Buffer): (written: Buffer) => void {
  return (written) => {
    if (!written.equals(salt)) {
      throw new SecretStoreError('KEYFILE_VERIFY_FAILED', `the new ${name} did not read back correctly; the previous files are unchanged — check the disk`);
    }
  };
}

/** What the key file currently is, for write planning (undefined when absent). */
async function currentFormat(paths: KeyFilePaths): Promise<KeyFileFormat | undefined> {
  const bytes = readOptional(paths.keyFile);
  if (bytes === undefined) return undefined;
  // An unreadable file might still be an edgex file someone can repair: treat it as depending on the salt.
  return withParsedKeyFile(bytes, paths.name, (parsed) => parsed.format).catch(() => 'edgex' as const);
}

/** True when the key file on disk now holds exactly `bytes` (the new file went in although a step failed). */
function keyFileHolds(paths: KeyFilePaths, bytes: Buffer): boolean {
  const now = readIfReadable(paths.keyFile);
  try {
    return now?.equals(bytes) === true;
  } finally {
    now?.fill(0);
  }
}

/** The error for a failure after the new key file went in: the files are consistent, but the command did not finish. */
function committedButFailed(paths: KeyFilePaths, err: unknown): SecretStoreError {
  const why = isSecretStoreError(err) ? err.message : describeCause(err);
  return new SecretStoreError(
    'IO',
    `the new ${paths.name} is in place but the write did not finish (${why}); nothing is lost: run "secretstore-setup keys verify" with the hook to check and tidy up`,
    { cause: err },
  );
}

/**
 * Runs the steps up to and including the new key file's rename. On failure: if the new key file is nevertheless in
 * place (the rename happened, a later fsync failed) nothing may be undone — it needs the salt just written — and the
 * error says so; otherwise `undo` puts back what the steps changed and the original error is rethrown.
 */
async function commitKeyFile(paths: KeyFilePaths, bytes: Buffer, steps: () => Promise<void>, undo: () => Promise<void>): Promise<void> {
  try {
    await steps();
  } catch (err) {
    if (keyFileHolds(paths, bytes)) throw committedButFailed(paths, err);
    await undo().catch(() => undefined);
    throw err;
  }
}

/** Runs the steps that follow the new key file's rename; a failure there is reported as {@link committedButFailed}. */
async function afterCommit(paths: KeyFilePaths, steps: () => Promise<void>): Promise<void> {
  try {
    await steps();
  } catch (err) {
    throw committedButFailed(paths, err);
  }
}

/**
 * Writes `secrets` in `options.format` (the caller has validated them and holds the lock) and returns the bytes of
 * the new key file (the caller wipes them). Every new file is verified by decrypting it back before the rename.
 */
export async function writeKeyFiles(paths: KeyFilePaths, secrets: InitSecrets, options: WriteKeyFileOptions, ops: FileOps = DURABLE_FILE_OPS): Promise<Buffer> {
  const { format, ikm } = options;
  removeStaleTemps(paths.keyFile);
  removeStaleTemps(paths.saltFile);
  removeStaleTemps(paths.pendingSalt);
  if (format === 'edgex') {
    if (ikm === undefined) throw new SecretStoreError('INTERNAL', 'an edgex write without an IKM');
    return writeEdgex(paths, secrets, ikm, options.newSalt === true, ops);
  }
  if (format === 'v2' && ikm === undefined) throw new SecretStoreError('INTERNAL', 'a v2 write without an IKM');
  const bytes = format === 'v2' && ikm !== undefined ? encryptV2(ikm, secrets) : serializePlaintext(secrets);
  await commitKeyFile(
    paths,
    bytes,
    () =>
      ops.writeFileAtomic(paths.keyFile, bytes, 0o600, (written) => {
        verifyWritten(written, paths.name, format, ikm, undefined, secrets);
      }),
    nothing,
  );
  // Neither v2 nor plaintext needs kdf-salt.dat; once the new file is durable nothing depends on it.
  await afterCommit(paths, async () => {
    await ops.removeDurable(paths.pendingSalt);
    await ops.removeDurable(paths.saltFile);
  });
  return bytes;
}

/**
 * The two-file edgex write. The key file must never be left needing a salt that is gone or replaced:
 * - reuse a valid kdf-salt.dat unless a new salt is asked for: only the key file changes (one atomic rename);
 * - a new salt while no edgex key file depends on the old one: salt first, then the key file;
 * - a new salt while the current edgex key file depends on the old one: new salt to kdf-salt.dat.pending, then the
 *   key file, then pending → kdf-salt.dat. After a crash in between, the reader tries both salts and finishes or
 *   discards the pending one (salt.ts).
 * When a step fails, what was done is undone — unless the new key file is already in place (its rename happened but,
 * say, the folder fsync failed): then the salt it needs is kept and the error says so ({@link commitKeyFile}).
 */
async function writeEdgex(paths: KeyFilePaths, secrets: InitSecrets, ikm: Buffer, newSalt: boolean, ops: FileOps): Promise<Buffer> {
  const previous = await currentFormat(paths);
  const pendingExists = exists(paths.pendingSalt);
  let existing: Buffer | undefined;
  try {
    existing = readSalt(paths.saltFile, paths.saltName);
  } catch (err) {
    if (!isSecretStoreError(err, 'SALT_MALFORMED')) throw err;
    existing = undefined; // useless to anything; replaced below like a missing one
  }
  const reuse = existing !== undefined && !newSalt;
  if (pendingExists && previous === 'edgex' && !reuse) {
    // The current file may depend on the pending salt (only a read with its IKM can tell), so it must not be
    // overwritten by another pending salt.
    throw new SecretStoreError('SALT_PENDING', `an interrupted salt replacement left ${paths.saltName}.pending; run "secretstore-setup keys verify" with the hook that wrote ${paths.name} to finish it, then retry`);
  }
  const salt = reuse && existing !== undefined ? existing : randomBytes(EDGEX_SALT_LENGTH);
  const bytes = serializeEdgexDocument(encryptEdgexShares(ikm, salt, secrets.shares));
  let undo = nothing;
  let finish = nothing;
  await commitKeyFile(
    paths,
    bytes,
    async () => {
      if (!reuse && previous !== 'edgex') {
        // Nothing depends on the current salt file (if any); still put it back if the key file cannot be written,
        // so a failed command leaves the folder exactly as it was.
        const before = readOptional(paths.saltFile);
        undo = () => (before === undefined ? ops.removeDurable(paths.saltFile) : ops.writeFileAtomic(paths.saltFile, before, 0o600));
        await ops.writeFileAtomic(paths.saltFile, salt, 0o600, verifySalt(paths.saltName, salt));
      } else if (!reuse) {
        undo = () => ops.removeDurable(paths.pendingSalt);
        await ops.writeFileAtomic(paths.pendingSalt, salt, 0o600, verifySalt(`${paths.saltName}.pending`, salt));
        finish = () => ops.renameDurable(paths.pendingSalt, paths.saltFile);
      }
      await ops.writeFileAtomic(paths.keyFile, bytes, 0o600, (written) => {
        verifyWritten(written, paths.name, 'edgex', ikm, salt, secrets);
      });
    },
    () => undo(),
  );
  await afterCommit(paths, async () => {
    await finish();
    await ops.removeDurable(paths.pendingSalt);
  });
  return bytes;
}
