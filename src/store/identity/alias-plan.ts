/**
 * Entity-alias changes as plans (see entity-plan.ts): Vault's `handleAliasCreateUpdate` and `handleAliasUpdate`
 * (create, idempotent repeat, rename, move to another entity), `CreateOrFetchEntity` (a login's alias), and the
 * removals of an alias or of every alias on a disabled mount. An entity holds at most one alias per mount, as Vault
 * enforces on these paths.
 */
import { badRequest } from '../api-error.js';
import { rfc3339Nano } from '../kv/time.js';
import { freezeAlias, freezeEntity, goQuote, sameMap, validateCustomMetadata, validateMetadata } from './entity-codec.js';
import { buildEntity, type Mutation, type PlanContext } from './entity-plan.js';
import type { AliasRecord, AuthMountInfo, EntityRecord } from './identity-types.js';

/** The body of `POST identity/entity-alias` (or `entity-alias/id/<id>`, the id from the path). */
export interface AliasUpsert {
  /** An existing alias to update. */
  id?: string;
  name?: string;
  mountAccessor?: string;
  /** The entity the alias belongs (or moves) to; empty on a create = a new entity. */
  canonicalId?: string;
  /** Absent = unchanged on an update by id, empty on any other write (as Vault does). */
  customMetadata?: Readonly<Record<string, string>>;
}

/** A planned alias write and its answer (`{id, canonical_id}`). */
export interface AliasPlan {
  alias: Readonly<AliasRecord>;
  entity: Readonly<EntityRecord>;
  mutation: Mutation;
}

/** A login's alias (Vault's `logical.Alias`). */
export interface LoginAlias {
  name: string;
  mountAccessor: string;
  metadata?: Readonly<Record<string, string>>;
}

/** Vault's `invalid mount accessor "X"`. */
function invalidAccessor(accessor: string): Error {
  return badRequest(`invalid mount accessor ${goQuote(accessor)}`);
}

function resolveMount(ctx: PlanContext, accessor: string): AuthMountInfo {
  const mount = ctx.mounts(accessor);
  if (mount === undefined) throw invalidAccessor(accessor);
  return mount;
}

/**
 * Vault's `handleAliasCreateUpdate`. Undefined = nothing to change (Vault answers 204): a repeat of an existing
 * binding, which EdgeX sends on every boot, is such a no-op rather than an error.
 */
export function planAliasUpsert(ctx: PlanContext, input: AliasUpsert): AliasPlan | undefined {
  let name = input.name ?? '';
  let accessor = input.mountAccessor ?? '';
  const canonicalId = input.canonicalId ?? '';
  const cmGiven = input.customMetadata !== undefined;
  let cm: Readonly<Record<string, string>> = input.customMetadata ?? {};
  validateCustomMetadata(cm);

  const id = input.id ?? '';
  if (id !== '') {
    const alias = ctx.index.alias(id);
    if (alias === undefined) throw badRequest('invalid alias ID provided');
    if (!cmGiven) cm = alias.custom_metadata;
    if (accessor === '' && name === '' && canonicalId === '' && !cmGiven) return undefined;
    if (accessor === '') accessor = alias.mount_accessor;
    if (name === '') name = alias.name;
    return planAliasUpdate(ctx, alias, { canonicalId, name, accessor, cm });
  }
  if (accessor === '' || name === '') throw badRequest("'id' or 'mount_accessor' and 'name' must be provided");
  const mount = resolveMount(ctx, accessor);
  const existing = ctx.index.aliasByFactors(accessor, name);
  if (existing !== undefined) return planAliasUpdate(ctx, existing, { canonicalId, name, accessor, cm });
  return planAliasCreate(ctx, mount, { canonicalId, name, cm });
}

function planAliasCreate(
  ctx: PlanContext,
  mount: AuthMountInfo,
  input: { canonicalId: string; name: string; cm: Readonly<Record<string, string>> },
): AliasPlan {
  let entity: Readonly<EntityRecord>;
  if (input.canonicalId !== '') {
    const found = ctx.index.entity(input.canonicalId);
    if (found === undefined) throw badRequest('invalid canonical ID');
    entity = found;
  } else {
    entity = buildEntity(ctx, undefined, {}).entity;
  }
  if (entity.aliases.some((a) => a.mount_accessor === mount.accessor)) {
    throw badRequest('Alias already exists for requested entity and mount accessor');
  }
  const time = rfc3339Nano(ctx.now);
  const alias = freezeAlias({
    id: ctx.newId(),
    canonical_id: entity.id,
    mount_accessor: mount.accessor,
    mount_type: mount.type,
    mount_path: mount.path,
    name: input.name,
    metadata: {},
    custom_metadata: { ...input.cm },
    creation_time: time,
    last_update_time: time,
  });
  const updated = freezeEntity({ ...entity, aliases: [...entity.aliases, alias] });
  return { alias, entity: updated, mutation: { put: [updated], remove: [] } };
}

/**
 * A last-update time after `previous`: a moved alias must be newer than the copy left in its old entity should a
 * crash fall between the two writes (the store's load keeps the newest copy).
 */
function laterThan(previous: string, now: number): string {
  const prev = Date.parse(previous);
  return rfc3339Nano(Number.isFinite(prev) && prev >= now ? prev + 1 : now);
}

