/**
 * What the request log may show of a path. Lines carry method, path, status and duration only: never the query
 * string (it may hold secrets, e.g. `?token=`), never headers or bodies, and never a path segment that is itself a
 * credential (Vault's deprecated `auth/token/lookup/<token>` and `revoke/<token>` forms).
 */

/** Longest path logged; longer ones are cut (an attacker-chosen path must not flood the log). */
export const MAX_LOGGED_PATH = 200;

const TOKEN_IN_PATH = /^(auth\/token\/[^/]+)\/.+$/;
const TOKEN_PREFIX = 'auth/token/';

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

/** The path to log: the API path (after `/v1/`) with credential segments replaced, or `-` when unknown. */
export function logPath(apiPath: string | undefined, rawTarget: string | undefined): string {
  let shown: string;
  if (apiPath !== undefined) {
    shown = apiPath.startsWith(TOKEN_PREFIX) ? apiPath.replace(TOKEN_IN_PATH, '$1/<redacted>') : apiPath;
  } else {
    const target = rawTarget ?? '-';
    const q = target.indexOf('?');
    shown = q === -1 ? target : target.slice(0, q);
  }
  // Control characters could forge extra log lines; the logger quotes values but keep them out anyway.
  let hasControl = false;
  for (let i = 0; i < shown.length && !hasControl; i++) hasControl = isControl(shown.charCodeAt(i));
  if (hasControl) {
    let clean = '';
    for (let i = 0; i < shown.length; i++) clean += isControl(shown.charCodeAt(i)) ? '?' : shown.charAt(i);
    shown = clean;
  }
  return shown.length > MAX_LOGGED_PATH ? shown.slice(0, MAX_LOGGED_PATH) + '…' : shown;
}
