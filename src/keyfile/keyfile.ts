/**
 * The key file on disk (`<dir>/resp-init.json`, plus `kdf-salt.dat` for the edgex format): inspect, read, write.
 * Writes are locked, atomic, durable and verified (the new file is decrypted back and compared before it replaces
 * the old one). Write order for the two-file edgex format is documented in docs/key-file-formats.md ("Crash safety").
 */
import { readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes, wipe } from '../crypto.js';
import { SecretStoreError, describeCause, isSecretStoreError } from '../errors.js';
import { EDGEX_SALT_LENGTH, type EdgexLabel, decryptEdgexShares, encryptEdgexShares, serializeEdgexDocument } from '../vmk/envelope-edgex.js';
import { decryptV2, encryptV2 } from '../vmk/envelope-v2.js';
import { sharesEqual, validateRootToken, validateShares, validateThreshold } from '../vmk/shares.js';
import { ensureSecretDir, fsyncDir, removeStaleTemps, renameDurable, writeFileAtomic } from './atomic-write.js';
import { type ParsedKeyFile, parseKeyFile, wipeParsed } from './format.js';
import { withFileLock } from './lock.js';
import { serializePlaintext } from './plaintext.js';

/** What `sys/init` returned and the key file keeps. Buffers are secrets: wipe them with {@link wipeInitSecrets}. */
export interface InitSecrets {
  shares: Buffer[];
  threshold?: number;
  rootToken?: Buffer;
}

/** The three on-disk formats. */
export type KeyFileFormat = 'plaintext' | 'edgex' | 'v2';

/** Where the key file lives. */
export interface KeyFileLocation {
  dir: string;
  /** Key file name, default `resp-init.json`. */
  file?: string;
  /** Salt file name (edgex format), default `kdf-salt.dat`. */
  saltFile?: string;
}

/** A secret-free description of a key file. */
export interface KeyFileSummary {
  path: string;
  format: KeyFileFormat;
  encrypted: boolean;
  shareCount: number;
  threshold?: number;
  hasRootToken: boolean;
  rootTokenEncrypted: boolean;
  /** The salt the file needs is there (always true for v2, which embeds it; false for plaintext, which needs none). */
  saltPresent: boolean;
  /** Which EdgeX info label decrypted an edgex file (known only after decryption). */
  edgexLabel?: 'secretstore' | 'vault';
  /** An interrupted salt replacement left `<saltFile>.pending` (edgex format); the next read with the IKM finishes it. */
  saltPending?: boolean;
}

/** Options of {@link writeKeyFile}. */
export interface WriteKeyFileOptions {
  format: KeyFileFormat;
  /** The IKM; required for edgex and v2. */
  ikm?: Buffer;
  /** Allow the plaintext format although an IKM is given (only the explicit `keys decrypt` command sets this). */
  allowPlaintext?: boolean;
  /** edgex format: use a fresh salt even if kdf-salt.dat exists (rewrap). v2 always uses a fresh salt. */
  newSalt?: boolean;
}

/** Default key-file name (EdgeX's TokenFile). */
export const DEFAULT_KEY_FILE = 'resp-init.json';
/** Default salt-file name (EdgeX's kdf-salt.dat). */
export const DEFAULT_SALT_FILE = 'kdf-salt.dat';

/** Absolute paths of the files that make up a key file. */
export interface KeyFilePaths {
  keyFile: string;
  saltFile: string;
  pendingSalt: string;
  lockFile: string;
  name: string;
  saltName: string;
}

/** Resolves a {@link KeyFileLocation} to paths. File names must be plain names, not paths. */
export function keyFilePaths(loc: KeyFileLocation): KeyFilePaths {
  const name = loc.file ?? DEFAULT_KEY_FILE;
  const saltName = loc.saltFile ?? DEFAULT_SALT_FILE;
  for (const n of [name, saltName]) {
    if (n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\0')) {
      throw new SecretStoreError('USAGE', `a key-file name must be a plain file name, got "${n}"`);
    }
  }
  return {
    keyFile: join(loc.dir, name),
    saltFile: join(loc.dir, saltName),
    pendingSalt: join(loc.dir, `${saltName}.pending`),
    lockFile: join(loc.dir, `.${name}.lock`),
    name,
    saltName,
  };
}

