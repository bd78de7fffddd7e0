/**
 * The mount table: which secrets engine serves which path prefix, and which auth method serves which `auth/` path.
 * Persisted at `core/mounts` (secrets engines) and `core/auth` (auth methods) in the barrier; each engine's data
 * lives under `logical/<uuid>/` and each auth method's under `auth/<uuid>/`, so unmounting removes exactly that
 * subtree. Built in, as in a non-dev Vault: `sys/` (served by the HTTP layer) and `auth/token/`; `secret/` is not
 * mounted by default and no other auth method is enabled. Serves `sys/mounts`, `sys/mounts/<path>` (+ `/tune`),
 * `sys/auth`, `sys/auth/<path>` (+ `/tune`) and `sys/internal/ui/mounts[/<path>]`. Which auth method types exist
 * is not decided here: the caller registers a factory per type ({@link CredentialFactories}).
 */
import { StoreApiError, badRequest, noHandler, unsupportedOperation } from '../api-error.js';
import type { LogicalBackend } from '../backend.js';
import type { JsonObject, LogicalRequest, LogicalResponse } from '../logical.js';
import { PrefixedStorage, type Storage } from '../storage/storage.js';
import { randomUUID } from '../../crypto.js';
import { KvV1Backend } from '../kv/kv-v1.js';
import { KvV2Backend } from '../kv/kv-v2.js';
import { parseDurationSeconds } from '../tokens/duration.js';
import { boolField, stringField } from '../tokens/fields.js';
import { DEFAULT_TOKEN_TTL } from '../tokens/token-store.js';

/** A mount's tunable lease settings (seconds; 0 = the system default of 768h). */
export interface MountConfig {
  default_lease_ttl: number;
  max_lease_ttl: number;
  force_no_cache: boolean;
}

/** One mounted engine, with Vault's field names. */
export interface MountEntry {
  /** The mount path with a trailing `/`, e.g. `secret/` (`token/` for the token auth method). */
  path: string;
  type: string;
  description: string;
  accessor: string;
  uuid: string;
  options: Record<string, string> | null;
  config: MountConfig;
  local: boolean;
  seal_wrap: boolean;
  external_entropy_access: boolean;
}

/** The result of {@link MountTable.resolve}. */
export interface ResolvedMount {
  /** The table's own entry (read-only: shared with the table). */
  entry: Readonly<MountEntry>;
  /** The request path relative to the mount (no leading `/`). */
  rest: string;
  backend: LogicalBackend;
}

/** Builds the backend of an enabled auth method over its own storage (`auth/<uuid>/`), per method type. */
export type CredentialFactories = Readonly<Record<string, (storage: Storage, entry: Readonly<MountEntry>) => LogicalBackend>>;

/** Options of {@link MountTable}. */
export interface MountTableOptions {
  /** Clock in epoch milliseconds handed to the KV v2 backends (tests inject one). */
  now?: () => number;
  /** The auth method types that can be enabled (e.g. `userpass`); none by default. */
  credentials?: CredentialFactories;
  /**
   * Runs after an auth method was removed from the table and before its data is deleted: the core revokes the
   * tokens it issued and removes its entity aliases, as Vault does on disable.
   */
  onAuthDisabled?: (entry: Readonly<MountEntry>) => Promise<void>;
}

interface StoredTable {
  version: 1;
  entries: MountEntry[];
}

/** Paths no user mount may take or start with (Vault's protectedMounts). */
const PROTECTED = ['audit/', 'auth/', 'sys/', 'cubbyhole/', 'identity/'];

function accessorFor(type: string): string {
  return `${type}_${randomUUID().slice(0, 8)}`;
}

/** Auth-method paths no method may take: the token store's own. */
const TOKEN_AUTH_PATH = 'token/';

function systemMount(): MountEntry {
  return {
    path: 'sys/',
    type: 'system',
    description: 'system endpoints used for control, policy and debugging',
    accessor: accessorFor('system'),
    uuid: randomUUID(),
    options: null,
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
    local: false,
    seal_wrap: true,
    external_entropy_access: false,
  };
}

