/**
 * The entity endpoints of the identity backend (paths relative to `identity/`, list requests ending with `/`):
 * `entity` (create or update), `entity/name/<name>` and `entity/id/<id>` (read, create/update, delete), and their
 * lists. {@link entityPathSpecs} also carries the entity-alias endpoints, so the identity backend adds one list of
 * specs for everything this part serves; {@link EntityBackend} serves them alone (tests, or a store without OIDC).
 */
import { notFound } from '../api-error.js';
import type { CallerContext, LogicalBackend } from '../backend.js';
import { PathTable, type PathContext, type PathSpec } from '../framework/path-table.js';
import type { LogicalRequest, LogicalResponse } from '../logical.js';
import { stringField } from '../tokens/fields.js';
import { ID_SEGMENT, aliasPathSpecs } from './alias-paths.js';
import { entityFieldsFromBody } from './entity-fields.js';
import { compare } from './entity-index.js';
import { entityKeyInfo, renderEntity } from './entity-render.js';
import type { EntityStore, EntityUpsert } from './entity-store.js';

/** Create answers 200 `{id, name, aliases}` (alias ids, `null` when none, as Vault); an update answers 204. */
async function write(store: EntityStore, input: EntityUpsert): Promise<LogicalResponse> {
  const plan = await store.upsertEntity(input);
  if (!plan.created) return { status: 204 };
  const { entity } = plan;
  return { data: { id: entity.id, name: entity.name, aliases: entity.aliases.length === 0 ? null : entity.aliases.map((a) => a.id) } };
}

/** The entity fields of a write; `name` or `id` from the path when the path has it (captures win over the body). */
function entityInput(ctx: PathContext, from: { name?: string; id?: string }): EntityUpsert {
  const { data } = ctx.req;
  return {
    ...entityFieldsFromBody(data),
    id: from.id ?? stringField(data, 'id'),
    name: from.name ?? stringField(data, 'name'),
  };
}

/** The path specs of the entity and entity-alias endpoints, for the identity backend's path table. */
export function entityPathSpecs(store: EntityStore): PathSpec[] {
  const mounts = (accessor: string) => store.mountByAccessor(accessor);
  const read = (entity: ReturnType<EntityStore['entityById']>): Promise<LogicalResponse> => {
    if (entity === undefined) throw notFound();
    return Promise.resolve({ data: renderEntity(entity, mounts) });
  };
  const entitySpecs: PathSpec[] = [
    {
      pattern: /^entity$/,
      operations: { update: (ctx) => write(store, entityInput(ctx, {})) },
    },
    {
      pattern: /^entity\/name\/?$/,
      operations: {
        list: () => {
          const names = store.entities().map((e) => e.name).sort(compare);
          if (names.length === 0) throw notFound();
          return Promise.resolve({ data: { keys: names } });
        },
      },
    },
    {
      pattern: /^entity\/name\/(.+)$/,
      operations: {
        read: ({ params }) => read(store.entityByName(params[0] ?? '')),
        update: (ctx) => write(store, entityInput(ctx, { name: ctx.params[0] ?? '' })),
        delete: async ({ params }) => {
          await store.deleteEntityByName(params[0] ?? '');
          return { status: 204 };
        },
      },
    },
    {
      pattern: /^entity\/id\/?$/,
      operations: {
        list: () => {
          const entities = store.entities();
          if (entities.length === 0) throw notFound();
          const keyInfo: Record<string, unknown> = {};
          for (const e of entities) keyInfo[e.id] = entityKeyInfo(e, mounts);
          return Promise.resolve({ data: { keys: entities.map((e) => e.id), key_info: keyInfo } });
        },
      },
    },
    {
      pattern: new RegExp(`^entity/id/${ID_SEGMENT}$`),
      operations: {
        read: ({ params }) => read(store.entityById(params[0] ?? '')),
        update: (ctx) => write(store, entityInput(ctx, { id: ctx.params[0] ?? '' })),
        delete: async ({ params }) => {
          await store.deleteEntity(params[0] ?? '');
          return { status: 204 };
        },
      },
    },
  ];
  return [...entitySpecs, ...aliasPathSpecs(store)];
}

/** A logical backend serving only the entity and entity-alias endpoints (the identity backend adds OIDC to them). */
export class EntityBackend implements LogicalBackend {
  private readonly table: PathTable;

  /** Serves `store` under the route prefix `identity/`. */
  constructor(store: EntityStore) {
    this.table = new PathTable(entityPathSpecs(store), 'identity/');
  }

  /** Dispatches one request (paths relative to `identity/`). */
  handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    return this.table.dispatch(req, caller);
  }

  /** No identity path has an existence check: POST/PUT are `update`, as in Vault. */
  exists(path: string): Promise<boolean | undefined> {
    return this.table.exists(path);
  }
}
