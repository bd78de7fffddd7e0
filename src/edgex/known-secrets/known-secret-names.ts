/**
 * The names of EdgeX's known secrets and the EdgeX release lines whose rules differ (edgex-go
 * `internal/security/secretstore/init.go` constants `redisSecretName`, `postgresSecretName`, `messagebusSecretName`).
 * A known secret's name is also the last segment of every path it is stored at: `secret/edgex/<service>/<name>`.
 */

/** The shared Redis credentials (user `default`). */
export const REDISDB = 'redisdb';
/** The shared message-bus credentials (user `msgbususer`), for bus types other than redis. */
export const MESSAGE_BUS = 'message-bus';
/** PostgreSQL credentials (EdgeX 4 with `Database.Type` postgres): a superuser, and one user per service. */
export const POSTGRES = 'postgres';

/** One of the known secret names. */
export type KnownSecretName = typeof REDISDB | typeof MESSAGE_BUS | typeof POSTGRES;

/** The EdgeX release line whose behaviour to follow: `4` (4.x, OpenBao) or `3.1` (Vault; no postgres). */
export type EdgexVersion = '4' | '3.1';
