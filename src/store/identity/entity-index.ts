/**
 * The in-memory indexes of the identity store, after Vault's memdb tables: entities by id and by lower-cased name,
 * aliases by id and by (mount accessor, lower-cased name) — Vault's memdb lower-cases names in both indexes, so
 * `Svc` and `svc` are one entity and one alias. Records are frozen; a change replaces the entity's record and
 * re-indexes it, so a reader holding an old record sees it unchanged.
 */
import type { AliasRecord, EntityRecord } from './identity-types.js';

/** The alias index key of (mount accessor, name). */
export function factorKey(mountAccessor: string, name: string): string {
  return mountAccessor + '\u0000' + name.toLowerCase();
}

/** Entities and their aliases, indexed. */
export class EntityIndex {
  private readonly byId = new Map<string, Readonly<EntityRecord>>();
  /** Lower-cased name → entity id. */
  private readonly byName = new Map<string, string>();
  private readonly aliasesById = new Map<string, Readonly<AliasRecord>>();
  /** {@link factorKey} → alias id. */
  private readonly aliasesByFactors = new Map<string, string>();

  /** The entity with `id`. */
  entity(id: string): Readonly<EntityRecord> | undefined {
    return this.byId.get(id);
  }

  /** The entity named `name` (case-insensitive). */
  entityByName(name: string): Readonly<EntityRecord> | undefined {
    const id = this.byName.get(name.toLowerCase());
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** The alias with `id`. */
  alias(id: string): Readonly<AliasRecord> | undefined {
    return this.aliasesById.get(id);
  }

  /** The alias (mount accessor, name), the name compared case-insensitively. */
  aliasByFactors(mountAccessor: string, name: string): Readonly<AliasRecord> | undefined {
    const id = this.aliasesByFactors.get(factorKey(mountAccessor, name));
    return id === undefined ? undefined : this.aliasesById.get(id);
  }

  /** Every entity, by id. */
  entities(): Readonly<EntityRecord>[] {
    return [...this.byId.values()].sort((a, b) => compare(a.id, b.id));
  }

  /** Every alias, by id. */
  aliases(): Readonly<AliasRecord>[] {
    return [...this.aliasesById.values()].sort((a, b) => compare(a.id, b.id));
  }

  /** Number of entities. */
  get size(): number {
    return this.byId.size;
  }

  /** Adds or replaces an entity (the old record's index entries go first). */
  put(entity: Readonly<EntityRecord>): void {
    this.remove(entity.id);
    this.byId.set(entity.id, entity);
    // A name already held by another entity (only a damaged store has two) keeps pointing at the first.
    const nameKey = entity.name.toLowerCase();
    if (!this.byName.has(nameKey)) this.byName.set(nameKey, entity.id);
    for (const alias of entity.aliases) {
      this.aliasesById.set(alias.id, alias);
      this.aliasesByFactors.set(factorKey(alias.mount_accessor, alias.name), alias.id);
    }
  }

  /** Removes an entity and its aliases (absent is fine). */
  remove(id: string): void {
    const old = this.byId.get(id);
    if (old === undefined) return;
    this.byId.delete(id);
    const nameKey = old.name.toLowerCase();
    if (this.byName.get(nameKey) === id) this.byName.delete(nameKey);
    for (const alias of old.aliases) {
      // An alias moved to another entity may already be indexed there (under its new factors): keep that entry.
      let current = this.aliasesById.get(alias.id);
      if (current?.canonical_id === id) {
        this.aliasesById.delete(alias.id);
        current = undefined;
      }
      const key = factorKey(alias.mount_accessor, alias.name);
      const stillThere = current !== undefined && factorKey(current.mount_accessor, current.name) === key;
      if (this.aliasesByFactors.get(key) === alias.id && !stillThere) this.aliasesByFactors.delete(key);
    }
  }

  /** Drops everything. */
  clear(): void {
    this.byId.clear();
    this.byName.clear();
    this.aliasesById.clear();
    this.aliasesByFactors.clear();
  }
}

/** Code-unit order (ids and names are compared the same way on every platform, unlike `localeCompare`). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
