/**
 * Identity tokens: issuing a signed JWT for the caller's entity against a role (`identity/oidc/token/<role>`) and
 * introspecting one (`identity/oidc/introspect`). Signing and verification are jose's; this module decides the
 * claims and which keys, roles and entities make a token active.
 */
import { SignJWT, createLocalJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { badRequest } from '../../api-error.js';
import type { JsonObject, LogicalResponse } from '../../logical.js';
import { stringField } from '../../tokens/fields.js';
import { effectiveIssuer } from './oidc-config.js';
import { publicKeySet } from './oidc-discovery.js';
import { SUPPORTED_ALGORITHMS } from './oidc-keys.js';
import type { OidcContext } from './oidc-store.js';
import { templateClaims } from './oidc-template.js';

/** The `namespace` claim: the id of Vault's root namespace (namespaces are not implemented). */
export const ROOT_NAMESPACE_ID = 'root';

/**
 * GET `oidc/token/<role>`: a token for the caller's entity, signed by the role's key. 400 (Vault's messages) when
 * the role or its key is missing, the key does not allow the role's client id, or the caller has no usable entity.
 */
export async function issueToken(ctx: OidcContext, roleName: string, entityId: string | undefined): Promise<LogicalResponse> {
  const role = await ctx.store.getRole(roleName);
  if (role === undefined) throw badRequest(`role "${roleName}" not found`);
  const now = ctx.now();
  const key = await ctx.store.getFreshKey(role.key, now, ctx.signingKeys);
  if (key === undefined) throw badRequest(`key "${role.key}" not found`);
  // The key's allow-list is checked on every issue: it may have changed since the role was written.
  if (!key.allowed_client_ids.includes('*') && !key.allowed_client_ids.includes(role.client_id)) {
    throw badRequest(`the key "${role.key}" does not list the client ID of the role "${roleName}" as an allowed client ID`);
  }
  if (entityId === undefined || entityId === '') throw badRequest("no entity associated with the request's token");
  const entity = ctx.entities.entityById(entityId);
  if (entity === undefined) throw badRequest(`entity "${entityId}" not found`);
  if (entity.disabled) throw badRequest(`entity "${entityId}" is disabled`);

  const config = await ctx.store.getConfig();
  let ttl = role.ttl;
  let warnings: string[] | undefined;
  if (ttl > key.verification_ttl) {
    // Role and key writes forbid this; kept as Vault keeps it, so a token never outlives its verifying key.
    ttl = key.verification_ttl;
    warnings = [`a role's token ttl cannot be longer than the verification_ttl of the key it references, setting token ttl to ${ttl}`];
  }
  const iat = Math.floor(now / 1000);
  const payload: JWTPayload = {
    ...templateClaims(role.template, entity, iat),
    iss: effectiveIssuer(config),
    namespace: ROOT_NAMESPACE_ID,
    sub: entity.id,
    aud: role.client_id,
    iat,
    exp: iat + ttl,
  };
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.algorithm, kid: key.current.kid })
    .sign(ctx.signingKeys.privateKey(key.current));
  const response: LogicalResponse = { data: { client_id: role.client_id, token, ttl: role.ttl } };
  if (warnings !== undefined) response.warnings = warnings;
  return response;
}

/** go-jose's claim-validation messages, which Vault reports after `error validating claims: `. */
const CLAIM_ERRORS: Readonly<Record<string, string>> = {
  iss: 'go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)',
  aud: 'go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)',
  exp: 'go-jose/go-jose/jwt: validation failed, token is expired (exp)',
  nbf: 'go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)',
};

/** Why jose refused a token, in Vault's words. */
function refusal(e: unknown): string {
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return `error parsing token: ${e.message}`;
  if (e instanceof errors.JWTExpired) return `error validating claims: ${CLAIM_ERRORS.exp ?? e.message}`;
  if (e instanceof errors.JWTClaimValidationFailed) {
    const known = e.reason === 'missing' ? undefined : CLAIM_ERRORS[e.claim];
    return `error validating claims: ${known ?? e.message}`;
  }
  // Unknown kid, a key rotated out past its verification TTL, a bad signature, a refused algorithm.
  return 'unable to validate the token signature';
}

/** The introspection answer: Vault's raw (non-envelope) body, always with status 200. */
function answer(error?: string): LogicalResponse {
  return { raw: error === undefined ? { active: true } : { active: false, error } };
}

/**
 * POST `oidc/introspect {token, client_id?}`: `{active: true}`, or `{active: false, error}` when the token does not
 * parse, no current or unexpired retired public key verifies it, its issuer is not ours, it has expired (no clock
 * skew), `client_id` is given and is not its audience, no role with its audience signs with its key any more, or its
 * entity is gone or disabled. A missing token is an unparsable one (Vault answers the same way).
 */
export async function introspectToken(ctx: OidcContext, data: JsonObject): Promise<LogicalResponse> {
  const token = stringField(data, 'token');
  const clientId = stringField(data, 'client_id');
  const now = ctx.now();
  const { keys, owners } = await publicKeySet(ctx);
  const config = await ctx.store.getConfig();
  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(token, createLocalJWKSet({ keys }), {
      algorithms: [...SUPPORTED_ALGORITHMS],
      currentDate: new Date(now),
      issuer: effectiveIssuer(config),
      ...(clientId === '' ? {} : { audience: clientId }),
      requiredClaims: ['sub', 'aud', 'exp'],
    });
  } catch (e) {
    return answer(refusal(e));
  }
  const { payload, protectedHeader } = verified;
  const keyName = protectedHeader.kid === undefined ? undefined : owners.get(protectedHeader.kid);
  if (keyName === undefined) return answer('unable to validate the token signature');

  const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
  const roles = await ctx.store.rolesUsingKey(keyName);
  if (!roles.some(([, role]) => audiences.includes(role.client_id))) {
    return answer("no role with the token's client ID uses the key that signed it");
  }

  const entity = payload.sub === undefined ? undefined : ctx.entities.entityById(payload.sub);
  if (entity === undefined) return answer('entity was not found');
  if (entity.disabled) return answer('entity is disabled');
  return answer();
}
