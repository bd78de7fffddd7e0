/**
 * The rules of `auth/token/create`, `create-orphan` and `create/<role>` (Vault's handleCreateCommon, without batch
 * tokens), as a pure function from the request body, the parent token and the role to the new token's fields:
 * privilege checks (custom id, orphan, period need sudo), the policy rules (a subset of the parent's, or of the
 * role's allowed policies), `default` and `root` handling, orphan/CIDR/period/num_uses from the role, the entity
 * (the role's `entity_alias` one, else the parent's), and the TTL. The token store adds the id, accessor and key.
 */
import { badRequest } from '../api-error.js';
import type { JsonObject } from '../logical.js';
import { parseDurationSeconds } from './duration.js';
import { boolField, intField, stringField, stringListField, stringMapField } from './fields.js';
import { sanitizePolicies, type StoredToken } from './token-entry.js';
import { matchesGlobList, type TokenRole } from './token-roles.js';
import { calculateTtl } from './ttl.js';

/** Who asks and under which limits. */
export interface CreateContext {
  parent: StoredToken;
  /** Whether the caller holds sudo on the create path (or is root). */
  sudo: boolean;
  /** True for `create-orphan`. */
  orphanEndpoint: boolean;
  nowMs: number;
  defaultTtl: number;
  maxTtl: number;
  maxIdLength: number;
  /** The role of `create/<role>`, if any. */
  role?: TokenRole | undefined;
  /** The entity of the request's `entity_alias` (resolved by the token store beforehand), `''` for none. */
  explicitEntityId?: string;
}

/** The new token minus what the store generates. */
export interface CreatePlan {
  /** The requested custom id, or `''` for a generated one. */
  customId: string;
  fields: Omit<StoredToken, 'version' | 'key' | 'accessor'>;
  warnings: string[];
}

/** Validates a create request and computes the new token; throws 400 StoreApiError with Vault's messages. */
export function planChildToken(d: JsonObject, ctx: CreateContext): CreatePlan {
  const { parent, sudo, orphanEndpoint, nowMs } = ctx;
  const warnings: string[] = [];
  const customId = stringField(d, 'id');
  if (customId !== '') {
    if (!sudo) throw badRequest('root or sudo privileges required to specify token id');
    if (customId.includes('.')) throw badRequest(`custom token ID cannot have a '.' in the value`);
    if (customId.length > ctx.maxIdLength) throw badRequest('custom token ID is too long');
  }
  const role = ctx.role;
  const noParent = boolField(d, 'no_parent', false);
  // With a role, orphan-ness comes from the role alone (Vault ignores no_parent there); otherwise it needs sudo.
  if (role === undefined && noParent && !orphanEndpoint && !sudo) throw badRequest('root or sudo privileges required to create orphan token');
  const type = stringField(d, 'type');
  if (type === 'batch') throw badRequest('batch tokens are not supported by this store');
  if (!['', 'service', 'default', 'default-service'].includes(type)) throw badRequest(`invalid 'type' value "${type}"`);
  let numUses = intField(d, 'num_uses', 0);
  if (numUses < 0) throw badRequest('number of uses cannot be negative');
  const meta = stringMapField(d, 'meta');
  const ttlIn = parseDurationSeconds(d['ttl']);
  if (ttlIn < 0) throw badRequest('ttl must be positive');
  let explicitMax = parseDurationSeconds(d['explicit_max_ttl']);
  if (explicitMax < 0) throw badRequest('explicit_max_ttl must be positive');
  let period = parseDurationSeconds(d['period']);
  if (period < 0) throw badRequest('period must be positive');
  if (period > 0 && !sudo) throw badRequest('root or sudo privileges required to create periodic token');
  let renewable = boolField(d, 'renewable', true);
  if (role !== undefined) {
    if (!role.renewable) renewable = false;
    // 0 means unlimited, so the role's limit wins over an unlimited request and the smaller of two limits wins.
    if (role.token_num_uses > 0 && (numUses === 0 || role.token_num_uses < numUses)) numUses = role.token_num_uses;
    if (role.token_explicit_max_ttl > 0) {
      if (explicitMax > 0) warnings.push(`Explicit max TTL specified both during creation call and in role; using the lesser value of ${Math.min(explicitMax, role.token_explicit_max_ttl)} seconds`);
      explicitMax = explicitMax === 0 ? role.token_explicit_max_ttl : Math.min(explicitMax, role.token_explicit_max_ttl);
    }
    if (role.token_period > 0) {
      if (period > 0) warnings.push(`Period specified both during creation call and in role; using the lesser value of ${Math.min(period, role.token_period)} seconds`);
      period = period === 0 ? role.token_period : Math.min(period, role.token_period);
    }
  }

  let policies = resolvePolicies(d, parent, sudo, role);
  if (policies.includes('root') && !parent.policies.includes('root')) {
    throw badRequest('root tokens may not be created without parent token being root');
  }
  if (policies.length === 0) throw badRequest('token must have at least one policy');
  policies = [...policies];

  // TTL: Vault's framework.CalculateTTL with the system default and max (768h); root tokens may have none.
  if (explicitMax > ctx.maxTtl) {
    warnings.push(
      `Explicit max TTL of ${explicitMax} seconds is greater than system/mount allowed value; value is being capped to ${ctx.maxTtl} seconds`,
    );
    explicitMax = ctx.maxTtl;
  }
  let ttl = ttlIn;
  if (period > 0 || ttl > 0 || !policies.includes('root')) {
    const r = calculateTtl({ increment: 0, backendTtl: ttl, period, explicitMax, startMs: nowMs, nowMs, defaultTtl: ctx.defaultTtl, maxTtl: ctx.maxTtl });
    ttl = r.ttl;
    warnings.push(...r.warnings);
  }
  if (ttl === 0 && explicitMax > 0) ttl = explicitMax;
  if (ttl === 0) {
    if (parent.expire_time !== 0) throw badRequest('expiration date must be set');
    renewable = false;
  }

  const displayIn = stringField(d, 'display_name');
  const display = displayIn === '' ? 'token' : ('token-' + displayIn).replace(/[^a-zA-Z0-9-]/g, '-').replace(/-$/, '');
  const orphan = role !== undefined ? role.orphan : noParent || orphanEndpoint;
  // The entity: the role's entity_alias one; else a child inherits its parent's (an orphan has none).
  const explicitEntity = ctx.explicitEntityId ?? '';
  const entityId = explicitEntity !== '' ? explicitEntity : orphan ? '' : (parent.entity_id ?? '');
  // A role's CIDRs always apply; a child without a role inherits its parent's; a non-expiring token gets none.
  let boundCidrs = role !== undefined ? (role.token_bound_cidrs.length > 0 ? role.token_bound_cidrs : []) : orphan ? [] : (parent.bound_cidrs ?? []);
  if (ttl === 0) boundCidrs = [];
  let path = orphanEndpoint ? 'auth/token/create-orphan' : 'auth/token/create';
  if (role !== undefined) path = `auth/token/create/${role.name}` + (role.path_suffix === '' ? '' : '/' + role.path_suffix);
  return {
    customId,
    warnings,
    fields: {
      parentKey: orphan ? '' : parent.key,
      policies,
      meta: meta ?? null,
      display_name: display,
      parent: orphan ? '' : parent.accessor,
      creation_time: Math.floor(nowMs / 1000),
      ttl,
      explicit_max_ttl: explicitMax,
      period,
      num_uses: numUses,
      renewable,
      orphan,
      path,
      type: 'service',
      ...(entityId === '' ? {} : { entity_id: entityId }),
      ...(boundCidrs.length === 0 ? {} : { bound_cidrs: [...boundCidrs] }),
      ...(role === undefined ? {} : { role: role.name }),
      expire_time: ttl > 0 ? nowMs + ttl * 1000 : 0,
      issueMs: nowMs,
      lastRenewalMs: 0,
      lease: true,
    },
  };
}

