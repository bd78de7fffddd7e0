/**
 * The identity store's entities and entity aliases. Entities are few on a device (one per service, plus one per
 * token role alias), so every entity is read into memory once ({@link EntityStore.load}) and reads are synchronous
 * index lookups, as Vault serves them from memdb. Each entity is one JSON document at `entity/<id>` in the store's
 * own storage namespace, its aliases inside it (as Vault's storage packer keeps them).
 *
 * Writes are serialized by a promise-chain lock; each is planned against the current index (entity-plan.ts,
 * alias-plan.ts), written to storage, and only then applied to memory, so a failed write changes nothing. Records
 * are frozen and replaced on change, never edited, so a reader's record (and an entity's policies array, which
 * callers cache by identity) stays as it was.
 */
import { randomUUID } from '../../crypto.js';
import type { Storage } from '../storage/storage.js';
import { planAliasDelete, planAliasUpsert, planCreateOrFetch, planRemoveMount, type AliasPlan, type AliasUpsert, type LoginAlias } from './alias-plan.js';
import { NO_POLICIES, decodeEntity, encodeEntity, freezeEntity } from './entity-codec.js';
import { EntityIndex, compare, factorKey } from './entity-index.js';
import {
  planEntityCreate,
  planEntityDelete,
  planEntityUpdate,
  planEntityUpsert,
  type EntityFields,
  type EntityPlan,
  type EntityUpsert,
  type Mutation,
  type PlanContext,
} from './entity-plan.js';
import type { AliasRecord, AuthMountInfo, AuthMountResolver, EntityRecord, IdentityPort } from './identity-types.js';

export type { AliasPlan, AliasUpsert, LoginAlias } from './alias-plan.js';
export type { EntityFields, EntityPlan, EntityUpsert } from './entity-plan.js';

/** Options of {@link EntityStore}. */
export interface EntityStoreOptions {
  /** Clock in epoch milliseconds (tests inject one). */
  now?: () => number;
}

/** Storage key prefix of the entity documents. */
const ENTITY_PREFIX = 'entity/';

/** The identity store's entities and aliases, kept in memory and persisted one document per entity. */
export class EntityStore implements IdentityPort {
  private readonly storage: Storage;
  private readonly mounts: AuthMountResolver;
  private readonly now: () => number;
  private index = new EntityIndex();
  private lock: Promise<unknown> = Promise.resolve();
  private changes = 0;

  /** `storage` is the identity store's own namespace; call {@link load} (or use {@link open}) before serving. */
  constructor(storage: Storage, mounts: AuthMountResolver, options: EntityStoreOptions = {}) {
    this.storage = storage;
    this.mounts = mounts;
    this.now = options.now ?? Date.now;
  }

  /** A store with every entity already loaded. */
  static async open(storage: Storage, mounts: AuthMountResolver, options: EntityStoreOptions = {}): Promise<EntityStore> {
    const store = new EntityStore(storage, mounts, options);
    await store.load();
    return store;
  }

  /** Bumped on every change (and on load/forget): callers holding derived data compare it to know it is stale. */
  get generation(): number {
    return this.changes;
  }

  /**
   * Reads every entity from storage, replacing what memory held. Should a crash have left an alias in two entities
   * (between the two writes of a move), the copy with the later `last_update_time` is kept — the moved one.
   */
  async load(): Promise<void> {
    await this.exclusive(async () => {
      const records: Readonly<EntityRecord>[] = [];
      for (const name of await this.storage.list(ENTITY_PREFIX)) {
        if (name.endsWith('/')) continue;
        const bytes = await this.storage.get(ENTITY_PREFIX + name);
        if (bytes !== undefined) records.push(decodeEntity(bytes, ENTITY_PREFIX + name));
      }
      const index = new EntityIndex();
      for (const entity of dropDuplicateAliases(records)) index.put(entity);
      this.index = index;
      this.changes++;
    });
  }

  /** Drops everything held in memory (the store sealed); reads see no entities until the next {@link load}. */
  forget(): void {
    this.index = new EntityIndex();
    this.changes++;
  }

