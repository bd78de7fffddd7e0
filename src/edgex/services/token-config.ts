/**
 * EdgeX's token-config.json (edgex-go `internal/security/fileprovider/tokenprovider/tokenconfig.go`): the services
 * that get a secret-store identity, each with `edgex_use_defaults` (the default policy; false when absent, as in
 * Go), an optional `custom_policy` (`{"path": {"<path>": {"capabilities": [...]}}}`, an object — the array in
 * EdgeX's source comment is wrong) and optional `file_permissions`. Parsed strictly: every field EdgeX reads is
 * type-checked, capabilities must be capability names, and a path rule may hold nothing but `capabilities` (EdgeX
 * would pass other keys to the store unchecked). Keys EdgeX does not read (`custom_token_parameters`, …) are
 * ignored, as EdgeX ignores them; a key that differs from a known one only in case is refused, because Go's JSON
 * decoder would silently accept it. Service names must pass both name rules (see `service-name-rules.ts`).
 */
import { readFile } from 'node:fs/promises';
import { SecretStoreError, describeCause } from '../../errors.js';
import { type FilePermissions, MAX_OWNER_ID, isOwnerId, parseModeOctal } from './file-permissions.js';
import { quoteServiceName, serviceNameProblems } from './service-name-rules.js';

/** The capabilities a custom path rule may grant: the names Vault, OpenBao and the embedded store all know. */
export const POLICY_CAPABILITIES = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'] as const;

/** One capability name. */
export type PolicyCapability = (typeof POLICY_CAPABILITIES)[number];

/** One path rule of a policy: `{"capabilities": [...]}`, capabilities in the order given. */
export interface PathPolicy {
  readonly capabilities: readonly PolicyCapability[];
}

/** A service's `custom_policy`; only `path` is read (as EdgeX). */
export interface CustomPolicy {
  readonly path?: Readonly<Record<string, PathPolicy>>;
}

/** One service of a token-config file. */
export interface TokenConfigEntry {
  /** Start from EdgeX's default service policy. */
  readonly edgex_use_defaults: boolean;
  readonly custom_policy?: CustomPolicy;
  readonly file_permissions?: FilePermissions;
}

/** A parsed token-config file: service name → entry, in file order. */
export type TokenConfig = ReadonlyMap<string, TokenConfigEntry>;

/** The largest token-config file {@link loadTokenConfig} reads (EdgeX's default is under 4 KiB). */
export const MAX_TOKEN_CONFIG_BYTES = 1024 * 1024;

const CAPABILITY_SET: ReadonlySet<string> = new Set(POLICY_CAPABILITIES);
const ENTRY_KEYS = ['edgex_use_defaults', 'custom_policy', 'file_permissions'] as const;
const PERMISSION_KEYS = ['uid', 'gid', 'mode_octal'] as const;

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Where `text` fails to parse, from V8's "at position N" when it gives one. */
function syntaxWhere(text: string, err: unknown): string {
  const m = err instanceof SyntaxError ? /at position (\d+)/.exec(err.message) : null;
  if (m?.[1] === undefined) return '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Refuses a key that differs from one of `known` only in case (Go's decoder would take it; we do not guess). */
function refuseCaseVariants(obj: JsonObject, known: readonly string[], fail: (msg: string) => SecretStoreError): void {
  for (const key of Object.keys(obj)) {
    const lower = key.toLowerCase();
    const meant = known.find((k) => k !== key && k === lower);
    if (meant !== undefined) throw fail(`key ${JSON.stringify(key)} differs from ${JSON.stringify(meant)} only in case; write ${JSON.stringify(meant)}`);
  }
}

function parseCapabilities(value: unknown, where: string, fail: (msg: string) => SecretStoreError): PolicyCapability[] {
  if (value === undefined) throw fail(`${where}.capabilities is missing; list the capabilities, like ["read"]`);
  if (!Array.isArray(value)) throw fail(`${where}.capabilities must be a list of capability names, got ${kind(value)}`);
  if (value.length === 0) throw fail(`${where}.capabilities is empty; list at least one capability or remove the path`);
  return value.map((cap: unknown, i) => {
    if (typeof cap !== 'string' || !CAPABILITY_SET.has(cap)) {
      const shown = typeof cap === 'string' ? JSON.stringify(cap.slice(0, 40)) : kind(cap);
      throw fail(`${where}.capabilities[${i}] ${shown} is not a capability; use ${POLICY_CAPABILITIES.join(', ')}`);
    }
    return cap as PolicyCapability;
  });
}

