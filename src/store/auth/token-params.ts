/**
 * The token settings every credential backend and token role carries (Vault's `tokenutil.TokenParams`): the
 * `token_*` fields of a user or role, parsed with Vault's conversions and checks, shown in a GET as Vault shows them,
 * and the legacy names (`policies`, `ttl`, `max_ttl`, `period`, `bound_cidrs`) Vault still accepts — the `token_*`
 * name wins when both are sent. Durations are whole seconds throughout.
 */
import { StoreApiError, badRequest } from '../api-error.js';
import type { JsonObject } from '../logical.js';
import { parseDurationSeconds } from '../tokens/duration.js';
import { boolField, intField, stringField, stringListField } from '../tokens/fields.js';
import { parseCidrList } from './cidr.js';

/** Token settings of a user or role, with Vault's field names (durations in seconds; 0 = the mount's default). */
export interface TokenParams {
  /** CIDR blocks the login and the token are bound to (empty = any address). */
  token_bound_cidrs: string[];
  /** Hard cap on the token's life that renewals cannot pass (0 = none). */
  token_explicit_max_ttl: number;
  /** Maximum life through renewals (0 = the mount's maximum). */
  token_max_ttl: number;
  /** Leave the `default` policy off the token. */
  token_no_default_policy: boolean;
  /** Uses allowed (0 = unlimited). */
  token_num_uses: number;
  /** Renewal period of a periodic token (0 = not periodic). */
  token_period: number;
  /** The token's policies (before `default` is added). */
  token_policies: string[];
  /** Initial TTL (0 = the mount's default). */
  token_ttl: number;
  /** `default`, `service` or `default-service` (batch tokens do not exist in this store). */
  token_type: string;
}

/** The legacy field names Vault still accepts beside their `token_*` replacements. */
export const LEGACY_TOKEN_FIELDS = ['policies', 'ttl', 'max_ttl', 'period', 'bound_cidrs'] as const;

/** One legacy field name. */
export type LegacyTokenField = (typeof LEGACY_TOKEN_FIELDS)[number];

/** The settings of a new user or role: everything from the mount, `default` token type. */
export function defaultTokenParams(): TokenParams {
  return {
    token_bound_cidrs: [],
    token_explicit_max_ttl: 0,
    token_max_ttl: 0,
    token_no_default_policy: false,
    token_num_uses: 0,
    token_period: 0,
    token_policies: [],
    token_ttl: 0,
    token_type: 'default',
  };
}

/** Whether the body carries `name` (JSON null counts as absent, as in the other typed fields). */
function has(data: JsonObject, name: string): boolean {
  return data[name] !== undefined && data[name] !== null;
}

/** The name to read a setting from: the `token_*` one when sent, else the legacy one when sent. */
function pick(data: JsonObject, tokenName: string, legacyName?: LegacyTokenField): string | undefined {
  if (has(data, tokenName)) return tokenName;
  if (legacyName !== undefined && has(data, legacyName)) return legacyName;
  return undefined;
}

/** A duration field in seconds, with Vault's framework message on a malformed value. */
function durationField(data: JsonObject, name: string): number {
  try {
    return parseDurationSeconds(data[name]);
  } catch (e) {
    if (e instanceof StoreApiError) throw badRequest(`error converting input for field "${name}": ${e.message}`);
    throw e;
  }
}

/**
 * Vault's policyutil.ParsePolicies, applied to the legacy `policies` field: trimmed, lower-cased, empties dropped,
 * duplicates removed, sorted; `root` alone when present.
 */
function parseLegacyPolicies(values: readonly string[]): string[] {
  const list = values.map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (list.includes('root')) return ['root'];
  return [...new Set(list)].sort();
}

/** The token type as stored; throws 400 for batch types and anything unknown. */
function parseTokenType(value: string): string {
  switch (value) {
    case '':
    case 'default':
      return 'default';
    case 'service':
    case 'default-service':
      return value;
    case 'batch':
    case 'default-batch':
      throw badRequest('batch tokens are not supported by this store');
    default:
      throw badRequest(`invalid 'token_type' value "${value}"`);
  }
}

/**
 * Applies the `token_*` fields present in `data` (and the legacy aliases `policies`, `ttl`, `max_ttl`, `period`,
 * `bound_cidrs`, used only when their `token_*` name is absent) to a copy of `current`. Checks in Vault's order
 * (tokenutil.ParseTokenFields) with its messages: an invalid CIDR, `'token_max_ttl' cannot be negative`,
 * `'token_period' cannot be negative`, an invalid `token_type`, `'token_num_uses' cannot be negative`,
 * `'token_ttl' cannot be negative`, `'token_ttl' cannot be greater than 'token_max_ttl'` — all 400.
 *
 * `token_policies` is kept as given (trimmed, empties dropped), as Vault stores it; the core sanitizes policies when
 * it creates the token. Legacy `policies` are sanitized on write, as Vault's upgrade path does.
 */