function planAliasUpdate(
  ctx: PlanContext,
  alias: Readonly<AliasRecord>,
  input: { canonicalId: string; name: string; accessor: string; cm: Readonly<Record<string, string>> },
): AliasPlan | undefined {
  const { canonicalId, name, accessor, cm } = input;
  const moving = canonicalId !== '' && canonicalId !== alias.canonical_id;
  const renaming = name !== alias.name || accessor !== alias.mount_accessor || !sameMap(cm, alias.custom_metadata);
  if (!moving && !renaming) return undefined;

  const current = ctx.index.entity(alias.canonical_id);
  if (current === undefined) throw badRequest('given alias is not associated with an entity');
  if (accessor !== alias.mount_accessor && !moving && current.aliases.some((a) => a.mount_accessor === accessor)) {
    throw badRequest("Alias cannot be updated as the entity already has an alias for the given 'mount_accessor' ");
  }
  if (renaming) {
    resolveMount(ctx, accessor);
    const clash = ctx.index.aliasByFactors(accessor, name);
    // A clash with itself is a change of case only.
    if (clash !== undefined && clash.id !== alias.id) throw badRequest('alias with combination of mount accessor and name already exists');
  }
  const mount = resolveMount(ctx, accessor);
  const changed: AliasRecord = {
    ...alias,
    name,
    mount_accessor: mount.accessor,
    mount_type: mount.type,
    mount_path: mount.path,
    custom_metadata: { ...cm },
    last_update_time: laterThan(alias.last_update_time, ctx.now),
  };

  if (!moving) {
    const updated = freezeAlias(changed);
    const entity = freezeEntity({ ...current, aliases: current.aliases.map((a) => (a.id === alias.id ? updated : a)) });
    return { alias: updated, entity, mutation: { put: [entity], remove: [] } };
  }
  const target = ctx.index.entity(canonicalId);
  if (target === undefined) throw badRequest("given 'canonical_id' is not associated with an entity");
  if (target.aliases.some((a) => a.mount_accessor === accessor)) {
    throw badRequest('Alias cannot be updated as the given entity already has an alias for this mount ');
  }
  const moved = freezeAlias({ ...changed, canonical_id: target.id });
  const entity = freezeEntity({ ...target, aliases: [...target.aliases, moved] });
  const source = freezeEntity({ ...current, aliases: current.aliases.filter((a) => a.id !== alias.id) });
  // The new owner is written first: a crash between the writes leaves two copies, and the newer (moved) one wins.
  return { alias: moved, entity, mutation: { put: [entity, source], remove: [] } };
}

/**
 * Vault's `CreateOrFetchEntity`: the entity of the alias (mount accessor, name), its alias metadata refreshed when a
 * login brings other metadata; otherwise a new entity `entity_<8 hex>` holding a new alias. No mutation = nothing
 * to write.
 */
export function planCreateOrFetch(ctx: PlanContext, login: LoginAlias): { entity: Readonly<EntityRecord>; mutation?: Mutation } {
  if (login.name === '') throw badRequest('empty alias name');
  const mount = resolveMount(ctx, login.mountAccessor);
  const metadata = login.metadata ?? {};
  validateMetadata(metadata, 'alias');
  const existing = ctx.index.aliasByFactors(login.mountAccessor, login.name);
  if (existing !== undefined) {
    const owner = ctx.index.entity(existing.canonical_id);
    if (owner === undefined) throw new Error('identity store: alias without an entity');
    // Vault compares the name exactly here: a login differing only in case uses the alias as it is.
    if (existing.name !== login.name || sameMap(existing.metadata, metadata)) return { entity: owner };
    const refreshed = freezeAlias({ ...existing, metadata: { ...metadata }, last_update_time: laterThan(existing.last_update_time, ctx.now) });
    const entity = freezeEntity({ ...owner, aliases: owner.aliases.map((a) => (a.id === existing.id ? refreshed : a)) });
    return { entity, mutation: { put: [entity], remove: [] } };
  }
  const fresh = buildEntity(ctx, undefined, {}).entity;
  const time = rfc3339Nano(ctx.now);
  const alias = freezeAlias({
    id: ctx.newId(),
    canonical_id: fresh.id,
    mount_accessor: mount.accessor,
    mount_type: mount.type,
    mount_path: mount.path,
    name: login.name,
    metadata: { ...metadata },
    custom_metadata: {},
    creation_time: time,
    last_update_time: time,
  });
  const entity = freezeEntity({ ...fresh, aliases: [alias] });
  return { entity, mutation: { put: [entity], remove: [] } };
}

/** The removal of alias `id` from its entity; undefined when there is no such alias. */
export function planAliasDelete(ctx: PlanContext, id: string): Mutation | undefined {
  const alias = ctx.index.alias(id);
  if (alias === undefined) return undefined;
  const owner = ctx.index.entity(alias.canonical_id);
  if (owner === undefined) return undefined;
  return { put: [freezeEntity({ ...owner, aliases: owner.aliases.filter((a) => a.id !== id) })], remove: [] };
}

/** The removal of every alias on the mount `accessor` (the mount is being disabled). */
export function planRemoveMount(ctx: PlanContext, accessor: string): Mutation {
  const put: Readonly<EntityRecord>[] = [];
  for (const entity of ctx.index.entities()) {
    if (!entity.aliases.some((a) => a.mount_accessor === accessor)) continue;
    put.push(freezeEntity({ ...entity, aliases: entity.aliases.filter((a) => a.mount_accessor !== accessor) }));
  }
  return { put, remove: [] };
}
