/**
 * The boot flow's configuration, as EdgeX reads it: a YAML file with a `SecretStore` section, each key overridable
 * by an environment variable `SECRETSTORE_<KEY>` (the key in upper case, as EdgeX's env overrides do), EdgeX's
 * defaults for anything unset, and command-line flags last (`--addr` replaces Protocol/Host/Port).
 *
 * Which file: `--config FILE` when given (must exist); else `configuration.yaml` in the working directory when it
 * exists; else the built-in defaults below (identical to the repository's configuration.yaml). The program's own
 * folder is not searched, so an installed copy never picks up a stray file.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { SecretStoreError, describeCause } from './errors.js';

/** Key file formats the flow can write (plaintext is written only when no hook is configured, as EdgeX does). */
export type WriteFormat = 'v2' | 'edgex';

/** The resolved `SecretStore` settings the flow uses. */
export interface SecretStoreConfig {
  /** Node base URLs (one today; several nodes of one cluster: init on the first, unseal each). */
  nodes: string[];
  /** PEM CA bundle path for https ('' = system CAs). */
  caFilePath: string;
  /** Folder of the key file (`resp-init.json`) and the EdgeX salt file. */
  tokenFolderPath: string;
  /** Key file name. */
  tokenFile: string;
  secretShares: number;
  secretThreshold: number;
  /** true (EdgeX default): no root token is ever written; a temporary one is generated when needed and revoked. */
  revokeRootTokens: boolean;
  /** Where the token-issuing token (token-create response JSON) is written. */
  tokenProviderAdminTokenPath: string;
  /** Format of newly written encrypted key files. */
  keyFileFormat: WriteFormat;
  /** KV secrets engine version mounted at `secret/` (EdgeX: 1). */
  kvVersion: 1 | 2;
  /** Seconds between polls of the store (`--secretStoreInterval`). */
  intervalSeconds: number;
  /** Seconds to wait for an unreachable store before failing. */
  waitTimeoutSeconds: number;
  /** Per-request timeout in seconds. */
  requestTimeoutSeconds: number;
}

/** Where the settings came from (for the log line at start). */
export interface LoadedConfig {
  config: SecretStoreConfig;
  /** The YAML file read, or "built-in defaults". */
  source: string;
}

/** Command-line values that override file and environment. */
export interface ConfigOverrides {
  configPath?: string;
  addrs?: string[];
  intervalSeconds?: number;
  waitTimeoutSeconds?: number;
  keyFileFormat?: WriteFormat;
}

/** EdgeX's defaults (edgex-go security-secretstore-setup res/configuration.yaml, v4 paths for OpenBao). */
export const DEFAULTS = {
  Protocol: 'http',
  Host: 'localhost',
  Port: 8200,
  CaFilePath: '',
  TokenFolderPath: '/openbao/config/assets',
  TokenFile: 'resp-init.json',
  SecretShares: 5,
  SecretThreshold: 3,
  RevokeRootTokens: true,
  TokenProviderAdminTokenPath: '/run/edgex/secrets/tokenprovider/secrets-token.json',
  KeyFileFormat: 'v2',
  KvVersion: 1,
  WaitTimeout: 300,
  RequestTimeout: 10,
} as const;

type Key = keyof typeof DEFAULTS;
/** Older EdgeX releases (Vault era) named the share settings with a `Vault` prefix; both are accepted. */
const ALIASES: Partial<Record<Key, string>> = { SecretShares: 'VaultSecretShares', SecretThreshold: 'VaultSecretThreshold' };

type Raw = Partial<Record<Key, unknown>>;

async function readYamlSection(path: string): Promise<Raw> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SecretStoreError('CONFIG', `cannot read configuration file ${path} (${describeCause(err)})`);
  }
  // Loaded only when a file is read: the yaml package is most of the CLI's start-up time.
  const { parse: parseYaml } = await import('yaml');
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    throw new SecretStoreError('CONFIG', `configuration file ${path} is not valid YAML`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new SecretStoreError('CONFIG', `configuration file ${path} must be a YAML mapping`);
  const section = (doc as Record<string, unknown>).SecretStore;
  if (section === undefined || section === null) return {};
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new SecretStoreError('CONFIG', `configuration file ${path}: SecretStore must be a mapping`);
  }
  const s = section as Record<string, unknown>;
  const raw: Raw = {};
  for (const key of Object.keys(DEFAULTS) as Key[]) {
    const alias = ALIASES[key];
    if (s[key] !== undefined) raw[key] = s[key];
    else if (alias !== undefined && s[alias] !== undefined) raw[key] = s[alias];
  }
  return raw;
}

function fromEnv(env: NodeJS.ProcessEnv): Raw {
  const raw: Raw = {};
  for (const key of Object.keys(DEFAULTS) as Key[]) {
    const alias = ALIASES[key];
    const value = env[`SECRETSTORE_${key.toUpperCase()}`] ?? (alias === undefined ? undefined : env[`SECRETSTORE_${alias.toUpperCase()}`]);
    if (value !== undefined) raw[key] = value;
  }
  return raw;
}

function toInt(key: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new SecretStoreError('CONFIG', `SecretStore.${key} must be a whole number between ${min} and ${max}`);
  }
  return n;
}

