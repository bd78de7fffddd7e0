/**
 * The core's half of a login (Vault's `handleLoginRequest` → `LoginCreateToken`): a credential backend has checked
 * the credentials and returned a {@link LoginPlan}; here the alias is bound to an entity (created on first login),
 * a disabled entity is refused, the mount's lease settings fill what the plan leaves at 0, and the token is minted
 * with the entity's policies reported as `identity_policies` (never stored in the token).
 */
import { permissionDenied } from '../api-error.js';
import type { IdentityPort } from '../identity/identity-types.js';
import type { LoginPlan, LogicalResponse } from '../logical.js';
import type { TokenStore } from '../tokens/token-store.js';

/** The auth mount a login came through. */
export interface LoginMount {
  accessor: string;
  /** The mount's default and maximum lease TTL in seconds (0 = the system's). */
  defaultLeaseTtl: number;
  maxLeaseTtl: number;
}

/** Binds the login's alias to an entity and mints its token; the answer is Vault's login envelope (`auth` set). */
export async function completeLogin(identity: IdentityPort, tokens: TokenStore, plan: LoginPlan, mount: LoginMount): Promise<LogicalResponse> {
  const entity = await identity.createOrFetchEntity({
    name: plan.aliasName,
    mountAccessor: mount.accessor,
    ...(plan.aliasMetadata === undefined ? {} : { metadata: plan.aliasMetadata }),
  });
  if (entity.disabled) throw permissionDenied();
  const effective: LoginPlan = {
    ...plan,
    ttl: plan.ttl > 0 ? plan.ttl : mount.defaultLeaseTtl,
    maxTtl: plan.maxTtl > 0 ? plan.maxTtl : mount.maxLeaseTtl,
  };
  const { auth, warnings } = await tokens.createLoginToken(effective, entity.id, identity.entityPolicies(entity.id));
  return { auth, data: null, warnings: warnings.length > 0 ? warnings : null };
}
