/**
 * The rules of `auth/token/create` and `create-orphan` (Vault's handleCreateCommon, without roles or batch
 * tokens), as a pure function from the request body and the parent token to the new token's fields: privilege
 * checks (custom id, orphan, period need sudo), the policy subset rule, `default` and `root` handling, and the TTL.
 * The token store adds the id, accessor and storage key.
 */
import { badRequest } from '../api-error.js';
import type { JsonObject } from '../logical.js';
import { parseDurationSeconds } from './duration.js';
import { boolField, intField, stringField, stringListField, stringMapField } from './fields.js';
import { sanitizePolicies, type StoredToken } from './token-entry.js';
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
  const noParent = boolField(d, 'no_parent', false);
  if (noParent && !orphanEndpoint && !sudo) throw badRequest('root or sudo privileges required to create orphan token');
  const type = stringField(d, 'type');
  if (type === 'batch') throw badRequest('batch tokens are not supported by this store');
  if (!['', 'service', 'default', 'default-service'].includes(type)) throw badRequest(`invalid 'type' value "${type}"`);
  const numUses = intField(d, 'num_uses', 0);
  if (numUses < 0) throw badRequest('number of uses cannot be negative');
  const meta = stringMapField(d, 'meta');
  const ttlIn = parseDurationSeconds(d['ttl']);
  if (ttlIn < 0) throw badRequest('ttl must be positive');
  let explicitMax = parseDurationSeconds(d['explicit_max_ttl']);
  if (explicitMax < 0) throw badRequest('explicit_max_ttl must be positive');
  const period = parseDurationSeconds(d['period']);
  if (period < 0) throw badRequest('period must be positive');
  if (period > 0 && !sudo) throw badRequest('root or sudo privileges required to create periodic token');
  let renewable = boolField(d, 'renewable', true);

  // Policies: the parent's when none are asked for; without sudo only a subset of the parent's (plus default).
  const requested = stringListField(d, 'policies');
  const base = requested === undefined || requested.length === 0 ? parent.policies : requested;
  let policies = sanitizePolicies(base, false);
  if (!sudo) {
    const allowed = new Set(sanitizePolicies(parent.policies, true));
    if (!policies.every((p) => allowed.has(p))) throw badRequest('child policies must be subset of parent');
  }
  if (boolField(d, 'no_default_policy', false)) policies = policies.filter((p) => p !== 'default');
  else policies = sanitizePolicies(policies, true);
  if (policies.includes('root') && !parent.policies.includes('root')) {
    throw badRequest('root tokens may not be created without parent token being root');
  }
  if (policies.length === 0) throw badRequest('token must have at least one policy');

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
  const orphan = noParent || orphanEndpoint;
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
      path: orphanEndpoint ? 'auth/token/create-orphan' : 'auth/token/create',
      type: 'service',
      expire_time: ttl > 0 ? nowMs + ttl * 1000 : 0,
      issueMs: nowMs,
      lastRenewalMs: 0,
      lease: true,
    },
  };
}
