/**
 * The entity record's rules as Vault applies them, kept apart from the store so they read as one list: policy
 * sanitizing, metadata and custom-metadata limits, deep freezing (readers get records they cannot change, and the
 * store replaces a record instead of editing it), and the JSON form kept in storage at `entity/<id>` (aliases inside
 * their entity, as Vault's storage packer keeps them).
 */
import { badRequest } from '../api-error.js';
import type { AliasRecord, EntityRecord } from './identity-types.js';

/** The policies of an absent or disabled entity: one shared frozen empty array. */
export const NO_POLICIES: readonly string[] = Object.freeze([]);

/** Vault's metadata limits (`identity/store_structs.go`). */
const META_MAX_PAIRS = 64;
const META_KEY_MAX_LENGTH = 128;
const META_VALUE_MAX_LENGTH = 512;
const META_KEY_RESERVED_PREFIX = 'vault-';
const META_KEY_FORMAT = /^[a-zA-Z0-9=/+_-]+$/;

/** Vault's custom-metadata limits (`sdk/helper/custommetadata`). */
const CUSTOM_MAX_KEYS = 64;
const CUSTOM_MAX_KEY_LENGTH = 128;
const CUSTOM_MAX_VALUE_LENGTH = 512;
const CUSTOM_PREFIX = 'custom_metadata validation failed';

/** Not printable in Go's `unicode.IsPrint` sense: anything but letters, marks, numbers, punctuation, symbols, ASCII space. */
const UNPRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

/** Go's `%q` for the plain strings these messages quote (JSON's escaping is the same for them). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Entity policies: trimmed, empties dropped, de-duplicated, sorted (Vault's `strutil.RemoveDuplicates(…, false)`),
 * and — unlike Vault, which keeps the case as sent — lower-cased: policy names are lower-cased by the policy store
 * (in Vault too), so a name is only ever resolved lower-cased and showing it so hides nothing. `default` is not
 * added: an entity's policies are added to its tokens' own.
 */
export function sanitizeEntityPolicies(policies: readonly string[]): string[] {
  const set = new Set<string>();
  for (const p of policies) {
    const clean = p.trim().toLowerCase();
    if (clean !== '') set.add(clean);
  }
  return [...set].sort();
}

/** Validates entity or alias metadata as Vault's `validateMetadata` does; 400 `invalid <what> metadata: …`. */
export function validateMetadata(meta: Readonly<Record<string, string>>, what: 'entity' | 'alias'): void {
  const entries = Object.entries(meta);
  const fail = (msg: string): Error => badRequest(`invalid ${what} metadata: ${msg}`);
  if (entries.length > META_MAX_PAIRS) throw fail(`metadata cannot contain more than ${META_MAX_PAIRS} key/value pairs`);
  for (const [key, value] of entries) {
    const problem = metaPairProblem(key, value);
    if (problem !== undefined) throw fail(`failed to load metadata pair (${goQuote(key)}, ${goQuote(value)}): ${problem}`);
  }
}

function metaPairProblem(key: string, value: string): string | undefined {
  if (key === '') return 'key cannot be blank';
  if (!META_KEY_FORMAT.test(key)) return 'key contains invalid characters';
  if (key.length > META_KEY_MAX_LENGTH) return `key is too long (limit: ${META_KEY_MAX_LENGTH} characters)`;
  if (key.startsWith(META_KEY_RESERVED_PREFIX)) return `key prefix ${goQuote(META_KEY_RESERVED_PREFIX)} is reserved for internal use`;
  if (value.length > META_VALUE_MAX_LENGTH) return `value is too long (limit: ${META_VALUE_MAX_LENGTH} characters)`;
  return undefined;
}

/**
 * Validates an alias's custom metadata as Vault's `custommetadata.Validate` does (every problem listed, in
 * go-multierror's format); 400. Lengths are in UTF-8 bytes, as Go's `len`.
 */
