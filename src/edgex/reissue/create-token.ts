/**
 * EdgeX 4's `security-file-token-provider createToken -entityId <id>` (edgex-go
 * `internal/security/fileprovider/tokenprovider/provider.go`, `RegenToken`), done in-process: a new token for the
 * service an identity entity stands for, written as that service's token file.
 *
 * With the admin (`privileged-token-creator`) token: `GET /v1/identity/entity/id/<id>` (200) → the service is the name
 * of the entity's FIRST alias (`data.aliases[0].name`), its policies the entity's `data.policies`, or
 * `["edgex-service-<service>"]` when there are none; then `POST /v1/auth/token/create/<service>` (the service's token
 * role; 200) with EdgeX's body, and the whole answer becomes `<OutputDir>/<service>/<OutputFilename>`.
 *
 * The token is bound (`entity_alias`) to an alias of the service's name on the TOKEN auth mount, which belongs to an
 * entity of its own — not the userpass entity — and carries its policies directly. The new token file's
 * `auth.entity_id` is that entity's id, whose only alias is the service name and which has no policies: a later
 * re-issue with it takes the `edgex-service-<service>` fallback, so the cycle keeps working.
 *
 * Differences from EdgeX, on purpose: the file is replaced atomically (EdgeX truncates it before it even asks for the
 * token, so any failure leaves the service with an empty file), its folder is created 0700 when missing, the alias
 * must be a valid service name before it goes into a path, and a token whose file cannot be written is revoked.
 */
import { SecretStoreError, isSecretStoreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { VaultClient } from '../../vault/client.js';
import { asObject, parseTokenAuth } from '../../vault/types.js';
import { writeTokenFile } from '../token-provider/token-file.js';

/** Where and how the re-issued token is written (the file token provider's `TokenFileProvider` settings). */
export interface ReissueTokenSettings {
  /** `OutputDir`: token files are `<outputDir>/<service>/<outputFilename>`. */
  outputDir: string;
  /** `OutputFilename`, e.g. `secrets-token.json`: a plain file name. */
  outputFilename: string;
  /** `DefaultTokenTTL`, e.g. `1h`: the token's `ttl` and `period`. */
  tokenTtl: string;
}

/** What a re-issue did (no secrets). */
export interface ReissueTokenResult {
  /** The service (the entity's first alias name). */
  service: string;
  /** The token file written. */
  path: string;
  /** The policies asked for. */
  policies: string[];
}

/** An identity entity id as the store makes them: a UUID in its 8-4-4-4-12 hex form (no version check: Vault's are random). */
export const ENTITY_ID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True when `value` has the shape of an identity entity id. */
export function isEntityId(value: string): boolean {
  return ENTITY_ID_PATTERN.test(value);
}

/** The userpass user-name rule of EdgeX's secret-store client: what a service name must be to become a path segment. */
const SERVICE_NAME = /^[-a-zA-Z0-9_]+$/;

/** The body EdgeX sends to `auth/token/create/<service>` (provider.go `RegenToken`), field for field. */
export function reissueTokenRequest(service: string, policies: readonly string[], tokenTtl: string): Record<string, unknown> {
  return {
    display_name: `token-${service}`,
    role_name: service,
    entity_alias: service,
    no_parent: true,
    policies: [...policies],
    meta: { user: service },
    ttl: tokenTtl,
    period: tokenTtl,
    renewable: true,
  };
}

function checkSettings(settings: ReissueTokenSettings): void {
  const name = settings.outputFilename;
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new SecretStoreError('CONFIG', `the token file name (OutputFilename) must be a plain file name, got ${JSON.stringify(name.slice(0, 80))}`);
  }
  if (settings.outputDir === '') throw new SecretStoreError('CONFIG', 'the token folder (OutputDir) is empty');
  if (!/^[0-9a-zA-Zµ.]+$/.test(settings.tokenTtl)) {
    throw new SecretStoreError('CONFIG', `the token TTL (DefaultTokenTTL) must be a duration such as 1h, got ${JSON.stringify(settings.tokenTtl.slice(0, 40))}`);
  }
}