function tokenAuthMount(): MountEntry {
  return {
    path: 'token/',
    type: 'token',
    description: 'token based credentials',
    accessor: accessorFor('auth_token'),
    uuid: randomUUID(),
    options: null,
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
  };
}

/** How `GET sys/mounts` (and, with `auth`, `GET sys/auth`) shows an entry. */
export function mountInfo(e: MountEntry, auth = false): JsonObject {
  return {
    accessor: e.accessor,
    config: auth ? { ...e.config, token_type: 'default-service' } : { ...e.config },
    description: e.description,
    external_entropy_access: e.external_entropy_access,
    local: e.local,
    options: e.options === null ? null : { ...e.options },
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
    seal_wrap: e.seal_wrap,
    type: e.type,
    uuid: e.uuid,
  };
}

/** The path without leading slashes (most paths have none: no copy then). */
function stripLeadingSlashes(path: string): string {
  return path.charCodeAt(0) === 0x2f ? path.replace(/^\/+/, '') : path;
}

/** Normalizes a mount path: no leading `/`, exactly one trailing `/`. */
function normalizeMountPath(raw: string): string {
  const p = raw.replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '' ? '' : p + '/';
}

function kvVersion(e: MountEntry): string {
  return e.options?.['version'] ?? '1';
}

/** The mount table; `handle` serves paths relative to `sys/` (a leading `sys/` is tolerated). */
export class MountTable implements LogicalBackend {
  private readonly storage: Storage;
  private readonly now: (() => number) | undefined;
  private readonly credentials: CredentialFactories;
  private readonly onAuthDisabled: ((entry: Readonly<MountEntry>) => Promise<void>) | undefined;
  private mounts: MountEntry[] = [];
  private auths: MountEntry[] = [];
  private readonly backends = new Map<string, LogicalBackend>();
  private lock: Promise<unknown> = Promise.resolve();

  /** `storage` is the barrier (or any Storage). */
  constructor(storage: Storage, options: MountTableOptions = {}) {
    this.storage = storage;
    this.now = options.now;
    this.credentials = options.credentials ?? {};
    this.onAuthDisabled = options.onAuthDisabled;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async readTable(key: string): Promise<MountEntry[] | undefined> {
    const bytes = await this.storage.get(key);
    return bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as StoredTable).entries;
  }

  private async writeTable(key: string, entries: MountEntry[]): Promise<void> {
    const table: StoredTable = { version: 1, entries };
    await this.storage.put(key, Buffer.from(JSON.stringify(table), 'utf8'));
  }

  /** Loads the tables, creating the built-in mounts on first start. */
  async load(): Promise<void> {
    const mounts = await this.readTable('core/mounts');
    if (mounts === undefined) {
      this.mounts = [systemMount()];
      await this.writeTable('core/mounts', this.mounts);
    } else this.mounts = mounts;
    const auths = await this.readTable('core/auth');
    if (auths === undefined) {
      this.auths = [tokenAuthMount()];
      await this.writeTable('core/auth', this.auths);
    } else this.auths = auths;
    this.backends.clear();
  }

  /** The secrets-engine mounts (copies). */
  entries(): MountEntry[] {
    return this.mounts.map((e) => ({ ...e }));
  }

  /** The auth-method mounts (copies; paths relative to `auth/`). */
  authEntries(): MountEntry[] {
    return this.auths.map((e) => ({ ...e }));
  }

  private longestMatch(rawPath: string): MountEntry | undefined {
    const path = stripLeadingSlashes(rawPath);
    let best: MountEntry | undefined;
    for (const e of this.mounts) {
      // The path is under the mount, or is the mount path without its trailing slash.
      const matches = path.startsWith(e.path) || (e.path.length === path.length + 1 && e.path.startsWith(path) && e.path.endsWith('/'));
      if (matches && (best === undefined || e.path.length > best.path.length)) best = e;
    }
    return best;
  }

