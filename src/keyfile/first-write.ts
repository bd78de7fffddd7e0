/**
 * The first key file of a new store, and recovery of a first save that was interrupted.
 *
 * Vault's API hands the unseal key shares out only in the answer to `sys/init`: until they are on disk they exist in
 * this process's memory alone, and a crash loses them. {@link prepareFirstKeyFile} therefore does, BEFORE the init
 * request is sent, everything that does not need the shares — folder checked, stale temp files removed, the edgex
 * salt written and synced, the temp file created, the folder opened — so that after the answer
 * {@link PreparedKeyFile.commitSync} only encrypts, writes, fsyncs, renames and fsyncs the folder, synchronously:
 * no await (so no other task of the process, no timer, no log line can run in between) and no step that could be
 * done earlier. The read-back verification follows the commit (there is no previous file it could protect).
 *
 * A crash after the temp file's fsync but before the rename leaves the shares, whole, in the temp file:
 * {@link adoptInterruptedKeyFile} (run by the next boot when the store is initialized and no key file exists)
 * decrypts such a file with the IKM and renames it into place, instead of deleting it as a stale temp file.
 *
 * Callers hold the key-file lock from prepare to commit (the boot flow holds it for its whole run).
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes, wipe } from '../crypto.js';
import { SecretStoreError, describeCause } from '../errors.js';
import { EDGEX_SALT_LENGTH, decryptEdgexShares, encryptEdgexShares, serializeEdgexDocument } from '../vmk/envelope-edgex.js';
import { decryptV2, encryptV2 } from '../vmk/envelope-v2.js';
import { validateRootToken, validateShares, validateThreshold } from '../vmk/shares.js';
import {
  SECRET_FILE_MODE,
  ensureSecretDir,
  exists,
  listTemps,
  readIfReadable,
  removeDurable,
  removeStaleTemps,
  renameDurable,
  tempPrefix,
  writeFileAtomic,
} from './atomic-write.js';
import { parseKeyFile, wipeParsed } from './format.js';
import { type KeyFileLocation, type KeyFilePaths, keyFilePaths } from './paths.js';
import { serializePlaintext } from './plaintext.js';
import { readSalt } from './salt.js';
import { type InitSecrets, type KeyFileFormat, wipeInitSecrets } from './secrets.js';
import type { WriteKeyFileOptions } from './write.js';

/** A first key file ready to be written: see the module comment. */
export interface PreparedKeyFile {
  /** The key file's path. */
  readonly path: string;
  readonly format: KeyFileFormat;
  /**
   * Encrypts `secrets` and makes them durable as the key file: write + fsync the temp file, rename it into place,
   * fsync the folder — synchronously. Returns the bytes written (the caller wipes them). Throws IO (or USAGE for
   * invalid secrets); after a failure the temp file is gone unless the rename happened (then the file is in place).
   * Once only.
   */
  commitSync(secrets: InitSecrets): Buffer;
  /** Closes what is still open and removes the temp file unless it was committed. Idempotent. */
  discard(): void;
}

function checkFirstSecrets(secrets: InitSecrets, format: KeyFileFormat): void {
  const where = 'the key shares to write';
  validateShares(secrets.shares, where, 'USAGE');
  validateThreshold(secrets.threshold, secrets.shares.length, where, 'USAGE');
  if (secrets.rootToken !== undefined) validateRootToken(secrets.rootToken, where, 'USAGE');
  if (format === 'edgex' && secrets.rootToken !== undefined) {
    throw new SecretStoreError('KEYFILE_UNSUPPORTED', 'the edgex format cannot hold the root token encrypted; use the v2 format');
  }
}

/**
 * Prepares the first key file at `loc` (none may exist: IO error otherwise) in `options.format`. For the edgex
 * format a fresh salt is written (atomic, verified, durable) now — no key file depends on an old one — so the commit
 * is a single file. For v2 and plaintext a leftover `kdf-salt.dat` (and pending salt) is removed now. The caller
 * holds the key-file lock and calls `commitSync` or `discard`.
 */
export function prepareFirstKeyFile(loc: KeyFileLocation, options: WriteKeyFileOptions): PreparedKeyFile {
  const paths = keyFilePaths(loc);
  const { format, ikm } = options;
  if (format === 'plaintext' && ikm !== undefined && options.allowPlaintext !== true) {
    throw new SecretStoreError('KEYFILE_PLAINTEXT', 'refusing to write the key shares in plaintext while an IKM hook is configured; nothing was changed');
  }
  if (format !== 'plaintext' && ikm === undefined) {
    throw new SecretStoreError('HOOK_NOT_CONFIGURED', `the ${format} format needs an IKM: set EDGEX_IKM_HOOK to the hook's absolute path`);
  }
  ensureSecretDir(loc.dir);
  if (exists(paths.keyFile)) {
    throw new SecretStoreError('IO', `${paths.keyFile} already exists; a first key file never replaces one`);
  }
  removeStaleTemps(paths.keyFile);
  removeStaleTemps(paths.saltFile);
  removeStaleTemps(paths.pendingSalt);
  let salt: Buffer | undefined;
  removeDurable(paths.pendingSalt);
  if (format === 'edgex') {
    const fresh = randomBytes(EDGEX_SALT_LENGTH);
    writeFileAtomic(paths.saltFile, fresh, SECRET_FILE_MODE, (written) => {
      if (!written.equals(fresh)) {
        throw new SecretStoreError('KEYFILE_VERIFY_FAILED', `the new ${paths.saltName} did not read back correctly; check the disk`);
      }
    });
    salt = fresh;
  } else {
    removeDurable(paths.saltFile);
  }
  return openPrepared(paths, format, ikm, salt);
}

