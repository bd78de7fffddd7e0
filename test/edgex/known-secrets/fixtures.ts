/**
 * EdgeX's default `Databases` and `SecureMessageBus.Services` (edgex-go
 * `cmd/security-secretstore-setup/res/configuration.yaml`, 4.x at 2bee238e8 and 3.1.1 at 82622212f), for plan tests.
 */
import type { KnownSecretsSettings } from '../../../src/edgex/known-secrets/known-secrets-plan.js';

/** 4.x `Databases` (configuration.yaml lines 46-64). */
export const V4_DATABASES = {
  metadata: { Service: 'core-metadata', Username: 'core_metadata' },
  coredata: { Service: 'core-data', Username: 'core_data' },
  corekeeper: { Service: 'core-keeper', Username: 'core_keeper' },
  notifications: { Service: 'support-notifications', Username: 'support_notifications' },
  scheduler: { Service: 'support-scheduler', Username: 'support_scheduler' },
  securityproxyauth: { Service: 'security-proxy-auth', Username: 'security_proxy_auth' },
};

/** 4.x `SecureMessageBus.Services` (lines 69-83). */
export const V4_BUS_SERVICES = {
  command: { Service: 'core-command' },
  metadata: { Service: 'core-metadata' },
  coredata: { Service: 'core-data' },
  corekeeper: { Service: 'core-keeper' },
  rulesengine: { Service: 'app-rules-engine' },
  notifications: { Service: 'support-notifications' },
  scheduler: { Service: 'support-scheduler' },
};

/** 3.1.1 `Databases` (lines 41-67): four entries without a Service. */
export const V31_DATABASES = {
  admin: { Username: 'admin' },
  authorization: { Username: 'admin' },
  config: { Username: 'admin' },
  local: { Username: 'admin' },
  command: { Service: 'core-command', Username: 'core-command' },
  metadata: { Service: 'core-metadata', Username: 'core-metadata' },
  coredata: { Service: 'core-data', Username: 'core-data' },
  rulesengine: { Service: 'app-rules-engine', Username: 'app-rules-engine' },
  notifications: { Service: 'support-notifications', Username: 'support-notifications' },
  scheduler: { Service: 'support-scheduler', Username: 'support-scheduler' },
};

/** 3.1.1 `SecureMessageBus.Services` (lines 72-84). */
export const V31_BUS_SERVICES = {
  command: { Service: 'core-command' },
  metadata: { Service: 'core-metadata' },
  coredata: { Service: 'core-data' },
  rulesengine: { Service: 'app-rules-engine' },
  notifications: { Service: 'support-notifications' },
  scheduler: { Service: 'support-scheduler' },
};

/** EdgeX 4 defaults: `Database.Type` postgres, `SecureMessageBus.Type` none. */
export function v4Settings(busType = 'none', databaseType = 'postgres'): KnownSecretsSettings {
  return { databases: V4_DATABASES, secureMessageBus: { Type: busType, Services: V4_BUS_SERVICES }, databaseType, version: '4' };
}

/** EdgeX 3.1 defaults: `SecureMessageBus.Type` none, no `Database` section. */
export function v31Settings(busType = 'none'): KnownSecretsSettings {
  return { databases: V31_DATABASES, secureMessageBus: { Type: busType, Services: V31_BUS_SERVICES }, databaseType: '', version: '3.1' };
}
