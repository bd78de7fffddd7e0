/**
 * The token store (`auth/token/*`): service tokens with policies, TTLs, periods, use counts and a parent/child tree
 * (revoking a token revokes its descendants). Token ids (`hvs.` + 24 base62) are never stored: every record is keyed
 * by HMAC-SHA256(salt, id) with a random per-store salt kept in storage, as Vault's salted ids are, so a storage
 * dump does not yield usable tokens, and lookups compare hashes rather than secrets.
 *
 * Layout under `sys/token/`: `salt`; `id/<hash>` (the record); `accessor/<hash(accessor)>` → the record's hash;
 * `parent/<parent hash>/<child hash>` (the tree).
 */
import { StoreApiError, badRequest, noHandler, permissionDenied, unsupportedOperation } from '../api-error.js';
import type { CallerContext, LogicalBackend } from '../backend.js';
import type { LoginPlan, LogicalAuth, LogicalRequest, LogicalResponse } from '../logical.js';
import type { IdentityPort } from '../identity/identity-types.js';
import { PrefixedStorage, type Storage } from '../storage/storage.js';
import { constantTimeEqual, hmacSha256, randomBase62, randomBytes, wipe } from '../../crypto.js';
import { parseDurationSeconds } from './duration.js';
import { stringField } from './fields.js';
import { authBlock, lookupData, publicEntry, sanitizePolicies, type StoredToken, type TokenEntry } from './token-entry.js';
import { planChildToken, type CreatePlan } from './token-create.js';
import { planLoginToken } from './login-token.js';
import { TokenRoleStore, matchesGlobList, type TokenRole } from './token-roles.js';
import { calculateTtl } from './ttl.js';

export type { TokenEntry } from './token-entry.js';

/** Vault's system default and maximum lease TTL: 768h (32 days). */
export const DEFAULT_TOKEN_TTL = 768 * 3600;

/** Options of {@link TokenStore}. */
export interface TokenStoreOptions {
  /** Clock in epoch milliseconds (tests inject one). */
  now?: () => number;
  /** Default TTL of new tokens in seconds (default 768h). */
  defaultTtl?: number;
  /** Maximum TTL in seconds (default 768h). */
  maxTtl?: number;
}

/** Longest token id accepted for lookup; anything longer cannot be ours and is not hashed. */
const MAX_TOKEN_LENGTH = 1024;
/** Deepest parent chain walked when checking that a token's ancestors are live (a bound against corrupt data). */
const MAX_PARENT_DEPTH = 64;

/** Most token ids whose salted hash a {@link TokenStore} remembers (oldest dropped first). */
export const TOKEN_KEY_CACHE_ENTRIES = 1024;
/** Most token entries kept decoded in memory (a service minting many short-lived tokens must not grow it without bound). */
export const TOKEN_ENTRY_CACHE_ENTRIES = 4096;

/** A remembered token id → salted hash mapping; `id` is the token's bytes, for the constant-time confirm. */
interface KeyCacheEntry {
  id: Buffer;
  key: string;
}

interface AccessorIndex {
  accessor: string;
  key: string;
}

/** The token store. `handle` serves paths relative to `auth/token/` (a leading `auth/token/` is tolerated). */
export class TokenStore implements LogicalBackend {
  private readonly storage: Storage;
  private readonly now: () => number;
  private readonly defaultTtl: number;
  private readonly maxTtl: number;
  private saltPromise: Promise<Buffer> | undefined;
  private readonly cache = new Map<string, StoredToken>();
  /** Token id → salted hash, for ids that resolved to a live token (insertion order = eviction order). */
  private readonly keyCache = new Map<string, KeyCacheEntry>();
  /** The public view of each cached entry, built once: entries are replaced on save, never changed in place. */
  private readonly views = new WeakMap<StoredToken, TokenEntry>();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly roles: TokenRoleStore;
  private identity: IdentityPort | undefined;
  /** The token auth mount's accessor (aliases of `entity_alias` are made on it). */
  private tokenMountAccessor = '';

