/**
 * The boot flow's configuration, as EdgeX reads it: a YAML file with a `SecretStore` section, each key overridable
 * by an environment variable `SECRETSTORE_<KEY>` (the key in upper case, as EdgeX's env overrides do), EdgeX's
 * defaults for anything unset, and command-line flags last (`--addr` replaces Protocol/Host/Port).
 *
 * The whole document is read once: the `SecretStore` keys below drive the boot flow, and EdgeX's other settings
 * (`SecretStore.Type`/`TokenProvider*`/`PasswordProvider*`/`CertPath`/`CertFilePath`/`KeyFilePath`/`ServerName`, 3.1's
 * `ConsulSecretsAdminTokenPath`, and the `Database`, `Databases`, `SecureMessageBus`, `Service` sections) become
 * `config.edgex` (see src/config/edgex-settings.ts for their defaults, env names and rules). A configuration that
 * names a `TokenProvider` (as EdgeX's own file does) is an EdgeX configuration: `edgex.enabled` is true and EdgeX's
 * duties run after unseal.
 *
 * Key file format default: `--keyfile-format`, else `SECRETSTORE_KEYFILEFORMAT`, else the file's `KeyFileFormat`;
 * when none of them sets it, `edgex` for an EdgeX configuration (`edgex.enabled`, so a device can be switched back to
 * EdgeX's own setup without converting the key file) and `v2` otherwise.
 *
 * Which file ({@link resolveConfigPath}):
 * 1. `--config FILE` (ours) when given: that file, which must exist;
 * 2. else EdgeX's location rules (go-mod-bootstrap `config.GetConfigFileLocation`, `environment.GetConfigDir`/
 *    `GetProfileDir`/`GetConfigFileName`): `<configDir>/<profile>/<configFile>`, where each part is the environment
 *    variable `EDGEX_CONFIG_DIR` / `EDGEX_PROFILE` / `EDGEX_CONFIG_FILE` when set and not empty, else the flag
 *    `-cd/--configDir` / `-p/--profile` / `-cf/--configFile`, else `./res` / none / `configuration.yaml` (the
 *    environment wins over the flag, as in EdgeX). When any of the six was given, that file must exist;
 * 3. else `configuration.yaml` in the working directory when it exists (this program's historical default);
 * 4. else EdgeX's default location `res/configuration.yaml` in the working directory when it exists;
 * 5. else the built-in defaults below (identical to the repository's configuration.yaml).
 * Relative paths resolve against the working directory. The program's own folder is not searched, so an installed
 * copy never picks up a stray file. A candidate of 3 or 4 that exists but cannot be read is an error, not skipped.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { SecretStoreError, describeCause } from '../errors.js';
import { edgexSettingsFrom, type EdgexSettings } from './edgex-settings.js';

export type { EdgexSettings } from './edgex-settings.js';

/** Key file formats the flow can write (plaintext is written only when no hook is configured, as EdgeX does). */
export type WriteFormat = 'v2' | 'edgex';

/** The resolved `SecretStore` settings the flow uses. */
export interface SecretStoreConfig {
  /** Node base URLs: one, or the nodes of one cluster (init once, unseal every node, work after unseal through the active node: docs/bootstrap.md § Clusters). */
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
  /**
   * EdgeX's other settings (token provider, known secrets, eKuiper, longRun service); `enabled` when the
   * configuration names a TokenProvider. File-system paths (`certFilePath`, `keyFilePath`, the eKuiper files) are
   * resolved against the working directory; `tokenProvider` is left as written (a command looked up on PATH).
   */
  edgex: EdgexSettings;
}

/** Where the settings came from (for the log line at start). */
export interface LoadedConfig {
  config: SecretStoreConfig;
  /** The YAML file read, or "built-in defaults". */
  source: string;
}

