/**
 * Which services get an identity: the token config's entries plus the names in `EDGEX_ADD_SECRETSTORE_TOKENS`
 * (edgex-go `internal/security/fileprovider/tokenprovider/tokenconfig.go`, `GetTokenConfigFromEnv`, `mergeWith`).
 * The variable is split on `,`, each part trimmed (Go's `strings.TrimSpace`), empty parts skipped. Unlike EdgeX,
 * which stops at the first name its rule refuses and fails half-way through the run on a name userpass refuses,
 * every name is checked against both rules up front and all bad ones are reported in one error.
 */
import { SecretStoreError } from '../../errors.js';
import { quoteServiceName, serviceNameProblems } from './service-name-rules.js';
import type { TokenConfig, TokenConfigEntry } from './token-config.js';

/** The environment variable naming extra services. */
export const ADD_SECRETSTORE_TOKENS_ENV = 'EDGEX_ADD_SECRETSTORE_TOKENS';

/** The entry a service named only in the environment gets: EdgeX's defaults. */
export const ENV_SERVICE_ENTRY: TokenConfigEntry = Object.freeze({ edgex_use_defaults: true });

/** One service to provision. */
export interface ServiceSpec {
  readonly name: string;
  readonly entry: TokenConfigEntry;
}

/** Go's `unicode.IsSpace` set, which `strings.TrimSpace` strips (unlike `String.prototype.trim`, not U+FEFF). */
const GO_SPACE = '\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

function goTrimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && GO_SPACE.includes(s.charAt(start))) start++;
  while (end > start && GO_SPACE.includes(s.charAt(end - 1))) end--;
  return s.slice(start, end);
}

/** Throws one CONFIG error listing every name of `names` that breaks a rule, each with why; `what` names the source. */
function checkNames(names: Iterable<string>, what: string, fix: string): void {
  const bad = new Map<string, string[]>();
  for (const name of names) {
    if (bad.has(name)) continue;
    const problems = serviceNameProblems(name);
    if (problems.length > 0) bad.set(name, problems);
  }
  if (bad.size === 0) return;
  const list = [...bad].map(([name, problems]) => `${quoteServiceName(name)} ${problems.join(' and ')}`).join('; ');
  const count = bad.size === 1 ? 'an invalid service name' : `${bad.size} invalid service names`;
  throw new SecretStoreError('CONFIG', `${what} has ${count}: ${list}; ${fix}`);
}

/**
 * The service names in the value of `EDGEX_ADD_SECRETSTORE_TOKENS` (undefined or blank: none), duplicates removed,
 * in order of first appearance. Every name must pass EdgeX's rule and the userpass rule; otherwise one CONFIG error
 * names every bad entry and why, before anything has been changed.
 */
export function parseAddSecretstoreTokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const name = goTrimSpace(part);
    if (name !== '') names.add(name);
  }
  checkNames(names, ADD_SECRETSTORE_TOKENS_ENV, 'fix or remove them (nothing has been changed)');
  return [...names];
}

/**
 * The services to provision, sorted by name: every entry of `config`, plus each name of `added` that `config`
 * lacks, with {@link ENV_SERVICE_ENTRY} (a token-config entry of the same name wins, as in EdgeX). Every name is
 * checked again against both rules (CONFIG error naming all bad ones), so callers may use them as folder names.
 */
export function serviceList(config: TokenConfig, added: readonly string[]): ServiceSpec[] {
  checkNames([...config.keys(), ...added], 'the service list', 'fix the token config or EDGEX_ADD_SECRETSTORE_TOKENS');
  const merged = new Map<string, TokenConfigEntry>();
  for (const name of added) merged.set(name, ENV_SERVICE_ENTRY);
  for (const [name, entry] of config) merged.set(name, entry);
  return [...merged]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, entry]) => ({ name, entry }));
}
