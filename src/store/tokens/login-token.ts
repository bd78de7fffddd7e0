/**
 * The token of a successful login (Vault's `LoginCreateToken` and `RegisterAuth`), as a pure function from the
 * credential backend's {@link LoginPlan} to the new token's fields: an orphan service token with the plan's policies
 * (plus `default` unless left out; never `root`), its TTL bounded by the mount's and the system's maximum, bound to
 * the entity and CIDRs. The token store adds the id, accessor and storage key.
 */
import { badRequest } from '../api-error.js';
import type { LoginPlan } from '../logical.js';
import type { CreatePlan } from './token-create.js';
import { sanitizePolicies } from './token-entry.js';
import { calculateTtl } from './ttl.js';

/** Limits of the token store a login token is made under (seconds). */
export interface LoginLimits {
  nowMs: number;
  defaultTtl: number;
  maxTtl: number;
}

/** Plans a login's token; `identityPolicies` only check that no entity hands out `root`. */
export function planLoginToken(plan: LoginPlan, entityId: string, identityPolicies: readonly string[], limits: LoginLimits): CreatePlan {
  let policies = sanitizePolicies(plan.policies, !plan.noDefaultPolicy);
  if (plan.noDefaultPolicy) policies = policies.filter((p) => p !== 'default');
  if (policies.includes('root') || identityPolicies.includes('root')) throw badRequest('auth methods cannot create root tokens');
  const { nowMs } = limits;
  const maxTtl = plan.maxTtl > 0 ? Math.min(plan.maxTtl, limits.maxTtl) : limits.maxTtl;
  const r = calculateTtl({
    increment: 0,
    backendTtl: plan.ttl,
    period: plan.period,
    explicitMax: plan.explicitMaxTtl,
    startMs: nowMs,
    nowMs,
    defaultTtl: Math.min(limits.defaultTtl, maxTtl),
    maxTtl,
  });
  // Vault refuses a non-root token that would never expire; a login always gets a lease.
  if (r.ttl <= 0) throw badRequest('refusing to create a non-root zero TTL token');
  return {
    customId: '',
    warnings: r.warnings,
    fields: {
      parentKey: '',
      policies,
      meta: { ...plan.metadata },
      display_name: plan.displayName,
      parent: '',
      creation_time: Math.floor(nowMs / 1000),
      ttl: r.ttl,
      explicit_max_ttl: plan.explicitMaxTtl,
      period: plan.period,
      num_uses: plan.numUses,
      renewable: true,
      orphan: true,
      path: plan.path,
      type: 'service',
      expire_time: nowMs + r.ttl * 1000,
      issueMs: nowMs,
      lastRenewalMs: 0,
      lease: true,
      ...(entityId === '' ? {} : { entity_id: entityId }),
      ...(plan.boundCidrs.length === 0 ? {} : { bound_cidrs: [...plan.boundCidrs] }),
      ...(plan.maxTtl > 0 ? { max_ttl: plan.maxTtl } : {}),
    },
  };
}