/** Command-line values that override file and environment. */
export interface ConfigOverrides {
  /** `--config FILE` (wins over the EdgeX location flags and environment). */
  configPath?: string;
  /** EdgeX's `-cd/--configDir` (default `./res`; `EDGEX_CONFIG_DIR` wins over it). */
  configDir?: string;
  /** EdgeX's `-cf/--configFile` (default `configuration.yaml`; `EDGEX_CONFIG_FILE` wins over it). */
  configFile?: string;
  /** EdgeX's `-p/--profile`: a sub-folder of the config dir (`EDGEX_PROFILE` wins over it). */
  profile?: string;
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

/** The whole YAML document of `path` (`{}` for an empty file). */
async function readYamlDocument(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
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
  return doc as Record<string, unknown>;
}

/** The boot flow's keys of the document's `SecretStore` section. */
function secretStoreSection(doc: Record<string, unknown>, path: string): Raw {
  const section = doc.SecretStore;
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

/** The whole configuration document and what to call it in error messages. */
export interface ConfigDocument {
  /** The parsed YAML document (`{}`: none). */
  doc: Record<string, unknown>;
  /** E.g. `configuration file /etc/secretstore/configuration.yaml`. */
  source: string;
}

/**
 * Validates and normalizes merged raw `SecretStore` settings; `document` (default: none) supplies EdgeX's other
 * settings, which `env` overrides (see src/config/edgex-settings.ts).
 */
export function resolveConfig(
  raw: Raw,
  overrides: ConfigOverrides,
  env: NodeJS.ProcessEnv,
  cwd: string,
  document: ConfigDocument = { doc: {}, source: 'built-in defaults' },
): SecretStoreConfig {
  const v = (k: Key): unknown => raw[k] ?? DEFAULTS[k];
  const edgex = edgexSettingsFrom(document.doc, env, document.source);
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
  // Unset everywhere: `edgex` for an EdgeX configuration (so EdgeX's own setup can read the file again), else v2.
  const fileFormat = raw.KeyFileFormat;
  const format =
    overrides.keyFileFormat ??
    (fileFormat !== undefined && fileFormat !== null ? toStr('KeyFileFormat', fileFormat) : edgex.enabled ? 'edgex' : DEFAULTS.KeyFileFormat);
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
    edgex: {
      ...edgex,
      certFilePath: abs(edgex.certFilePath),
      keyFilePath: abs(edgex.keyFilePath),
      secureMessageBus: {
        ...edgex.secureMessageBus,
        kuiperConfigPath: abs(edgex.secureMessageBus.kuiperConfigPath),
        kuiperConnectionsPath: abs(edgex.secureMessageBus.kuiperConnectionsPath),
      },
    },
  };
}

/** Where the configuration may come from (the CLI's flags). Empty strings count as not given, as in EdgeX. */
export interface ConfigLocation {
  /** `--config FILE` (ours). */
  config?: string | undefined;
  /** EdgeX's `-cd/--configDir`. */
  configDir?: string | undefined;
  /** EdgeX's `-cf/--configFile`. */
  configFile?: string | undefined;
  /** EdgeX's `-p/--profile`. */
  profile?: string | undefined;
}

/** EdgeX's default config dir and file name (go-mod-bootstrap `defaultConfigDirValue`, `flags.DefaultConfigFile`). */
export const EDGEX_DEFAULT_CONFIG_DIR = './res';
export const EDGEX_DEFAULT_CONFIG_FILE = 'configuration.yaml';

/** One part of EdgeX's location: the env variable when set and not empty, else the flag when not empty. */
function locationPart(env: NodeJS.ProcessEnv, envName: string, flag: string | undefined, flagName: string): { value: string; from: string } | undefined {
  const e = env[envName];
  if (e !== undefined && e !== '') return { value: e, from: `${envName}=${e}` };
  if (flag !== undefined && flag !== '') return { value: flag, from: `${flagName} ${flag}` };
  return undefined;
}

/** False only when nothing is at `path` (a path that exists but cannot be examined counts: reading it says why). */
function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    return true;
  }
}

/**
 * The configuration file to read, or undefined for the built-in defaults; precedence in the module comment
 * (`--config`; EdgeX's `EDGEX_CONFIG_DIR`/`EDGEX_PROFILE`/`EDGEX_CONFIG_FILE` over `-cd`/`-p`/`-cf`, composed as
 * `<dir>/<profile>/<file>`; `./configuration.yaml`; `./res/configuration.yaml`; none). Returns an absolute path.
 * @throws SecretStoreError CONFIG when a file asked for explicitly does not exist (naming the exact path tried), or
 *   when `-cf`/`EDGEX_CONFIG_FILE` is an http(s) URL (EdgeX can load one; this program cannot).
 */
export function resolveConfigPath(location: ConfigLocation, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(cwd, p));
  if (location.config !== undefined && location.config !== '') {
    const path = abs(location.config);
    if (!exists(path)) throw new SecretStoreError('CONFIG', `cannot read configuration file ${path} (no such file; named by --config)`);
    return path;
  }
  const dir = locationPart(env, 'EDGEX_CONFIG_DIR', location.configDir, '-cd/--configDir');
  const profile = locationPart(env, 'EDGEX_PROFILE', location.profile, '-p/--profile');
  const file = locationPart(env, 'EDGEX_CONFIG_FILE', location.configFile, '-cf/--configFile');
  if (dir !== undefined || profile !== undefined || file !== undefined) {
    const name = file?.value ?? EDGEX_DEFAULT_CONFIG_FILE;
    if (/^https?:\/\//i.test(name)) {
      throw new SecretStoreError('CONFIG', `configuration file ${name} is a URL (from ${file?.from ?? ''}): only local files are supported`);
    }
    // filepath.Join(configDir, profile + "/", configFile), as go-mod-bootstrap composes it.
    const path = abs(join(dir?.value ?? EDGEX_DEFAULT_CONFIG_DIR, profile?.value ?? '', name));
    if (!exists(path)) {
      const from = [dir, profile, file].filter((p) => p !== undefined).map((p) => p.from);
      throw new SecretStoreError('CONFIG', `cannot read configuration file ${path} (no such file; from ${from.join(', ')})`);
    }
    return path;
  }
  for (const candidate of [join(cwd, EDGEX_DEFAULT_CONFIG_FILE), join(cwd, EDGEX_DEFAULT_CONFIG_DIR, EDGEX_DEFAULT_CONFIG_FILE)]) {
    if (exists(candidate)) return candidate;
  }
  return undefined;
}

/** Loads the configuration: file (see the module comment for which), then env (`SECRETSTORE_*`, EdgeX's), then flags. */
export async function loadConfig(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, cwd: string): Promise<LoadedConfig> {
  const path = resolveConfigPath(
    { config: overrides.configPath, configDir: overrides.configDir, configFile: overrides.configFile, profile: overrides.profile },
    env,
    cwd,
  );
  const doc = path === undefined ? {} : await readYamlDocument(path);
  const fileRaw = path === undefined ? {} : secretStoreSection(doc, path);
  const raw: Raw = { ...fileRaw, ...fromEnv(env) };
  const document: ConfigDocument = { doc, source: path === undefined ? 'built-in defaults' : `configuration file ${path}` };
  return { config: resolveConfig(raw, overrides, env, cwd, document), source: path ?? 'built-in defaults' };
}