function toBool(key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  throw new SecretStoreError('CONFIG', `SecretStore.${key} must be true or false`);
}

function toStr(key: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new SecretStoreError('CONFIG', `SecretStore.${key} must be a string`);
}

/** Validates and normalizes merged raw settings. */
export function resolveConfig(raw: Raw, overrides: ConfigOverrides, env: NodeJS.ProcessEnv, cwd: string): SecretStoreConfig {
  const v = (k: Key): unknown => raw[k] ?? DEFAULTS[k];
  const protocol = toStr('Protocol', v('Protocol')).toLowerCase();
  if (protocol !== 'http' && protocol !== 'https') throw new SecretStoreError('CONFIG', 'SecretStore.Protocol must be http or https');
  const host = toStr('Host', v('Host'));
  if (host === '' || /[\s/@]/.test(host)) throw new SecretStoreError('CONFIG', 'SecretStore.Host must be a host name or address');
  const port = toInt('Port', v('Port'), 1, 65535);
  const shares = toInt('SecretShares', v('SecretShares'), 1, 255);
  const threshold = toInt('SecretThreshold', v('SecretThreshold'), 1, 255);
  if (threshold > shares) throw new SecretStoreError('CONFIG', 'SecretStore.SecretThreshold cannot be larger than SecretShares');
  if (shares > 1 && threshold < 2) {
    throw new SecretStoreError('CONFIG', 'SecretStore.SecretThreshold must be at least 2 when SecretShares is more than 1');
  }
  const format = overrides.keyFileFormat ?? toStr('KeyFileFormat', v('KeyFileFormat'));
  if (format !== 'v2' && format !== 'edgex') throw new SecretStoreError('CONFIG', 'SecretStore.KeyFileFormat must be v2 or edgex');
  const kv = toInt('KvVersion', v('KvVersion'), 1, 2) as 1 | 2;
  const abs = (p: string): string => (p === '' || isAbsolute(p) ? p : resolve(cwd, p));

  let nodes: string[];
  // The first non-empty of VAULT_ADDR, BAO_ADDR: an exported but empty VAULT_ADDR must not hide BAO_ADDR.
  const envAddr = [env.VAULT_ADDR, env.BAO_ADDR].find((a) => a !== undefined && a !== '');
  if (overrides.addrs !== undefined && overrides.addrs.length > 0) nodes = overrides.addrs;
  else if (envAddr !== undefined && envAddr !== '') nodes = [envAddr];
  else nodes = [`${protocol}://${host.includes(':') ? `[${host}]` : host}:${port}`];
  nodes = nodes.map((n) => n.replace(/\/+$/, ''));
  for (const n of nodes) {
    let u: URL;
    try {
      u = new URL(n);
    } catch {
      throw new SecretStoreError('CONFIG', `secret store address "${n}" is not a valid URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SecretStoreError('CONFIG', `secret store address "${n}" must be http or https`);
  }
  if (new Set(nodes).size !== nodes.length) throw new SecretStoreError('CONFIG', 'the same secret store address is listed twice');

  const tokenFile = toStr('TokenFile', v('TokenFile'));
  if (tokenFile === '' || tokenFile.includes('/')) throw new SecretStoreError('CONFIG', 'SecretStore.TokenFile must be a plain file name');
  const folder = abs(toStr('TokenFolderPath', v('TokenFolderPath')));
  if (folder === '') throw new SecretStoreError('CONFIG', 'SecretStore.TokenFolderPath must not be empty');
  const adminPath = abs(toStr('TokenProviderAdminTokenPath', v('TokenProviderAdminTokenPath')));
  if (adminPath === '') throw new SecretStoreError('CONFIG', 'SecretStore.TokenProviderAdminTokenPath must not be empty');

  return {
    nodes,
    caFilePath: abs(toStr('CaFilePath', v('CaFilePath'))),
    tokenFolderPath: folder,
    tokenFile,
    secretShares: shares,
    secretThreshold: threshold,
    revokeRootTokens: toBool('RevokeRootTokens', v('RevokeRootTokens')),
    tokenProviderAdminTokenPath: adminPath,
    keyFileFormat: format,
    kvVersion: kv,
    intervalSeconds: overrides.intervalSeconds ?? 1,
    waitTimeoutSeconds: overrides.waitTimeoutSeconds ?? toInt('WaitTimeout', v('WaitTimeout'), 0, 86_400),
    requestTimeoutSeconds: toInt('RequestTimeout', v('RequestTimeout'), 1, 600),
  };
}

/** Loads the configuration: file (see the module comment for which), then `SECRETSTORE_*` env, then flags. */
export async function loadConfig(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, cwd: string): Promise<LoadedConfig> {
  let path: string | undefined;
  if (overrides.configPath !== undefined) {
    path = isAbsolute(overrides.configPath) ? overrides.configPath : resolve(cwd, overrides.configPath);
  } else {
    const candidate = join(cwd, 'configuration.yaml');
    try {
      await readFile(candidate);
      path = candidate;
    } catch {
      path = undefined;
    }
  }
  const fileRaw = path === undefined ? {} : await readYamlSection(path);
  const raw: Raw = { ...fileRaw, ...fromEnv(env) };
  return { config: resolveConfig(raw, overrides, env, cwd), source: path ?? 'built-in defaults' };
}
