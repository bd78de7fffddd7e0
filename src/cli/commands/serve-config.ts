/**
 * `serve --config FILE`: the store's settings in a file, with Vault's server configuration names so a Vault
 * configuration reads the same here — HCL (as Vault's) or JSON:
 *
 *     storage "etcd" {                     # or: storage "file" { path = "/var/lib/secretstore" }
 *       address    = "https://10.0.0.1:2379,https://10.0.0.2:2379"
 *       path       = "vault/"
 *       ha_enabled = "true"
 *       tls_ca_file = "/etc/etcd/ca.pem"   # tls_cert_file, tls_key_file, username, password
 *     }
 *     listener "tcp" { address = "10.0.0.1:8200"  tls_cert_file = "..."  tls_key_file = "..." }
 *     api_addr = "https://10.0.0.1:8200"
 *
 * Flags given on the command line win over the file. Anything this store does not know is refused with the key's
 * name (a typo must not silently fall back to a default), except a few Vault keys that have no meaning here.
 */
import { readFile } from 'node:fs/promises';
import { describeCause, SecretStoreError } from '../../errors.js';
import { parseHcl, type HclItem, type HclValue } from '../../store/policy/hcl.js';

/** The etcd storage block (Vault's storage "etcd"). */
export interface EtcdFileSettings {
  type: 'etcd';
  /** `address`: comma-separated client URLs. */
  address?: string[] | undefined;
  /** `path`: the key prefix. */
  path?: string | undefined;
  /** `ha_enabled`: always on here; `false` is refused. */
  haEnabled?: boolean | undefined;
  username?: string | undefined;
  password?: string | undefined;
  tlsCaFile?: string | undefined;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
}

/** What a `serve` configuration file says. */
export interface ServeFileConfig {
  storage?: { type: 'file'; path?: string | undefined } | EtcdFileSettings | undefined;
  listener?: { address?: string | undefined; tlsCertFile?: string | undefined; tlsKeyFile?: string | undefined } | undefined;
  apiAddr?: string | undefined;
}

/** Vault keys accepted and ignored: they tune things this store does not have. */
const IGNORED_TOP = new Set(['ui', 'disable_mlock', 'cluster_addr', 'cluster_name', 'log_level']);

/** A plain `key → value` view of a block's items (HCL) or an object's members (JSON). */
type Entries = [string, HclValue][];

function configError(file: string, message: string): SecretStoreError {
  return new SecretStoreError('CONFIG', `${file}: ${message}`);
}

/** Reads and parses a `serve` configuration file. */
export async function readServeConfig(path: string): Promise<ServeFileConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SecretStoreError('IO', `cannot read the configuration file ${path} (${describeCause(err)}); check the path and permissions`, { cause: err });
  }
  return parseServeConfig(text, path);
}

/** Parses a `serve` configuration (HCL, or JSON when it starts with `{`). */
export function parseServeConfig(text: string, file: string): ServeFileConfig {
  const items = text.trimStart().startsWith('{') ? jsonItems(text, file) : hclItems(text, file);
  const out: ServeFileConfig = {};
  for (const item of items) {
    const [name = '', label] = item.keys;
    if (IGNORED_TOP.has(name)) continue;
    switch (name) {
      case 'api_addr':
        out.apiAddr = str(file, 'api_addr', item.value);
        break;
      case 'storage':
        if (out.storage !== undefined) throw configError(file, 'more than one storage block');
        out.storage = storageBlock(file, label, item.value);
        break;
      case 'listener':
        if (out.listener !== undefined) throw configError(file, 'more than one listener block (serve listens on one address)');
        out.listener = listenerBlock(file, label, item.value);
        break;
      default:
        throw configError(file, `unknown setting "${name}"`);
    }
  }
  return out;
}

function hclItems(text: string, file: string): HclItem[] {
  try {
    return parseHcl(text);
  } catch (err) {
    // The HCL parser words its errors for policies; keep the position, name the file.
    const msg = err instanceof Error ? err.message.replace(/^failed to parse policy: /, '') : 'syntax error';
    throw configError(file, `not valid HCL: ${msg}`);
  }
}

/** Vault's JSON configuration shape as HCL items: `{"storage": {"etcd": {...}}, "api_addr": "..."}`. */
function jsonItems(text: string, file: string): HclItem[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw configError(file, 'not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw configError(file, 'the JSON configuration must be an object');
  const items: HclItem[] = [];
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    if ((name === 'storage' || name === 'listener') && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [label, body] of Object.entries(value as Record<string, unknown>)) items.push({ keys: [name, label], value: fromJson(body), line: 0 });
    } else {
      items.push({ keys: [name], value: fromJson(value), line: 0 });
    }
  }
  return items;
}

