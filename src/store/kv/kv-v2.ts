/**
 * KV version 2 (Vault's versioned key-value engine) for one mount: `data/` (versioned reads, writes with
 * check-and-set, merge PATCH, soft delete), `delete/`, `undelete/`, `destroy/`, `metadata/` (read, write, patch,
 * delete, list), `subkeys/` and `config`. Layout in the mount's storage: `config`; `metadata/<path>` (JSON
 * {@link KeyMeta}); `versions/<sha256(path)>/<n>` (each version's data, JSON). Writes to one mount are serialized
 * so check-and-set cannot race.
 */
import { StoreApiError, badRequest, notFound, unsupportedOperation } from '../api-error.js';
import type { LogicalBackend } from '../backend.js';
import type { JsonObject, LogicalRequest, LogicalResponse } from '../logical.js';
import { writeInOrder, type Storage } from '../storage/storage.js';
import { sha256 } from '../../crypto.js';
import { parseDurationSeconds } from '../tokens/duration.js';
import { boolField, intField, intListField, stringMapField } from '../tokens/fields.js';
import { KvReadCache, type CachedVersion } from './kv-v2-read-cache.js';
import {
  addVersion,
  configData,
  defaultConfig,
  effectiveDeleteAfter,
  isDeleted,
  metadataData,
  newKeyMeta,
  versionInfo,
  type KeyMeta,
  type KvConfig,
  type VersionMeta,
} from './kv-v2-metadata.js';

/** Options of {@link KvV2Backend}. */
export interface KvV2Options {
  /** Clock in epoch milliseconds (tests inject one). */
  now?: () => number;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) Reflect.deleteProperty(out, k);
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The `?version=` of a read: 0 (current) when absent or empty, undefined when malformed. */
function versionNumber(query: Record<string, string>): number | undefined {
  const raw = query['version'];
  if (raw === undefined || raw === '') return 0;
  return /^[0-9]{1,15}$/.test(raw) ? Number(raw) : undefined;
}

/** Parses stored JSON and zeroes the bytes it came from (a fresh copy from the storage). */
function parseWiping(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } finally {
    bytes.fill(0);
  }
}

/** The version settings a `config` or `metadata/<key>` write may carry (absent ones undefined), validated as Vault does. */
function versionSettings(body: JsonObject): { maxVersions?: number; casRequired?: boolean; deleteVersionAfter?: number } {
  const out: { maxVersions?: number; casRequired?: boolean; deleteVersionAfter?: number } = {};
  if (body['max_versions'] !== undefined) {
    const mv = intField(body, 'max_versions', 0);
    if (mv < 0) throw badRequest('max_versions must be a non-negative integer');
    out.maxVersions = mv;
  }
  if (body['cas_required'] !== undefined) out.casRequired = boolField(body, 'cas_required', false);
  if (body['delete_version_after'] !== undefined) {
    const dva = parseDurationSeconds(body['delete_version_after']);
    out.deleteVersionAfter = dva < 0 ? 0 : dva;
  }
  return out;
}

/** Vault's limits on custom_metadata. */
function validateCustomMetadata(m: Record<string, string>): void {
  const prefix = 'custom_metadata validation failed: ';
  const keys = Object.keys(m);
  if (keys.length > 64) throw badRequest(`${prefix}${keys.length} custom_metadata keys provided, but only 64 allowed`);
  for (const k of keys) {
    if (k.length > 128) throw badRequest(`${prefix}length of key "${k}" is ${k.length} which exceeds the maximum length of 128`);
    const v = m[k] ?? '';
    if (v.length > 512) throw badRequest(`${prefix}length of value for key "${k}" is ${v.length} which exceeds the maximum length of 512`);
  }
}

const INVALID_PATH_COMMAND: Readonly<Record<string, string>> = {
  create: 'put',
  update: 'put',
  patch: 'patch',
  read: 'get',
  list: 'list',
  delete: 'delete',
};

/** Most key paths whose version folder name (a SHA-256) a backend remembers. */
export const VERSION_FOLDER_CACHE_ENTRIES = 1024;

