/**
 * Identity-token roles (Vault's `identity/oidc/role/<name>`): which named key signs, which client id becomes the
 * `aud` claim, how long tokens live, and the template of extra claims.
 */
import { badRequest, notFound } from '../../api-error.js';
import type { JsonObject, LogicalResponse } from '../../logical.js';
import { stringField } from '../../tokens/fields.js';
import { randomBase62 } from '../../../crypto.js';
import { durationField, has } from './oidc-fields.js';
import { DEFAULT_KEY_PERIOD_SECONDS } from './oidc-keys.js';
import type { OidcContext } from './oidc-store.js';
import { decodeTemplateParam, validateTemplate } from './oidc-template.js';

/** Length of a generated client id (Vault's `base62.Random(26)`). */
const CLIENT_ID_LENGTH = 26;

/**
 * POST/PUT `oidc/role/<name>`: creates the role or changes the fields sent. Checks in Vault's order: a key is
 * named, the template fills to a JSON object without reserved claims, the key exists, the ttl fits in the key's
 * verification_ttl. A client id is generated once when none is given.
 */
export async function writeRole(ctx: OidcContext, name: string, data: JsonObject): Promise<LogicalResponse> {
  const existing = await ctx.store.getRole(name);
  const key = has(data, 'key') ? stringField(data, 'key') : (existing?.key ?? '');
  if (key === '') throw badRequest('the key parameter is required');

  // Only a template sent now may be base64: the stored one is already decoded.
  const template = has(data, 'template') ? decodeTemplateParam(stringField(data, 'template')) : (existing?.template ?? '');
  validateTemplate(template, Math.floor(ctx.now() / 1000));

  const ttl = durationField(data, 'ttl', existing?.ttl ?? DEFAULT_KEY_PERIOD_SECONDS);
  const namedKey = await ctx.store.getKey(key);
  if (namedKey === undefined) throw badRequest(`key "${key}" does not exist`);
  if (ttl > namedKey.verification_ttl) {
    throw badRequest("a role's token ttl cannot be longer than the verification_ttl of the key it references");
  }

  let clientId = has(data, 'client_id') ? stringField(data, 'client_id') : (existing?.client_id ?? '');
  if (clientId === '') clientId = randomBase62(CLIENT_ID_LENGTH);

  await ctx.store.putRole(name, { key, template, ttl, client_id: clientId });
  return { status: 204 };
}

/** GET `oidc/role/<name>`: `{key, template, ttl, client_id}`, or 404. */
export async function readRole(ctx: OidcContext, name: string): Promise<LogicalResponse> {
  const role = await ctx.store.getRole(name);
  if (role === undefined) throw notFound();
  return { data: { client_id: role.client_id, key: role.key, template: role.template, ttl: role.ttl } };
}

/** DELETE `oidc/role/<name>`: 204 whether or not it existed (its tokens stop introspecting as active). */
export async function deleteRole(ctx: OidcContext, name: string): Promise<LogicalResponse> {
  await ctx.store.deleteRole(name);
  return { status: 204 };
}

/** LIST `oidc/role/`: the role names, or 404 when there are none. */
export async function listRoles(ctx: OidcContext): Promise<LogicalResponse> {
  const keys = await ctx.store.listRoles();
  if (keys.length === 0) throw notFound();
  return { data: { keys } };
}

export type { RoleRecord } from './oidc-store.js';