  /**
   * The engine serving `path` (e.g. `secret/data/x`): the longest matching mount, the path relative to it, and its
   * backend over `logical/<uuid>/`. `sys/` and unmounted paths give undefined (the HTTP layer answers those).
   */
  resolve(path: string): ResolvedMount | undefined {
    const entry = this.longestMatch(path);
    if (entry?.type !== 'kv') return undefined;
    const clean = stripLeadingSlashes(path);
    const rest = clean.length >= entry.path.length ? clean.slice(entry.path.length) : '';
    return { entry, rest, backend: this.backendFor(entry) };
  }

  /**
   * The auth method serving `path` (e.g. `auth/userpass/login/x`; the token store is routed before this): the
   * longest matching enabled method, the path relative to it, and its backend over `auth/<uuid>/`.
   */
  resolveAuth(path: string): ResolvedMount | undefined {
    const clean = stripLeadingSlashes(path);
    if (!clean.startsWith('auth/')) return undefined;
    const rel = clean.slice('auth/'.length);
    let best: MountEntry | undefined;
    for (const e of this.auths) {
      if (e.path === TOKEN_AUTH_PATH) continue;
      const matches = rel.startsWith(e.path) || rel + '/' === e.path;
      if (matches && (best === undefined || e.path.length > best.path.length)) best = e;
    }
    if (best === undefined) return undefined;
    const factory = this.credentials[best.type];
    if (factory === undefined) return undefined;
    let backend = this.backends.get(best.uuid);
    if (backend === undefined) {
      backend = factory(new PrefixedStorage(this.storage, `auth/${best.uuid}/`), best);
      this.backends.set(best.uuid, backend);
    }
    return { entry: best, rest: rel.length >= best.path.length ? rel.slice(best.path.length) : '', backend };
  }

  /** The enabled auth method with `accessor` (the token store's included), for entity aliases. */
  authByAccessor(accessor: string): Readonly<MountEntry> | undefined {
    return this.auths.find((e) => e.accessor === accessor);
  }

  /** Makes every mounted engine drop what it keeps decoded in memory, and forgets the engines (call on seal). */
  forgetCaches(): void {
    for (const backend of this.backends.values()) backend.forget?.();
    this.backends.clear();
  }

  private backendFor(entry: MountEntry): LogicalBackend {
    const cached = this.backends.get(entry.uuid);
    if (cached !== undefined) return cached;
    const storage = new PrefixedStorage(this.storage, `logical/${entry.uuid}/`);
    const backend: LogicalBackend =
      kvVersion(entry) === '2' ? new KvV2Backend(storage, this.now === undefined ? {} : { now: this.now }) : new KvV1Backend(storage);
    this.backends.set(entry.uuid, backend);
    return backend;
  }

