/**
 * Which known secrets EdgeX's setup makes sure of, and where (edgex-go `internal/security/secretstore/init.go`,
 * `BootstrapHandler` from "set the validKnownSecrets" on, and `genPostgresCredentials`), computed from the settings
 * before anything is read or written:
 *
 * - `redisdb` (always, for every database type): user `default` at `secret/edgex/security-bootstrapper-redis/redisdb`,
 *   copied to `secret/edgex/<svc>/redisdb` for `redisdb[…]` additions, every `Databases.*.Service` and, with the
 *   redis bus, every `SecureMessageBus.Services.*.Service`.
 * - `postgres` (EdgeX 4 with `Database.Type` postgres): the superuser `postgres` at
 *   `secret/edgex/security-bootstrapper-postgres/postgres`, and for each `postgres[…]` addition (user = the service
 *   name) and each `Databases.*` service (user = its `Username`) a password of its own, stored at both
 *   `secret/edgex/<svc>/postgres` and `secret/edgex/security-bootstrapper-postgres/<svc>/postgres`.
 * - `message-bus` (bus types other than redis, none and empty): user `msgbususer` at
 *   `secret/edgex/security-bootstrapper-messagebus/message-bus`, copied for `message-bus[…]` additions and, with the
 *   mqtt bus, every `SecureMessageBus.Services.*.Service`.
 *
 * Entries with an empty `Service` are skipped, as in EdgeX. A path listed twice for the same value is planned once;
 * a path claimed by two different values is a CONFIG error (EdgeX would silently let the first writer win).
 */
import { SecretStoreError } from '../../errors.js';
import { MQTT_BUS, REDIS_BUS, usesMessageBusSecret } from './bus-types.js';
import type { KnownSecretAdditions } from './add-known-secrets.js';
import { MESSAGE_BUS, POSTGRES, REDISDB, type EdgexVersion, type KnownSecretName } from './known-secret-names.js';
import { isValidServiceName } from './service-name.js';

/** The KV v1 mount and EdgeX's folder in it. */
export const EDGEX_SECRET_BASE = 'secret/edgex';
/** User names EdgeX stores with newly generated shared secrets. */
export const REDISDB_USER = 'default';
/** See {@link REDISDB_USER}. */
export const MESSAGE_BUS_USER = 'msgbususer';
/** See {@link REDISDB_USER}. */
export const POSTGRES_SUPERUSER = 'postgres';
/** The services whose folders hold the main secrets. */
export const REDIS_BOOTSTRAPPER = 'security-bootstrapper-redis';
/** See {@link REDIS_BOOTSTRAPPER}. */
export const MESSAGE_BUS_BOOTSTRAPPER = 'security-bootstrapper-messagebus';
/** See {@link REDIS_BOOTSTRAPPER}. */
export const POSTGRES_BOOTSTRAPPER = 'security-bootstrapper-postgres';

/** One `Databases.<key>` entry. */
export interface EdgexDatabaseEntry {
  /** The service using the database; empty or missing: the entry is skipped. */
  Service?: string;
  /** Its PostgreSQL user (EdgeX 4); when empty the service name is used. */
  Username?: string;
}

/** The settings the plan is made from (configuration names as EdgeX spells them). */
export interface KnownSecretsSettings {
  /** `Databases`. */
  databases: Readonly<Record<string, EdgexDatabaseEntry>>;
  /** `SecureMessageBus` (its `Type` and `Services`). */
  secureMessageBus: { Type: string; Services: Readonly<Record<string, { Service?: string }>> };
  /** `Database.Type` (EdgeX 4; ignored for 3.1). */
  databaseType: string;
  /** The EdgeX release line to follow. */
  version: EdgexVersion;
}

/** Why a path gets a value. */
export type CopyReason = 'addition' | 'database' | 'message-bus-service' | 'bootstrapper';

/** One path that receives a value. */
export interface SecretTarget {
  /** The KV path, e.g. `secret/edgex/core-data/redisdb`. */
  path: string;
  /** The service it belongs to. */
  service: string;
  /** Where the path comes from: an `EDGEX_ADD_KNOWN_SECRETS` entry, `Databases`, `SecureMessageBus.Services`, or a bootstrapper's own folder. */
  reason: CopyReason;
}

/**
 * One value and every path that holds it. `shared` (redisdb, message-bus, the postgres superuser): the value is
 * the main path's, or a new password when the main path is absent; copies that exist keep what they hold.
 * `per-service` (a service's own postgres user): the value is the first existing path's (main first), or a new
 * password when none exists.
 */
export interface PlannedSecret {
  /** The known secret. */
  name: KnownSecretName;
  /** How the value is chosen. */
  kind: 'shared' | 'per-service';
  /** The user name stored with a new password. */
  username: string;
  /** The main path: read first, written first. */
  main: SecretTarget;
  /** The other paths that get the same value, in order. */
  copies: SecretTarget[];
}

/** The whole plan, in the order it is applied. */
export interface KnownSecretsPlan {
  secrets: PlannedSecret[];
}

/** `secret/edgex/<segments…>`. */
export function edgexSecretPath(...segments: string[]): string {
  return [EDGEX_SECRET_BASE, ...segments].join('/');
}

function checkConfigService(service: string, where: string): void {
  if (!isValidServiceName(service)) {
    throw new SecretStoreError(
      'CONFIG',
      `${where} names the service ${JSON.stringify(service)}, which is not a valid service name (1 to 512 letters, digits or _ . space ~ ^ - | < > { }, not . or ..); fix the configuration`,
    );
  }
}

