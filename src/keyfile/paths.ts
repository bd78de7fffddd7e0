/**
 * Where a key file lives: `<dir>/<file>` (EdgeX's TokenFolderPath/TokenFile), the edgex format's salt file beside
 * it, the salt being replaced (`<salt>.pending`) and the lock file. File names are plain names, never paths.
 */
import { join } from 'node:path';
import { SecretStoreError } from '../errors.js';

/** Where the key file lives. */
export interface KeyFileLocation {
  dir: string;
  /** Key file name, default `resp-init.json`. */
  file?: string;
  /** Salt file name (edgex format), default `kdf-salt.dat`. */
  saltFile?: string;
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

/** Resolves a {@link KeyFileLocation} to paths. File names must be plain names, not paths, and must differ. */
export function keyFilePaths(loc: KeyFileLocation): KeyFilePaths {
  const name = loc.file ?? DEFAULT_KEY_FILE;
  const saltName = loc.saltFile ?? DEFAULT_SALT_FILE;
  for (const n of [name, saltName]) {
    if (n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\0')) {
      throw new SecretStoreError('USAGE', `a key-file name must be a plain file name, got "${n.slice(0, 80)}"`);
    }
  }
  // The same name for both (or the key file named like the pending salt) would let one write destroy the other.
  if (name === saltName || name === `${saltName}.pending`) {
    throw new SecretStoreError('USAGE', `the key file and the salt file need different names, got "${name.slice(0, 80)}" for both`);
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
