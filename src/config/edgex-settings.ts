/**
 * The parts of EdgeX's `security-secretstore-setup` configuration beyond what the boot flow reads (edgex-go
 * `internal/security/secretstore/config/config.go`, `cmd/security-secretstore-setup/res/configuration.yaml`):
 * the EdgeX-only `SecretStore` keys (Type, TokenProvider*, PasswordProvider*, CertPath, CertFilePath, KeyFilePath,
 * ServerName, 3.1's ConsulSecretsAdminTokenPath) and the `Database`, `Databases`, `SecureMessageBus` and `Service`
 * sections, typed and validated.
 *
 * Rules, with their EdgeX source:
 * - **Release line.** `SecretStore.Type` `openbao` (default) is EdgeX 4, `vault` is EdgeX 3.1 (its own file's value);
 *   anything else is a CONFIG error. The line picks the default `Databases` and `SecureMessageBus.Services` maps
 *   and whether `ConsulSecretsAdminTokenPath` exists (3.1 only).
 * - **Defaults** are EdgeX 4.x's file values (3.1's maps and Consul path with Type vault), except `TokenProvider`,
 *   which defaults to `""`: EdgeX's own file always names `/security-file-token-provider`, so a configuration that
 *   names a token provider is an EdgeX configuration and turns EdgeX's duties on (`enabled`); ours does not, so the
 *   duties stay off unless asked for. `Database` and `Service` exist only in EdgeX 4; in 3.1 mode they keep the 4.x
 *   defaults and are simply not used by EdgeX 3.1's duties.
 * - **Maps** (`Databases`, `SecureMessageBus.Services`): a document that has the map replaces the default map
 *   wholesale, as EdgeX's loader does with its own file (which is its only source of defaults); a document without
 *   it (or with a null value) gets EdgeX's map. `{}` empties it.
 * - **Environment** (go-mod-bootstrap `bootstrap/environment/variables.go`, `getOverrideNameFor`): the variable of a
 *   setting is its configuration path with `/` and `-` turned into `_`, upper-cased: `SECRETSTORE_TOKENPROVIDER`,
 *   `DATABASE_TYPE`, `SERVICE_PORT`, `DATABASES_METADATA_USERNAME`, `SECUREMESSAGEBUS_SERVICES_COREDATA_SERVICE`. It
 *   wins over the document. An exported but empty variable sets `""` (EdgeX applies it too). Lists are
 *   comma-separated with each item trimmed (`parseCommaSeparatedSlice`); deliberate difference: an empty value is an
 *   empty list, where EdgeX would make a list of one empty string. Map entries are overridden only for keys that
 *   exist (file or default map), as EdgeX overrides only paths present in the loaded configuration; scalars are
 *   overridable even when the document omits them (their default is then "present").
 * - **Types** are checked strictly: strings must be YAML strings, lists YAML sequences of strings, ports whole
 *   numbers 1..65535 (a YAML number or a string of digits). A null YAML value means "not set". Errors are CONFIG
 *   errors naming the key and where the bad value came from (the file, or the environment variable).
 * - `TokenProviderType` must be `oneshot` when a `TokenProvider` is set (edgex-go
 *   `internal/security/secretstore/tokenprovider/tokenprovider.go`, `SetConfiguration`; not checked when it is
 *   empty, as EdgeX runs no provider then).
 *
 * Paths are returned as written (relative ones are not resolved here; `src/config/config.ts` resolves the file-system ones
 * against the working directory).
 */
import { SecretStoreError } from '../errors.js';

/** The EdgeX release line whose rules are followed. */
export type EdgexSettingsVersion = '4' | '3.1';

/** One `Databases.<key>` entry. */
export interface EdgexDatabaseSetting {
  /** The service using the database (`""`: the entry names no service, e.g. 3.1's `admin`). */
  service: string;
  /** Its database user. */
  username: string;
}