  // ---- reads (synchronous: everything is in memory) ----

  /** The entity with `id` (frozen). */
  entityById(id: string): Readonly<EntityRecord> | undefined {
    return this.index.entity(id);
  }

  /** The entity named `name`, compared case-insensitively as Vault's memdb does (frozen). */
  entityByName(name: string): Readonly<EntityRecord> | undefined {
    return this.index.entityByName(name);
  }

  /** The alias with `id` (frozen). */
  aliasById(id: string): Readonly<AliasRecord> | undefined {
    return this.index.alias(id);
  }

  /** The alias (mount accessor, name), the name compared case-insensitively (frozen). */
  aliasByFactors(mountAccessor: string, name: string): Readonly<AliasRecord> | undefined {
    return this.index.aliasByFactors(mountAccessor, name);
  }

  /** Every entity, ordered by id. */
  entities(): Readonly<EntityRecord>[] {
    return this.index.entities();
  }

  /** Every alias, ordered by id. */
  aliases(): Readonly<AliasRecord>[] {
    return this.index.aliases();
  }

  /** The enabled auth mount with `accessor`, as the mount table reports it now. */
  mountByAccessor(accessor: string): AuthMountInfo | undefined {
    return this.mounts(accessor);
  }

  /** The policies entity `id` grants: its frozen array (same object until it changes); empty when absent or disabled. */
  entityPolicies(id: string): readonly string[] {
    const entity = this.index.entity(id);
    if (entity === undefined || entity.disabled) return NO_POLICIES;
    return entity.policies;
  }

  // ---- writes (serialized; storage first, memory after) ----

  /** Vault's `POST identity/entity` (and `entity/name/<name>`, `entity/id/<id>`): create, or update the entity named. */
  async upsertEntity(input: EntityUpsert): Promise<EntityPlan> {
    return this.run((ctx) => {
      const plan = planEntityUpsert(ctx, input);
      return { mutation: plan.mutation, result: plan };
    });
  }

  /** A new entity; 400 `entity name is already in use` when its name is taken. */
  async createEntity(fields: EntityFields = {}): Promise<Readonly<EntityRecord>> {
    return this.run((ctx) => {
      const plan = planEntityCreate(ctx, fields);
      return { mutation: plan.mutation, result: plan.entity };
    });
  }

  /** Changes the given fields of entity `id`; 400 `entity not found from id` when absent. */
  async updateEntity(id: string, fields: EntityFields): Promise<Readonly<EntityRecord>> {
    return this.run((ctx) => {
      const plan = planEntityUpdate(ctx, id, fields);
      return { mutation: plan.mutation, result: plan.entity };
    });
  }

  /** Deletes entity `id` and its aliases; false when there was none. */
  async deleteEntity(id: string): Promise<boolean> {
    return this.run((ctx) => {
      const mutation = planEntityDelete(ctx, id);
      return { mutation, result: mutation !== undefined };
    });
  }

  /** Deletes the entity named `name` (case-insensitive) and its aliases; false when there was none. */
  async deleteEntityByName(name: string): Promise<boolean> {
    return this.run((ctx) => {
      const entity = ctx.index.entityByName(name);
      const mutation = entity === undefined ? undefined : planEntityDelete(ctx, entity.id);
      return { mutation, result: mutation !== undefined };
    });
  }

  /** Vault's `POST identity/entity-alias`: create, update or move an alias; undefined when nothing changed (204). */
  async upsertAlias(input: AliasUpsert): Promise<AliasPlan | undefined> {
    return this.run((ctx) => {
      const plan = planAliasUpsert(ctx, input);
      return { mutation: plan?.mutation, result: plan };
    });
  }

  /** Deletes alias `id` from its entity; false when there was none. */
  async deleteAlias(id: string): Promise<boolean> {
    return this.run((ctx) => {
      const mutation = planAliasDelete(ctx, id);
      return { mutation, result: mutation !== undefined };
    });
  }

