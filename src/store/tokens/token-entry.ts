/**
 * The token record and the shapes Vault shows it in: the stored form (keyed by the token's salted hash — the token
 * id itself is never stored), the public {@link TokenEntry}, the `lookup` data and the `auth` block.
 */
import type { LogicalAuth } from '../logical.js';
import { rfc3339Nano } from '../kv/time.js';

/** A token as other components see it (never its id: the caller already holds that). */
export interface TokenEntry {
  accessor: string;
  policies: string[];
  meta: Record<string, string> | null;
  display_name: string;
  /** The accessor of the parent token, or `''` for an orphan. */
  parent: string;
  /** Unix seconds. */
  creation_time: number;
  /** The TTL the token was created with, in seconds (0 = never expires). */
  ttl: number;
  explicit_max_ttl: number;
  period: number;
  /** Remaining uses; 0 = unlimited. */
  num_uses: number;
  renewable: boolean;
  orphan: boolean;
  /** The creation path: `auth/token/create`, `auth/token/create-orphan` or `auth/token/root`. */
  path: string;
  type: 'service';
  /** Expiry in epoch milliseconds, 0 when the token never expires. */
  expire_time: number;
  /** The entity the token is bound to (a login's, or a role's `entity_alias`); absent or `''` for none. */
  entity_id?: string;
  /** CIDR blocks the token may be used from; absent or empty for anywhere. */
  bound_cidrs?: string[];
  /** The token role it was created with; absent for none. */
  role?: string;
}

/** What is stored per token (under `id/<salted hash>`). */
export interface StoredToken extends TokenEntry {
  version: 1;
  /** The salted hash the entry is stored under. */
  key: string;
  /** The parent's salted hash, `''` for an orphan. */
  parentKey: string;
  /** Creation instant in epoch milliseconds (the lease's issue time). */
  issueMs: number;
  /** Last renewal in epoch milliseconds, 0 when never renewed. */
  lastRenewalMs: number;
  /** False for root tokens made by init/generate-root: Vault registers no lease for them. */
  lease: boolean;
  /** The issuing auth mount's maximum TTL in seconds (a login's `token_max_ttl`); absent or 0 = the system's. */
  max_ttl?: number;
}

/** The public view of a stored token. */
export function publicEntry(s: StoredToken): TokenEntry {
  return {
    accessor: s.accessor,
    policies: [...s.policies],
    meta: s.meta === null ? null : { ...s.meta },
    display_name: s.display_name,
    parent: s.parent,
    creation_time: s.creation_time,
    ttl: s.ttl,
    explicit_max_ttl: s.explicit_max_ttl,
    period: s.period,
    num_uses: s.num_uses,
    renewable: s.renewable,
    orphan: s.orphan,
    path: s.path,
    type: s.type,
    expire_time: s.expire_time,
    ...(s.entity_id === undefined || s.entity_id === '' ? {} : { entity_id: s.entity_id }),
    ...(s.bound_cidrs === undefined || s.bound_cidrs.length === 0 ? {} : { bound_cidrs: [...s.bound_cidrs] }),
    ...(s.role === undefined ? {} : { role: s.role }),
  };
}

/** `data` of `auth/token/lookup*` (Vault's handleLookup); `id` is `''` for lookups by accessor. */
export function lookupData(s: StoredToken, id: string, nowMs: number): Record<string, unknown> {
  const data: Record<string, unknown> = {
    accessor: s.accessor,
    creation_time: s.creation_time,
    creation_ttl: s.ttl,
    display_name: s.display_name,
    entity_id: s.entity_id ?? '',
    expire_time: null,
    explicit_max_ttl: s.explicit_max_ttl,
    id,
    meta: s.meta,
    num_uses: s.num_uses,
    orphan: s.parentKey === '',
    path: s.path,
    policies: [...s.policies],
    renewable: false,
    ttl: 0,
    type: s.type,
  };
  if (s.period !== 0) data['period'] = s.period;
  if (s.role !== undefined) data['role'] = s.role;
  if (s.bound_cidrs !== undefined && s.bound_cidrs.length > 0) data['bound_cidrs'] = [...s.bound_cidrs];
  if (s.lease) {
    if (s.lastRenewalMs !== 0) {
      data['last_renewal_time'] = Math.floor(s.lastRenewalMs / 1000);
      data['last_renewal'] = rfc3339Nano(s.lastRenewalMs);
    }
    if (s.expire_time !== 0) {
      data['expire_time'] = rfc3339Nano(s.expire_time);
      data['ttl'] = Math.max(0, Math.trunc((s.expire_time - nowMs) / 1000));
    }
    data['renewable'] = s.renewable && s.expire_time !== 0;
    data['issue_time'] = rfc3339Nano(s.issueMs);
  }
  return data;
}

/** The `auth` block of a create or renew response. */
export function authBlock(s: StoredToken, clientToken: string, leaseDuration: number): LogicalAuth {
  return {
    client_token: clientToken,
    accessor: s.accessor,
    policies: [...s.policies],
    token_policies: [...s.policies],
    metadata: s.meta === null ? null : { ...s.meta },
    lease_duration: leaseDuration,
    renewable: s.renewable && s.expire_time !== 0,
    entity_id: s.entity_id ?? '',
    token_type: s.type,
    orphan: s.parentKey === '',
    mfa_requirement: null,
    num_uses: s.num_uses,
  };
}

/**
 * Vault's policyutil.SanitizePolicies: trim and lower-case, drop empties, `root` alone wins, optionally add
 * `default`, then sort and de-duplicate.
 */
export function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  let list = policies.map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (list.includes('root')) list = ['root'];
  else if (addDefault && !list.includes('default')) list.push('default');
  return [...new Set(list)].sort();
}