  /** `storage` is the barrier (or any Storage); tokens live under `sys/token/` in it. */
  constructor(storage: Storage, options: TokenStoreOptions = {}) {
    this.storage = new PrefixedStorage(storage, 'sys/token/');
    this.roles = new TokenRoleStore(this.storage);
    this.now = options.now ?? Date.now;
    this.defaultTtl = options.defaultTtl ?? DEFAULT_TOKEN_TTL;
    this.maxTtl = options.maxTtl ?? DEFAULT_TOKEN_TTL;
  }

  /** Runs `fn` after every earlier mutation finished, so read-modify-write sequences never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private salt(): Promise<Buffer> {
    this.saltPromise ??= (async () => {
      const existing = await this.storage.get('salt');
      if (existing !== undefined && existing.length === 32) return existing;
      const fresh = randomBytes(32);
      await this.storage.put('salt', fresh);
      return fresh;
    })();
    return this.saltPromise;
  }

  /** The salted hash a token id is stored under. */
  private async keyOf(token: string): Promise<string> {
    return hmacSha256(await this.salt(), 'token:' + token).toString('hex');
  }

  /**
   * The salted hash of a token id, remembered for ids that resolved to a live token: the HMAC is a pure function of
   * (salt, id), so the mapping never goes stale, while expiry, revocation and num_uses are still checked on every
   * request against the entry itself (whose cache every save and removal updates). The map lookup compares the id
   * as a string; the hit is then confirmed in constant time against the remembered bytes.
   */
  private async keyOfCached(token: string): Promise<string> {
    const hit = this.keyCache.get(token);
    if (hit !== undefined) {
      const presented = Buffer.from(token, 'utf8');
      const same = constantTimeEqual(presented, hit.id);
      wipe(presented);
      if (same) return hit.key;
    }
    return this.keyOf(token);
  }

  private rememberKey(token: string, key: string): void {
    if (this.keyCache.has(token)) return;
    if (this.keyCache.size >= TOKEN_KEY_CACHE_ENTRIES) {
      const oldest = this.keyCache.entries().next();
      if (oldest.done !== true) {
        wipe(oldest.value[1].id);
        this.keyCache.delete(oldest.value[0]);
      }
    }
    this.keyCache.set(token, { id: Buffer.from(token, 'utf8'), key });
  }

  private forgetKey(token: string): void {
    const hit = this.keyCache.get(token);
    if (hit === undefined) return;
    wipe(hit.id);
    this.keyCache.delete(token);
  }

  /**
   * Connects the identity store: `entity_alias` on role-based creates, and `identity_policies` in lookups. Without
   * it (unit tests of tokens alone) tokens have no entities.
   */
  attachIdentity(identity: IdentityPort, tokenMountAccessor: string): void {
    this.identity = identity;
    this.tokenMountAccessor = tokenMountAccessor;
  }

  /** Drops every cached token mapping and entry, wiping the token bytes (call when the store seals). */
  forgetSecrets(): void {
    for (const e of this.keyCache.values()) wipe(e.id);
    this.keyCache.clear();
    this.cache.clear();
  }

  /** How many token ids have a remembered salted hash (for tests). */
  get cachedTokenKeys(): number {
    return this.keyCache.size;
  }

  /** How many token entries are kept decoded (for tests). */
  get cachedTokenEntries(): number {
    return this.cache.size;
  }

  private async accessorKeyOf(accessor: string): Promise<string> {
    return hmacSha256(await this.salt(), 'accessor:' + accessor).toString('hex');
  }

  private async load(key: string): Promise<StoredToken | undefined> {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const bytes = await this.storage.get('id/' + key);
    if (bytes === undefined) return undefined;
    const entry = JSON.parse(bytes.toString('utf8')) as StoredToken;
    this.remember(entry);
    return entry;
  }

