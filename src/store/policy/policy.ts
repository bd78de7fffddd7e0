/**
 * ACL policies: the parsed form of Vault's policy language (HCL, or the equivalent JSON) — a list of path rules with
 * capabilities. Parsing follows Vault's `ParseACLPolicy`: leading `/` stripped, a trailing `*` makes a prefix rule,
 * `+` segments make segment-wildcard rules, legacy `policy = "read"|"write"|"sudo"|"deny"` maps to capabilities,
 * `deny` drops every other capability, and every error is a 400 `failed to parse policy: ...`.
 */
import { StoreApiError } from '../api-error.js';
import { parseHcl, type HclItem, type HclValue } from './hcl.js';

/** A capability a path rule grants (Vault's names). */
export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

/** Every capability, in Vault's display order for `sys/capabilities` (deny last). */
export const ALL_CAPABILITIES: readonly Capability[] = ['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch', 'deny'];

/** One `path "..." { capabilities = [...] }` rule. */
export interface PathRule {
  /** The path without its leading `/` and without a trailing `*` glob. */
  path: string;
  /** True when the rule ended in `*` (matches every path starting with {@link path}). */
  prefix: boolean;
  /** True when the path has `+` segments (each matches exactly one path segment). */
  segmentWildcards: boolean;
  /** Granted capabilities; `['deny']` alone when the rule denies. */
  capabilities: Capability[];
}

/** A named, parsed policy. */
export interface Policy {
  name: string;
  /** The policy text as given (returned by reads). */
  text: string;
  rules: PathRule[];
}

const CAPABILITY_SET: ReadonlySet<string> = new Set(ALL_CAPABILITIES);

/** Legacy `policy = "..."` values and the capabilities Vault maps them to. */
const LEGACY: Readonly<Record<string, readonly Capability[]>> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

/** Path-block keys Vault accepts that this store does not enforce: refused rather than silently ignored. */
const UNSUPPORTED_PATH_KEYS: ReadonlySet<string> = new Set([
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
  'mfa_methods',
  'control_group',
  'subscribe_event_types',
]);