/** Vault's resolveTokenPolicies: the new token's policies from the request, the role and the parent. */
function resolvePolicies(d: JsonObject, parent: StoredToken, sudo: boolean, role: TokenRole | undefined): string[] {
  const requested = stringListField(d, 'policies') ?? [];
  const noDefault = boolField(d, 'no_default_policy', false);
  let policies: string[];
  let addDefault = false;
  const roleRestricts =
    role !== undefined &&
    (role.allowed_policies.length > 0 || role.disallowed_policies.length > 0 || role.allowed_policies_glob.length > 0 || role.disallowed_policies_glob.length > 0);
  if (role !== undefined && roleRestricts) {
    // A role with allowed/disallowed lists sets policies disjoint from the parent's: no subset rule, no sudo needed.
    const localDefault = !noDefault && !role.token_no_default_policy && !role.disallowed_policies.includes('default') && !matchesGlobList(role.disallowed_policies_glob, 'default');
    let final = requested.length > 0 ? sanitizePolicies(requested, localDefault) : [];
    if (role.allowed_policies.length > 0 || role.allowed_policies_glob.length > 0) {
      const allowed = sanitizePolicies(role.allowed_policies, localDefault);
      if (final.length === 0) final = allowed;
      else {
        const globs = sanitizePolicies(role.allowed_policies_glob, false);
        for (const p of final) {
          if (!allowed.includes(p) && !matchesGlobList(globs, p)) {
            throw badRequest(
              `token policies (${goQuoteList(final)}) must be subset of the role's allowed policies (${goQuoteList(allowed)}) or glob policies (${goQuoteList(globs)})`,
            );
          }
        }
      }
    } else if (final.length === 0) final = sanitizePolicies(parent.policies, localDefault);
    for (const p of final) {
      if (role.disallowed_policies.includes(p) || matchesGlobList(role.disallowed_policies_glob, p)) {
        throw badRequest(`token policy "${p}" is disallowed by this role`);
      }
    }
    policies = final;
  } else if (requested.length === 0) {
    // No policies asked for: the parent's ("default" only if the parent has it).
    policies = sanitizePolicies(parent.policies, false);
  } else if (!sudo) {
    // `default` is always allowed and added (unless left out), even under a parent without it: the store has
    // always done so, and `default` grants a token only what concerns itself.
    const mine = sanitizePolicies(requested, false);
    const allowed = new Set(sanitizePolicies(parent.policies, true));
    if (!mine.every((p) => allowed.has(p))) throw badRequest('child policies must be subset of parent');
    policies = mine;
    addDefault = !noDefault;
  } else {
    policies = requested;
    addDefault = !noDefault;
  }
  let final = sanitizePolicies(policies, addDefault);
  if (noDefault) final = final.filter((p) => p !== 'default');
  if (role !== undefined && role.token_no_default_policy) final = final.filter((p) => p !== 'default');
  return final;
}

/** A string list as Go's `%q` prints a []string: `["a" "b"]`. */
function goQuoteList(list: readonly string[]): string {
  return '[' + list.map((p) => JSON.stringify(p)).join(' ') + ']';
}
