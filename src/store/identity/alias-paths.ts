/**
 * The entity-alias endpoints of the identity backend (paths relative to `identity/`):
 * `entity-alias` (create, update, move), `entity-alias/id/<id>` (read, update, delete) and `LIST entity-alias/id/`.
 */
import { notFound } from '../api-error.js';
import type { PathContext, PathSpec } from '../framework/path-table.js';
import type { LogicalResponse } from '../logical.js';
import { stringField } from '../tokens/fields.js';
import { kvPairsField } from './entity-fields.js';
import { aliasKeyInfo, renderAliasRead } from './entity-render.js';
import type { AliasUpsert, EntityStore } from './entity-store.js';

/** An id segment as Vault's `framework.GenericNameRegex` accepts it. */
export const ID_SEGMENT = String.raw`(\w(?:[\w.-]*\w)?)`;

/** The alias fields of a write; `id` from the path when the path has one (Vault's captures win over the body). */
function aliasInput(ctx: PathContext, pathId: string | undefined): AliasUpsert {
  const { data } = ctx.req;
  // `entity_id` is Vault's deprecated spelling of `canonical_id`.
  const canonicalId = stringField(data, 'canonical_id') || stringField(data, 'entity_id');
  const input: AliasUpsert = {
    id: pathId ?? stringField(data, 'id'),
    name: stringField(data, 'name'),
    mountAccessor: stringField(data, 'mount_accessor'),
    canonicalId,
  };
  const customMetadata = kvPairsField(data, 'custom_metadata');
  if (customMetadata !== undefined) input.customMetadata = customMetadata;
  return input;
}

/** Create/update answer: 200 `{id, canonical_id}`, or 204 when nothing changed (a repeated binding). */
async function write(store: EntityStore, input: AliasUpsert): Promise<LogicalResponse> {
  const plan = await store.upsertAlias(input);
  if (plan === undefined) return { status: 204 };
  return { data: { id: plan.alias.id, canonical_id: plan.entity.id } };
}

/** The path specs of the entity-alias endpoints. */
export function aliasPathSpecs(store: EntityStore): PathSpec[] {
  const mounts = (accessor: string) => store.mountByAccessor(accessor);
  return [
    {
      pattern: /^entity-alias$/,
      operations: { update: (ctx) => write(store, aliasInput(ctx, undefined)) },
    },
    {
      pattern: /^entity-alias\/id\/?$/,
      operations: {
        list: () => {
          const aliases = store.aliases();
          if (aliases.length === 0) throw notFound();
          const keyInfo: Record<string, unknown> = {};
          for (const a of aliases) keyInfo[a.id] = aliasKeyInfo(a, mounts);
          return Promise.resolve({ data: { keys: aliases.map((a) => a.id), key_info: keyInfo } });
        },
      },
    },
    {
      pattern: new RegExp(`^entity-alias/id/${ID_SEGMENT}$`),
      operations: {
        read: ({ params }) => {
          const alias = store.aliasById(params[0] ?? '');
          if (alias === undefined) throw notFound();
          return Promise.resolve({ data: renderAliasRead(alias, mounts) });
        },
        update: (ctx) => write(store, aliasInput(ctx, ctx.params[0] ?? '')),
        delete: async ({ params }) => {
          await store.deleteAlias(params[0] ?? '');
          return { status: 204 };
        },
      },
    },
  ];
}