  /**
   * The entity of the alias (mount accessor, name), created with a new `entity_<8 hex>` entity when missing; 400
   * `invalid mount accessor "X"` when no auth mount has the accessor.
   */
  async createOrFetchEntity(alias: LoginAlias): Promise<Readonly<EntityRecord>> {
    // The common case (a repeat login with the same metadata) writes nothing and needs no lock: memory changes only
    // at the end of a commit, all at once, so this read sees a whole state.
    const quick = planCreateOrFetch(this.context(), alias);
    if (quick.mutation === undefined) return quick.entity;
    return this.run((ctx) => {
      const plan = planCreateOrFetch(ctx, alias);
      return { mutation: plan.mutation, result: plan.entity };
    });
  }

  /** Removes every alias on the mount `accessor` (the mount is being disabled). */
  async removeAliasesForMount(accessor: string): Promise<void> {
    await this.run((ctx) => {
      const mutation = planRemoveMount(ctx, accessor);
      return { mutation: mutation.put.length === 0 ? undefined : mutation, result: undefined };
    });
  }

  // ---- machinery ----

  private context(): PlanContext {
    return { index: this.index, mounts: this.mounts, now: this.now(), newId: randomUUID };
  }

  /** Plans under the lock against the current index, commits the plan's mutation, returns its result. */
  private run<T>(plan: (ctx: PlanContext) => { mutation: Mutation | undefined; result: T }): Promise<T> {
    return this.exclusive(async () => {
      const { mutation, result } = plan(this.context());
      if (mutation !== undefined) await this.commit(mutation);
      return result;
    });
  }

  /** Runs `fn` after every earlier write finished, so plans never see a half-applied change. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes a mutation to storage, then applies it to memory. When a write fails, the writes already made are undone
   * (best effort) and memory is left untouched, so a failed change is no change.
   */
  private async commit(mutation: Mutation): Promise<void> {
    const undo: (() => Promise<void>)[] = [];
    try {
      for (const entity of mutation.put) {
        const key = ENTITY_PREFIX + entity.id;
        const before = this.index.entity(entity.id);
        await this.storage.put(key, encodeEntity(entity));
        undo.push(before === undefined ? () => this.storage.delete(key) : () => this.storage.put(key, encodeEntity(before)));
      }
      for (const id of mutation.remove) {
        const key = ENTITY_PREFIX + id;
        const before = this.index.entity(id);
        await this.storage.delete(key);
        if (before !== undefined) undo.push(() => this.storage.put(key, encodeEntity(before)));
      }
    } catch (err) {
      for (const step of undo.reverse()) {
        // The original error is the one to report; an undo that fails too leaves storage to win at the next load.
        await step().catch(() => undefined);
      }
      throw err;
    }
    for (const entity of mutation.put) this.index.put(entity);
    for (const id of mutation.remove) this.index.remove(id);
    this.changes++;
  }
}

/**
 * Entities with every alias in one place only: where two entities hold the same alias (by id or by factors), the
 * copy with the later `last_update_time` stays (ties: the entity with the smaller id) and the other is dropped.
 */
function dropDuplicateAliases(records: readonly Readonly<EntityRecord>[]): Readonly<EntityRecord>[] {
  const sorted = [...records].sort((a, b) => compare(a.id, b.id));
  const winners = new Map<string, Readonly<AliasRecord>>();
  const better = (a: Readonly<AliasRecord>, b: Readonly<AliasRecord>): boolean => Date.parse(a.last_update_time) > Date.parse(b.last_update_time);
  for (const entity of sorted) {
    for (const alias of entity.aliases) {
      for (const key of ['id:' + alias.id, 'f:' + factorKey(alias.mount_accessor, alias.name)]) {
        const seen = winners.get(key);
        if (seen === undefined || better(alias, seen)) winners.set(key, alias);
      }
    }
  }
  return sorted.map((entity) => {
    const kept = entity.aliases.filter(
      (a) => winners.get('id:' + a.id) === a && winners.get('f:' + factorKey(a.mount_accessor, a.name)) === a,
    );
    return kept.length === entity.aliases.length ? entity : freezeEntity({ ...entity, aliases: kept });
  });
}
