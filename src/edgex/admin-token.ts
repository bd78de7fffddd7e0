/**
 * EdgeX's admin token (edgex-go `internal/security/secretstore/tokenmaintenance/constants.go`, `init.go`): the
 * `privileged-token-creator` policy, sent as HCL text with EdgeX's 4.x rules (3.1 has no entity-by-id, role-based
 * create or token-role rules), and an orphan periodic token created with EdgeX's exact body. It lives for one run:
 * the setup revokes it at the end (EdgeX's `oneshot` provider), so the file it was written to holds a dead token.
 */
import type { AdminTokenFlavor } from './token-issuer.js';
import { TOKEN_CREATOR_POLICY_NAME } from './token-issuer.js';

const RULES_COMMON = `
path "identity/entity/name" {
  capabilities = ["list"]
}

path "identity/entity/name/*" {
  capabilities = ["create", "update", "read"]
}
`;

const RULES_4X_ENTITY_ID = `
path "identity/entity/id/*" {
  capabilities = ["read"]
}
`;

const RULES_IDENTITY = `
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
`;

const RULES_4X_TOKENS = `
path "auth/token/create/*" {
  capabilities = ["create", "update", "sudo"]
}

path "auth/token/roles" {
  capabilities = ["list"]
}

path "auth/token/roles/*" {
  capabilities = ["create", "update"]
}
`;

const RULES_SYS = `
path "sys/auth" {
  capabilities = ["read"]
}

path "sys/policies/acl/edgex-service-*" {
  capabilities = ["create", "read", "update", "delete" ]
}

path "sys/policies/acl" {
  capabilities = ["list"]
}
`;

/** The `privileged-token-creator` policy text of an EdgeX version. */
export function edgexAdminPolicy(version: '4' | '3.1'): string {
  return version === '4' ? RULES_COMMON + RULES_4X_ENTITY_ID + RULES_IDENTITY + RULES_4X_TOKENS + RULES_SYS : RULES_COMMON + RULES_IDENTITY + RULES_SYS;
}

/** EdgeX's admin token: its policy, and the create body it sends with the root token (`auth/token/create`). */
export function edgexAdminToken(version: '4' | '3.1'): AdminTokenFlavor {
  return {
    policy: edgexAdminPolicy(version),
    request: { display_name: TOKEN_CREATOR_POLICY_NAME, no_parent: true, period: '1h', policies: [TOKEN_CREATOR_POLICY_NAME], ttl: '1h' },
    orphanEndpoint: false,
  };
}