  /** Mounts an engine (`POST sys/mounts/<path>`). Throws 400 StoreApiError with Vault's messages. */
  async mount(rawPath: string, body: JsonObject): Promise<MountEntry> {
    const path = normalizeMountPath(rawPath);
    if (path === '') throw badRequest('path cannot be empty');
    if (path.split('/').includes('..')) throw badRequest(`'..' not allowed in mount path`);
    const rawType = stringField(body, 'type');
    if (rawType === '') throw badRequest('backend type must be specified as a string');
    const optionsIn = body['options'];
    let options: Record<string, string> | null = null;
    if (optionsIn !== undefined && optionsIn !== null) {
      if (typeof optionsIn !== 'object' || Array.isArray(optionsIn)) throw badRequest('options must be a map of strings');
      options = {};
      for (const [k, v] of Object.entries(optionsIn as Record<string, unknown>)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw badRequest('options must be a map of strings');
        options[k] = String(v);
      }
    }
    let type = rawType;
    if (rawType === 'kv-v1' || rawType === 'kv-v2') {
      type = 'kv';
      options = { ...(options ?? {}), version: rawType === 'kv-v2' ? '2' : '1' };
    }
    if (type !== 'kv') throw badRequest(`plugin not found in the catalog: ${rawType}`);
    const version = options?.['version'];
    if (version !== undefined && version !== '1' && version !== '2') throw badRequest(`invalid version "${version}": only versions 1 and 2 are supported`);
    const configIn = body['config'];
    const cfg = typeof configIn === 'object' && configIn !== null && !Array.isArray(configIn) ? (configIn as JsonObject) : {};
    const config: MountConfig = {
      default_lease_ttl: Math.max(0, parseDurationSeconds(cfg['default_lease_ttl'])),
      max_lease_ttl: Math.max(0, parseDurationSeconds(cfg['max_lease_ttl'])),
      force_no_cache: boolField(cfg, 'force_no_cache', false),
    };
    const entry: MountEntry = {
      path,
      type,
      description: stringField(body, 'description'),
      accessor: accessorFor(type),
      uuid: randomUUID(),
      options,
      config,
      local: boolField(body, 'local', false),
      seal_wrap: boolField(body, 'seal_wrap', false),
      external_entropy_access: boolField(body, 'external_entropy_access', false),
    };
    return this.exclusive(async () => {
      for (const e of this.mounts) {
        if (e.path.startsWith(path) || path.startsWith(e.path)) throw badRequest(`path is already in use at ${e.path}`);
      }
      for (const p of PROTECTED) if (path.startsWith(p)) throw badRequest(`cannot mount "${path}"`);
      const next = [...this.mounts, entry];
      await this.writeTable('core/mounts', next);
      this.mounts = next;
      return { ...entry };
    });
  }

  /** Unmounts an engine and deletes its data (`DELETE sys/mounts/<path>`); an absent mount is not an error. */
  async unmount(rawPath: string): Promise<void> {
    const path = normalizeMountPath(rawPath);
    for (const p of PROTECTED) if (path.startsWith(p)) throw badRequest(`cannot unmount "${path}"`);
    await this.exclusive(async () => {
      const entry = this.mounts.find((e) => e.path === path);
      if (entry === undefined) return;
      const next = this.mounts.filter((e) => e !== entry);
      await this.writeTable('core/mounts', next);
      this.mounts = next;
      this.backends.delete(entry.uuid);
      await deleteTree(this.storage, `logical/${entry.uuid}/`);
    });
  }

  /**
   * Enables an auth method (`POST sys/auth/<path> {"type"}`). Only the types with a registered factory exist; the
   * accessor (`auth_<type>_<8 hex>`) is stored with the entry, so it stays the same across restarts.
   */
  async enableAuth(rawPath: string, body: JsonObject): Promise<MountEntry> {
    const path = normalizeMountPath(rawPath);
    if (path === '') throw badRequest('path cannot be empty');
    if (path.split('/').includes('..')) throw badRequest(`'..' not allowed in mount path`);
    const type = stringField(body, 'type');
    if (type === '') throw badRequest('backend type must be specified as a string');
    if (type === 'token') throw badRequest('token credential backend cannot be instantiated');
    if (this.credentials[type] === undefined) throw badRequest(`plugin not found in the catalog: ${type}`);
    const configIn = body['config'];
    const cfg = typeof configIn === 'object' && configIn !== null && !Array.isArray(configIn) ? (configIn as JsonObject) : {};
    const entry: MountEntry = {
      path,
      type,
      description: stringField(body, 'description'),
      accessor: accessorFor(`auth_${type}`),
      uuid: randomUUID(),
      options: null,
      config: {
        default_lease_ttl: Math.max(0, parseDurationSeconds(cfg['default_lease_ttl'])),
        max_lease_ttl: Math.max(0, parseDurationSeconds(cfg['max_lease_ttl'])),
        force_no_cache: boolField(cfg, 'force_no_cache', false),
      },
      local: boolField(body, 'local', false),
      seal_wrap: boolField(body, 'seal_wrap', false),
      external_entropy_access: false,
    };
    return this.exclusive(async () => {
      for (const e of this.auths) {
        if (e.path.startsWith(path) || path.startsWith(e.path)) throw badRequest(`path is already in use at ${e.path}`);
      }
      const next = [...this.auths, entry];
      await this.writeTable('core/auth', next);
      this.auths = next;
      return { ...entry };
    });
  }