/** The EdgeX settings beyond the boot flow's `SecretStore` keys. */
export interface EdgexSettings {
  /** '4' for SecretStore.Type openbao (default), '3.1' for vault. Any other Type → CONFIG error naming it. */
  version: '4' | '3.1';
  /** `SecretStore.TokenProvider`: the token provider program (`""`: none, EdgeX's duties off). */
  tokenProvider: string;
  /** `SecretStore.TokenProviderArgs` (default `-configDir res-file-token-provider`). */
  tokenProviderArgs: string[];
  /** `SecretStore.TokenProviderType`: `oneshot` (the only type EdgeX runs). */
  tokenProviderType: string;
  /** `SecretStore.PasswordProvider`: program printing a known secret's password (`""`: random passwords). */
  passwordProvider: string;
  /** `SecretStore.PasswordProviderArgs`. */
  passwordProviderArgs: string[];
  /** `SecretStore.CertPath`: the store path of the TLS certificate secret (`""`: none). */
  certPath: string;
  /** `SecretStore.CertFilePath`, `KeyFilePath`: PEM files of that certificate and its key. */
  certFilePath: string;
  keyFilePath: string;
  /** `Database` (EdgeX 4): the database the known `postgres` secret is for (`type` `postgres` by default). */
  database: { host: string; port: number; timeout: string; type: string };
  /** `Databases.<key>.{Service,Username}`. */
  databases: Record<string, { service: string; username: string }>;
  /** `SecureMessageBus`: bus type (`none` by default), eKuiper files, `Services.<key>.Service`. */
  secureMessageBus: { type: string; kuiperConfigPath: string; kuiperConnectionsPath: string; services: Record<string, { service: string }> };
  /** `Service` (EdgeX 4, `--longRun` only): where the token re-issue endpoint listens (localhost:59843). */
  service: { host: string; port: number };
  /** `SecretStore.ConsulSecretsAdminTokenPath` (3.1 only; `""` for 4). */
  consulSecretsAdminTokenPath: string;
  /** True when the configuration names a TokenProvider (an EdgeX configuration): EdgeX's duties run after unseal. */
  enabled: boolean;
}

/** EdgeX 4's `Databases` (edgex-go 2bee238e8 / v4.0.0 `cmd/security-secretstore-setup/res/configuration.yaml`). */
export const EDGEX_4_DATABASES: Readonly<Record<string, Readonly<EdgexDatabaseSetting>>> = Object.freeze({
  metadata: { service: 'core-metadata', username: 'core_metadata' },
  coredata: { service: 'core-data', username: 'core_data' },
  corekeeper: { service: 'core-keeper', username: 'core_keeper' },
  notifications: { service: 'support-notifications', username: 'support_notifications' },
  scheduler: { service: 'support-scheduler', username: 'support_scheduler' },
  securityproxyauth: { service: 'security-proxy-auth', username: 'security_proxy_auth' },
});

/** EdgeX 3.1's `Databases` (edgex-go v3.1.1 = 82622212f, same file); the first four name no service. */
export const EDGEX_3_1_DATABASES: Readonly<Record<string, Readonly<EdgexDatabaseSetting>>> = Object.freeze({
  admin: { service: '', username: 'admin' },
  authorization: { service: '', username: 'admin' },
  config: { service: '', username: 'admin' },
  local: { service: '', username: 'admin' },
  command: { service: 'core-command', username: 'core-command' },
  metadata: { service: 'core-metadata', username: 'core-metadata' },
  coredata: { service: 'core-data', username: 'core-data' },
  rulesengine: { service: 'app-rules-engine', username: 'app-rules-engine' },
  notifications: { service: 'support-notifications', username: 'support-notifications' },
  scheduler: { service: 'support-scheduler', username: 'support-scheduler' },
});

/** EdgeX 4's `SecureMessageBus.Services` (same file as {@link EDGEX_4_DATABASES}). */
export const EDGEX_4_MESSAGE_BUS_SERVICES: Readonly<Record<string, Readonly<{ service: string }>>> = Object.freeze({
  command: { service: 'core-command' },
  metadata: { service: 'core-metadata' },
  coredata: { service: 'core-data' },
  corekeeper: { service: 'core-keeper' },
  rulesengine: { service: 'app-rules-engine' },
  notifications: { service: 'support-notifications' },
  scheduler: { service: 'support-scheduler' },
});

