/**
 * The identity-token issuer (Vault's `identity/oidc/config`): an optional base URL the operator sets, and the
 * effective issuer every token's `iss` claim carries and every verifier compares against.
 */
import { badRequest } from '../../api-error.js';

/** The path Vault appends to the configured issuer (or to its `api_addr`) to form the `iss` claim. */
export const ISSUER_SUFFIX = '/v1/identity/oidc';

/** The stored configuration: the issuer base URL as the operator typed it, `""` when unset. */
export interface OidcConfigRecord {
  issuer: string;
}

/** The configuration when nothing was ever written. */
export const DEFAULT_OIDC_CONFIG: Readonly<OidcConfigRecord> = Object.freeze({ issuer: '' });

/**
 * Vault's message for an issuer it refuses. Vault accepts only scheme, host, port (and, in later versions, a path):
 * a query, fragment or user info would make the `iss` claim ambiguous for verifiers that build URLs from it.
 */
export const INVALID_ISSUER =
  'invalid issuer, which must include only a scheme, host, optional port, and optional path (e.g. https://example.com:8200)';

/** Throws 400 unless `issuer` is empty or an http(s) URL with a host and no user info, query or fragment. */
export function validateIssuer(issuer: string): void {
  if (issuer === '') return;
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw badRequest(INVALID_ISSUER);
  }
  const schemeOk = url.protocol === 'http:' || url.protocol === 'https:';
  // The raw text is checked too: WHATWG URL drops an empty `?` or `#`, which Go's parser (Vault's) keeps and refuses.
  const extras = url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '' || /[?#]/.test(issuer);
  if (!schemeOk || url.host === '' || extras) throw badRequest(INVALID_ISSUER);
}

/**
 * The `iss` claim: the configured issuer plus `/v1/identity/oidc`. With none configured it is exactly
 * `/v1/identity/oidc` — what OpenBao emits when it has no `api_addr`, and the string EdgeX services compare against.
 */
export function effectiveIssuer(config: Readonly<OidcConfigRecord>): string {
  return config.issuer + ISSUER_SUFFIX;
}
