/**
 * EdgeX's default token-config.json — the services `security-secretstore-setup` gives an identity out of the box —
 * for 4.x and 3.1, as typed constants. Both are exact copies (same services in the same order, same custom policies);
 * the tests compare them with the files they come from.
 */
import type { TokenConfig, TokenConfigEntry } from './token-config.js';

/** The EdgeX releases whose defaults are known. */
export type EdgexVersion = '4' | '3.1';

/** Freezes `value` and everything in it, so the shared constants cannot be changed by a caller. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * EdgeX 4.x's default token config: edgex-go `cmd/security-file-token-provider/res/token-config.json` at commit
 * 2bee238e8 (2bee238e8510a15974a23743e1f7ddd35801407b, blob 91e1cfc0c).
 */
export const EDGEX_4_TOKEN_CONFIG: Readonly<Record<string, TokenConfigEntry>> = deepFreeze<Record<string, TokenConfigEntry>>({
  'core-command': { edgex_use_defaults: true },
  'core-data': { edgex_use_defaults: true },
  'core-metadata': { edgex_use_defaults: true },
  'core-common-config-bootstrapper': { edgex_use_defaults: true },
  'core-keeper': { edgex_use_defaults: true },
  'security-bootstrapper-redis': { edgex_use_defaults: true },
  'security-bootstrapper-postgres': { edgex_use_defaults: true },
  'security-bootstrapper-messagebus': { edgex_use_defaults: true },
  'support-notifications': { edgex_use_defaults: true },
  'app-rules-engine': { edgex_use_defaults: true },
  'device-virtual': { edgex_use_defaults: true },
  'device-rest': { edgex_use_defaults: true },
  'support-scheduler': { edgex_use_defaults: true },
  'security-proxy-auth': { edgex_use_defaults: true },
  'security-proxy-setup': {
    edgex_use_defaults: true,
    custom_policy: {
      path: {
        'identity/entity/name': { capabilities: ['list'] },
        'identity/entity/name/*': { capabilities: ['read', 'create', 'update', 'delete'] },
        'identity/entity-alias': { capabilities: ['create', 'update'] },
        'identity/oidc/role': { capabilities: ['list'] },
        'identity/oidc/role/*': { capabilities: ['create', 'update'] },
        'auth/userpass/users/*': { capabilities: ['create', 'update', 'delete'] },
        'sys/auth': { capabilities: ['read'] },
        'sys/policies/acl': { capabilities: ['list'] },
        'sys/policies/acl/edgex-user-*': { capabilities: ['read', 'create', 'update', 'delete'] },
      },
    },
  },
  'security-spiffe-token-provider': {
    edgex_use_defaults: true,
    custom_policy: {
      path: {
        'identity/entity/name': { capabilities: ['list'] },
        'identity/entity/name/*': { capabilities: ['read', 'create', 'update', 'delete'] },
        'identity/entity-alias': { capabilities: ['create', 'update'] },
        'identity/oidc/role': { capabilities: ['list'] },
        'identity/oidc/role/*': { capabilities: ['create', 'update'] },
        'auth/userpass/users/*': { capabilities: ['create', 'update'] },
        'auth/token/roles/*': { capabilities: ['create', 'update'] },
        'sys/auth': { capabilities: ['read'] },
        'sys/policies/acl': { capabilities: ['list'] },
        'sys/policies/acl/edgex-service-*': { capabilities: ['create', 'read', 'update', 'delete'] },
        'secret/edgex/security-bootstrapper-redis/redisdb': { capabilities: ['read'] },
        'secret/edgex/security-bootstrapper-postgres/postgres': { capabilities: ['read'] },
        'secret/edgex/security-bootstrapper-messagebus/message-bus': { capabilities: ['read'] },
        'secret/edgex/*': { capabilities: ['list', 'create', 'update', 'delete'] },
      },
    },
  },
  'rules-engine': { edgex_use_defaults: true },
  'ui': { edgex_use_defaults: true },
});

/**
 * EdgeX 3.1's default token config: edgex-go `cmd/security-file-token-provider/res/token-config.json` at tag v3.1.1
 * (82622212f1ffd8e310c188bc10bd4095bc4fa3da, blob ff9aa6d3f). Compared with 4.x it lacks core-keeper,
 * security-bootstrapper-postgres, rules-engine and ui, and security-spiffe-token-provider's policy lacks
 * `auth/token/roles/*` and `secret/edgex/security-bootstrapper-postgres/postgres`.
 */
export const EDGEX_3_1_TOKEN_CONFIG: Readonly<Record<string, TokenConfigEntry>> = deepFreeze<Record<string, TokenConfigEntry>>({
  'core-command': { edgex_use_defaults: true },
  'core-data': { edgex_use_defaults: true },
  'core-metadata': { edgex_use_defaults: true },
  'core-common-config-bootstrapper': { edgex_use_defaults: true },
  'security-bootstrapper-redis': { edgex_use_defaults: true },
  'security-bootstrapper-messagebus': { edgex_use_defaults: true },
  'support-notifications': { edgex_use_defaults: true },
  'app-rules-engine': { edgex_use_defaults: true },
  'device-virtual': { edgex_use_defaults: true },
  'device-rest': { edgex_use_defaults: true },
  'support-scheduler': { edgex_use_defaults: true },
  'security-proxy-auth': { edgex_use_defaults: true },
  'security-proxy-setup': {
    edgex_use_defaults: true,
    custom_policy: {
      path: {
        'identity/entity/name': { capabilities: ['list'] },
        'identity/entity/name/*': { capabilities: ['read', 'create', 'update', 'delete'] },
        'identity/entity-alias': { capabilities: ['create', 'update'] },
        'identity/oidc/role': { capabilities: ['list'] },
        'identity/oidc/role/*': { capabilities: ['create', 'update'] },
        'auth/userpass/users/*': { capabilities: ['create', 'update', 'delete'] },
        'sys/auth': { capabilities: ['read'] },
        'sys/policies/acl': { capabilities: ['list'] },
        'sys/policies/acl/edgex-user-*': { capabilities: ['read', 'create', 'update', 'delete'] },
      },
    },
  },
  'security-spiffe-token-provider': {
    edgex_use_defaults: true,
    custom_policy: {
      path: {
        'identity/entity/name': { capabilities: ['list'] },
        'identity/entity/name/*': { capabilities: ['read', 'create', 'update', 'delete'] },
        'identity/entity-alias': { capabilities: ['create', 'update'] },
        'identity/oidc/role': { capabilities: ['list'] },
        'identity/oidc/role/*': { capabilities: ['create', 'update'] },
        'auth/userpass/users/*': { capabilities: ['create', 'update'] },
        'sys/auth': { capabilities: ['read'] },
        'sys/policies/acl': { capabilities: ['list'] },
        'sys/policies/acl/edgex-service-*': { capabilities: ['create', 'read', 'update', 'delete'] },
        'secret/edgex/security-bootstrapper-redis/redisdb': { capabilities: ['read'] },
        'secret/edgex/security-bootstrapper-messagebus/message-bus': { capabilities: ['read'] },
        'secret/edgex/*': { capabilities: ['list', 'create', 'update', 'delete'] },
      },
    },
  },
});

/** The default token config of an EdgeX release, as a fresh map in the file's order (the entries are frozen). */
export function defaultTokenConfig(version: EdgexVersion): TokenConfig {
  return new Map(Object.entries(version === '4' ? EDGEX_4_TOKEN_CONFIG : EDGEX_3_1_TOKEN_CONFIG));
}
