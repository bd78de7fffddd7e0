/**
 * The file token provider's settings (EdgeX's `security-file-token-provider`, `TokenFileProvider` section of
 * `res-file-token-provider/configuration.yaml`), with EdgeX's defaults and its environment overrides
 * (`TOKENFILEPROVIDER_<KEY>`, the configuration path upper-cased). The in-process provider reads them exactly where
 * EdgeX's child process would: the folder named by `-configDir` in `TokenProviderArgs`.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { SecretStoreError, describeCause } from '../../errors.js';

/** The `TokenFileProvider` settings. */
export interface TokenProviderSettings {
  /** Where the admin (privileged-token-creator) token file is read from. */
  privilegedTokenPath: string;
  /** The token-config.json listing the services (missing file: EdgeX's built-in default list). */
  configFile: string;
  /** Token files go to `<outputDir>/<service>/<outputFilename>`. */
  outputDir: string;
  outputFilename: string;
  /** The services' token period (userpass `token_period`), e.g. `1h`. */
  defaultTokenTtl: string;
  /** The OIDC role TTL of each service's identity JWT, e.g. `15m`. */
  defaultJwtTtl: string;
  /** The OIDC role's `client_id` (the JWT's `aud`). */
  defaultJwtAudience: string;
  /** The userpass mount path, without slashes. */
  userPassMountPoint: string;
  /**
   * True when `ConfigFile` was set by the provider's configuration or the environment: then the file must exist (a
   * mistyped path must not silently give every default service). EdgeX's default path may be absent: our package
   * carries EdgeX's default list built in.
   */
  configFileExplicit?: boolean;
}

/** EdgeX 4's defaults (edgex-go `cmd/security-secretstore-setup/res-file-token-provider/configuration.yaml`). */
export const TOKEN_PROVIDER_DEFAULTS: TokenProviderSettings = {
  privilegedTokenPath: '/run/edgex/secrets/tokenprovider/secrets-token.json',
  configFile: 'res-file-token-provider/token-config.json',
  outputDir: '/tmp/edgex/secrets',
  outputFilename: 'secrets-token.json',
  defaultTokenTtl: '1h',
  defaultJwtTtl: '15m',
  defaultJwtAudience: 'edgex',
  userPassMountPoint: 'userpass',
};

/** The string settings (every field but the bookkeeping flag). */
type SettingKey = Exclude<keyof TokenProviderSettings, 'configFileExplicit'>;

/** The YAML keys of each setting, as EdgeX spells them. */
const KEYS: Record<SettingKey, string> = {
  privilegedTokenPath: 'PrivilegedTokenPath',
  configFile: 'ConfigFile',
  outputDir: 'OutputDir',
  outputFilename: 'OutputFilename',
  defaultTokenTtl: 'DefaultTokenTTL',
  defaultJwtTtl: 'DefaultJWTTTL',
  defaultJwtAudience: 'DefaultJWTAudience',
  userPassMountPoint: 'UserPassMountPoint',
};

/** The `-configDir` (or `--configDir`, `-cd`) value of EdgeX's `TokenProviderArgs`, if any. */
export function configDirFromArgs(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const eq = a.indexOf('=');
    const name = eq === -1 ? a : a.slice(0, eq);
    if (name === '-configDir' || name === '--configDir' || name === '-cd' || name === '--cd') {
      return eq === -1 ? args[i + 1] : a.slice(eq + 1);
    }
  }
  return undefined;
}

/**
 * Loads the settings: EdgeX's defaults, then `<configDir>/configuration.yaml`'s `TokenFileProvider` section when the
 * file exists, then `TOKENFILEPROVIDER_*` from the environment. Relative paths are taken from `cwd`, as EdgeX's
 * process does.
 */
export async function loadTokenProviderSettings(configDir: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Promise<TokenProviderSettings> {
  const out: TokenProviderSettings = { ...TOKEN_PROVIDER_DEFAULTS };
  if (configDir !== undefined && configDir !== '') {
    const path = join(isAbsolute(configDir) ? configDir : resolve(cwd, configDir), 'configuration.yaml');
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SecretStoreError('CONFIG', `cannot read the token provider configuration ${path} (${describeCause(err)})`);
      }
    }
    if (text !== undefined) applySection(out, await tokenFileProviderSection(text, path), path);
  }
  for (const [field, key] of Object.entries(KEYS) as [SettingKey, string][]) {
    const value = env[`TOKENFILEPROVIDER_${key.toUpperCase()}`];
    if (value !== undefined && value !== '') {
      out[field] = value;
      if (field === 'configFile') out.configFileExplicit = true;
    }
  }
  if (!isAbsolute(out.configFile)) out.configFile = resolve(cwd, out.configFile);
  if (!isAbsolute(out.outputDir)) out.outputDir = resolve(cwd, out.outputDir);
  if (!/^[-a-zA-Z0-9_]+$/.test(out.userPassMountPoint)) {
    throw new SecretStoreError('CONFIG', `TokenFileProvider.UserPassMountPoint "${out.userPassMountPoint}" must be a plain mount name (letters, digits, - and _)`);
  }
  if (out.outputFilename === '' || out.outputFilename.includes('/')) {
    throw new SecretStoreError('CONFIG', `TokenFileProvider.OutputFilename "${out.outputFilename}" must be a file name without /`);
  }
  return out;
}

async function tokenFileProviderSection(text: string, path: string): Promise<Record<string, unknown>> {
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    throw new SecretStoreError('CONFIG', `the token provider configuration ${path} is not valid YAML`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new SecretStoreError('CONFIG', `the token provider configuration ${path} must be a YAML mapping`);
  const section = (doc as Record<string, unknown>)['TokenFileProvider'];
  if (section === undefined || section === null) return {};
  if (typeof section !== 'object' || Array.isArray(section)) throw new SecretStoreError('CONFIG', `${path}: TokenFileProvider must be a mapping`);
  return section as Record<string, unknown>;
}

function applySection(out: TokenProviderSettings, section: Record<string, unknown>, path: string): void {
  for (const [field, key] of Object.entries(KEYS) as [SettingKey, string][]) {
    const v = section[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v === '') throw new SecretStoreError('CONFIG', `${path}: TokenFileProvider.${key} must be a non-empty string`);
    out[field] = v;
    if (field === 'configFile') out.configFileExplicit = true;
  }
}
