/**
 * The token-issuing ("token provider admin") token: policy `privileged-token-creator` and an orphan periodic token
 * (period 1h) holding it, written as Vault's token-create response JSON — as EdgeX writes it — to
 * TokenProviderAdminTokenPath (folder 0700, file 0600, atomic). A new token is issued on every boot (the previous
 * one's accessor is read from the old file and revoked once the new file is in place).
 */
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SecretStoreError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';
import { writeFileAtomic } from '../keyfile/atomic-write.js';

/** The policy name EdgeX uses. */
export const TOKEN_CREATOR_POLICY_NAME = 'privileged-token-creator';

/**
 * What EdgeX grants the token provider: create tokens (sudo, so child tokens may carry policies the creator lacks),
 * manage the per-service `edgex-service-*` policies, list policies; plus EdgeX 4's identity/userpass paths for
 * per-service logins. Nothing else: it cannot read secrets or touch `sys/` beyond that.
 */
export const TOKEN_CREATOR_POLICY = `# Managed by secretstore-setup: the token provider's admin policy (EdgeX "privileged-token-creator").
path "auth/token/create" {
  capabilities = ["create", "update", "sudo"]
}
path "auth/token/create-orphan" {
  capabilities = ["create", "update", "sudo"]
}
path "auth/token/create/*" {
  capabilities = ["create", "update", "sudo"]
}
path "sys/policies/acl/edgex-service-*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "identity/entity/name" {
  capabilities = ["list"]
}
path "identity/entity/name/*" {
  capabilities = ["create", "update", "read"]
}
path "identity/entity-alias" {
  capabilities = ["create", "update"]
}
path "identity/oidc/role" {
  capabilities = ["list"]
}
path "identity/oidc/role/*" {
  capabilities = ["create", "update"]
}
path "auth/userpass/users/*" {
  capabilities = ["create", "update"]
}
path "sys/auth" {
  capabilities = ["read"]
}
`;

/** The accessor recorded in an existing token file, if it is one of ours and readable. */
function previousAccessor(path: string, log: Logger): string | undefined {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch {
    return undefined;
  }
  try {
    const doc: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof doc !== 'object' || doc === null) return undefined;
    const auth = (doc as { auth?: unknown }).auth;
    if (typeof auth !== 'object' || auth === null) return undefined;
    const accessor = (auth as { accessor?: unknown }).accessor;
    return typeof accessor === 'string' && accessor !== '' ? accessor : undefined;
  } catch {
    log.warn('the previous token-issuing token file is not JSON; it will be replaced', { path });
    return undefined;
  } finally {
    raw.fill(0);
  }
}

/** Result of {@link issueAdminToken}: where the token went and its (non-secret) accessor. */
export interface IssuedToken {
  path: string;
  accessor: string;
  previousRevoked: boolean;
}

/** What differs between the token-issuing token of the plain boot flow and EdgeX's admin token. */
export interface AdminTokenFlavor {
  /** The policy's name (default `privileged-token-creator`). */
  policyName?: string;
  /** How the log names the token (default `token-issuing token`). */
  label?: string;
  /** The policy text (HCL). */
  policy: string;
  /** The token-create body. */
  request: Record<string, unknown>;
  /** `create-orphan` (true) or `create` with `no_parent` in the body (false, as EdgeX does). */
  orphanEndpoint: boolean;
}

/** The plain boot flow's token-issuing token: kept valid after the run for a token provider to use. */
export const DEFAULT_ADMIN_TOKEN: AdminTokenFlavor = {
  policy: TOKEN_CREATOR_POLICY,
  request: { policies: [TOKEN_CREATOR_POLICY_NAME], period: '1h', renewable: true, display_name: 'token-provider-admin', meta: { creator: 'secretstore-setup' } },
  orphanEndpoint: true,
};

/** Writes the policy, creates the token, writes the file, revokes the previous token. */
export async function issueAdminToken(
  client: VaultClient,
  rootToken: string,
  path: string,
  log: Logger,
  flavor: AdminTokenFlavor = DEFAULT_ADMIN_TOKEN,
): Promise<IssuedToken & { token: string }> {
  const policyName = flavor.policyName ?? TOKEN_CREATOR_POLICY_NAME;
  const previous = previousAccessor(path, log);
  await client.putPolicy(rootToken, policyName, flavor.policy);
  log.info('policy written', { policy: policyName });
  const { auth, response } = await client.createToken(rootToken, flavor.request, flavor.orphanEndpoint);
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot create folder ${dir} for the token-issuing token (${describeCause(err)})`);
  }
  const data = Buffer.from(JSON.stringify(response) + '\n', 'utf8');
  try {
    writeFileAtomic(path, data, 0o600);
  } catch (err) {
    // EdgeX revokes the token when its file cannot be written: a token nobody can find must not stay valid.
    await client.revokeAccessor(rootToken, auth.accessor).catch(() => undefined);
    throw err;
  } finally {
    data.fill(0);
  }
  log.info(`${flavor.label ?? 'token-issuing token'} written`, { path, accessor: auth.accessor, policy: policyName });
  let previousRevoked = false;
  if (previous !== undefined && previous !== auth.accessor) {
    await client.revokeAccessor(rootToken, previous);
    previousRevoked = true;
    log.info('previous token-issuing token revoked', { accessor: previous });
  }
  return { path, accessor: auth.accessor, previousRevoked, token: auth.clientToken };
}
