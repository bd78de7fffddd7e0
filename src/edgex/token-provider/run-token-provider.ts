/**
 * EdgeX's `security-file-token-provider` (oneshot), done in-process: the service list (the token-config file named
 * by the provider's settings, else EdgeX's built-in default list, plus `EDGEX_ADD_SECRETSTORE_TOKENS`) is validated
 * whole before anything is changed; then, with the admin token, each service gets its identity and logs in, and its
 * login answer becomes its token file (then the token-config's `file_permissions`). Services are done one after
 * another, as EdgeX does: each login costs the store a slow password hash.
 */
import { access } from 'node:fs/promises';
import { SecretStoreError, describeCause } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { VaultClient } from '../../vault/client.js';
import { defaultTokenConfig, type EdgexVersion } from '../services/default-token-config.js';
import { applyFilePermissions } from '../services/file-permissions.js';
import { parseAddSecretstoreTokens, serviceList, type ServiceSpec } from '../services/service-names.js';
import { servicePolicyDocument } from '../services/service-policy.js';
import { loadTokenConfig } from '../services/token-config.js';
import type { TokenProviderSettings } from './provider-settings.js';
import { provisionServiceIdentity, userPassAccessor, type IdentitySettings } from './service-identity.js';
import { writeTokenFile } from './token-file.js';
import { monotonicMs } from '../../clock.js';

/** One service's outcome (never its token or password). */
export interface ProvidedToken {
  service: string;
  path: string;
  accessor: string;
  entityId: string;
}

/**
 * The services to provision: the token-config file when it exists, else EdgeX's default list for `version`, plus the
 * names in `EDGEX_ADD_SECRETSTORE_TOKENS`. Throws one CONFIG error naming every bad name (nothing changed yet).
 */
export async function resolveServices(settings: TokenProviderSettings, env: NodeJS.ProcessEnv, version: EdgexVersion, log: Logger): Promise<ServiceSpec[]> {
  const added = parseAddSecretstoreTokens(env['EDGEX_ADD_SECRETSTORE_TOKENS']);
  let exists = true;
  try {
    await access(settings.configFile);
  } catch {
    exists = false;
  }
  if (!exists && settings.configFileExplicit === true) {
    throw new SecretStoreError('CONFIG', `the token config ${settings.configFile} (TokenFileProvider.ConfigFile) does not exist; fix the path, or remove the setting to use EdgeX's default service list`);
  }
  const config = exists ? await loadTokenConfig(settings.configFile) : defaultTokenConfig(version);
  log.info('service list', { source: exists ? settings.configFile : `EdgeX ${version} default token config`, added: added.length });
  return serviceList(config, added);
}

/** Provisions every service and writes its token file; stops at the first failure (the boot fails, clearly). */
export async function runTokenProvider(
  client: VaultClient,
  adminToken: string,
  services: readonly ServiceSpec[],
  settings: TokenProviderSettings,
  version: EdgexVersion,
  log: Logger,
): Promise<ProvidedToken[]> {
  const identity: IdentitySettings = {
    userPassMountPoint: settings.userPassMountPoint,
    userPassAccessor: await userPassAccessor(client, adminToken, settings.userPassMountPoint),
    tokenPeriod: settings.defaultTokenTtl,
    jwtAudience: settings.defaultJwtAudience,
    jwtTtl: settings.defaultJwtTtl,
    tokenRoles: version === '4',
  };
  const out: ProvidedToken[] = [];
  for (const svc of services) {
    const started = monotonicMs();
    const policy = servicePolicyDocument(svc.name, svc.entry, version);
    let answer: Record<string, unknown>;
    try {
      answer = await provisionServiceIdentity(client, adminToken, { name: svc.name, policy }, identity);
    } catch (err) {
      throw new SecretStoreError('STORE_ERROR', `could not provision the identity of service ${svc.name}: ${describeCause(err)}`, { cause: err });
    }
    const auth = answer['auth'] as Record<string, unknown>;
    const path = await writeTokenFile(settings.outputDir, svc.name, settings.outputFilename, answer);
    if (svc.entry.file_permissions !== undefined) await applyFilePermissions(path, svc.entry.file_permissions);
    const provided: ProvidedToken = { service: svc.name, path, accessor: String(auth['accessor']), entityId: String(auth['entity_id']) };
    out.push(provided);
    log.info('service token written', { ...provided, ms: Math.round(monotonicMs() - started) });
  }
  return out;
}