function openPrepared(paths: KeyFilePaths, format: KeyFileFormat, ikm: Buffer | undefined, salt: Buffer | undefined): PreparedKeyFile {
  const dir = dirname(paths.keyFile);
  const tmp = join(dir, `${tempPrefix(paths.keyFile)}${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  let dirFd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', SECRET_FILE_MODE);
    fchmodSync(fd, SECRET_FILE_MODE); // the umask may have narrowed it; make it exactly 0600
    dirFd = openSync(dir, 'r');
  } catch (err) {
    if (fd !== undefined) {
      closeSync(fd);
      unlinkQuietly(tmp);
    }
    throw new SecretStoreError('IO', `cannot prepare ${paths.keyFile} (${describeCause(err)})`, { cause: err });
  }
  let state: 'open' | 'committed' | 'discarded' = 'open';
  const closeAll = (): void => {
    if (fd !== undefined) closeQuietly(fd);
    if (dirFd !== undefined) closeQuietly(dirFd);
    fd = undefined;
    dirFd = undefined;
  };
  return {
    path: paths.keyFile,
    format,
    commitSync(secrets: InitSecrets): Buffer {
      if (state !== 'open' || fd === undefined || dirFd === undefined) throw new SecretStoreError('INTERNAL', 'a prepared key file committed twice or after discard');
      let bytes: Buffer | undefined;
      let renamed = false;
      try {
        checkFirstSecrets(secrets, format);
        if (format === 'v2' && ikm !== undefined) bytes = encryptV2(ikm, secrets);
        else if (format === 'edgex' && ikm !== undefined && salt !== undefined) bytes = serializeEdgexDocument(encryptEdgexShares(ikm, salt, secrets.shares));
        else if (format === 'plaintext') bytes = serializePlaintext(secrets);
        else throw new SecretStoreError('INTERNAL', `a ${format} key file prepared without its key material`);
        let offset = 0;
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
        fsyncSync(fd);
        closeSync(fd);
        fd = undefined;
        renameSync(tmp, paths.keyFile);
        renamed = true;
        fsyncSync(dirFd);
        state = 'committed';
        return bytes;
      } catch (err) {
        wipe(bytes);
        state = renamed ? 'committed' : 'discarded';
        closeAll();
        if (!renamed) unlinkQuietly(tmp);
        if (err instanceof SecretStoreError) throw err;
        throw new SecretStoreError(
          'IO',
          renamed
            ? `${paths.keyFile} was written, but its folder could not be synced to disk (${describeCause(err)})`
            : `cannot write ${paths.keyFile} (${describeCause(err)})`,
          { cause: err },
        );
      } finally {
        closeAll();
      }
    },
    discard(): void {
      closeAll();
      if (state === 'open') unlinkQuietly(tmp);
      if (state !== 'committed') state = 'discarded';
    },
  };
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already; a leftover is removed by the next run (removeStaleTemps)
  }
}

/** The IKM, fetched only when an encrypted candidate needs it (a hook may release it a limited number of times). */
export type IkmGetter = () => Promise<Buffer | undefined>;

/**
 * What a candidate file is: a whole key file that opens (decrypts with the IKM, or is plaintext), a whole one that
 * does not open (another IKM, a missing salt: kept, it may still be recovered), or torn (not a key file at all).
 */
async function candidate(paths: KeyFilePaths, bytes: Buffer, getIkm: IkmGetter): Promise<'opens' | 'closed' | 'torn'> {
  let parsed;
  try {
    parsed = parseKeyFile(bytes, paths.name);
  } catch {
    return 'torn';
  }
  try {
    if (parsed.format === 'plaintext') return 'opens';
    const ikm = await getIkm();
    if (ikm === undefined) return 'closed';
    if (parsed.format === 'v2') {
      wipeInitSecrets(decryptV2(ikm, parsed.doc, paths.name));
      return 'opens';
    }
    const salt = readSalt(paths.saltFile, paths.saltName); // a malformed salt throws: 'closed' below
    if (salt === undefined) return 'closed';
    wipe(...decryptEdgexShares(ikm, [salt], parsed.doc, paths.name).shares);
    return 'opens';
  } catch {
    return 'closed';
  } finally {
    wipeParsed(parsed);
  }
}

/**
 * When no key file exists but a writer was killed after its temp file was synced and before the rename, the temp
 * file holds the shares whole: this checks each such file (newest first) — it must parse and, when encrypted, decrypt
 * with the IKM (`getIkm` is called only then) — and renames the first good one into place (durably). Returns the
 * adopted file's name, or undefined. Torn files (not a whole key file) are removed; whole ones that do not open are
 * kept (another IKM may open them). Call under the key-file lock.
 */
export async function adoptInterruptedKeyFile(loc: KeyFileLocation, getIkm: IkmGetter): Promise<string | undefined> {
  const paths = keyFilePaths(loc);
  if (exists(paths.keyFile)) return undefined;
  const candidates = listTemps(paths.keyFile).map((path) => ({ path, mtime: statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0 }));
  candidates.sort((a, b) => b.mtime - a.mtime);
  for (const { path } of candidates) {
    const bytes = readIfReadable(path);
    if (bytes === undefined) continue;
    let found;
    try {
      found = await candidate(paths, bytes, getIkm);
    } finally {
      bytes.fill(0);
    }
    if (found === 'torn') rmSync(path, { force: true }); // a write cut short: nothing to recover
    if (found !== 'opens') continue;
    renameDurable(path, paths.keyFile);
    return basename(path);
  }
  return undefined;
}