export function validateCustomMetadata(cm: Readonly<Record<string, string>>): void {
  const entries = Object.entries(cm);
  const errors: string[] = [];
  if (entries.length > CUSTOM_MAX_KEYS) {
    errors.push(`${CUSTOM_PREFIX}: payload must contain at most ${CUSTOM_MAX_KEYS} keys, provided ${entries.length}`);
  } else {
    for (const [key, value] of entries) {
      const keyLen = Buffer.byteLength(key, 'utf8');
      const valueLen = Buffer.byteLength(value, 'utf8');
      if (keyLen === 0 || keyLen > CUSTOM_MAX_KEY_LENGTH) {
        errors.push(`${CUSTOM_PREFIX}: length of key ${goQuote(key)} is ${keyLen} but must be 0 < len(key) <= ${CUSTOM_MAX_KEY_LENGTH}`);
      }
      if (valueLen === 0 || valueLen > CUSTOM_MAX_VALUE_LENGTH) {
        errors.push(
          `${CUSTOM_PREFIX}: length of value for key ${goQuote(key)} is ${valueLen} but must be 0 < len(value) <= ${CUSTOM_MAX_VALUE_LENGTH}`,
        );
      }
      if (UNPRINTABLE.test(key)) errors.push(`${CUSTOM_PREFIX}: key ${goQuote(key)} (${key}) contains unprintable characters`);
      if (UNPRINTABLE.test(value)) errors.push(`${CUSTOM_PREFIX}: value for key ${goQuote(key)} contains unprintable characters`);
    }
  }
  if (errors.length === 1) throw badRequest(`1 error occurred:\n\t* ${errors[0] ?? ''}\n\n`);
  if (errors.length > 1) throw badRequest(`${errors.length} errors occurred:\n\t${errors.map((e) => '* ' + e).join('\n\t')}\n\n`);
}

/** Whether two string maps hold the same pairs (Vault's `strutil.EqualStringMaps`). */
export function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

/** Whether two lists hold the same items in the same order. */
export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A frozen copy of an alias (its maps frozen too). */
export function freezeAlias(alias: AliasRecord): Readonly<AliasRecord> {
  return Object.freeze({
    ...alias,
    metadata: Object.freeze({ ...alias.metadata }),
    custom_metadata: Object.freeze({ ...alias.custom_metadata }),
  });
}

/**
 * A frozen entity. Already-frozen parts are kept as they are, so an update that leaves the policies alone keeps the
 * very same policies array (callers cache by its identity).
 */
export function freezeEntity(entity: EntityRecord): Readonly<EntityRecord> {
  return Object.freeze({
    ...entity,
    metadata: Object.isFrozen(entity.metadata) ? entity.metadata : Object.freeze({ ...entity.metadata }),
    policies: Object.isFrozen(entity.policies) ? entity.policies : (Object.freeze([...entity.policies]) as string[]),
    aliases: Object.freeze(entity.aliases.map((a) => (Object.isFrozen(a) ? a : freezeAlias(a)))) as AliasRecord[],
  });
}

/** Storage format version, so a later layout can be told apart. */
const FORMAT_VERSION = 1;

/** The bytes stored at `entity/<id>`. */
export function encodeEntity(entity: Readonly<EntityRecord>): Buffer {
  return Buffer.from(JSON.stringify({ version: FORMAT_VERSION, ...entity }), 'utf8');
}

/** Decodes a stored entity; throws (naming the key, never the content) when the bytes are not one. */
export function decodeEntity(bytes: Buffer, key: string): Readonly<EntityRecord> {
  const bad = (): Error => new Error(`identity store: ${key} is not a valid entity record`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad();
  }
  if (!isObject(raw) || raw['version'] !== FORMAT_VERSION) throw bad();
  const aliasesRaw = raw['aliases'];
  if (!Array.isArray(aliasesRaw)) throw bad();
  const entity: EntityRecord = {
    id: str(raw, 'id', bad),
    name: str(raw, 'name', bad),
    metadata: strMap(raw['metadata'], bad),
    policies: strList(raw['policies'], bad),
    disabled: raw['disabled'] === true,
    aliases: aliasesRaw.map((a) => decodeAlias(a, bad)),
    creation_time: str(raw, 'creation_time', bad),
    last_update_time: str(raw, 'last_update_time', bad),
  };
  return freezeEntity(entity);
}

function decodeAlias(raw: unknown, bad: () => Error): AliasRecord {
  if (!isObject(raw)) throw bad();
  return {
    id: str(raw, 'id', bad),
    canonical_id: str(raw, 'canonical_id', bad),
    mount_accessor: str(raw, 'mount_accessor', bad),
    mount_type: str(raw, 'mount_type', bad),
    mount_path: str(raw, 'mount_path', bad),
    name: str(raw, 'name', bad),
    metadata: strMap(raw['metadata'], bad),
    custom_metadata: strMap(raw['custom_metadata'], bad),
    creation_time: str(raw, 'creation_time', bad),
    last_update_time: str(raw, 'last_update_time', bad),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, k: string, bad: () => Error): string {
  const v = o[k];
  if (typeof v !== 'string') throw bad();
  return v;
}

function strList(v: unknown, bad: () => Error): string[] {
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw bad();
  return v;
}

function strMap(v: unknown, bad: () => Error): Record<string, string> {
  if (!isObject(v)) throw bad();
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw bad();
    out[k] = x;
  }
  return out;
}
