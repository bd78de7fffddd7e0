/**
 * Token roles (`auth/token/roles/<name>`): named templates for `auth/token/create/<name>` that let a caller mint
 * tokens with a fixed set of policies (which need not be a subset of its own), as orphans, periodic, bound to CIDRs,
 * and bound to an entity through `allowed_entity_aliases`. EdgeX 4 creates one per service so that its re-issue
 * endpoint can mint a service token without the root token. Field names, defaults and the read shape follow Vault's
 * token store; roles live under `sys/token/roles/` in the barrier.
 */
import { badRequest, notFound, unsupportedOperation } from '../api-error.js';
import type { JsonObject, LogicalRequest, LogicalResponse } from '../logical.js';
import type { Storage } from '../storage/storage.js';
import { parseCidrList } from '../auth/cidr.js';
import { parseDurationSeconds } from './duration.js';
import { boolField, intField, stringField, stringListField } from './fields.js';
import { sanitizePolicies } from './token-entry.js';

/** One stored token role, with Vault's field names (durations in seconds). */
export interface TokenRole {
  name: string;
  allowed_policies: string[];
  disallowed_policies: string[];
  allowed_policies_glob: string[];
  disallowed_policies_glob: string[];
  allowed_entity_aliases: string[];
  orphan: boolean;
  renewable: boolean;
  path_suffix: string;
  token_period: number;
  token_explicit_max_ttl: number;
  token_bound_cidrs: string[];
  token_no_default_policy: boolean;
  token_num_uses: number;
  token_type: string;
}

/** Role names Vault's path pattern accepts (`\w(([\w-.]+)?\w)?`). */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;

function emptyRole(name: string): TokenRole {
  return {
    name,
    allowed_policies: [],
    disallowed_policies: [],
    allowed_policies_glob: [],
    disallowed_policies_glob: [],
    allowed_entity_aliases: [],
    orphan: false,
    renewable: true,
    path_suffix: '',
    token_period: 0,
    token_explicit_max_ttl: 0,
    token_bound_cidrs: [],
    token_no_default_policy: false,
    token_num_uses: 0,
    token_type: 'default-service',
  };
}

/** Lower-cased, trimmed, de-duplicated and sorted (Vault's strutil.RemoveDuplicates with lower-casing). */
function dedupeLower(values: readonly string[]): string[] {
  return [...new Set(values.map((v) => v.trim().toLowerCase()).filter((v) => v !== ''))].sort();
}

/** A duration field that must not be negative; `undefined` when absent. */
function seconds(data: JsonObject, name: string): number | undefined {
  if (data[name] === undefined || data[name] === null) return undefined;
  const v = parseDurationSeconds(data[name]);
  if (v < 0) throw badRequest(`${name} must be positive`);
  return v;
}

/**
 * Applies the fields present in `data` to a copy of `current` (a create starts from the defaults). The legacy
 * `period`, `explicit_max_ttl` and `bound_cidrs` are accepted when their `token_` names are absent, as in Vault.
 */
export function applyRoleFields(current: TokenRole, data: JsonObject): TokenRole {
  const r: TokenRole = { ...current };
  const list = (name: string): string[] | undefined => stringListField(data, name);
  const allowed = list('allowed_policies');
  if (allowed !== undefined) r.allowed_policies = sanitizePolicies(allowed, false);
  const disallowed = list('disallowed_policies');
  if (disallowed !== undefined) r.disallowed_policies = dedupeLower(disallowed);
  const allowedGlob = list('allowed_policies_glob');
  if (allowedGlob !== undefined) r.allowed_policies_glob = sanitizePolicies(allowedGlob, false);
  const disallowedGlob = list('disallowed_policies_glob');
  if (disallowedGlob !== undefined) r.disallowed_policies_glob = dedupeLower(disallowedGlob);
  const aliases = list('allowed_entity_aliases');
  if (aliases !== undefined) r.allowed_entity_aliases = dedupeLower(aliases);
  if (data['orphan'] !== undefined) r.orphan = boolField(data, 'orphan', false);
  if (data['renewable'] !== undefined) r.renewable = boolField(data, 'renewable', true);
  if (data['path_suffix'] !== undefined) {
    const suffix = stringField(data, 'path_suffix').trim();
    if (suffix.includes('..')) throw badRequest('error sanitizing path suffix: path suffix cannot contain ".."');
    r.path_suffix = suffix;
  }
  const period = seconds(data, 'token_period') ?? seconds(data, 'period');
  if (period !== undefined) r.token_period = period;
  const explicitMax = seconds(data, 'token_explicit_max_ttl') ?? seconds(data, 'explicit_max_ttl');
  if (explicitMax !== undefined) r.token_explicit_max_ttl = explicitMax;
  const cidrs = list('token_bound_cidrs') ?? list('bound_cidrs');
  if (cidrs !== undefined) r.token_bound_cidrs = parseCidrList(cidrs, 'token_bound_cidrs');
  if (data['token_no_default_policy'] !== undefined) r.token_no_default_policy = boolField(data, 'token_no_default_policy', false);
  if (data['token_num_uses'] !== undefined) {
    const uses = intField(data, 'token_num_uses', 0);
    if (uses < 0) throw badRequest('token_num_uses cannot be negative');
    r.token_num_uses = uses;
  }
  if (data['token_type'] !== undefined) {
    const type = stringField(data, 'token_type');
    if (type === 'batch' || type === 'default-batch') throw badRequest('batch tokens are not supported by this store');
    if (!['service', 'default-service', 'default', ''].includes(type)) throw badRequest(`invalid 'token_type' value "${type}"`);
    r.token_type = type === 'service' ? 'service' : 'default-service';
  }
  return r;
}