/** Wipes every secret buffer of `secrets`. */
export function wipeInitSecrets(secrets: InitSecrets | undefined): void {
  if (secrets === undefined) return;
  wipe(...secrets.shares, secrets.rootToken);
}

/** Reads a file, or undefined when it does not exist. */
async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return undefined;
    throw new SecretStoreError('IO', `cannot read ${path} (${describeCause(err)})`, { cause: err });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return false;
    throw new SecretStoreError('IO', `cannot check ${path} (${describeCause(err)})`, { cause: err });
  }
}

async function removeDurable(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (describeCause(err) === 'ENOENT') return;
    throw new SecretStoreError('IO', `cannot remove ${path} (${describeCause(err)})`, { cause: err });
  }
  await fsyncDir(dirname(path));
}

function summarize(path: string, parsed: ParsedKeyFile, saltPresent: boolean, saltPending: boolean): KeyFileSummary {
  switch (parsed.format) {
    case 'plaintext':
      return {
        path,
        format: 'plaintext',
        encrypted: false,
        shareCount: parsed.contents.shares.length,
        hasRootToken: parsed.contents.rootToken !== undefined,
        rootTokenEncrypted: false,
        saltPresent: false,
      };
    case 'edgex': {
      const s: KeyFileSummary = {
        path,
        format: 'edgex',
        encrypted: true,
        shareCount: parsed.doc.encryptedKeys.length,
        hasRootToken: parsed.doc.rootToken !== undefined,
        rootTokenEncrypted: false,
        saltPresent,
      };
      if (saltPending) s.saltPending = true;
      return s;
    }
    case 'v2': {
      const s: KeyFileSummary = {
        path,
        format: 'v2',
        encrypted: true,
        shareCount: parsed.doc.shareCount,
        hasRootToken: parsed.doc.rootToken !== undefined,
        rootTokenEncrypted: parsed.doc.rootToken !== undefined,
        saltPresent: true,
      };
      if (parsed.doc.threshold !== undefined) s.threshold = parsed.doc.threshold;
      return s;
    }
  }
}

/**
 * Describes the key file without an IKM (nothing is decrypted; plaintext shares are read and wiped at once).
 * Resolves to undefined when the key file does not exist.
 */
export async function inspectKeyFile(loc: KeyFileLocation): Promise<KeyFileSummary | undefined> {
  const paths = keyFilePaths(loc);
  const bytes = await readOptional(paths.keyFile);
  if (bytes === undefined) return undefined;
  const parsed = parseKeyFile(bytes, paths.name);
  try {
    const edgex = parsed.format === 'edgex';
    return summarize(paths.keyFile, parsed, edgex && (await exists(paths.saltFile)), edgex && (await exists(paths.pendingSalt)));
  } finally {
    wipeParsed(parsed);
  }
}

/** Runs `fn` holding the inter-process lock of this key file (reentrant; stale locks are recovered). */
export async function withKeyFileLock<T>(loc: KeyFileLocation, fn: () => Promise<T>): Promise<T> {
  const paths = keyFilePaths(loc);
  await ensureSecretDir(loc.dir);
  return withFileLock(paths.lockFile, fn);
}

/** Reads a salt file: undefined if absent, SALT_MALFORMED if not exactly 32 bytes. */
async function readSalt(path: string, name: string): Promise<Buffer | undefined> {
  const salt = await readOptional(path);
  if (salt !== undefined && salt.length !== EDGEX_SALT_LENGTH) {
    throw new SecretStoreError('SALT_MALFORMED', `${name} is ${salt.length} bytes, not ${EDGEX_SALT_LENGTH}: it was damaged or replaced, and the encrypted shares cannot be decrypted without the original; restore it from a backup`);
  }
  return salt;
}

