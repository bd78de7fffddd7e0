/**
 * The edgex format's salt file (`kdf-salt.dat`, 32 raw bytes) on the read side: reading it strictly, and decrypting
 * an edgex document with it — or with `kdf-salt.dat.pending`, which an interrupted salt replacement leaves (see
 * docs/key-file-formats.md, "Crash safety"); the read that tells which salt the file needs finishes or discards it.
 */
import { SecretStoreError } from '../errors.js';
import { EDGEX_SALT_LENGTH, type EdgexDocument, type EdgexLabel, decryptEdgexShares } from '../vmk/envelope-edgex.js';
import { readOptional, removeDurable, renameDurable } from './atomic-write.js';
import type { KeyFilePaths } from './paths.js';

/** Reads a salt file: undefined if absent, SALT_MALFORMED if not exactly 32 bytes. */
export function readSalt(path: string, name: string): Buffer | undefined {
  const salt = readOptional(path);
  if (salt !== undefined && salt.length !== EDGEX_SALT_LENGTH) {
    throw new SecretStoreError('SALT_MALFORMED', `${name} is ${salt.length} bytes, not ${EDGEX_SALT_LENGTH}: it was damaged or replaced, and the encrypted shares cannot be decrypted without the original; restore it from a backup`);
  }
  return salt;
}

/**
 * Decrypts an edgex document with the salt on disk (and a pending one), finishing an interrupted salt replacement:
 * the pending salt becomes kdf-salt.dat when it is the one that opened the file, and is removed otherwise.
 * Call under the key-file lock.
 */
export function openEdgexWithSalts(paths: KeyFilePaths, doc: EdgexDocument, ikm: Buffer): { shares: Buffer[]; label: EdgexLabel } {
  const main = readSalt(paths.saltFile, paths.saltName);
  const pending = readOptional(paths.pendingSalt);
  const usablePending = pending !== undefined && pending.length === EDGEX_SALT_LENGTH ? pending : undefined;
  if (main === undefined && usablePending === undefined) {
    // EdgeX defect 6: it silently made a new salt here, turning the encrypted shares into garbage.
    throw new SecretStoreError('SALT_MISSING', `${paths.saltName} is missing, and the encrypted shares in ${paths.name} cannot be decrypted without it; restore it from a backup (a new salt is never made for an existing file)`);
  }
  const salts = [main, usablePending].filter((s): s is Buffer => s !== undefined);
  const opened = decryptEdgexShares(ikm, salts, doc, paths.name);
  try {
    if (pending !== undefined) {
      if (salts[opened.saltIndex] === usablePending) renameDurable(paths.pendingSalt, paths.saltFile);
      else removeDurable(paths.pendingSalt);
    }
  } catch (err) {
    for (const share of opened.shares) share.fill(0);
    throw err;
  }
  return { shares: opened.shares, label: opened.label };
}