/** How `GET auth/token/roles/<name>` shows a role (Vault's tokenStoreRoleRead). */
export function roleData(r: TokenRole): JsonObject {
  const data: JsonObject = {
    allowed_entity_aliases: [...r.allowed_entity_aliases],
    allowed_policies: [...r.allowed_policies],
    allowed_policies_glob: [...r.allowed_policies_glob],
    disallowed_policies: [...r.disallowed_policies],
    disallowed_policies_glob: [...r.disallowed_policies_glob],
    explicit_max_ttl: 0,
    name: r.name,
    orphan: r.orphan,
    path_suffix: r.path_suffix,
    period: 0,
    renewable: r.renewable,
    token_explicit_max_ttl: r.token_explicit_max_ttl,
    token_no_default_policy: r.token_no_default_policy,
    token_period: r.token_period,
    token_type: r.token_type,
  };
  if (r.token_bound_cidrs.length > 0) data['token_bound_cidrs'] = [...r.token_bound_cidrs];
  if (r.token_num_uses > 0) data['token_num_uses'] = r.token_num_uses;
  return data;
}

/** Whether `value` matches one of `patterns`, each a plain string or a glob with `*` (Vault's StrListContainsGlob). */
export function matchesGlobList(patterns: readonly string[], value: string): boolean {
  for (const p of patterns) {
    if (p === value) return true;
    if (!p.includes('*')) continue;
    const re = new RegExp('^' + p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    if (re.test(value)) return true;
  }
  return false;
}

/** The stored token roles and their endpoints. */
export class TokenRoleStore {
  private readonly storage: Storage;

  /** `storage` is the token store's namespace; roles live under `roles/` in it. */
  constructor(storage: Storage) {
    this.storage = storage;
  }

  /** The named role, or undefined (names are matched lower-cased, as stored). */
  async get(name: string): Promise<TokenRole | undefined> {
    const key = name.toLowerCase();
    if (!ROLE_NAME.test(key)) return undefined;
    const bytes = await this.storage.get('roles/' + key);
    return bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as TokenRole);
  }

  /** Existence check for create-vs-update on `roles/<name>`. */
  async exists(name: string): Promise<boolean> {
    return (await this.get(name)) !== undefined;
  }

  /**
   * Serves `roles/` (list) and `roles/<name>` (read, create/update, delete). The caller serializes writes (the token
   * store's lock).
   */
  async handle(req: LogicalRequest, rest: string): Promise<LogicalResponse> {
    if (rest === '' || rest === '/') {
      if (req.operation !== 'list') throw unsupportedOperation();
      const keys = await this.storage.list('roles/');
      if (keys.length === 0) throw notFound();
      return { data: { keys } };
    }
    const name = rest.replace(/\/+$/, '').toLowerCase();
    if (!ROLE_NAME.test(name)) throw badRequest('role name cannot be empty or contain characters other than letters, digits, "_", "-" and "."');
    switch (req.operation) {
      case 'read': {
        const role = await this.get(name);
        if (role === undefined) throw notFound();
        return { data: roleData(role) };
      }
      case 'create':
      case 'update': {
        const current = (await this.get(name)) ?? emptyRole(name);
        const next = applyRoleFields(current, req.data);
        await this.storage.put('roles/' + name, Buffer.from(JSON.stringify(next), 'utf8'));
        return { status: 204 };
      }
      case 'delete':
        await this.storage.delete('roles/' + name);
        return { status: 204 };
      default:
        throw unsupportedOperation();
    }
  }
}
