/**
 * Persistence of the identity-token state in the backend's own (barrier-encrypted) storage: `config`, `key/<name>`
 * and `role/<name>`, each one JSON record. Also the state every OIDC handler shares ({@link OidcContext}).
 */
import type { EntityLookup } from '../identity-types.js';
import type { Storage } from '../../storage/storage.js';
import { DEFAULT_OIDC_CONFIG, type OidcConfigRecord } from './oidc-config.js';
import { maintainKey, type NamedKeyRecord, type SigningKeyCache } from './oidc-keys.js';

const CONFIG_KEY = 'config';
const KEY_PREFIX = 'key/';
const ROLE_PREFIX = 'role/';

/** What the OIDC handlers share: storage, the entity reader, decoded private keys and the clock. */
/** One role as stored. */
export interface RoleRecord {
  /** The named key that signs the role's tokens. */
  key: string;
  /** The template (decoded JSON text), `""` for none. */
  template: string;
  /** Token lifetime in seconds. */
  ttl: number;
  /** The `aud` claim of the role's tokens. */
  client_id: string;
}

export interface OidcContext {
  store: OidcStore;
  entities: EntityLookup;
  signingKeys: SigningKeyCache;
  /** Epoch milliseconds. */
  now: () => number;
}

function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Decodes a record this module wrote (storage is ours and authenticated by the barrier, so the shape is trusted). */
function decode(bytes: Buffer | undefined): unknown {
  return bytes === undefined ? undefined : JSON.parse(bytes.toString('utf8'));
}

/** Typed reads and writes of the OIDC records. */
export class OidcStore {
  private readonly storage: Storage;

  /** `storage` is the identity store's OIDC namespace (already prefixed, under the barrier). */
  constructor(storage: Storage) {
    this.storage = storage;
  }

  /** The configuration (the default when never written). */
  async getConfig(): Promise<OidcConfigRecord> {
    return (decode(await this.storage.get(CONFIG_KEY)) as OidcConfigRecord | undefined) ?? { ...DEFAULT_OIDC_CONFIG };
  }

  /** Stores the configuration. */
  putConfig(config: OidcConfigRecord): Promise<void> {
    return this.storage.put(CONFIG_KEY, encode(config));
  }

  /** The named key, or undefined. */
  async getKey(name: string): Promise<NamedKeyRecord | undefined> {
    return decode(await this.storage.get(KEY_PREFIX + name)) as NamedKeyRecord | undefined;
  }

  /** Stores a named key. */
  putKey(name: string, key: NamedKeyRecord): Promise<void> {
    return this.storage.put(KEY_PREFIX + name, encode(key));
  }

  /** Removes a named key. */
  deleteKey(name: string): Promise<void> {
    return this.storage.delete(KEY_PREFIX + name);
  }

  /** The names of every key, sorted. */
  async listKeys(): Promise<string[]> {
    return (await this.storage.list(KEY_PREFIX)).filter((n) => !n.endsWith('/'));
  }

  /**
   * The named key brought up to date at `now` (rotated when due, expired public keys dropped), stored again when it
   * changed; undefined when absent. Callers hold the backend's write lock, so a due key is rotated once.
   */
  async getFreshKey(name: string, now: number, cache: SigningKeyCache): Promise<NamedKeyRecord | undefined> {
    const key = await this.getKey(name);
    if (key === undefined) return undefined;
    const updated = await maintainKey(key, now, cache);
    if (updated === undefined) return key;
    await this.putKey(name, updated);
    return updated;
  }

  /** Every key brought up to date at `now` (see {@link getFreshKey}), by name in sorted order. */
  async getFreshKeys(now: number, cache: SigningKeyCache): Promise<Map<string, NamedKeyRecord>> {
    const out = new Map<string, NamedKeyRecord>();
    for (const name of await this.listKeys()) {
      const key = await this.getFreshKey(name, now, cache);
      if (key !== undefined) out.set(name, key);
    }
    return out;
  }

  /** The named role, or undefined. */
  async getRole(name: string): Promise<RoleRecord | undefined> {
    return decode(await this.storage.get(ROLE_PREFIX + name)) as RoleRecord | undefined;
  }

  /** Stores a role. */
  putRole(name: string, role: RoleRecord): Promise<void> {
    return this.storage.put(ROLE_PREFIX + name, encode(role));
  }

  /** Removes a role. */
  deleteRole(name: string): Promise<void> {
    return this.storage.delete(ROLE_PREFIX + name);
  }

  /** The names of every role, sorted. */
  async listRoles(): Promise<string[]> {
    return (await this.storage.list(ROLE_PREFIX)).filter((n) => !n.endsWith('/'));
  }

  /** Every role with its name, in name order. */
  async allRoles(): Promise<[string, RoleRecord][]> {
    const out: [string, RoleRecord][] = [];
    for (const name of await this.listRoles()) {
      const role = await this.getRole(name);
      if (role !== undefined) out.push([name, role]);
    }
    return out;
  }

  /** The roles that sign with the named key, in name order. */
  async rolesUsingKey(keyName: string): Promise<[string, RoleRecord][]> {
    return (await this.allRoles()).filter(([, role]) => role.key === keyName);
  }
}
