/**
 * One EdgeX service's identity in the secret store, made as EdgeX 4's file token provider makes it
 * (edgex-go `internal/security/fileprovider/tokenprovider/provider.go`, go-mod-secrets `management.go`, `token.go`),
 * with the admin (`privileged-token-creator`) token: its ACL policy, its entity, a userpass user with a new random
 * password, the entity alias binding the two, its OIDC role, (4.x) its token role, then a userpass login whose whole
 * answer is the service's token file. The status codes are the ones EdgeX's client insists on; every step is
 * idempotent, so a reboot re-does them all (new password, new token) and keeps the entity.
 */
import { SecretStoreError } from '../../errors.js';
import { randomBytes, wipe } from '../../crypto.js';
import type { VaultClient } from '../../vault/client.js';
import { servicePolicyName } from '../services/service-policy.js';

/** The OIDC key every service's identity JWT is signed with (created once by the setup). */
export const EDGEX_IDENTITY_KEY = 'edgex-identity';

/** What the provider needs of one service. */
export interface ServiceIdentitySpec {
  name: string;
  /** The ACL policy text (EdgeX sends JSON), stored as `edgex-service-<name>`. */
  policy: string;
}

/** Per-run settings shared by every service. */
export interface IdentitySettings {
  /** The userpass mount path, e.g. `userpass`. */
  userPassMountPoint: string;
  /** The accessor of that mount (read once per run from `sys/auth`). */
  userPassAccessor: string;
  /** userpass `token_period`, e.g. `1h`. */
  tokenPeriod: string;
  /** The OIDC role's `client_id` and `ttl`. */
  jwtAudience: string;
  jwtTtl: string;
  /** EdgeX 4 creates a token role per service (used by the re-issue endpoint); 3.1 does not. */
  tokenRoles: boolean;
}

function field(body: unknown, ...path: string[]): unknown {
  let v = body;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** `sys/auth` → the accessor of the userpass mount, failing clearly when it is not a userpass mount. */
export async function userPassAccessor(client: VaultClient, token: string, mount: string): Promise<string> {
  const res = await client.call('GET', 'sys/auth', { token }, [200]);
  const entry = field(res.body, 'data', `${mount}/`);
  if (field(entry, 'type') !== 'userpass' || typeof field(entry, 'accessor') !== 'string') {
    throw new SecretStoreError('STORE_ERROR', `the secret store at ${client.address} has no userpass auth method at ${mount}/`);
  }
  return field(entry, 'accessor') as string;
}

/** A new service password: standard base64 of 33 random bytes (44 characters), as EdgeX makes it. */
function newPassword(): Buffer {
  const raw = randomBytes(33);
  try {
    return Buffer.from(raw.toString('base64'), 'latin1');
  } finally {
    wipe(raw);
  }
}

/** `{"password":"<pw>",...rest}` as bytes, so the password never becomes part of a JS object the client logs or keeps. */
function bodyWithPassword(password: Buffer, rest: Record<string, unknown>): Buffer {
  const tail = JSON.stringify(rest).slice(1);
  // base64 needs no JSON escaping.
  return Buffer.concat([Buffer.from('{"password":"', 'latin1'), password, Buffer.from(tail === '}' ? '"}' : '",' + tail, 'utf8')]);
}

/**
 * Provisions one service and logs it in; resolves to the login answer (the token file's content). The password
 * exists only in memory for the length of this call.
 */
export async function provisionServiceIdentity(
  client: VaultClient,
  adminToken: string,
  spec: ServiceIdentitySpec,
  settings: IdentitySettings,
): Promise<Record<string, unknown>> {
  const svc = spec.name;
  const token = adminToken;
  const policyName = servicePolicyName(svc);
  await client.call('PUT', `sys/policies/acl/${policyName}`, { token, body: { policy: spec.policy }, idempotent: true }, [200, 204]);
  const entityPath = `identity/entity/name/${svc}`;
  const entity = await client.call('POST', entityPath, { token, body: { metadata: { name: svc }, policies: [policyName] }, idempotent: true }, [200, 204]);
  // 200 with the id on create; 204 on update, then the id is read back (go-mod-secrets CreateOrUpdateIdentity).
  const entityId = entity.status === 200 ? field(entity.body, 'data', 'id') : field((await client.call('GET', entityPath, { token }, [200])).body, 'data', 'id');
  if (typeof entityId !== 'string' || entityId === '') {
    throw new SecretStoreError('STORE_ERROR', `the secret store at ${client.address} returned no entity id for ${svc}`);
  }
  const password = newPassword();
  let userBody: Buffer | undefined;
  let loginBody: Buffer | undefined;
  try {
    userBody = bodyWithPassword(password, { token_period: settings.tokenPeriod, token_policies: [] });
    await client.call('POST', `auth/${settings.userPassMountPoint}/users/${svc}`, { token, body: userBody, idempotent: true }, [200, 204], `auth/${settings.userPassMountPoint}/users/${svc}`);
    await client.call(
      'POST',
      'identity/entity-alias',
      { token, body: { name: svc, canonical_id: entityId, mount_accessor: settings.userPassAccessor }, idempotent: true },
      [200, 204],
    );
    await client.call(
      'POST',
      `identity/oidc/role/${svc}`,
      { token, body: { client_id: settings.jwtAudience, key: EDGEX_IDENTITY_KEY, template: `{"name": "${svc}"}`, ttl: settings.jwtTtl }, idempotent: true },
      [200, 204],
    );
    if (settings.tokenRoles) {
      await client.call(
        'POST',
        `auth/token/roles/${svc}`,
        { token, body: { allowed_policies: [policyName], name: svc, renewable: true, allowed_entity_aliases: [svc], orphan: true }, idempotent: true },
        [200, 204],
      );
    }
    loginBody = bodyWithPassword(password, {});
    const login = await client.call('POST', `auth/${settings.userPassMountPoint}/login/${svc}`, { body: loginBody, idempotent: false }, [200], `the login of ${svc}`);
    if (typeof field(login.body, 'auth', 'client_token') !== 'string') {
      throw new SecretStoreError('STORE_ERROR', `the secret store at ${client.address} answered the login of ${svc} without a token`);
    }
    return login.body as Record<string, unknown>;
  } finally {
    wipe(password, userBody, loginBody);
  }
}
