/**
 * The `identity/oidc/key/*` endpoints: create, update, read, delete, list and rotate named signing keys, with
 * Vault's defaults, checks and messages. Callers hold the backend's write lock for every handler that writes.
 */
import { badRequest, notFound } from '../../api-error.js';
import type { JsonObject, LogicalResponse } from '../../logical.js';
import { stringField, stringListField } from '../../tokens/fields.js';
import { durationField, has } from './oidc-fields.js';
import {
  DEFAULT_KEY_PERIOD_SECONDS,
  generateSigningKey,
  parseAlgorithm,
  pruneKey,
  rotateKey,
  type NamedKeyRecord,
} from './oidc-keys.js';
import type { OidcContext } from './oidc-store.js';

/** Shortest rotation period Vault accepts, in seconds. */
const MIN_ROTATION_SECONDS = 60;

/**
 * POST/PUT `oidc/key/<name>`: creates the key (with Vault's defaults: 24h, 24h, RS256, no client ids) or changes the
 * fields sent. A changed algorithm rotates at once; a shorter rotation period brings the next rotation forward.
 */
export async function writeKey(ctx: OidcContext, name: string, data: JsonObject): Promise<LogicalResponse> {
  const now = ctx.now();
  const existing = await ctx.store.getKey(name);

  const rotationPeriod = durationField(data, 'rotation_period', existing?.rotation_period ?? DEFAULT_KEY_PERIOD_SECONDS);
  if (rotationPeriod < MIN_ROTATION_SECONDS) throw badRequest('rotation_period must be at least one minute');

  const verificationTtl = durationField(data, 'verification_ttl', existing?.verification_ttl ?? DEFAULT_KEY_PERIOD_SECONDS);
  if (verificationTtl > 10 * rotationPeriod) throw badRequest('verification_ttl cannot be longer than 10x rotation_period');

  // A role's tokens must stay verifiable for their whole life, so the key may not shrink below any role's ttl.
  for (const [, role] of await ctx.store.rolesUsingKey(name)) {
    if (role.ttl > verificationTtl) {
      throw badRequest(
        `unable to update key "${name}" because it is currently referenced by one or more roles with a token ttl greater than ${verificationTtl} seconds`,
      );
    }
  }

  const allowedClientIds = stringListField(data, 'allowed_client_ids') ?? existing?.allowed_client_ids ?? [];
  const algorithm = parseAlgorithm(has(data, 'algorithm') ? stringField(data, 'algorithm') : (existing?.algorithm ?? 'RS256'));

  let nextRotation = now + rotationPeriod * 1000;
  if (existing !== undefined && existing.next_rotation < nextRotation) nextRotation = existing.next_rotation;

  let key: NamedKeyRecord;
  if (existing === undefined) {
    const fresh = await generateSigningKey(algorithm);
    ctx.signingKeys.remember(fresh.record.kid, fresh.privateKey);
    key = {
      algorithm,
      rotation_period: rotationPeriod,
      verification_ttl: verificationTtl,
      allowed_client_ids: allowedClientIds,
      next_rotation: nextRotation,
      current: fresh.record,
      previous: [],
    };
  } else {
    key = {
      ...existing,
      algorithm,
      rotation_period: rotationPeriod,
      verification_ttl: verificationTtl,
      allowed_client_ids: allowedClientIds,
      next_rotation: nextRotation,
    };
    if (algorithm !== existing.algorithm) {
      // The old key pair cannot sign for the new algorithm: rotate now, keeping the old public key verifiable.
      const fresh = await generateSigningKey(algorithm);
      ctx.signingKeys.remember(fresh.record.kid, fresh.privateKey);
      ctx.signingKeys.drop(existing.current.kid);
      key = rotateKey(key, fresh.record, now + verificationTtl * 1000, now);
    }
  }
  await ctx.store.putKey(name, pruneKey(key, now));
  return { status: 204 };
}

/** GET `oidc/key/<name>`: `{algorithm, allowed_client_ids, rotation_period, verification_ttl}` (seconds), or 404. */
export async function readKey(ctx: OidcContext, name: string): Promise<LogicalResponse> {
  const key = await ctx.store.getKey(name);
  if (key === undefined) throw notFound();
  return {
    data: {
      algorithm: key.algorithm,
      allowed_client_ids: key.allowed_client_ids,
      rotation_period: key.rotation_period,
      verification_ttl: key.verification_ttl,
    },
  };
}

/** DELETE `oidc/key/<name>`: 204, or 400 while roles still sign with it. */
export async function deleteKey(ctx: OidcContext, name: string): Promise<LogicalResponse> {
  const roles = (await ctx.store.rolesUsingKey(name)).map(([roleName]) => roleName);
  if (roles.length > 0) {
    throw badRequest(`unable to delete key "${name}" because it is currently referenced by these roles: ${roles.join(', ')}`);
  }
  const key = await ctx.store.getKey(name);
  if (key !== undefined) ctx.signingKeys.drop(key.current.kid);
  await ctx.store.deleteKey(name);
  return { status: 204 };
}

/** LIST `oidc/key/`: the key names, or 404 when there are none. */
export async function listKeys(ctx: OidcContext): Promise<LogicalResponse> {
  const keys = await ctx.store.listKeys();
  if (keys.length === 0) throw notFound();
  return { data: { keys } };
}

/**
 * POST `oidc/key/<name>/rotate`: a new key pair signs from now on; the replaced public key stays verifiable for the
 * request's `verification_ttl` (when given and not negative) or the key's.
 */
export async function rotateNamedKey(ctx: OidcContext, name: string, data: JsonObject): Promise<LogicalResponse> {
  const now = ctx.now();
  const existing = await ctx.store.getKey(name);
  if (existing === undefined) throw badRequest(`no named key found at "${name}"`);
  const override = durationField(data, 'verification_ttl', -1);
  const verificationTtl = override >= 0 ? override : existing.verification_ttl;
  const fresh = await generateSigningKey(existing.algorithm);
  ctx.signingKeys.remember(fresh.record.kid, fresh.privateKey);
  ctx.signingKeys.drop(existing.current.kid);
  await ctx.store.putKey(name, pruneKey(rotateKey(existing, fresh.record, now + verificationTtl * 1000, now), now));
  return { status: 204 };
}