  /**
   * Disables an auth method (`DELETE sys/auth/<path>`): the entry goes first (no new logins), then the core revokes
   * its tokens and removes its aliases, then its data (users) is deleted. An absent path is not an error.
   */
  async disableAuth(rawPath: string): Promise<void> {
    const path = normalizeMountPath(rawPath);
    if (path === TOKEN_AUTH_PATH) throw badRequest('token credential backend cannot be disabled');
    await this.exclusive(async () => {
      const entry = this.auths.find((e) => e.path === path);
      if (entry === undefined) return;
      const next = this.auths.filter((e) => e !== entry);
      await this.writeTable('core/auth', next);
      this.auths = next;
      this.backends.get(entry.uuid)?.forget?.();
      this.backends.delete(entry.uuid);
      await this.onAuthDisabled?.(entry);
      await deleteTree(this.storage, `auth/${entry.uuid}/`);
    });
  }

  /** Serves `mounts[/<path>[/tune]]`, `auth[/<path>[/tune]]` and `internal/ui/mounts[/<path>]` relative to `sys/`. */
  readonly handle: LogicalBackend['handle'] = (req) => this.dispatch(req);

  /** Dispatches one request (the caller context is not needed: the HTTP layer already authorized it). */
  private async dispatch(req: LogicalRequest): Promise<LogicalResponse> {
    const path = (req.path.startsWith('sys/') ? req.path.slice(4) : req.path).replace(/^\/+/, '');
    const op = req.operation;
    const write = op === 'create' || op === 'update';
    if (path === 'mounts' || path === 'mounts/') {
      if (op !== 'read') throw unsupportedOperation();
      return { data: this.listing(this.mounts), topLevelData: true };
    }
    if (path === 'auth' || path === 'auth/') {
      if (op !== 'read') throw unsupportedOperation();
      return { data: this.listing(this.auths, true), topLevelData: true };
    }
    if (path.startsWith('auth/')) return this.authPath(path.slice('auth/'.length), req);
    if (path.startsWith('mounts/')) {
      let target = path.slice('mounts/'.length);
      if (target.endsWith('/tune')) {
        target = target.slice(0, -'/tune'.length);
        if (op === 'read') return { data: this.tuneInfo(this.exact(target)) };
        if (write) return this.tune(target, req.data);
        throw unsupportedOperation();
      }
      if (write) {
        await this.mount(target, req.data);
        return { status: 204 };
      }
      if (op === 'delete') {
        await this.unmount(target);
        return { status: 204 };
      }
      if (op === 'read') return { data: mountInfo(this.exact(target)) };
      throw unsupportedOperation();
    }
    if (path === 'internal/ui/mounts' || path === 'internal/ui/mounts/') {
      if (op !== 'read') throw unsupportedOperation();
      return { data: { secret: this.listing(this.mounts), auth: this.listing(this.auths, true) } };
    }
    if (path.startsWith('internal/ui/mounts/')) {
      if (op !== 'read') throw unsupportedOperation();
      const target = path.slice('internal/ui/mounts/'.length);
      const entry = this.longestMatch(target);
      if (entry === undefined) {
        throw new StoreApiError(
          403,
          `preflight capability check returned 403, please ensure client's policies grant access to path "${normalizeMountPath(target)}"`,
        );
      }
      return { data: { ...mountInfo(entry), path: entry.path } };
    }
    throw noHandler(`sys/${path}`);
  }

  private listing(entries: MountEntry[], auth = false): JsonObject {
    const out: JsonObject = {};
    for (const e of entries) out[e.path] = mountInfo(e, auth);
    return out;
  }