/** A KV v2 backend over a mount's own storage. */
export class KvV2Backend implements LogicalBackend {
  private readonly storage: Storage;
  private readonly now: () => number;
  /** The last whole-mount write (config): every later write waits for it. */
  private mountLock: Promise<unknown> = Promise.resolve();
  /** The last write of each key still running or queued: later writes of that key wait for it. */
  private readonly keyLocks = new Map<string, Promise<unknown>>();
  /** Key path → `versions/<sha256(path)>/`: a pure function, remembered so hot reads hash nothing. */
  private readonly versionFolders = new Map<string, string>();
  /** Decoded metadata and version data for reads (writers parse their own copies). */
  private readonly reads = new KvReadCache();

  /** `storage` is the mount's namespace (a PrefixedStorage over the barrier). */
  constructor(storage: Storage, options: KvV2Options = {}) {
    this.storage = storage;
    this.now = options.now ?? Date.now;
  }

  /**
   * Runs a write of `key` after every earlier write of the same key and every earlier whole-mount write (so
   * check-and-set cannot race), or — `key` undefined — a whole-mount write after every earlier write of any key;
   * writes of different keys run concurrently (so the storage can commit them together, e.g. one fsync for a batch).
   * The decoded reads of `key` (of every key when undefined) are invalidated before and after it.
   */
  private exclusive<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      this.invalidate(key);
      try {
        return await fn();
      } finally {
        this.invalidate(key);
      }
    };
    const before =
      key === undefined
        ? Promise.all([this.mountLock, ...this.keyLocks.values()])
        : Promise.all([this.mountLock, this.keyLocks.get(key)]);
    const run = before.then(guarded, guarded);
    const tail = run.catch(() => undefined);
    if (key === undefined) {
      this.mountLock = tail;
      this.keyLocks.clear();
    } else {
      this.keyLocks.set(key, tail);
      void tail.then(() => {
        if (this.keyLocks.get(key) === tail) this.keyLocks.delete(key);
      });
    }
    return run;
  }

  private invalidate(key: string | undefined): void {
    if (key === undefined) this.reads.clear();
    else this.reads.invalidate(key);
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const bytes = await this.storage.get(key);
    return bytes === undefined ? undefined : parseWiping(bytes) as T;
  }

  private putJson(key: string, value: unknown): Promise<void> {
    return this.storage.put(key, jsonBytes(value));
  }

  private async config(): Promise<KvConfig> {
    return (await this.getJson<KvConfig>('config')) ?? defaultConfig();
  }

  /** A key's metadata as a private, mutable copy (for writers). */
  private meta(path: string): Promise<KeyMeta | undefined> {
    return this.getJson<KeyMeta>('metadata/' + path);
  }

  /** A key's metadata for readers: shared and frozen, from the decoded-read cache when it holds it. */
  private async readMeta(path: string): Promise<KeyMeta | undefined> {
    const hit = this.reads.meta(path);
    if (hit !== undefined) return hit;
    const epoch = this.reads.epoch;
    const bytes = await this.storage.get('metadata/' + path);
    if (bytes === undefined) return undefined;
    const size = bytes.length;
    return this.reads.rememberMeta(path, parseWiping(bytes) as KeyMeta, size, epoch);
  }

  /** Version `n` of a key for readers (shared, frozen), with its `metadata` object; undefined when its data is gone. */
  private async readVersion(path: string, meta: KeyMeta, n: number, vm: VersionMeta): Promise<CachedVersion | undefined> {
    const hit = this.reads.version(path, n);
    if (hit !== undefined) return hit;
    const epoch = this.reads.epoch;
    const bytes = await this.storage.get(this.versionKey(path, n));
    if (bytes === undefined) return undefined;
    const size = bytes.length;
    const value: CachedVersion = { data: parseWiping(bytes) as JsonObject, metadata: versionInfo(meta, n, vm) };
    this.reads.rememberVersion(path, n, value, size, epoch);
    return value;
  }

  private versionFolder(path: string): string {
    let folder = this.versionFolders.get(path);
    if (folder === undefined) {
      folder = `versions/${sha256(path).toString('hex')}/`;
      if (this.versionFolders.size >= VERSION_FOLDER_CACHE_ENTRIES) this.versionFolders.clear();
      this.versionFolders.set(path, folder);
    }
    return folder;
  }

  private versionKey(path: string, n: number): string {
    return this.versionFolder(path) + String(n);
  }

  /** Existence check (create vs update): `data/<p>` and `metadata/<p>` exist when the key has metadata. */
  async exists(path: string): Promise<boolean | undefined> {
    const m = /^(data|metadata)\/(.+)$/.exec(path.replace(/^\/+/, ''));
    if (m === null || (m[2] ?? '').endsWith('/')) return undefined;
    return (await this.readMeta(m[2] ?? '')) !== undefined;
  }

  /** Drops the decoded reads (on seal): a read still in flight then goes to the (sealed) storage. */
  forget(): void {
    this.reads.clear();
  }

  /** Serves one request relative to the mount; a read whose answer is fully cached is answered without waiting. */
  readonly handle: LogicalBackend['handle'] = (req) => {
    if (req.operation === 'read') {
      const hot = this.readDataCached(req);
      if (hot !== undefined) return Promise.resolve(hot);
    }
    return this.dispatch(req);
  };

  /** A `data/<key>` read answered from the decoded-read cache alone, or undefined when that is not possible. */
  private readDataCached(req: LogicalRequest): LogicalResponse | undefined {
    const path = req.path.startsWith('/') ? req.path.replace(/^\/+/, '') : req.path;
    if (!path.startsWith('data/') || path.length === 5) return undefined;
    const key = path.slice(5);
    const meta = this.reads.meta(key);
    if (meta === undefined) return undefined;
    // A malformed ?version= takes the full path, which answers it with its 400.
    const requested = versionNumber(req.query);
    if (requested === undefined) return undefined;
    const picked = this.pickVersion(meta, requested);
    if (picked === undefined || picked.gone) return undefined;
    const version = this.reads.version(key, picked.n);
    // The frozen object itself: its serialized form is remembered too (see renderLogical).
    return version === undefined ? undefined : { data: version };
  }

  /** The version a read asks for (`requested`, 0 = the current one) and whether it is gone; undefined when absent. */
  private pickVersion(meta: KeyMeta, requested: number): { n: number; vm: VersionMeta; gone: boolean } | undefined {
    const n = requested === 0 ? meta.currentVersion : requested;
    const vm = meta.versions[String(n)];
    if (vm === undefined) return undefined;
    return { n, vm, gone: vm.destroyed || isDeleted(vm, this.now()) };
  }

  /** Dispatches one request (the caller context is not needed: the HTTP layer already authorized it). */
  private async dispatch(req: LogicalRequest): Promise<LogicalResponse> {
    const path = req.path.replace(/^\/+/, '');
    const op = req.operation;
    const write = op === 'create' || op === 'update';
    if (path === 'config') {
      if (op === 'read') return { data: configData(await this.config()) };
      if (write) return this.exclusive(undefined, () => this.writeConfig(req.data));
      throw unsupportedOperation();
    }
    const slash = path.indexOf('/');
    const section = slash === -1 ? path : path.slice(0, slash);
    const key = slash === -1 ? '' : path.slice(slash + 1);
    switch (section) {
      case 'data':
        if (op === 'read') return this.readData(key, req.query);
        if (write) return this.exclusive(key, () => this.writeData(key, req.data, false));
        if (op === 'patch') return this.exclusive(key, () => this.writeData(key, req.data, true));
        if (op === 'delete') return this.exclusive(key, () => this.softDeleteLatest(key));
        throw unsupportedOperation();
      case 'subkeys':
        if (op === 'read') return this.readSubkeys(key, req.query);
        throw unsupportedOperation();
      case 'delete':
      case 'undelete':
      case 'destroy':
        if (!write) throw unsupportedOperation();
        return this.exclusive(key, () => this.changeVersions(section, key, req.data));
      case 'metadata':
        if (op === 'list') return this.listMetadata(key);
        if (op === 'read') return this.readMetadata(key);
        if (write || op === 'patch') return this.exclusive(key, () => this.writeMetadata(key, req.data, op === 'patch'));
        return this.exclusive(key, () => this.deleteMetadata(key));
      default:
        // Vault's pathInvalid: a v1-style path on a v2 mount.
        return {
          status: 404,
          data: null,
          warnings: [
            `Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv ${INVALID_PATH_COMMAND[op] ?? 'get'}' for this operation.`,
          ],
        };
    }
  }

  private async writeConfig(data: JsonObject): Promise<LogicalResponse> {
    const cfg = await this.config();
    const set = versionSettings(data);
    if (set.maxVersions !== undefined) cfg.max_versions = set.maxVersions;
    if (set.casRequired !== undefined) cfg.cas_required = set.casRequired;
    if (set.deleteVersionAfter !== undefined) cfg.delete_version_after = set.deleteVersionAfter;
    await this.putJson('config', cfg);
    return { status: 204 };
  }

  private requireKey(key: string): void {
    if (key === '') throw badRequest('missing path');
  }

  private versionParam(query: Record<string, string>): number {
    const n = versionNumber(query);
    if (n === undefined) throw badRequest(`error converting input ${query['version'] ?? ''} for field "version"`);
    return n;
  }

  /** Resolves a read to its version, or a 404 response (plain or with the metadata envelope). */
  private async readable(key: string, query: Record<string, string>): Promise<{ meta: KeyMeta; n: number; vm: VersionMeta; gone: boolean }> {
    this.requireKey(key);
    const meta = await this.readMeta(key);
    if (meta === undefined) throw notFound();
    const picked = this.pickVersion(meta, this.versionParam(query));
    if (picked === undefined) throw notFound();
    return { meta, ...picked };
  }

  /** The live version a read asked for, or the 404 response (with the metadata envelope) of a deleted one. */
  private async readLive(key: string, query: Record<string, string>, field: string): Promise<CachedVersion | LogicalResponse> {
    const r = await this.readable(key, query);
    if (r.gone) return { status: 404, data: { [field]: null, metadata: versionInfo(r.meta, r.n, r.vm) } };
    const version = await this.readVersion(key, r.meta, r.n, r.vm);
    if (version === undefined) throw new StoreApiError(500, 'could not find version data');
    return version;
  }

  private async readData(key: string, query: Record<string, string>): Promise<LogicalResponse> {
    const v = await this.readLive(key, query, 'data');
    if (!('metadata' in v)) return v;
    return { data: v };
  }

  private async readSubkeys(key: string, query: Record<string, string>): Promise<LogicalResponse> {
    const depthRaw = query['depth'] ?? '0';
    const v = await this.readLive(key, query, 'subkeys');
    if (!('metadata' in v)) return v;
    if (!/^[0-9]{1,6}$/.test(depthRaw)) throw badRequest(`error converting input ${depthRaw} for field "depth"`);
    const depth = Number(depthRaw);
    const walk = (o: Readonly<JsonObject>, level: number): JsonObject => {
      const out: JsonObject = {};
      for (const [k, val] of Object.entries(o)) out[k] = isObject(val) && (depth === 0 || level < depth) ? walk(val, level + 1) : null;
      return out;
    };
    return { data: { subkeys: walk(v.data, 1), metadata: v.metadata } };
  }

  private async writeData(key: string, body: JsonObject, patch: boolean): Promise<LogicalResponse> {
    this.requireKey(key);
    const input = body['data'];
    if (!isObject(input)) throw badRequest('no data provided');
    const options = body['options'];
    const cas = isObject(options) && options['cas'] !== undefined && options['cas'] !== null ? intField(options, 'cas', 0) : undefined;
    const cfg = await this.config();
    const existing = await this.meta(key);
    if (patch && existing === undefined) throw notFound();
    const meta = existing ?? newKeyMeta();
    if (cas === undefined && (cfg.cas_required || meta.casRequired)) throw badRequest('check-and-set parameter required for this call');
    if (cas !== undefined && cas !== meta.currentVersion) throw badRequest('check-and-set parameter did not match the current version');
    const now = this.now();
    let data: JsonObject = input;
    if (patch) {
      const cur = meta.versions[String(meta.currentVersion)];
      if (cur === undefined || cur.destroyed || isDeleted(cur, now)) throw notFound();
      const current = (await this.getJson<JsonObject>(this.versionKey(key, meta.currentVersion))) ?? {};
      data = mergePatch(current, input) as JsonObject;
    }
    const dva = effectiveDeleteAfter(meta, cfg);
    const vm: VersionMeta = { createdMs: now, deletionMs: dva > 0 ? now + dva * 1000 : 0, destroyed: false };
    const pruned = addVersion(meta, vm, cfg);
    // In this order, in one durability wait: the version, then the metadata that makes it current, then the pruned
    // versions oldest first. A crash leaves a prefix (a version nothing points to yet, or a cleanup the next write
    // resumes), exactly as when each write was awaited in turn.
    await writeInOrder(this.storage, [
      [this.versionKey(key, meta.currentVersion), jsonBytes(data)],
      ['metadata/' + key, jsonBytes(meta)],
      ...pruned.map((n) => [this.versionKey(key, n), undefined] as const),
    ]);
    const info = versionInfo(meta, meta.currentVersion, vm);
    return { data: info };
  }

  private async softDeleteLatest(key: string): Promise<LogicalResponse> {
    this.requireKey(key);
    const meta = await this.meta(key);
    if (meta === undefined) return { status: 204 };
    const vm = meta.versions[String(meta.currentVersion)];
    const now = this.now();
    if (vm !== undefined && !vm.destroyed && !isDeleted(vm, now)) {
      vm.deletionMs = now;
      await this.putJson('metadata/' + key, meta);
    }
    return { status: 204 };
  }

  private async changeVersions(action: 'delete' | 'undelete' | 'destroy', key: string, body: JsonObject): Promise<LogicalResponse> {
    this.requireKey(key);
    const versions = intListField(body, 'versions');
    if (versions.length === 0) throw badRequest('no version number provided');
    const meta = await this.meta(key);
    if (meta === undefined) return { status: 204 };
    const now = this.now();
    for (const n of versions) {
      const vm = meta.versions[String(n)];
      if (vm === undefined) continue;
      if (action === 'delete') {
        if (!vm.destroyed && !isDeleted(vm, now)) vm.deletionMs = now;
      } else if (action === 'undelete') {
        if (!vm.destroyed) vm.deletionMs = 0;
      } else {
        vm.destroyed = true;
        await this.storage.delete(this.versionKey(key, n));
      }
    }
    await this.putJson('metadata/' + key, meta);
    return { status: 204 };
  }

  private async listMetadata(key: string): Promise<LogicalResponse> {
    const prefix = key === '' || key.endsWith('/') ? key : key + '/';
    const keys = await this.storage.list('metadata/' + prefix);
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  }

  private async readMetadata(key: string): Promise<LogicalResponse> {
    this.requireKey(key);
    const meta = await this.readMeta(key);
    if (meta === undefined) throw notFound();
    return { data: metadataData(meta) };
  }

  private async writeMetadata(key: string, body: JsonObject, patch: boolean): Promise<LogicalResponse> {
    this.requireKey(key);
    const existing = await this.meta(key);
    if (patch && existing === undefined) throw notFound();
    const meta = existing ?? newKeyMeta();
    const set = versionSettings(body);
    if (set.maxVersions !== undefined) meta.maxVersions = set.maxVersions;
    if (set.casRequired !== undefined) meta.casRequired = set.casRequired;
    if (set.deleteVersionAfter !== undefined) meta.deleteVersionAfter = set.deleteVersionAfter;
    if (body['custom_metadata'] !== undefined) {
      let custom: Record<string, string> | undefined;
      if (patch && isObject(body['custom_metadata'])) {
        const merged = mergePatch(meta.customMetadata ?? {}, body['custom_metadata']);
        custom = stringMapField({ custom_metadata: merged }, 'custom_metadata');
      } else custom = stringMapField(body, 'custom_metadata');
      if (custom !== undefined) validateCustomMetadata(custom);
      meta.customMetadata = custom === undefined ? null : custom;
    }
    if (existing === undefined) {
      const now = this.now();
      meta.createdMs = now;
      meta.updatedMs = now;
    }
    await this.putJson('metadata/' + key, meta);
    return { status: 204 };
  }

  private async deleteMetadata(key: string): Promise<LogicalResponse> {
    this.requireKey(key);
    const meta = await this.meta(key);
    if (meta === undefined) return { status: 204 };
    const folder = this.versionFolder(key);
    for (const n of await this.storage.list(folder)) await this.storage.delete(folder + n);
    await this.storage.delete('metadata/' + key);
    return { status: 204 };
  }
}

/** A stored JSON document's bytes. */
function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