/** EdgeX 3.1's `SecureMessageBus.Services` (same file as {@link EDGEX_3_1_DATABASES}). */
export const EDGEX_3_1_MESSAGE_BUS_SERVICES: Readonly<Record<string, Readonly<{ service: string }>>> = Object.freeze({
  command: { service: 'core-command' },
  metadata: { service: 'core-metadata' },
  coredata: { service: 'core-data' },
  rulesengine: { service: 'app-rules-engine' },
  notifications: { service: 'support-notifications' },
  scheduler: { service: 'support-scheduler' },
});

/** EdgeX's scalar defaults (4.x file; `TokenProvider` is `""` here, see the module comment). */
export const EDGEX_SCALAR_DEFAULTS = Object.freeze({
  Type: 'openbao',
  TokenProvider: '',
  TokenProviderArgs: Object.freeze(['-configDir', 'res-file-token-provider']),
  TokenProviderType: 'oneshot',
  PasswordProvider: '',
  PasswordProviderArgs: Object.freeze([] as string[]),
  CertPath: '',
  CertFilePath: '',
  KeyFilePath: '',
  ServerName: '',
  /** 3.1 only. */
  ConsulSecretsAdminTokenPath: '/tmp/edgex/secrets/edgex-consul/admin/token.json',
  Database: Object.freeze({ Host: 'localhost', Port: 5432, Timeout: '5s', Type: 'postgres' }),
  SecureMessageBus: Object.freeze({
    Type: 'none',
    KuiperConfigPath: '/tmp/kuiper/edgex.yaml',
    KuiperConnectionsPath: '/tmp/kuiper-connections/connection.yaml',
  }),
  Service: Object.freeze({ Host: 'localhost', Port: 59843 }),
});

/** The only token provider type EdgeX runs (edgex-go `tokenprovider.OneShotProvider`). */
export const ONESHOT_PROVIDER = 'oneshot';

/** `SecretStore.Type` → release line. */
const TYPES: Readonly<Record<string, '4' | '3.1'>> = { openbao: '4', vault: '3.1' };

/**
 * The environment variable that overrides the setting at `path` (go-mod-bootstrap `getOverrideNameFor`: the path
 * joined with `/`, then `/` and `-` → `_`, upper-cased).
 */
export function edgexEnvName(path: readonly string[]): string {
  return path.join('/').replace(/[/-]/g, '_').toUpperCase();
}

/** What reads one document: where it came from (for errors) and the environment. */
interface Ctx {
  env: NodeJS.ProcessEnv;
  /** `in <source>` for values read from the document. */
  where: string;
}

/** A raw value and where it came from, or undefined when neither document nor environment sets it. */
interface RawSetting {
  value: unknown;
  fromEnv: boolean;
  where: string;
}

const label = (path: readonly string[]): string => path.join('.');