/** The service name and policies of an entity read with `GET identity/entity/id/<id>`. */
function serviceOfEntity(body: unknown, entityId: string): { service: string; policies: string[] } {
  const what = `identity/entity/id/${entityId}`;
  const data = asObject(asObject(body, what).data, what, 'data');
  const aliases = data.aliases;
  if (aliases !== undefined && aliases !== null && !Array.isArray(aliases)) {
    throw new SecretStoreError('STORE_ERROR', `malformed response from the store to ${what}: bad "aliases"`);
  }
  const first: unknown = aliases?.[0];
  if (first === undefined) {
    throw new SecretStoreError(
      'STORE_ERROR',
      `the identity entity ${entityId} has no alias, so it names no service; only entities made for EdgeX services (or by an earlier re-issue) can get a new token`,
    );
  }
  const service = asObject(first, what, 'aliases[0]').name;
  if (typeof service !== 'string') throw new SecretStoreError('STORE_ERROR', `malformed response from the store to ${what}: bad "aliases[0].name"`);
  if (!SERVICE_NAME.test(service)) {
    throw new SecretStoreError(
      'STORE_ERROR',
      `the first alias of the identity entity ${entityId} is not a valid service name (only letters, digits, "-" and "_"), got ${JSON.stringify(service.slice(0, 80))}`,
    );
  }
  const raw = data.policies;
  if (raw !== undefined && raw !== null && !(Array.isArray(raw) && raw.every((p): p is string => typeof p === 'string'))) {
    throw new SecretStoreError('STORE_ERROR', `malformed response from the store to ${what}: bad "policies"`);
  }
  const policies = raw === undefined || raw === null || raw.length === 0 ? [`edgex-service-${service}`] : raw;
  return { service, policies };
}

/**
 * Re-issues the token of the service that identity entity `entityId` stands for, as EdgeX's `createToken` does, and
 * replaces the service's token file atomically (0600, folder 0700). `adminToken` is the `privileged-token-creator`
 * token (it may read `identity/entity/id/*` and create on `auth/token/create/*`). Errors are SecretStoreErrors whose
 * messages never hold a token: 'USAGE' (not an entity id), 'CONFIG' (settings), 'STORE_*' (the store refused or
 * answered oddly; the token file is then untouched), 'IO' (the file could not be written; the new token is revoked).
 */
export async function reissueServiceToken(
  client: VaultClient,
  adminToken: string,
  entityId: string,
  settings: ReissueTokenSettings,
  log: Logger,
): Promise<ReissueTokenResult> {
  if (!isEntityId(entityId)) {
    throw new SecretStoreError('USAGE', `${JSON.stringify(entityId.slice(0, 80))} is not an identity entity id (a UUID such as 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0)`);
  }
  checkSettings(settings);
  const entityPath = `identity/entity/id/${entityId}`;
  const entity = await client.request('GET', entityPath, { token: adminToken });
  if (entity.status === 404) {
    throw new SecretStoreError('STORE_ERROR', `the secret store has no identity entity with id ${entityId} (HTTP 404 on ${entityPath})`);
  }
  if (entity.status !== 200) throw client.statusError(entity, entityPath);
  const { service, policies } = serviceOfEntity(entity.body, entityId);

  const createPath = `auth/token/create/${service}`;
  const res = await client.call('POST', createPath, { token: adminToken, body: reissueTokenRequest(service, policies, settings.tokenTtl), idempotent: false }, [200]);
  // Validated first: a 200 without a usable token must not replace a working file.
  const auth = parseTokenAuth(res.body, createPath);
  const answer = asObject(res.body, createPath);
  let path: string;
  try {
    path = await writeTokenFile(settings.outputDir, service, settings.outputFilename, answer);
  } catch (err) {
    // Nobody will ever read this token: revoke it (any token may revoke itself) rather than leave it valid for a period.
    try {
      await client.revokeSelf(auth.clientToken);
    } catch (revokeErr) {
      log.warn('could not revoke the re-issued token whose file could not be written', {
        service,
        entityId,
        error: isSecretStoreError(revokeErr) ? revokeErr.code : 'unknown',
      });
    }
    if (isSecretStoreError(err)) throw err;
    throw new SecretStoreError('IO', `cannot write the token file of ${service}`, { cause: err });
  }
  log.info('service token re-issued', { service, entityId, file: path, policies: policies.join(',') });
  return { service, path, policies: [...policies] };
}
