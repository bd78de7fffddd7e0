/**
 * Entities and aliases in the shapes Vault's identity endpoints answer with (`handleEntityReadCommon`,
 * `handleAliasReadCommon`, the list `key_info`). Groups, entity merging, local aliases and namespaces are not
 * served here, so their fields carry Vault's values for "none": empty group lists, `merged_entity_ids: null`,
 * `local: false`, `namespace_id: "root"`. Empty metadata maps are `null`, as Vault shows an entity read back from
 * storage.
 */
import type { JsonObject } from '../logical.js';
import type { AliasRecord, AuthMountInfo, EntityRecord } from './identity-types.js';

/** Finds an auth mount by accessor (the store's {@link AuthMountResolver}). */
type MountLookup = (accessor: string) => AuthMountInfo | undefined;

/** Vault's only namespace here. */
const NAMESPACE_ID = 'root';

/** A metadata map as Vault renders it: `null` when empty. */
function metaOrNull(meta: Readonly<Record<string, string>>): Record<string, string> | null {
  return Object.keys(meta).length === 0 ? null : { ...meta };
}

/** The alias's mount type and path: the mount table's current values, else those recorded with the alias. */
function mountOf(alias: Readonly<AliasRecord>, mounts: MountLookup): { mount_type: string; mount_path: string } {
  const mount = mounts(alias.mount_accessor);
  return { mount_type: mount?.type ?? alias.mount_type, mount_path: mount?.path ?? alias.mount_path };
}

/** An alias as it appears inside an entity read. */
export function renderAlias(alias: Readonly<AliasRecord>, mounts: MountLookup): JsonObject {
  return {
    canonical_id: alias.canonical_id,
    creation_time: alias.creation_time,
    custom_metadata: metaOrNull(alias.custom_metadata),
    id: alias.id,
    last_update_time: alias.last_update_time,
    local: false,
    merged_from_canonical_ids: null,
    metadata: metaOrNull(alias.metadata),
    mount_accessor: alias.mount_accessor,
    ...mountOf(alias, mounts),
    name: alias.name,
  };
}

/** `GET identity/entity-alias/id/<id>`: the alias plus its namespace. */
export function renderAliasRead(alias: Readonly<AliasRecord>, mounts: MountLookup): JsonObject {
  return { ...renderAlias(alias, mounts), namespace_id: NAMESPACE_ID };
}

/** `GET identity/entity/id/<id>` and `entity/name/<name>`. */
export function renderEntity(entity: Readonly<EntityRecord>, mounts: MountLookup): JsonObject {
  return {
    aliases: entity.aliases.map((a) => renderAlias(a, mounts)),
    creation_time: entity.creation_time,
    direct_group_ids: [],
    disabled: entity.disabled,
    group_ids: [],
    id: entity.id,
    inherited_group_ids: [],
    last_update_time: entity.last_update_time,
    merged_entity_ids: null,
    metadata: metaOrNull(entity.metadata),
    mfa_secrets: {},
    name: entity.name,
    namespace_id: NAMESPACE_ID,
    policies: [...entity.policies],
  };
}

/** One entity's `key_info` in `LIST identity/entity/id`: its name, and its aliases when it has any. */
export function entityKeyInfo(entity: Readonly<EntityRecord>, mounts: MountLookup): JsonObject {
  const info: JsonObject = { name: entity.name };
  if (entity.aliases.length > 0) {
    info['aliases'] = entity.aliases.map((a) => ({ id: a.id, mount_accessor: a.mount_accessor, name: a.name, ...mountOf(a, mounts) }));
  }
  return info;
}

/** One alias's `key_info` in `LIST identity/entity-alias/id`. */
export function aliasKeyInfo(alias: Readonly<AliasRecord>, mounts: MountLookup): JsonObject {
  return {
    canonical_id: alias.canonical_id,
    custom_metadata: metaOrNull(alias.custom_metadata),
    local: false,
    metadata: metaOrNull(alias.metadata),
    mount_accessor: alias.mount_accessor,
    ...mountOf(alias, mounts),
    name: alias.name,
  };
}