/** Decrypts an edgex document with the salt on disk (and a pending one), finishing an interrupted salt replacement. */
async function openEdgex(paths: KeyFilePaths, parsed: ParsedKeyFile & { format: 'edgex' }, ikm: Buffer): Promise<{ shares: Buffer[]; label: EdgexLabel }> {
  const main = await readSalt(paths.saltFile, paths.saltName);
  const pending = await readOptional(paths.pendingSalt);
  const usablePending = pending !== undefined && pending.length === EDGEX_SALT_LENGTH ? pending : undefined;
  if (main === undefined && usablePending === undefined) {
    // EdgeX defect 6: it silently made a new salt here, turning the encrypted shares into garbage.
    throw new SecretStoreError('SALT_MISSING', `${paths.saltName} is missing, and the encrypted shares in ${paths.name} cannot be decrypted without it; restore it from a backup (a new salt is never made for an existing file)`);
  }
  const salts = [main, usablePending].filter((s): s is Buffer => s !== undefined);
  const opened = decryptEdgexShares(ikm, salts, parsed.doc, paths.name);
  if (pending !== undefined) {
    if (salts[opened.saltIndex] === usablePending) await renameDurable(paths.pendingSalt, paths.saltFile);
    else await removeDurable(paths.pendingSalt);
  }
  return { shares: opened.shares, label: opened.label };
}

/**
 * Reads and decrypts the key file. `ikm` is needed for the edgex and v2 formats (KEYFILE_ENCRYPTED_NO_HOOK without
 * it); a plaintext file is returned as is (the summary says so; callers decide whether to migrate it).
 * Throws KEYFILE_NOT_FOUND, KEYFILE_MALFORMED, KEYFILE_UNSUPPORTED, KEYFILE_WRONG_IKM, KEYFILE_TAMPERED,
 * SALT_MISSING, SALT_MALFORMED. The caller wipes the returned secrets ({@link wipeInitSecrets}).
 */