  /** `sys/auth/<path>` (enable, disable, read) and `sys/auth/<path>/tune`. */
  private async authPath(target: string, req: LogicalRequest): Promise<LogicalResponse> {
    const op = req.operation;
    const write = op === 'create' || op === 'update';
    if (target.endsWith('/tune')) {
      const path = target.slice(0, -'/tune'.length);
      if (op === 'read') return { data: { ...this.tuneInfo(this.exactAuth(path)), token_type: 'default-service' } };
      if (write) return this.tuneAuth(path, req.data);
      throw unsupportedOperation();
    }
    if (write) {
      await this.enableAuth(target, req.data);
      return { status: 204 };
    }
    if (op === 'delete') {
      await this.disableAuth(target);
      return { status: 204 };
    }
    if (op === 'read') return { data: mountInfo(this.exactAuth(target), true) };
    throw unsupportedOperation();
  }

  private exactAuth(target: string): MountEntry {
    const path = normalizeMountPath(target);
    const entry = this.auths.find((e) => e.path === path);
    if (entry === undefined) throw badRequest(`No auth engine at ${path}`);
    return entry;
  }

  private async tuneAuth(target: string, body: JsonObject): Promise<LogicalResponse> {
    return this.exclusive(async () => {
      const entry = this.exactAuth(target);
      const list = this.auths.map((e) => (e === entry ? tunedEntry(entry, body) : e));
      await this.writeTable('core/auth', list);
      this.auths = list;
      return { status: 204 };
    });
  }

  private exact(target: string): MountEntry {
    const path = normalizeMountPath(target);
    const entry = this.mounts.find((e) => e.path === path);
    if (entry === undefined) throw badRequest(`No secret engine mount at ${path}`);
    return entry;
  }

  private tuneInfo(e: MountEntry): JsonObject {
    return {
      default_lease_ttl: e.config.default_lease_ttl === 0 ? DEFAULT_TOKEN_TTL : e.config.default_lease_ttl,
      max_lease_ttl: e.config.max_lease_ttl === 0 ? DEFAULT_TOKEN_TTL : e.config.max_lease_ttl,
      force_no_cache: e.config.force_no_cache,
      description: e.description,
      options: e.options === null ? null : { ...e.options },
    };
  }

  private async tune(target: string, body: JsonObject): Promise<LogicalResponse> {
    return this.exclusive(async () => {
      const entry = this.exact(target);
      const opts = body['options'];
      if (typeof opts === 'object' && opts !== null && !Array.isArray(opts)) {
        const version = (opts as JsonObject)['version'];
        if ((typeof version === 'string' || typeof version === 'number') && String(version) !== kvVersion(entry)) {
          throw badRequest('changing the KV version of a mount is not supported by this store');
        }
      }
      const list = this.mounts.map((e) => (e === entry ? tunedEntry(entry, body) : e));
      await this.writeTable('core/mounts', list);
      this.mounts = list;
      return { status: 204 };
    });
  }
}

/** A copy of `entry` with the tunable settings present in `body` (description, lease TTLs) applied. */
function tunedEntry(entry: MountEntry, body: JsonObject): MountEntry {
  const next: MountEntry = { ...entry, config: { ...entry.config } };
  if (body['description'] !== undefined) next.description = stringField(body, 'description');
  if (body['default_lease_ttl'] !== undefined) next.config.default_lease_ttl = Math.max(0, parseDurationSeconds(body['default_lease_ttl']));
  if (body['max_lease_ttl'] !== undefined) next.config.max_lease_ttl = Math.max(0, parseDurationSeconds(body['max_lease_ttl']));
  return next;
}

/** Deletes every key under `prefix` (which ends with `/`), depth first. */
async function deleteTree(storage: Storage, prefix: string): Promise<void> {
  for (const child of await storage.list(prefix)) {
    if (child.endsWith('/')) await deleteTree(storage, prefix + child);
    else await storage.delete(prefix + child);
  }
}