function parseCustomPolicy(value: unknown, fail: (msg: string) => SecretStoreError): CustomPolicy {
  if (!isObject(value)) {
    throw fail(`custom_policy must be an object like {"path": {"<path>": {"capabilities": ["read"]}}}, got ${kind(value)}`);
  }
  const paths = value.path;
  if (paths === undefined || paths === null) return {};
  if (!isObject(paths)) throw fail(`custom_policy.path must be an object of policy paths, got ${kind(paths)}`);
  const rules = Object.entries(paths).map(([path, rule]): [string, PathPolicy] => {
    const where = `custom_policy.path[${JSON.stringify(path.slice(0, 120))}]`;
    if (path === '') throw fail('custom_policy.path has an empty path; name the path the rule is for');
    if (hasControlCharacter(path)) throw fail(`${where} has a control character; remove it`);
    if (!isObject(rule)) throw fail(`${where} must be an object like {"capabilities": ["read"]}, got ${kind(rule)}`);
    const extra = Object.keys(rule).find((k) => k !== 'capabilities');
    if (extra !== undefined) {
      throw fail(`${where} has ${JSON.stringify(extra.slice(0, 40))}; only "capabilities" is supported in a custom path rule, remove the rest`);
    }
    return [path, { capabilities: parseCapabilities(rule.capabilities, where, fail) }];
  });
  return { path: Object.fromEntries(rules) };
}

function parseFilePermissions(value: unknown, fail: (msg: string) => SecretStoreError): FilePermissions {
  if (!isObject(value)) throw fail(`file_permissions must be an object like {"uid": 2002, "gid": 2001, "mode_octal": "0600"}, got ${kind(value)}`);
  refuseCaseVariants(value, PERMISSION_KEYS, fail);
  const out: { uid?: number; gid?: number; mode_octal?: string } = {};
  for (const field of ['uid', 'gid'] as const) {
    const id = value[field];
    if (id === undefined || id === null) continue;
    if (typeof id !== 'number' || !isOwnerId(id)) {
      const shown = typeof id === 'number' ? String(id) : kind(id);
      throw fail(`file_permissions.${field} must be an integer from 0 to ${MAX_OWNER_ID}, got ${shown}`);
    }
    out[field] = id;
  }
  const mode = value.mode_octal;
  if (mode !== undefined && mode !== null) {
    if (typeof mode !== 'string' || parseModeOctal(mode) === undefined) {
      const shown = typeof mode === 'string' ? JSON.stringify(mode.slice(0, 20)) : kind(mode);
      throw fail(`file_permissions.mode_octal must be an octal string from "0000" to "0777" like "0600", got ${shown}`);
    }
    out.mode_octal = mode;
  }
  return out;
}

function parseEntry(value: unknown, fail: (msg: string) => SecretStoreError): TokenConfigEntry {
  if (!isObject(value)) throw fail(`must be an object like {"edgex_use_defaults": true}, got ${kind(value)}`);
  refuseCaseVariants(value, ENTRY_KEYS, fail);
  const useDefaults = value.edgex_use_defaults;
  if (useDefaults !== undefined && useDefaults !== null && typeof useDefaults !== 'boolean') {
    throw fail(`edgex_use_defaults must be true or false, got ${kind(useDefaults)}`);
  }
  const entry: { edgex_use_defaults: boolean; custom_policy?: CustomPolicy; file_permissions?: FilePermissions } = {
    edgex_use_defaults: useDefaults === true,
  };
  if (value.custom_policy !== undefined && value.custom_policy !== null) entry.custom_policy = parseCustomPolicy(value.custom_policy, fail);
  if (value.file_permissions !== undefined && value.file_permissions !== null) {
    entry.file_permissions = parseFilePermissions(value.file_permissions, fail);
  }
  return entry;
}

/**
 * Parses the text of a token-config file; `source` names the file in messages. Every problem is a CONFIG error
 * naming the file and the entry. `null` for an optional field means "not set", as in Go.
 */
export function parseTokenConfig(text: string, source: string): TokenConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SecretStoreError('CONFIG', `token config ${source} is not valid JSON${syntaxWhere(text, err)}; fix its syntax`);
  }
  if (!isObject(doc)) {
    throw new SecretStoreError('CONFIG', `token config ${source} must be a JSON object of service names, got ${kind(doc)}`);
  }
  const config = new Map<string, TokenConfigEntry>();
  for (const [name, value] of Object.entries(doc)) {
    const problems = serviceNameProblems(name);
    if (problems.length > 0) {
      throw new SecretStoreError('CONFIG', `token config ${source}: service name ${quoteServiceName(name)} ${problems.join(' and ')}; rename the entry`);
    }
    const fail = (msg: string): SecretStoreError => new SecretStoreError('CONFIG', `token config ${source}, entry ${quoteServiceName(name)}: ${msg}`);
    config.set(name, parseEntry(value, fail));
  }
  return config;
}

/** Reads and parses a token-config file: a missing file is a CONFIG error naming it, an unreadable one an IO error. */
export async function loadTokenConfig(path: string): Promise<TokenConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = describeCause(err);
    if (code === 'ENOENT') {
      throw new SecretStoreError('CONFIG', `token config ${path} does not exist; create it or point TokenFileProvider.ConfigFile at the right file`, { cause: err });
    }
    throw new SecretStoreError('IO', `cannot read the token config ${path} (${code}); check that it is a readable file`, { cause: err });
  }
  if (bytes.length > MAX_TOKEN_CONFIG_BYTES) {
    throw new SecretStoreError('CONFIG', `token config ${path} is ${bytes.length} bytes, more than the ${MAX_TOKEN_CONFIG_BYTES} allowed; is it the right file?`);
  }
  return parseTokenConfig(bytes.toString('utf8'), path);
}
