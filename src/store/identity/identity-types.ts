/**
 * The identity store's records and the small interfaces other parts of the store use it through: the core binds
 * logins to entities ({@link IdentityPort}), the ACL check adds an entity's policies to its tokens' own, and OIDC
 * reads entities to fill identity tokens ({@link EntityLookup}). Entities are few on a device, so the store keeps
 * them all decoded in memory and these reads are synchronous.
 */

/** One entity alias: a (mount accessor, name) pair bound to an entity (Vault's `identity.Alias`). */
export interface AliasRecord {
  id: string;
  /** The entity the alias belongs to. */
  canonical_id: string;
  mount_accessor: string;
  /** The auth mount's type (`userpass`, `token`) and path (`auth/userpass/`), filled from the mount table. */
  mount_type: string;
  mount_path: string;
  name: string;
  metadata: Record<string, string>;
  custom_metadata: Record<string, string>;
  /** RFC 3339 (nanosecond) instants. */
  creation_time: string;
  last_update_time: string;
}

/** One entity (Vault's `identity.Entity`); aliases are stored inside their entity, as Vault stores them. */
export interface EntityRecord {
  id: string;
  name: string;
  metadata: Record<string, string>;
  policies: string[];
  disabled: boolean;
  aliases: AliasRecord[];
  creation_time: string;
  last_update_time: string;
}

/** An auth mount as aliases need it: found by accessor in the mount table. */
export interface AuthMountInfo {
  accessor: string;
  type: string;
  /** With `auth/` and a trailing slash, e.g. `auth/userpass/`. */
  path: string;
}

/** Finds an enabled auth mount by its accessor (`undefined` when no mount has it). */
export type AuthMountResolver = (accessor: string) => AuthMountInfo | undefined;

/** Read access to entities (OIDC tokens, introspection, templates). */
export interface EntityLookup {
  /** The entity (frozen: never change it), or undefined when absent. */
  entityById(id: string): Readonly<EntityRecord> | undefined;
}

/** What the core needs from the identity store. */
export interface IdentityPort extends EntityLookup {
  /**
   * The policies an entity grants its tokens (frozen; the same array until the entity changes, so callers may cache
   * by identity); empty for an absent or disabled entity.
   */
  entityPolicies(id: string): readonly string[];
  /**
   * The entity of the alias (mount accessor, name), created with a new entity (`entity_<8 hex>`) when missing — what
   * Vault does on a login and on a token create with `entity_alias`.
   */
  createOrFetchEntity(alias: { name: string; mountAccessor: string; metadata?: Record<string, string> }): Promise<Readonly<EntityRecord>>;
  /** Removes every alias on a mount (the mount is being disabled). */
  removeAliasesForMount(accessor: string): Promise<void>;
}
