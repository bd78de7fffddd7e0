/**
 * A service's ACL policy, `edgex-service-<svc>`, as EdgeX builds it (edgex-go
 * `internal/security/fileprovider/tokenprovider/provider.go`, `internal/security/common/tokenpolicy.go`): with
 * `edgex_use_defaults` the default paths, then every `custom_policy.path` entry added, replacing a default of the
 * same path; without it only the custom paths. The text is what EdgeX sends (`internal/security/common/usermanager.go`,
 * Go's `json.Marshal` of the map): JSON, object keys sorted byte-wise, capabilities in the order given, `<`, `>`, `&`,
 * U+2028 and U+2029 escaped. With no defaults and no `custom_policy.path` EdgeX sends `{}`, and so does this.
 */
import { SecretStoreError } from '../../errors.js';
import type { EdgexVersion } from './default-token-config.js';
import { quoteServiceName, serviceNameProblems } from './service-name-rules.js';
import type { PathPolicy, TokenConfigEntry } from './token-config.js';

/** The prefix of every service policy's name. */
export const SERVICE_POLICY_PREFIX = 'edgex-service-';

/** The ACL policy name of a service: `edgex-service-<svc>`. */
export function servicePolicyName(svc: string): string {
  return `${SERVICE_POLICY_PREFIX}${svc}`;
}

function checkName(svc: string): void {
  const problems = serviceNameProblems(svc);
  if (problems.length > 0) {
    throw new SecretStoreError('CONFIG', `cannot build a policy for the service ${quoteServiceName(svc)}: it ${problems.join(' and ')}; rename it`);
  }
}

/**
 * EdgeX's default paths of a service policy (`MakeDefaultTokenPolicy`): `secret/edgex/<svc>/*`
 * [create, update, delete, list, read], `identity/oidc/token/<svc>` [read], `identity/oidc/introspect`
 * [create, update]; 3.1 also `consul/creds/<svc>` [read].
 */
export function defaultServicePolicyPaths(svc: string, version: EdgexVersion): Map<string, PathPolicy> {
  checkName(svc);
  const paths = new Map<string, PathPolicy>([[`secret/edgex/${svc}/*`, { capabilities: ['create', 'update', 'delete', 'list', 'read'] }]]);
  if (version === '3.1') paths.set(`consul/creds/${svc}`, { capabilities: ['read'] });
  paths.set(`identity/oidc/token/${svc}`, { capabilities: ['read'] });
  paths.set('identity/oidc/introspect', { capabilities: ['create', 'update'] });
  return paths;
}

/** A JSON string as Go's `json.Marshal` writes it (HTML-safe: `<`, `>`, `&`, U+2028, U+2029 as `\u` escapes). */
function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's map-key order: byte-wise on UTF-8. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The policy text EdgeX installs for `svc` with its token-config `entry` (see the module comment). `svc` must pass
 * both service-name rules (CONFIG error otherwise).
 */
export function servicePolicyDocument(svc: string, entry: TokenConfigEntry, version: EdgexVersion): string {
  checkName(svc);
  let paths: Map<string, PathPolicy> | undefined = entry.edgex_use_defaults ? defaultServicePolicyPaths(svc, version) : undefined;
  const custom = entry.custom_policy?.path;
  if (custom !== undefined) {
    paths ??= new Map();
    for (const [path, rule] of Object.entries(custom)) paths.set(path, rule);
  }
  if (paths === undefined) return '{}';
  const rules = [...paths]
    .sort(([a], [b]) => compareUtf8(a, b))
    .map(([path, rule]) => `${goJsonString(path)}:{"capabilities":[${rule.capabilities.map(goJsonString).join(',')}]}`);
  return `{"path":{${rules.join(',')}}}`;
}
