/**
 * The unauthenticated OIDC documents verifiers fetch (`identity/oidc/.well-known/openid-configuration` and
 * `.well-known/keys`), and the public key set introspection verifies against — the same set the JWKS serves.
 */
import type { JWK } from 'jose';
import type { JsonObject } from '../../logical.js';
import { effectiveIssuer, type OidcConfigRecord } from './oidc-config.js';
import { SUPPORTED_ALGORITHMS, verificationKeys } from './oidc-keys.js';
import type { OidcContext } from './oidc-store.js';

/** The OIDC discovery document for the configured issuer. */
export function discoveryDocument(config: Readonly<OidcConfigRecord>): JsonObject {
  const issuer = effectiveIssuer(config);
  return {
    issuer,
    jwks_uri: issuer + '/.well-known/keys',
    // Required by the OpenID discovery spec; identity tokens have no authorization flow, so it is empty.
    authorization_endpoint: '',
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...SUPPORTED_ALGORITHMS],
  };
}

/** The verifying public keys of every named key, and which named key each `kid` belongs to. */
export interface PublicKeySet {
  keys: JWK[];
  /** `kid` → key name. */
  owners: Map<string, string>;
}

/**
 * The public keys that verify tokens at the context's current time: every key's current key and its retired keys
 * still within their verification TTL, keys in name order. Brings every key up to date first (a due key rotates),
 * so callers hold the backend's write lock.
 */
export async function publicKeySet(ctx: OidcContext): Promise<PublicKeySet> {
  const now = ctx.now();
  const keys: JWK[] = [];
  const owners = new Map<string, string>();
  for (const [name, key] of await ctx.store.getFreshKeys(now, ctx.signingKeys)) {
    for (const jwk of verificationKeys(key, now)) {
      keys.push(jwk);
      if (jwk.kid !== undefined) owners.set(jwk.kid, name);
    }
  }
  return { keys, owners };
}
