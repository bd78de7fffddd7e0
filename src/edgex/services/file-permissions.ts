/**
 * A service's optional `file_permissions` (token-config.json): the mode and owner its token file gets after it is
 * written. As EdgeX does (edgex-go `internal/security/fileprovider/tokenprovider/provider.go`): the mode first, if
 * set; then the owner, only when both `uid` and `gid` are set (one alone is ignored).
 */
import { chmod, chown } from 'node:fs/promises';
import { SecretStoreError, describeCause } from '../../errors.js';

/** The `file_permissions` of a token-config entry. */
export interface FilePermissions {
  /** The owner's user id; applied only together with {@link gid}. */
  readonly uid?: number;
  /** The owner's group id; applied only together with {@link uid}. */
  readonly gid?: number;
  /** The mode in octal digits, e.g. `"0600"`; at most `0777`. */
  readonly mode_octal?: string;
}

/** The largest mode `mode_octal` may give: permission bits only (no setuid, setgid or sticky bit). */
export const MAX_FILE_MODE = 0o777;

/** The largest uid or gid (2^32 - 2: 2^32 - 1 is chown's "leave unchanged"). */
export const MAX_OWNER_ID = 0xfffffffe;

/** The mode written in `text` (octal digits only, as Go's `ParseUint(s, 8, …)` reads it), or undefined if invalid or above 0777. */
export function parseModeOctal(text: string): number | undefined {
  if (!/^[0-7]+$/.test(text)) return undefined;
  const mode = Number.parseInt(text, 8);
  return mode <= MAX_FILE_MODE ? mode : undefined;
}

/** True when `id` can be a uid or gid: an integer from 0 to {@link MAX_OWNER_ID}. */
export function isOwnerId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id <= MAX_OWNER_ID;
}

/**
 * Applies `perms` to the file at `path`: chmod to `mode_octal` if set, then chown to `uid`:`gid` if both are set.
 * Invalid values are a CONFIG error; a failing chmod or chown an IO error naming the file.
 */
export async function applyFilePermissions(path: string, perms: FilePermissions): Promise<void> {
  if (perms.mode_octal !== undefined) {
    const mode = parseModeOctal(perms.mode_octal);
    if (mode === undefined) {
      throw new SecretStoreError(
        'CONFIG',
        `file_permissions for ${path}: mode_octal ${JSON.stringify(perms.mode_octal.slice(0, 20))} is not an octal mode from 0000 to 0777; write it like "0600"`,
      );
    }
    try {
      await chmod(path, mode);
    } catch (err) {
      throw new SecretStoreError('IO', `cannot set the mode of ${path} to ${mode.toString(8).padStart(4, '0')} (${describeCause(err)}); check that the file exists and is ours`, { cause: err });
    }
  }
  if (perms.uid === undefined || perms.gid === undefined) return;
  for (const [field, id] of [['uid', perms.uid], ['gid', perms.gid]] as const) {
    if (!isOwnerId(id)) {
      throw new SecretStoreError('CONFIG', `file_permissions for ${path}: ${field} ${id} is not an integer from 0 to ${MAX_OWNER_ID}; fix it`);
    }
  }
  try {
    await chown(path, perms.uid, perms.gid);
  } catch (err) {
    throw new SecretStoreError(
      'IO',
      `cannot change the owner of ${path} to ${perms.uid}:${perms.gid} (${describeCause(err)}); run as root or remove uid and gid from file_permissions`,
      { cause: err },
    );
  }
}