export function parseTokenParams(data: JsonObject, current: TokenParams): TokenParams {
  const p: TokenParams = { ...current, token_bound_cidrs: [...current.token_bound_cidrs], token_policies: [...current.token_policies] };

  const cidrsName = pick(data, 'token_bound_cidrs', 'bound_cidrs');
  if (cidrsName !== undefined) p.token_bound_cidrs = parseCidrList(stringListField(data, cidrsName) ?? [], cidrsName);

  const explicitName = pick(data, 'token_explicit_max_ttl');
  if (explicitName !== undefined) p.token_explicit_max_ttl = durationField(data, explicitName);
  // Vault does not check this one; a negative cap would only make every token expire at once, so refuse it.
  if (p.token_explicit_max_ttl < 0) throw badRequest("'token_explicit_max_ttl' cannot be negative");

  const maxName = pick(data, 'token_max_ttl', 'max_ttl');
  if (maxName !== undefined) p.token_max_ttl = durationField(data, maxName);
  if (p.token_max_ttl < 0) throw badRequest("'token_max_ttl' cannot be negative");

  if (has(data, 'token_no_default_policy')) p.token_no_default_policy = boolField(data, 'token_no_default_policy', false);

  const periodName = pick(data, 'token_period', 'period');
  if (periodName !== undefined) p.token_period = durationField(data, periodName);
  if (p.token_period < 0) throw badRequest("'token_period' cannot be negative");

  const policiesName = pick(data, 'token_policies', 'policies');
  if (policiesName !== undefined) {
    const list = stringListField(data, policiesName) ?? [];
    p.token_policies = policiesName === 'policies' ? parseLegacyPolicies(list) : list.map((s) => s.trim()).filter((s) => s !== '');
  }

  if (has(data, 'token_type')) p.token_type = parseTokenType(stringField(data, 'token_type'));

  if (has(data, 'token_num_uses')) p.token_num_uses = intField(data, 'token_num_uses', 0);
  if (p.token_num_uses < 0) throw badRequest("'token_num_uses' cannot be negative");

  const ttlName = pick(data, 'token_ttl', 'ttl');
  if (ttlName !== undefined) p.token_ttl = durationField(data, ttlName);
  if (p.token_ttl < 0) throw badRequest("'token_ttl' cannot be negative");
  if (p.token_ttl > 0 && p.token_max_ttl > 0 && p.token_ttl > p.token_max_ttl) {
    throw badRequest("'token_ttl' cannot be greater than 'token_max_ttl'");
  }
  return p;
}

/** The `token_*` fields as Vault shows them in a GET (PopulateTokenData: TTLs in integer seconds, empty lists). */
export function tokenParamsData(p: TokenParams): JsonObject {
  return {
    token_bound_cidrs: [...p.token_bound_cidrs],
    token_explicit_max_ttl: p.token_explicit_max_ttl,
    token_max_ttl: p.token_max_ttl,
    token_no_default_policy: p.token_no_default_policy,
    token_num_uses: p.token_num_uses,
    token_period: p.token_period,
    token_policies: [...p.token_policies],
    token_ttl: p.token_ttl,
    token_type: p.token_type,
  };
}

/** The `token_*` field each legacy name stands for. */
const TOKEN_NAME: Readonly<Record<LegacyTokenField, keyof TokenParams>> = {
  policies: 'token_policies',
  ttl: 'token_ttl',
  max_ttl: 'token_max_ttl',
  period: 'token_period',
  bound_cidrs: 'token_bound_cidrs',
};

/**
 * Which legacy names a record shows after a write of `data` (Vault's tokenutil.UpgradeValue bookkeeping): a pair
 * the write touched shows its legacy name exactly when the legacy name was sent (alone or beside the `token_*`
 * name); an untouched pair keeps what `previous` said.
 */
export function legacyFieldsAfterWrite(data: JsonObject, previous: readonly LegacyTokenField[]): LegacyTokenField[] {
  return LEGACY_TOKEN_FIELDS.filter((legacy) => {
    const touched = has(data, legacy) || has(data, TOKEN_NAME[legacy]);
    return touched ? has(data, legacy) : previous.includes(legacy);
  });
}

/**
 * The legacy fields Vault still shows in a GET, next to the `token_*` ones: each legacy name in use whose value is
 * set (a positive duration, a non-empty list), carrying the `token_*` value.
 */
export function legacyTokenData(p: TokenParams, legacy: readonly LegacyTokenField[]): JsonObject {
  const out: JsonObject = {};
  for (const name of legacy) {
    const value = p[TOKEN_NAME[name]];
    if (Array.isArray(value) ? value.length > 0 : typeof value === 'number' && value > 0) {
      out[name] = Array.isArray(value) ? [...value] : value;
    }
  }
  return out;
}