function fromJson(v: unknown): HclValue {
  if (typeof v === 'string') return { kind: 'string', value: v, line: 0 };
  if (typeof v === 'number') return { kind: 'number', value: v, line: 0 };
  if (typeof v === 'boolean') return { kind: 'bool', value: v, line: 0 };
  if (Array.isArray(v)) return { kind: 'list', items: v.map(fromJson), line: 0 };
  if (typeof v === 'object' && v !== null) {
    return { kind: 'object', items: Object.entries(v as Record<string, unknown>).map(([k, x]) => ({ keys: [k], value: fromJson(x), line: 0 })), line: 0 };
  }
  return { kind: 'string', value: '', line: 0 };
}

function block(file: string, what: string, value: HclValue): Entries {
  if (value.kind !== 'object') throw configError(file, `${what} must be a block`);
  return value.items.map((i) => [i.keys.join('.'), i.value]);
}

function str(file: string, key: string, v: HclValue): string {
  if (v.kind === 'string') return v.value;
  if (v.kind === 'number') return String(v.value);
  throw configError(file, `${key} must be a string`);
}

/** Vault writes booleans as strings ("true") or bare; both are accepted. */
function bool(file: string, key: string, v: HclValue): boolean {
  if (v.kind === 'bool') return v.value;
  if (v.kind === 'string' && (v.value === 'true' || v.value === 'false')) return v.value === 'true';
  throw configError(file, `${key} must be true or false`);
}

function storageBlock(file: string, label: string | undefined, value: HclValue): NonNullable<ServeFileConfig['storage']> {
  const entries = block(file, `storage "${label ?? ''}"`, value);
  if (label === 'file') {
    const out: { type: 'file'; path?: string } = { type: 'file' };
    for (const [k, v] of entries) {
      if (k === 'path') out.path = str(file, 'storage "file" path', v);
      else throw configError(file, `unknown setting "${k}" in storage "file"`);
    }
    return out;
  }
  if (label !== 'etcd') throw configError(file, `storage "${label ?? ''}" is not supported; use "file" or "etcd"`);
  const out: EtcdFileSettings = { type: 'etcd' };
  for (const [k, v] of entries) {
    const key = `storage "etcd" ${k}`;
    switch (k) {
      case 'address':
        out.address = splitList(v.kind === 'list' ? v.items.map((x) => str(file, key, x)).join(',') : str(file, key, v));
        break;
      case 'path':
        out.path = str(file, key, v);
        break;
      case 'ha_enabled':
        out.haEnabled = bool(file, key, v);
        break;
      case 'username':
        out.username = str(file, key, v);
        break;
      case 'password':
        out.password = str(file, key, v);
        break;
      case 'tls_ca_file':
        out.tlsCaFile = str(file, key, v);
        break;
      case 'tls_cert_file':
        out.tlsCertFile = str(file, key, v);
        break;
      case 'tls_key_file':
        out.tlsKeyFile = str(file, key, v);
        break;
      case 'etcd_api':
        // Vault's "v3" (the only one here); "v2" would be a different store.
        if (str(file, key, v) !== 'v3') throw configError(file, `${key} must be "v3"`);
        break;
      default:
        throw configError(file, `unknown setting "${k}" in storage "etcd"`);
    }
  }
  return out;
}

function listenerBlock(file: string, label: string | undefined, value: HclValue): NonNullable<ServeFileConfig['listener']> {
  if (label !== 'tcp') throw configError(file, `listener "${label ?? ''}" is not supported; use "tcp"`);
  const out: NonNullable<ServeFileConfig['listener']> = {};
  for (const [k, v] of block(file, 'listener "tcp"', value)) {
    const key = `listener "tcp" ${k}`;
    if (k === 'address') out.address = str(file, key, v);
    else if (k === 'tls_cert_file') out.tlsCertFile = str(file, key, v);
    else if (k === 'tls_key_file') out.tlsKeyFile = str(file, key, v);
    // TLS is on exactly when tls_cert_file and tls_key_file are given; tls_disable is checked, not needed.
    else if (k === 'tls_disable') bool(file, key, v);
    else throw configError(file, `unknown setting "${k}" in listener "tcp"`);
  }
  return out;
}

/** `a,b , c` → `['a','b','c']` (empty parts dropped). */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