export async function readKeyFile(loc: KeyFileLocation, ikm: Buffer | undefined): Promise<{ secrets: InitSecrets; summary: KeyFileSummary }> {
  const paths = keyFilePaths(loc);
  if (!(await exists(paths.keyFile))) {
    // Checked before the lock too, which would create a missing folder just to report that nothing is there.
    throw new SecretStoreError('KEYFILE_NOT_FOUND', `${paths.keyFile} does not exist; nothing to read`);
  }
  return withKeyFileLock(loc, async () => {
    const bytes = await readOptional(paths.keyFile);
    if (bytes === undefined) {
      throw new SecretStoreError('KEYFILE_NOT_FOUND', `${paths.keyFile} does not exist; nothing to read`);
    }
    const parsed = parseKeyFile(bytes, paths.name);
    if (parsed.format === 'plaintext') {
      const summary = summarize(paths.keyFile, parsed, false, false);
      const secrets: InitSecrets = { shares: parsed.contents.shares };
      if (parsed.contents.rootToken !== undefined) secrets.rootToken = parsed.contents.rootToken;
      return { secrets, summary };
    }
    if (ikm === undefined) {
      wipeParsed(parsed);
      throw new SecretStoreError('KEYFILE_ENCRYPTED_NO_HOOK', `${paths.name} is encrypted (${parsed.format} format) but no IKM hook is configured; set EDGEX_IKM_HOOK to the hook that encrypted it`);
    }
    if (parsed.format === 'edgex') {
      const { shares, label } = await openEdgex(paths, parsed, ikm);
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

/** Decrypts freshly written bytes and compares them with what was meant to be written; throws KEYFILE_VERIFY_FAILED. */
function verifyWritten(bytes: Buffer, name: string, format: KeyFileFormat, ikm: Buffer | undefined, salt: Buffer | undefined, secrets: InitSecrets): void {
  const fail = (why: string, cause?: unknown): SecretStoreError =>
    new SecretStoreError('KEYFILE_VERIFY_FAILED', `the new ${name} did not read back correctly (${why}); the previous file is unchanged — check the disk`, { cause });
  let got: InitSecrets | undefined;
  try {
    const parsed = parseKeyFile(bytes, name);
    if (parsed.format !== format) throw fail('wrong format');
    if (parsed.format === 'plaintext') {
      got = { shares: parsed.contents.shares };
      if (parsed.contents.rootToken !== undefined) got.rootToken = parsed.contents.rootToken;
    } else if (parsed.format === 'edgex') {
      if (ikm === undefined || salt === undefined) throw fail('no IKM');
      got = { shares: decryptEdgexShares(ikm, [salt], parsed.doc, name).shares };
    } else {
      if (ikm === undefined) throw fail('no IKM');
      got = decryptV2(ikm, parsed.doc, name);
    }
    const tokenSame =
      got.rootToken === undefined || secrets.rootToken === undefined ? got.rootToken === secrets.rootToken : got.rootToken.equals(secrets.rootToken);
    const thresholdSame = format !== 'v2' || got.threshold === secrets.threshold;
    if (!sharesEqual(got.shares, secrets.shares) || !tokenSame || !thresholdSame) throw fail('content differs');
  } catch (err) {
    if (isSecretStoreError(err, 'KEYFILE_VERIFY_FAILED')) throw err;
    throw fail(isSecretStoreError(err) ? err.code : describeCause(err), err);
  } finally {
    wipeInitSecrets(got);
  }
}

/** What the key file currently is, for write planning (undefined when absent or unreadable). */
async function currentFormat(paths: KeyFilePaths): Promise<KeyFileFormat | undefined> {
  const bytes = await readOptional(paths.keyFile);
  if (bytes === undefined) return undefined;
  try {
    const parsed = parseKeyFile(bytes, paths.name);
    wipeParsed(parsed);
    return parsed.format;
  } catch {
    // An unreadable file might still be an edgex file someone can repair: treat it as depending on the salt.
    return 'edgex';
  }
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
    await removeStaleTemps(paths.keyFile);
    await removeStaleTemps(paths.saltFile);
    await removeStaleTemps(paths.pendingSalt);
    const previous = await currentFormat(paths);
    const pendingExists = await exists(paths.pendingSalt);
    let bytes: Buffer;
    if (format === 'edgex' && ikm !== undefined) {
      bytes = await writeEdgex(paths, secrets, ikm, options.newSalt === true, previous, pendingExists);
    } else {
      bytes = format === 'v2' && ikm !== undefined ? encryptV2(ikm, secrets) : serializePlaintext(secrets);
      await writeFileAtomic(paths.keyFile, bytes, 0o600, (written) => {
        verifyWritten(written, paths.name, format, ikm, undefined, secrets);
      });
      // Neither v2 nor plaintext needs kdf-salt.dat; once the new file is durable nothing depends on it.
      await removeDurable(paths.pendingSalt);
      await removeDurable(paths.saltFile);
    }
    const parsed = parseKeyFile(bytes, paths.name);
    try {
      const edgex = format === 'edgex';
      return summarize(paths.keyFile, parsed, edgex, false);
    } finally {
      wipeParsed(parsed);
    }
  });
}

/**
 * The two-file edgex write. The key file must never be left needing a salt that is gone or replaced:
 * - reuse a valid kdf-salt.dat unless a new salt is asked for: only the key file changes (one atomic rename);
 * - a new salt while no edgex key file depends on the old one: salt first, then the key file;
 * - a new salt while the current edgex key file depends on the old one: new salt to kdf-salt.dat.pending, then the
 *   key file, then pending → kdf-salt.dat. After a crash in between, the reader tries both salts and finishes or
 *   discards the pending one (see {@link readKeyFile}).
 */
async function writeEdgex(paths: KeyFilePaths, secrets: InitSecrets, ikm: Buffer, newSalt: boolean, previous: KeyFileFormat | undefined, pendingExists: boolean): Promise<Buffer> {
  let existing: Buffer | undefined;
  try {
    existing = await readSalt(paths.saltFile, paths.saltName);
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
  const verify = (written: Buffer): void => {
    verifyWritten(written, paths.name, 'edgex', ikm, salt, secrets);
  };
  if (reuse) {
    await writeFileAtomic(paths.keyFile, bytes, 0o600, verify);
  } else if (previous !== 'edgex') {
    // Nothing depends on the current salt file (if any); still put it back if the key file cannot be written, so a
    // failed command leaves the folder exactly as it was.
    const before = await readOptional(paths.saltFile);
    await writeFileAtomic(paths.saltFile, salt, 0o600);
    try {
      await writeFileAtomic(paths.keyFile, bytes, 0o600, verify);
    } catch (err) {
      if (before === undefined) await removeDurable(paths.saltFile).catch(() => undefined);
      else await writeFileAtomic(paths.saltFile, before, 0o600).catch(() => undefined);
      throw err;
    }
  } else {
    await writeFileAtomic(paths.pendingSalt, salt, 0o600);
    try {
      await writeFileAtomic(paths.keyFile, bytes, 0o600, verify);
    } catch (err) {
      await removeDurable(paths.pendingSalt).catch(() => undefined);
      throw err;
    }
    await renameDurable(paths.pendingSalt, paths.saltFile);
  }
  await removeDurable(paths.pendingSalt);
  return bytes;
}
