/**
 * One userpass user as stored (JSON under `user/<name>` in the mount's storage): its token settings, which legacy
 * field names it shows, and the password hash with its parameters — never the password. Also the rule for user
 * names: `^[-a-zA-Z0-9_]+$`, lower-cased as Vault lower-cases every userpass name, so `Alice` and `alice` are one
 * user.
 */
import { badRequest } from '../../api-error.js';
import { LEGACY_TOKEN_FIELDS, defaultTokenParams, type LegacyTokenField, type TokenParams } from '../token-params.js';
import { parsePasswordHashRecord, type PasswordHashRecord } from './password-hash.js';

/** The names a user may have (before lower-casing). */
export const USERNAME_PATTERN = /^[-a-zA-Z0-9_]+$/;

/** One stored user. */
export interface UserRecord {
  /** The token settings logins of this user get. */
  token: TokenParams;
  /** Legacy field names the user's GET shows (Vault's upgrade bookkeeping). */
  legacy: LegacyTokenField[];
  /** The password hash; absent only in a record that does not parse (then no password matches). */
  password?: PasswordHashRecord;
}

/** Whether `name` is an acceptable user name. */
export function isValidUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name);
}

/** The stored form of a user name: lower-cased; 400 when it does not match {@link USERNAME_PATTERN}. */
export function normalizeUsername(name: string): string {
  if (!isValidUsername(name)) throw badRequest(`username must match ${USERNAME_PATTERN.source}`);
  return name.toLowerCase();
}

/** The storage key of a (normalized) user name. */
export function userKey(name: string): string {
  return 'user/' + name;
}

/** The bytes stored for `user`. */
export function encodeUser(user: UserRecord): Buffer {
  return Buffer.from(
    JSON.stringify({ token_params: user.token, legacy_fields: user.legacy, password_hash: user.password ?? null }),
    'utf8',
  );
}

/** A non-negative safe integer from a stored value, else the default. */
function storedInt(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : fallback;
}

/** A list of strings from a stored value, else empty. */
function storedStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * The user in stored `bytes`. Storage is the barrier (authenticated encryption), so the shape is trusted; fields are
 * still read defensively so a record from an older or newer layout gives defaults rather than wrong types. Throws
 * only on bytes that are not JSON.
 */
export function decodeUser(bytes: Buffer): UserRecord {
  const raw = JSON.parse(bytes.toString('utf8')) as unknown;
  const o = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const t = typeof o['token_params'] === 'object' && o['token_params'] !== null ? (o['token_params'] as Record<string, unknown>) : {};
  const d = defaultTokenParams();
  const token: TokenParams = {
    token_bound_cidrs: storedStrings(t['token_bound_cidrs']),
    token_explicit_max_ttl: storedInt(t['token_explicit_max_ttl'], d.token_explicit_max_ttl),
    token_max_ttl: storedInt(t['token_max_ttl'], d.token_max_ttl),
    token_no_default_policy: t['token_no_default_policy'] === true,
    token_num_uses: storedInt(t['token_num_uses'], d.token_num_uses),
    token_period: storedInt(t['token_period'], d.token_period),
    token_policies: storedStrings(t['token_policies']),
    token_ttl: storedInt(t['token_ttl'], d.token_ttl),
    token_type: typeof t['token_type'] === 'string' ? t['token_type'] : d.token_type,
  };
  const legacy = storedStrings(o['legacy_fields']).filter((x): x is LegacyTokenField => (LEGACY_TOKEN_FIELDS as readonly string[]).includes(x));
  const password = parsePasswordHashRecord(o['password_hash']);
  return password === undefined ? { token, legacy } : { token, legacy, password };
}
