/**
 * Entity changes worked out as plans: pure functions of the current index that either throw Vault's 400 or return
 * the entity records to write and the ids to delete. The store runs a plan under its lock and commits it (storage
 * first, then memory), so the rules here never touch storage and are tested without it.
 */
import { badRequest } from '../api-error.js';
import { rfc3339Nano } from '../kv/time.js';
import { freezeEntity, sameList, sanitizeEntityPolicies, validateMetadata } from './entity-codec.js';
import type { EntityIndex } from './entity-index.js';
import type { AuthMountResolver, EntityRecord } from './identity-types.js';

/** What a plan reads: the index as it stands, the mount table, one clock reading, an id source. */
export interface PlanContext {
  index: EntityIndex;
  mounts: AuthMountResolver;
  /** Epoch milliseconds: every record a plan touches gets this instant. */
  now: number;
  /** A fresh random UUID. */
  newId: () => string;
}

/** The storage effect of a plan: entities written whole (aliases inside), entities deleted. */
export interface Mutation {
  put: Readonly<EntityRecord>[];
  remove: string[];
}

/** The settable fields of an entity; absent ones are left as they are (or defaulted on a create). */
export interface EntityFields {
  /** Empty or absent: kept on an update, `entity_<8 hex>` on a create. */
  name?: string;
  metadata?: Readonly<Record<string, string>>;
  policies?: readonly string[];
  disabled?: boolean;
}

/** Vault's create-or-update input: an `id` and/or a `name` picks the entity to update. */
export interface EntityUpsert extends EntityFields {
  id?: string;
}

/** A planned entity write. */
export interface EntityPlan {
  entity: Readonly<EntityRecord>;
  /** True when the entity is new (Vault answers 200 with its id), false for an update (204). */
  created: boolean;
  mutation: Mutation;
}

/** Attempts at a free generated name before giving up (8 hex digits: a clash is already rare). */
const NAME_ATTEMPTS = 16;

/** A free `entity_<8 hex>` name (Vault's `generateName`), from the first 8 hex digits of a new UUID. */
export function newEntityName(ctx: PlanContext): string {
  for (let i = 0; i < NAME_ATTEMPTS; i++) {
    const name = 'entity_' + ctx.newId().replace(/-/g, '').slice(0, 8).toLowerCase();
    if (ctx.index.entityByName(name) === undefined) return name;
  }
  throw new Error('failed to generate entity name');
}

/**
 * Vault's `handleEntityUpdateCommon`: an `id` must name an existing entity (400 `entity not found from id`); a
 * `name` of an existing entity selects it when no id was given, and must not belong to another one than the id's
 * (400 `entity name is already in use`); with neither, a new entity is made.
 */
export function planEntityUpsert(ctx: PlanContext, input: EntityUpsert): EntityPlan {
  const id = input.id ?? '';
  const name = input.name ?? '';
  let target: Readonly<EntityRecord> | undefined;
  if (id !== '') {
    target = ctx.index.entity(id);
    if (target === undefined) throw badRequest('entity not found from id');
  }
  if (name !== '') {
    const byName = ctx.index.entityByName(name);
    if (byName !== undefined) {
      if (target === undefined) target = byName;
      else if (target.id !== byName.id) throw badRequest('entity name is already in use');
    }
  }
  return buildEntity(ctx, target, input);
}

/** A new entity; 400 `entity name is already in use` when the name is taken (case-insensitively). */
export function planEntityCreate(ctx: PlanContext, fields: EntityFields): EntityPlan {
  if (fields.name !== undefined && fields.name !== '' && ctx.index.entityByName(fields.name) !== undefined) {
    throw badRequest('entity name is already in use');
  }
  return buildEntity(ctx, undefined, fields);
}

/** An update of entity `id`; 400 when it is absent or the new name belongs to another entity. */
export function planEntityUpdate(ctx: PlanContext, id: string, fields: EntityFields): EntityPlan {
  const target = ctx.index.entity(id);
  if (target === undefined) throw badRequest('entity not found from id');
  if (fields.name !== undefined && fields.name !== '') {
    const byName = ctx.index.entityByName(fields.name);
    if (byName !== undefined && byName.id !== target.id) throw badRequest('entity name is already in use');
  }
  return buildEntity(ctx, target, fields);
}

/**
 * The record of `existing` (or a new entity) with `fields` applied, checked as Vault's `SanitizeEntity` checks it.
 * An update that leaves the policies as they were keeps the very same frozen policies array.
 */
export function buildEntity(ctx: PlanContext, existing: Readonly<EntityRecord> | undefined, fields: EntityFields): EntityPlan {
  let policies: readonly string[] = existing?.policies ?? [];
  if (fields.policies !== undefined) {
    const clean = sanitizeEntityPolicies(fields.policies);
    if (!sameList(clean, policies)) policies = clean;
  }
  if (policies.includes('root')) throw badRequest('policies cannot contain root');
  const metadata = fields.metadata ?? existing?.metadata ?? {};
  validateMetadata(metadata, 'entity');
  const time = rfc3339Nano(ctx.now);
  const record: EntityRecord = {
    id: existing?.id ?? ctx.newId(),
    name: fields.name !== undefined && fields.name !== '' ? fields.name : (existing?.name ?? newEntityName(ctx)),
    metadata,
    policies: policies as string[],
    disabled: fields.disabled ?? existing?.disabled ?? false,
    aliases: existing?.aliases ?? [],
    creation_time: existing?.creation_time ?? time,
    last_update_time: time,
  };
  const entity = freezeEntity(record);
  return { entity, created: existing === undefined, mutation: { put: [entity], remove: [] } };
}

/** The deletion of entity `id` with its aliases; undefined when there is no such entity. */
export function planEntityDelete(ctx: PlanContext, id: string): Mutation | undefined {
  return ctx.index.entity(id) === undefined ? undefined : { put: [], remove: [id] };
}
