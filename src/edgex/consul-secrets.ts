/**
 * EdgeX 3.1's Consul duties (edgex-go v3.1.1 `internal/security/secretstore/init.go`, `secretsengine/enabler.go`,
 * `tokenfilewriter/tokenfilewriter.go`): the Consul secrets engine mounted at `consul/` when absent (lease TTL "0"),
 * and a management token for it — policy `consul_secrets_engine_management_policy` (configure access, manage roles),
 * an orphan periodic service token written to `ConsulSecretsAdminTokenPath` — that security-bootstrapper uses to
 * give each service its Consul ACL token. EdgeX 4 has no Consul. The embedded store has no Consul engine: against
 * it the mount fails with the store's own clear answer (`plugin not found in the catalog: consul`).
 */
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';
import { issueAdminToken, type IssuedToken } from './token-issuer.js';

/** The mount point and policy name EdgeX 3.1 uses. */
export const CONSUL_MOUNT = 'consul';
export const CONSUL_POLICY_NAME = 'consul_secrets_engine_management_policy';

/** EdgeX 3.1's policy text for the Consul management token. */
export const CONSUL_POLICY = `
# allow to configure the access information for Consul
path "${CONSUL_MOUNT}/config/access" {
    capabilities = ["create", "update"]
}

# allow to create, update, read, list, or delete the Consul role definition
path "${CONSUL_MOUNT}/roles/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}
`;

/** Mounts the Consul secrets engine at `consul/` unless one is there; true when it mounted it. */
export async function ensureConsulSecretsEngine(client: VaultClient, token: string, log: Logger): Promise<boolean> {
  const mounts = await client.listMounts(token);
  if (mounts.get(`${CONSUL_MOUNT}/`)?.type === 'consul') {
    log.info('consul secrets engine already enabled');
    return false;
  }
  await client.call('POST', `sys/mounts/${CONSUL_MOUNT}`, { token, body: { type: 'consul', config: { default_lease_ttl: '0' } }, idempotent: false }, [200, 204]);
  log.info('consul secrets engine enabled', { mount: `${CONSUL_MOUNT}/` });
  return true;
}

/** Writes the management token (EdgeX's exact body) to `path`; it stays valid (EdgeX does not revoke it). */
export function issueConsulManagementToken(client: VaultClient, token: string, path: string, log: Logger): Promise<IssuedToken & { token: string }> {
  return issueAdminToken(client, token, path, log, {
    policyName: CONSUL_POLICY_NAME,
    policy: CONSUL_POLICY,
    label: 'Consul secrets engine management token',
    request: {
      type: 'service',
      display_name: 'for Consul ACL bootstrap',
      no_parent: true,
      period: '1h',
      policies: [CONSUL_POLICY_NAME],
      meta: { description: 'Consul secrets engine management token' },
    },
    orphanEndpoint: false,
  });
}