function show(value: unknown): string {
  let text: string;
  try {
    // Values come from YAML or the environment: JSON-like (JSON.stringify gives undefined only for undefined).
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function fail(path: readonly string[], problem: string, where: string): never {
  throw new SecretStoreError('CONFIG', `${label(path)} ${problem} (${where})`);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A sub-mapping of the document, or undefined when absent or null. */
function mapping(parent: Record<string, unknown> | undefined, path: readonly string[], ctx: Ctx): Record<string, unknown> | undefined {
  const key = path[path.length - 1] ?? '';
  const v = parent === undefined ? undefined : parent[key];
  if (v === undefined || v === null) return undefined;
  if (!isMapping(v)) fail(path, 'must be a mapping', ctx.where);
  return v;
}

function raw(ctx: Ctx, path: readonly string[], section: Record<string, unknown> | undefined): RawSetting | undefined {
  const name = edgexEnvName(path);
  const e = ctx.env[name];
  if (e !== undefined) return { value: e, fromEnv: true, where: `environment variable ${name}` };
  const key = path[path.length - 1] ?? '';
  const v = section === undefined ? undefined : section[key];
  if (v === undefined || v === null) return undefined;
  return { value: v, fromEnv: false, where: ctx.where };
}

function str(ctx: Ctx, path: readonly string[], section: Record<string, unknown> | undefined, fallback: string): string {
  const s = raw(ctx, path, section);
  if (s === undefined) return fallback;
  if (typeof s.value !== 'string') fail(path, `must be a string, not ${show(s.value)}`, s.where);
  return s.value;
}

function port(ctx: Ctx, path: readonly string[], section: Record<string, unknown> | undefined, fallback: number): number {
  const s = raw(ctx, path, section);
  if (s === undefined) return fallback;
  const v = s.value;
  const n = typeof v === 'number' && !s.fromEnv ? v : typeof v === 'string' && /^\d{1,5}$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(path, `must be a port number between 1 and 65535, not ${show(v)}`, s.where);
  return n;
}

function list(ctx: Ctx, path: readonly string[], section: Record<string, unknown> | undefined, fallback: readonly string[]): string[] {
  const s = raw(ctx, path, section);
  if (s === undefined) return [...fallback];
  if (s.fromEnv) {
    const text = (s.value as string).trim();
    return text === '' ? [] : text.split(',').map((item) => item.trim());
  }
  const v = s.value;
  if (!Array.isArray(v)) fail(path, `must be a list of strings, not ${show(v)}`, s.where);
  return v.map((item: unknown, i) => {
    if (typeof item !== 'string') fail(path, `item ${i + 1} must be a string, not ${show(item)}`, s.where);
    return item;
  });
}

/**
 * The entries of a map section (`Databases`, `SecureMessageBus.Services`): the document's when it has the map,
 * else the defaults; each entry's fields read through `readEntry` (which applies the environment).
 */
function mapSection<T>(
  ctx: Ctx,
  parent: Record<string, unknown> | undefined,
  path: readonly string[],
  defaults: Readonly<Record<string, unknown>>,
  readEntry: (key: string, entry: Record<string, unknown> | undefined, fallback: unknown) => T,
): Record<string, T> {
  const fileMap = mapping(parent, path, ctx);
  const out: [string, T][] = [];
  if (fileMap === undefined) {
    for (const [key, fallback] of Object.entries(defaults)) out.push([key, readEntry(key, undefined, fallback)]);
  } else {
    for (const [key, entry] of Object.entries(fileMap)) {
      if (entry !== null && !isMapping(entry)) fail([...path, key], 'must be a mapping', ctx.where);
      out.push([key, readEntry(key, entry ?? {}, undefined)]);
    }
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays a plain key.
  return Object.fromEntries(out);
}

/**
 * The EdgeX settings of a parsed configuration document (the whole YAML file; `{}` for none) with `env` applied.
 * `source` names the document in error messages (e.g. `configuration file /etc/x.yaml`).
 * @throws SecretStoreError CONFIG naming the key and the file or environment variable of a bad value.
 */
export function edgexSettingsFrom(doc: Record<string, unknown>, env: NodeJS.ProcessEnv, source = 'the configuration'): EdgexSettings {
  const ctx: Ctx = { env, where: `in ${source}` };
  const D = EDGEX_SCALAR_DEFAULTS;
  const ss = mapping(doc, ['SecretStore'], ctx);
  const at = (key: string): string[] => ['SecretStore', key];

  const typeSetting = raw(ctx, at('Type'), ss);
  const type = str(ctx, at('Type'), ss, D.Type);
  const version = Object.hasOwn(TYPES, type) ? TYPES[type] : undefined;
  if (version === undefined) {
    fail(at('Type'), `${show(type)} is not supported: use openbao (EdgeX 4) or vault (EdgeX 3.1)`, typeSetting?.where ?? ctx.where);
  }

  const tokenProvider = str(ctx, at('TokenProvider'), ss, D.TokenProvider);
  const tokenProviderType = str(ctx, at('TokenProviderType'), ss, D.TokenProviderType);
  if (tokenProvider !== '' && tokenProviderType !== ONESHOT_PROVIDER) {
    fail(
      at('TokenProviderType'),
      `${show(tokenProviderType)} is not supported: EdgeX runs a token provider only as ${ONESHOT_PROVIDER}`,
      raw(ctx, at('TokenProviderType'), ss)?.where ?? ctx.where,
    );
  }
  // Validated for type only: ServerName is EdgeX's TLS server name for the store connection.
  str(ctx, at('ServerName'), ss, D.ServerName);
  const consul = version === '3.1' ? str(ctx, at('ConsulSecretsAdminTokenPath'), ss, D.ConsulSecretsAdminTokenPath) : '';

  const db = mapping(doc, ['Database'], ctx);
  const dbAt = (key: string): string[] => ['Database', key];
  const bus = mapping(doc, ['SecureMessageBus'], ctx);
  const busAt = (key: string): string[] => ['SecureMessageBus', key];
  const svc = mapping(doc, ['Service'], ctx);
  const svcAt = (key: string): string[] => ['Service', key];

  const databases = mapSection(
    ctx,
    doc,
    ['Databases'],
    version === '3.1' ? EDGEX_3_1_DATABASES : EDGEX_4_DATABASES,
    (key, entry, fallback): EdgexDatabaseSetting => {
      const d = fallback as EdgexDatabaseSetting | undefined;
      return {
        service: str(ctx, ['Databases', key, 'Service'], entry, d?.service ?? ''),
        username: str(ctx, ['Databases', key, 'Username'], entry, d?.username ?? ''),
      };
    },
  );
  const services = mapSection(
    ctx,
    bus,
    ['SecureMessageBus', 'Services'],
    version === '3.1' ? EDGEX_3_1_MESSAGE_BUS_SERVICES : EDGEX_4_MESSAGE_BUS_SERVICES,
    (key, entry, fallback): { service: string } => ({
      service: str(ctx, ['SecureMessageBus', 'Services', key, 'Service'], entry, (fallback as { service: string } | undefined)?.service ?? ''),
    }),
  );

  return {
    version,
    tokenProvider,
    tokenProviderArgs: list(ctx, at('TokenProviderArgs'), ss, D.TokenProviderArgs),
    tokenProviderType,
    passwordProvider: str(ctx, at('PasswordProvider'), ss, D.PasswordProvider),
    passwordProviderArgs: list(ctx, at('PasswordProviderArgs'), ss, D.PasswordProviderArgs),
    certPath: str(ctx, at('CertPath'), ss, D.CertPath),
    certFilePath: str(ctx, at('CertFilePath'), ss, D.CertFilePath),
    keyFilePath: str(ctx, at('KeyFilePath'), ss, D.KeyFilePath),
    database: {
      host: str(ctx, dbAt('Host'), db, D.Database.Host),
      port: port(ctx, dbAt('Port'), db, D.Database.Port),
      timeout: str(ctx, dbAt('Timeout'), db, D.Database.Timeout),
      type: str(ctx, dbAt('Type'), db, D.Database.Type),
    },
    databases,
    secureMessageBus: {
      type: str(ctx, busAt('Type'), bus, D.SecureMessageBus.Type),
      kuiperConfigPath: str(ctx, busAt('KuiperConfigPath'), bus, D.SecureMessageBus.KuiperConfigPath),
      kuiperConnectionsPath: str(ctx, busAt('KuiperConnectionsPath'), bus, D.SecureMessageBus.KuiperConnectionsPath),
      services,
    },
    service: {
      host: str(ctx, svcAt('Host'), svc, D.Service.Host),
      port: port(ctx, svcAt('Port'), svc, D.Service.Port),
    },
    consulSecretsAdminTokenPath: consul,
    enabled: tokenProvider !== '',
  };
}