  private async save(entry: StoredToken): Promise<void> {
    await this.storage.put('id/' + entry.key, Buffer.from(JSON.stringify(entry), 'utf8'));
    this.remember(entry);
  }

  /** Caches an entry; past {@link TOKEN_ENTRY_CACHE_ENTRIES} the oldest goes (it is read from storage again when needed). */
  private remember(entry: StoredToken): void {
    this.cache.delete(entry.key);
    if (this.cache.size >= TOKEN_ENTRY_CACHE_ENTRIES) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(entry.key, entry);
  }

  private expired(entry: StoredToken): boolean {
    return entry.expire_time !== 0 && this.now() >= entry.expire_time;
  }

  /**
   * The live record for `key`: undefined when absent, expired, or when an ancestor is gone or expired (a child
   * never outlives its parent). Expired trees are revoked on the way.
   */
  private async live(key: string, inLock = false): Promise<StoredToken | undefined> {
    const revoke = (k: string): Promise<void> => (inLock ? this.revokeTree(k) : this.exclusive(() => this.revokeTree(k)));
    const entry = await this.load(key);
    if (entry === undefined) return undefined;
    let cursor: StoredToken = entry;
    for (let depth = 0; ; depth++) {
      if (this.expired(cursor)) {
        await revoke(cursor.key);
        return undefined;
      }
      if (cursor.parentKey === '' || depth > MAX_PARENT_DEPTH) return entry;
      const parent = await this.load(cursor.parentKey);
      if (parent === undefined) {
        // A half-finished revocation (crash): finish it for this branch.
        await revoke(cursor.key);
        return undefined;
      }
      cursor = parent;
    }
  }

  /** Creates a root token (init, generate-root): policies ["root"], no TTL, path `auth/token/root`. */
  async createRoot(): Promise<string> {
    return this.exclusive(async () => {
      const id = 'hvs.' + randomBase62(24);
      const nowMs = this.now();
      const entry: StoredToken = {
        version: 1,
        key: await this.keyOf(id),
        parentKey: '',
        accessor: randomBase62(24),
        policies: ['root'],
        meta: null,
        display_name: 'root',
        parent: '',
        creation_time: Math.floor(nowMs / 1000),
        ttl: 0,
        explicit_max_ttl: 0,
        period: 0,
        num_uses: 0,
        renewable: false,
        orphan: true,
        path: 'auth/token/root',
        type: 'service',
        expire_time: 0,
        issueMs: nowMs,
        lastRenewalMs: 0,
        lease: false,
      };
      await this.insert(entry);
      return id;
    });
  }