function fail(msg: string): StoreApiError {
  return new StoreApiError(400, `failed to parse policy: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Converts a parsed JSON document to the HCL tree, so both forms share one interpretation. */
function jsonToHcl(v: unknown, depth: number): HclValue {
  if (depth > 32) throw fail('nesting too deep');
  if (typeof v === 'string') return { kind: 'string', value: v, line: 0 };
  if (typeof v === 'number') return { kind: 'number', value: v, line: 0 };
  if (typeof v === 'boolean') return { kind: 'bool', value: v, line: 0 };
  if (Array.isArray(v)) return { kind: 'list', items: v.map((x) => jsonToHcl(x, depth + 1)), line: 0 };
  if (isObject(v)) {
    return {
      kind: 'object',
      items: Object.entries(v).map(([k, x]) => ({ keys: [k], value: jsonToHcl(x, depth + 1), line: 0 })),
      line: 0,
    };
  }
  throw fail('null values are not supported');
}

function parseJsonItems(text: string): HclItem[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw fail('invalid JSON');
  }
  if (!isObject(doc)) throw fail('does not contain a root object');
  const root = jsonToHcl(doc, 0);
  return root.kind === 'object' ? root.items : [];
}

/** The `(label, body)` pairs of the top-level `path` items, in every shape HCL1 and JSON allow. */
function pathBlocks(item: HclItem): { label: string; body: HclItem[]; line: number }[] {
  if (item.keys.length === 2) {
    const label = item.keys[1] as string;
    if (item.value.kind !== 'object') throw fail(`path "${label}": expected an object`);
    return [{ label, body: item.value.items, line: item.line }];
  }
  if (item.keys.length > 2) throw fail(`path "${String(item.keys[1])}": unexpected extra label`);
  // `path = { "x" = {...} }` (and JSON's {"path": {"x": {...}}} or {"path": [{"x": {...}}]})
  const objects = item.value.kind === 'list' ? item.value.items : [item.value];
  const out: { label: string; body: HclItem[]; line: number }[] = [];
  for (const obj of objects) {
    if (obj.kind !== 'object') throw fail('path: expected an object');
    for (const sub of obj.items) {
      const label = sub.keys[0] ?? '';
      if (sub.keys.length !== 1 || sub.value.kind !== 'object') throw fail(`path "${label}": expected an object`);
      out.push({ label, body: sub.value.items, line: sub.line });
    }
  }
  return out;
}

function stringList(v: HclValue, key: string, what: string): string[] {
  if (v.kind === 'string') return [v.value];
  if (v.kind !== 'list') throw fail(`path "${key}": ${what} must be a list of strings`);
  return v.items.map((x) => {
    if (x.kind !== 'string') throw fail(`path "${key}": ${what} must be a list of strings`);
    return x.value;
  });
}

function parseRule(key: string, body: HclItem[]): PathRule {
  const caps: string[] = [];
  let legacy: string | undefined;
  for (const item of body) {
    const k = item.keys[0] ?? '';
    if (item.keys.length !== 1) throw fail(`path "${key}": invalid key "${k}" on line ${item.line}`);
    if (k === 'capabilities') caps.push(...stringList(item.value, key, 'capabilities'));
    else if (k === 'policy') {
      if (item.value.kind !== 'string') throw fail(`path "${key}": policy must be a string`);
      legacy = item.value.value;
    } else if (k === 'comment') {
      if (item.value.kind !== 'string') throw fail(`path "${key}": comment must be a string`);
    } else if (UNSUPPORTED_PATH_KEYS.has(k)) {
      throw fail(`path "${key}": "${k}" is not supported by this store`);
    } else throw fail(`path "${key}": invalid key "${k}" on line ${item.line}`);
  }
  let path = key.startsWith('/') ? key.slice(1) : key;
  if (path.includes('+*')) throw fail(`path "${path}": invalid use of wildcards ('+*' is forbidden)`);
  const segmentWildcards = path === '+' || path.includes('/+') || path.startsWith('+/');
  const prefix = path.endsWith('*');
  if (prefix) path = path.slice(0, -1);
  if (legacy !== undefined && legacy !== '') {
    const mapped = LEGACY[legacy];
    if (mapped === undefined) throw fail(`path "${key}": invalid policy "${legacy}"`);
    if (legacy === 'deny') caps.splice(0, caps.length, 'deny');
    else caps.push(...mapped);
  }
  const capabilities: Capability[] = [];
  for (const c of caps) {
    if (!CAPABILITY_SET.has(c)) throw fail(`path "${key}": invalid capability "${c}"`);
    if (c === 'deny') return { path, prefix, segmentWildcards, capabilities: ['deny'] };
    if (!capabilities.includes(c as Capability)) capabilities.push(c as Capability);
  }
  return { path, prefix, segmentWildcards, capabilities };
}

/**
 * Parses a policy in HCL or JSON. Throws only {@link StoreApiError} (400, `failed to parse policy: ...`); an unknown
 * capability gives `failed to parse policy: path "x": invalid capability "y"` as Vault does.
 */
export function parsePolicy(name: string, text: string): Policy {
  const items = text.trimStart().startsWith('{') ? parseJsonItems(text) : parseHcl(text);
  const rules: PathRule[] = [];
  for (const item of items) {
    const head = item.keys[0] ?? '';
    if (head === 'name' && item.keys.length === 1) {
      if (item.value.kind !== 'string') throw fail('name must be a string');
      continue;
    }
    if (head !== 'path') throw fail(`invalid key "${head}" on line ${item.line}`);
    for (const block of pathBlocks(item)) rules.push(parseRule(block.label, block.body));
  }
  return { name, text, rules };
}