/** Non-empty services of a `Databases`-like section, validated, in the section's order, with their keys. */
function servicesOf<T extends { Service?: string }>(section: Readonly<Record<string, T>>, sectionName: string): { key: string; entry: T; service: string }[] {
  const out: { key: string; entry: T; service: string }[] = [];
  for (const [key, entry] of Object.entries(section)) {
    const service = entry.Service ?? '';
    if (service === '') continue;
    checkConfigService(service, `${sectionName}.${key}.Service`);
    out.push({ key, entry, service });
  }
  return out;
}

/** Adds `target` to `secret`'s copies unless that path is already one of its paths. */
function addCopy(secret: PlannedSecret, target: SecretTarget): void {
  if (secret.main.path === target.path || secret.copies.some((c) => c.path === target.path)) return;
  secret.copies.push(target);
}

/** A shared secret for `name` whose main path is in `bootstrapper`'s folder. */
function shared(name: KnownSecretName, bootstrapper: string, username: string): PlannedSecret {
  return { name, kind: 'shared', username, main: { path: edgexSecretPath(bootstrapper, name), service: bootstrapper, reason: 'bootstrapper' }, copies: [] };
}

/** A shared secret copied to `secret/edgex/<svc>/<name>` for each service. */
function copyTo(secret: PlannedSecret, services: readonly string[], reason: CopyReason): void {
  for (const service of services) addCopy(secret, { path: edgexSecretPath(service, secret.name), service, reason });
}

/** The PostgreSQL secrets of EdgeX 4: per-service users (additions first, then `Databases`), then the superuser. */
function postgresSecrets(settings: KnownSecretsSettings, additions: readonly string[]): PlannedSecret[] {
  const perService = new Map<string, PlannedSecret>();
  const add = (service: string, username: string, reason: CopyReason): void => {
    if (perService.has(service)) return; // EdgeX: the first one written wins, later ones find it present
    perService.set(service, {
      name: POSTGRES,
      kind: 'per-service',
      username,
      main: { path: edgexSecretPath(service, POSTGRES), service, reason },
      copies: [{ path: edgexSecretPath(POSTGRES_BOOTSTRAPPER, service, POSTGRES), service, reason: 'bootstrapper' }],
    });
  };
  for (const service of additions) add(service, service, 'addition');
  for (const { entry, service } of servicesOf(settings.databases, 'Databases')) {
    const username = entry.Username ?? '';
    add(service, username === '' ? service : username, 'database');
  }
  return [...perService.values(), shared(POSTGRES, POSTGRES_BOOTSTRAPPER, POSTGRES_SUPERUSER)];
}

/** Fails when one path would receive two different values. */
function checkNoConflicts(secrets: readonly PlannedSecret[]): void {
  const owner = new Map<string, PlannedSecret>();
  for (const secret of secrets) {
    for (const target of [secret.main, ...secret.copies]) {
      const other = owner.get(target.path);
      if (other !== undefined && other !== secret) {
        throw new SecretStoreError(
          'CONFIG',
          `the secret path ${target.path} would hold two different ${target.path.endsWith(`/${POSTGRES}`) ? 'PostgreSQL ' : ''}credentials (for ${other.main.service} and ${secret.main.service}); rename the service in EDGEX_ADD_KNOWN_SECRETS or the configuration`,
        );
      }
      owner.set(target.path, secret);
    }
  }
}

/**
 * The plan for these settings and additions (from {@link parseAddKnownSecrets}; `message-bus` additions are ignored
 * when the bus type has no message-bus secret, `postgres` ones unless EdgeX 4 with database type postgres). Throws
 * CONFIG for an invalid service name in the configuration or a path claimed twice.
 */
export function planKnownSecrets(settings: KnownSecretsSettings, additions: KnownSecretAdditions): KnownSecretsPlan {
  const busType = settings.secureMessageBus.Type;
  const busServices = servicesOf(settings.secureMessageBus.Services, 'SecureMessageBus.Services').map((s) => s.service);
  const databaseServices = servicesOf(settings.databases, 'Databases').map((s) => s.service);
  for (const name of [REDISDB, MESSAGE_BUS, POSTGRES] as const) {
    for (const service of additions[name]) checkConfigService(service, `EDGEX_ADD_KNOWN_SECRETS (${name})`);
  }
  const secrets: PlannedSecret[] = [];

  const redis = shared(REDISDB, REDIS_BOOTSTRAPPER, REDISDB_USER);
  copyTo(redis, additions[REDISDB], 'addition');
  copyTo(redis, databaseServices, 'database');
  if (busType === REDIS_BUS) copyTo(redis, busServices, 'message-bus-service');
  secrets.push(redis);

  if (settings.version === '4' && settings.databaseType === POSTGRES) secrets.push(...postgresSecrets(settings, additions[POSTGRES]));

  if (usesMessageBusSecret(busType)) {
    const bus = shared(MESSAGE_BUS, MESSAGE_BUS_BOOTSTRAPPER, MESSAGE_BUS_USER);
    copyTo(bus, additions[MESSAGE_BUS], 'addition');
    if (busType === MQTT_BUS) copyTo(bus, busServices, 'message-bus-service');
    secrets.push(bus);
  }

  checkNoConflicts(secrets);
  return { secrets };
}