  /** The token's entry, or undefined when unknown, revoked or expired. Lookup is by salted hash, never by id. */
  async resolve(token: string): Promise<TokenEntry | undefined> {
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) return undefined;
    const key = await this.keyOfCached(token);
    const entry = await this.live(key);
    if (entry === undefined) {
      this.forgetKey(token);
      return undefined;
    }
    // Only ids of live tokens are remembered: unknown ids sent by a client must not push real ones out.
    this.rememberKey(token, key);
    return this.view(entry);
  }

  /**
   * {@link resolve} answered from memory alone, for the hot path of every request: the entry of a token whose
   * salted hash, entry and ancestors are all cached and unexpired. Undefined means only "not decidable without
   * waiting" (unknown id, an entry not cached, something expired): the caller then uses {@link resolve}, which
   * also revokes what expired.
   */
  resolveCached(token: string): TokenEntry | undefined {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    const hit = this.keyCache.get(token);
    if (hit === undefined) return undefined;
    const presented = Buffer.from(token, 'utf8');
    const same = constantTimeEqual(presented, hit.id);
    wipe(presented);
    if (!same) return undefined;
    const entry = this.cache.get(hit.key);
    if (entry === undefined) return undefined;
    let cursor = entry;
    for (let depth = 0; ; depth++) {
      if (this.expired(cursor)) return undefined;
      if (cursor.parentKey === '' || depth > MAX_PARENT_DEPTH) break;
      const parent = this.cache.get(cursor.parentKey);
      if (parent === undefined) return undefined;
      cursor = parent;
    }
    return this.view(entry);
  }

  /** The frozen public view of a stored entry (shared by every request that resolves it). */
  private view(entry: StoredToken): TokenEntry {
    let view = this.views.get(entry);
    if (view === undefined) {
      view = publicEntry(entry);
      Object.freeze(view.policies);
      if (view.meta !== null) Object.freeze(view.meta);
      Object.freeze(view);
      this.views.set(entry, view);
    }
    return view;
  }

  /**
   * Counts one use of a use-limited token; call it once per request the token authorized, after the request.
   * The use that exhausts the count revokes the token (and its children).
   */
  async consumeUse(token: string): Promise<void> {
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) return;
    const key = await this.keyOfCached(token);
    await this.exclusive(async () => {
      const entry = await this.load(key);
      if (entry === undefined || entry.num_uses <= 0) return;
      if (entry.num_uses === 1) await this.revokeTree(key);
      else await this.save({ ...entry, num_uses: entry.num_uses - 1 });
    });
  }

  private async insert(entry: StoredToken): Promise<void> {
    await this.save(entry);
    const index: AccessorIndex = { accessor: entry.accessor, key: entry.key };
    await this.storage.put('accessor/' + (await this.accessorKeyOf(entry.accessor)), Buffer.from(JSON.stringify(index), 'utf8'));
    if (entry.parentKey !== '') await this.storage.put(`parent/${entry.parentKey}/${entry.key}`, Buffer.alloc(0));
  }

  /** Deletes one record and its indexes (not its children). */
  private async remove(key: string): Promise<void> {
    const entry = await this.load(key);
    if (entry !== undefined) {
      await this.storage.delete('accessor/' + (await this.accessorKeyOf(entry.accessor)));
      if (entry.parentKey !== '') await this.storage.delete(`parent/${entry.parentKey}/${key}`);
    }
    await this.storage.delete('id/' + key);
    this.cache.delete(key);
  }

  /** Revokes a token and all its descendants, deepest first (so a crash never leaves an unreachable child). */
  private async revokeTree(rootKey: string): Promise<void> {
    const order: string[] = [];
    const stack = [rootKey];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const key = stack.pop() as string;
      if (seen.has(key)) continue;
      seen.add(key);
      order.push(key);
      for (const child of await this.storage.list(`parent/${key}/`)) stack.push(child.replace(/\/$/, ''));
    }
    for (const key of order.reverse()) await this.remove(key);
  }

  /** Revokes only `key`; its children become orphans (Vault's revoke-orphan). */
  private async revokeOrphan(key: string): Promise<void> {
    for (const child of await this.storage.list(`parent/${key}/`)) {
      const c = await this.load(child);
      await this.storage.delete(`parent/${key}/${child}`);
      if (c !== undefined) await this.save({ ...c, parentKey: '', parent: '', orphan: true });
    }
    await this.remove(key);
  }

  private async byAccessor(accessor: string): Promise<StoredToken | undefined> {
    if (accessor === '' || accessor.length > MAX_TOKEN_LENGTH) return undefined;
    const bytes = await this.storage.get('accessor/' + (await this.accessorKeyOf(accessor)));
    if (bytes === undefined) return undefined;
    const index = JSON.parse(bytes.toString('utf8')) as AccessorIndex;
    return this.live(index.key);
  }

  private async callerEntry(caller: CallerContext, inLock = false): Promise<StoredToken> {
    if (caller.clientToken === '' || caller.clientToken.length > MAX_TOKEN_LENGTH) throw permissionDenied();
    const entry = await this.live(await this.keyOfCached(caller.clientToken), inLock);
    if (entry === undefined) throw permissionDenied();
    return entry;
  }

  /** Serves `auth/token/*` (paths relative to the mount). */
  async handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    const path = (req.path.startsWith('auth/token/') ? req.path.slice('auth/token/'.length) : req.path).replace(/^\/+/, '');
    const write = req.operation === 'update' || req.operation === 'create';
    const route = (ok: boolean): void => {
      if (!ok) throw unsupportedOperation();
    };
    if (path === 'roles' || path.startsWith('roles/')) {
      const rest = path === 'roles' ? '' : path.slice('roles/'.length);
      return write || req.operation === 'delete' ? this.exclusive(() => this.roles.handle(req, rest)) : this.roles.handle(req, rest);
    }
    if (path.startsWith('create/')) {
      route(write);
      const roleName = path.slice('create/'.length);
      return this.exclusive(() => this.create(req, caller, false, roleName));
    }
    switch (path) {
      case 'create':
      case 'create-orphan':
        route(write);
        return this.exclusive(() => this.create(req, caller, path === 'create-orphan'));
      case 'lookup-self':
        route(req.operation === 'read' || write);
        return this.lookup(await this.callerEntry(caller), caller.clientToken);
      case 'lookup': {
        route(write || req.operation === 'read');
        const id = stringField(req.data, 'token');
        if (id === '') return this.lookup(await this.callerEntry(caller), caller.clientToken);
        const entry = id.length > MAX_TOKEN_LENGTH ? undefined : await this.live(await this.keyOf(id));
        if (entry === undefined) throw badToken();
        return this.lookup(entry, id);
      }
      case 'lookup-accessor': {
        route(write);
        const entry = await this.byAccessor(stringField(req.data, 'accessor'));
        if (entry === undefined) throw badRequest('invalid accessor');
        return this.lookup(entry, '');
      }
      case 'accessors':
      case 'accessors/': {
        route(req.operation === 'list');
        const keys: string[] = [];
        for (const k of await this.storage.list('accessor/')) {
          const bytes = await this.storage.get('accessor/' + k);
          if (bytes !== undefined) keys.push((JSON.parse(bytes.toString('utf8')) as AccessorIndex).accessor);
        }
        return { data: { keys: keys.sort() } };
      }
      case 'renew-self': {
        route(write);
        const entry = await this.callerEntry(caller);
        return this.exclusive(() => this.renew(entry.key, req, caller.clientToken));
      }
      case 'renew': {
        route(write);
        const id = stringField(req.data, 'token');
        if (id === '') throw badRequest('missing token ID');
        const entry = id.length > MAX_TOKEN_LENGTH ? undefined : await this.live(await this.keyOf(id));
        if (entry === undefined) throw badRequest('invalid token');
        return this.exclusive(() => this.renew(entry.key, req, id));
      }
      case 'renew-accessor': {
        route(write);
        const entry = await this.byAccessor(stringField(req.data, 'accessor'));
        if (entry === undefined) throw badRequest('invalid accessor');
        return this.exclusive(() => this.renew(entry.key, req, ''));
      }
      case 'revoke-self': {
        route(write);
        const entry = await this.callerEntry(caller);
        await this.exclusive(() => this.revokeTree(entry.key));
        return { status: 204 };
      }
      case 'revoke':
      case 'revoke-orphan': {
        route(write);
        const id = stringField(req.data, 'token');
        if (id === '') throw badRequest('missing token ID');
        if (id.length > MAX_TOKEN_LENGTH) return { status: 204 };
        const key = await this.keyOf(id);
        if ((await this.load(key)) !== undefined) {
          await this.exclusive(() => (path === 'revoke' ? this.revokeTree(key) : this.revokeOrphan(key)));
        }
        return { status: 204 };
      }
      case 'revoke-accessor': {
        route(write);
        const entry = await this.byAccessor(stringField(req.data, 'accessor'));
        if (entry === undefined) throw badRequest('invalid accessor');
        await this.exclusive(() => this.revokeTree(entry.key));
        return { status: 204 };
      }
      default:
        throw noHandler(`auth/token/${path}`);
    }
  }

  /** Existence check for create-vs-update: `roles/<name>` exists when the role is stored. */
  async exists(rawPath: string): Promise<boolean | undefined> {
    const path = rawPath.replace(/^\/+/, '');
    if (!path.startsWith('roles/') || path.length === 'roles/'.length) return undefined;
    return this.roles.exists(path.slice('roles/'.length).replace(/\/+$/, ''));
  }

  private lookup(entry: StoredToken, id: string): LogicalResponse {
    const data = lookupData(entry, id, this.now());
    const entityId = entry.entity_id ?? '';
    if (entityId !== '' && this.identity !== undefined) {
      const identityPolicies = this.identity.entityPolicies(entityId);
      if (identityPolicies.length > 0) data['identity_policies'] = [...identityPolicies];
    }
    return { data };
  }

  /**
   * Vault's resolveEntityAlias: with `entity_alias` (only allowed with a role, and only a name the role's
   * `allowed_entity_aliases` lists, compared lower-cased, globs allowed) the alias is looked up on the TOKEN auth
   * mount and, when missing, created with a new entity. It is not the userpass alias of the same name: a token made
   * this way belongs to an entity of its own, and gets its policies from the role.
   */
  private async entityForAlias(req: LogicalRequest, role: TokenRole | undefined): Promise<string> {
    const raw = stringField(req.data, 'entity_alias');
    if (raw === '') return '';
    if (role === undefined) throw badRequest(`'entity_alias' is only allowed in combination with token role`);
    const lower = raw.toLowerCase();
    if (!matchesGlobList(role.allowed_entity_aliases, lower)) throw badRequest(`invalid 'entity_alias' value`);
    if (this.identity === undefined || this.tokenMountAccessor === '') throw badRequest('auth token mount accessor not found');
    const entity = await this.identity.createOrFetchEntity({ name: raw, mountAccessor: this.tokenMountAccessor });
    if (entity.disabled) throw new StoreApiError(403, 'entity from given entity alias is disabled');
    return entity.id;
  }

  private async create(req: LogicalRequest, caller: CallerContext, orphanEndpoint: boolean, roleName?: string): Promise<LogicalResponse> {
    const parent = await this.callerEntry(caller, true);
    let role: TokenRole | undefined;
    if (roleName !== undefined) {
      role = await this.roles.get(roleName);
      if (role === undefined) throw badRequest(`unknown role ${roleName}`);
    }
    const explicitEntityId = await this.entityForAlias(req, role);
    const nowMs = this.now();
    const plan = planChildToken(req.data, {
      parent,
      sudo: caller.sudo,
      orphanEndpoint,
      nowMs,
      defaultTtl: this.defaultTtl,
      maxTtl: this.maxTtl,
      maxIdLength: MAX_TOKEN_LENGTH,
      role,
      explicitEntityId,
    });
    if (plan.customId !== '' && (await this.load(await this.keyOf(plan.customId))) !== undefined) {
      throw badRequest('cannot create a token with a duplicate ID');
    }
    const { id, entry } = await this.mint(plan);
    return { auth: authBlock(entry, id, entry.ttl), warnings: plan.warnings.length > 0 ? plan.warnings : null };
  }

  /**
   * Mints the token of a successful login (Vault's RegisterAuth): an orphan service token with the plan's policies
   * (plus `default` unless left out), TTL bounded by the mount's and the system's maximum, bound to `entityId`.
   * `identityPolicies` only shape the answer (`policies` = token's ∪ identity's); they are never stored in the token,
   * so a change to the entity takes effect on the token's next request.
   */
  async createLoginToken(plan: LoginPlan, entityId: string, identityPolicies: readonly string[]): Promise<{ auth: LogicalAuth; warnings: string[] }> {
    return this.exclusive(async () => {
      const planned = planLoginToken(plan, entityId, identityPolicies, { nowMs: this.now(), defaultTtl: this.defaultTtl, maxTtl: this.maxTtl });
      const { id, entry } = await this.mint(planned);
      const auth = authBlock(entry, id, entry.ttl);
      const identity = sanitizePolicies(identityPolicies, false);
      if (entityId !== '' && identity.length > 0) {
        // The policies the entity had when the login was checked (Vault reports these, not a re-read); an empty
        // list is left out, as Vault's `omitempty` does.
        auth.identity_policies = identity;
        auth.policies = sanitizePolicies([...entry.policies, ...identity], false);
      }
      return { auth, warnings: planned.warnings };
    });
  }

  /** Stores a planned token under a new (or the plan's custom) id; call inside the lock. */
  private async mint(plan: CreatePlan): Promise<{ id: string; entry: StoredToken }> {
    const id = plan.customId !== '' ? plan.customId : 'hvs.' + randomBase62(24);
    const entry: StoredToken = { ...plan.fields, version: 1, key: await this.keyOf(id), accessor: randomBase62(24) };
    await this.insert(entry);
    return { id, entry };
  }

  /**
   * Revokes every token created under `pathPrefix` (e.g. `auth/userpass/` when that mount is disabled, as Vault's
   * revoke-prefix on unmount), with their children. Walks every stored token: an edge device holds few.
   */
  async revokeByPathPrefix(pathPrefix: string): Promise<number> {
    return this.exclusive(async () => {
      let count = 0;
      for (const k of await this.storage.list('id/')) {
        if (k.endsWith('/')) continue;
        const entry = await this.load(k);
        if (entry !== undefined && entry.path.startsWith(pathPrefix)) {
          await this.revokeTree(k);
          count++;
        }
      }
      return count;
    });
  }

  private async renew(key: string, req: LogicalRequest, clientToken: string): Promise<LogicalResponse> {
    const entry = await this.live(key, true);
    if (entry === undefined) throw badRequest('invalid token');
    if (!entry.lease || entry.expire_time === 0 || !entry.renewable) throw badRequest('lease is not renewable');
    const increment = parseDurationSeconds(req.data['increment']);
    if (increment < 0) throw badRequest('increment must be positive');
    const nowMs = this.now();
    const r = calculateTtl({
      increment,
      backendTtl: entry.ttl,
      period: entry.period,
      explicitMax: entry.explicit_max_ttl,
      startMs: entry.issueMs,
      nowMs,
      defaultTtl: this.defaultTtl,
      // A login token stays within its mount's maximum (the user's token_max_ttl).
      maxTtl: entry.max_ttl !== undefined && entry.max_ttl > 0 ? Math.min(entry.max_ttl, this.maxTtl) : this.maxTtl,
    });
    if (r.error !== undefined) throw badRequest(r.error);
    const renewed: StoredToken = { ...entry, expire_time: nowMs + r.ttl * 1000, lastRenewalMs: nowMs };
    if (r.ttl <= 0) {
      await this.revokeTree(key);
      throw badRequest('past the max TTL, cannot renew');
    }
    await this.save(renewed);
    return { auth: this.withIdentity(authBlock(renewed, clientToken, r.ttl), renewed), warnings: r.warnings.length > 0 ? r.warnings : null };
  }

  /** Adds the entity's policies to an `auth` block as Vault shows them (`identity_policies`, and in `policies`). */
  private withIdentity(auth: LogicalAuth, entry: StoredToken): LogicalAuth {
    const entityId = entry.entity_id ?? '';
    if (entityId === '' || this.identity === undefined) return auth;
    const identity = sanitizePolicies(this.identity.entityPolicies(entityId), false);
    if (identity.length === 0) return auth;
    return { ...auth, identity_policies: identity, policies: sanitizePolicies([...auth.token_policies, ...identity], false) };
  }
}

/** 403 `bad token` (Vault's answer to a lookup of an unknown token). */
function badToken(): StoreApiError {
  return new StoreApiError(403, 'bad token');
}
