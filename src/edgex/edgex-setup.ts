/**
 * EdgeX's duties after unseal (edgex-go `internal/security/secretstore/init.go`; shared/reference/edgex-setup-duties.md
 * §1), in EdgeX's order, against any Vault-API store (Vault, OpenBao, `serve`) through src/vault only:
 *
 *   prepare (before the store is touched): settings, service list, known-secret plan — every bad name or grammar
 *   error is reported here, so a bad configuration changes nothing (EdgeX fails half-way)
 *   apply (with the root token): revoke every non-root token but our own → admin token written to its file →
 *   userpass enabled if absent → `edgex-identity` OIDC key created once → per-service identities and token files
 *   (in-process token provider) → KV v1 `secret/` mounted if absent → known secrets (never overwritten) → eKuiper
 *   files → optional certificate upload → (3.1) the Consul secrets engine and its management token; the admin token
 *   is revoked as soon as the token provider is done (EdgeX defers it to the end of the run)
 *
 * What EdgeX re-does on every boot is re-done (tokens, passwords, policies, roles); what it creates once stays.
 */
import { readFile } from 'node:fs/promises';
import { SecretStoreError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { SecretStoreConfig } from '../config/config.js';
import type { VaultClient } from '../vault/client.js';
import { ensureKvMount, type KvMountOutcome } from './kv-mount.js';
import { issueAdminToken } from './token-issuer.js';
import { edgexAdminToken } from './admin-token.js';
import type { EdgexSettings } from '../config/edgex-settings.js';
import { parseAddKnownSecrets } from './known-secrets/add-known-secrets.js';
import { ensureKnownSecrets, wipeKnownSecretsSummary } from './known-secrets/apply-known-secrets.js';
import { planKnownSecrets, type KnownSecretsPlan } from './known-secrets/known-secrets-plan.js';
import { passwordGenerator, type PasswordGenerator } from './known-secrets/password.js';
import { vaultKnownSecretsKv } from './known-secrets/vault-kv.js';
import { configureKuiperFiles } from './kuiper/kuiper-files.js';
import { ensureConsulSecretsEngine, issueConsulManagementToken } from './consul-secrets.js';
import { revokeNonRootTokens } from './revoke-tokens.js';
import type { ServiceSpec } from './services/service-names.js';
import { configDirFromArgs, loadTokenProviderSettings, type TokenProviderSettings } from './token-provider/provider-settings.js';
import { resolveServices, runTokenProvider, type ProvidedToken } from './token-provider/run-token-provider.js';
import { EDGEX_IDENTITY_KEY } from './token-provider/service-identity.js';

/** Everything decided before the store is touched. */
export interface EdgexSetupPlan {
  settings: EdgexSettings;
  provider: TokenProviderSettings;
  services: ServiceSpec[];
  knownSecrets: KnownSecretsPlan;
  passwords: PasswordGenerator;
  adminTokenPath: string;
  kvVersion: 1 | 2;
}

/** What a run did (no secret). */
export interface EdgexSetupResult {
  tokensRevoked: number;
  /** The admin token (revoked by the end of the run) and where its file is. */
  adminTokenAccessor: string;
  adminTokenPath: string;
  kvMount: KvMountOutcome;
  services: ProvidedToken[];
  userpassEnabled: boolean;
  identityKeyCreated: boolean;
  knownSecretsCreated: string[];
  knownSecretsKept: string[];
  kuiperFilesWritten: string[];
  certificate: 'uploaded' | 'present' | 'none';
  /** EdgeX 3.1: the Consul secrets engine's management token file (undefined for 4.x). */
  consulTokenPath?: string;
}

/**
 * Reads and validates everything EdgeX's duties need: the token provider's settings (from the `-configDir` of
 * `TokenProviderArgs`), the service list with `EDGEX_ADD_SECRETSTORE_TOKENS`, and the known-secret plan with
 * `EDGEX_ADD_KNOWN_SECRETS`. Throws CONFIG errors only; nothing is changed.
 */
export async function prepareEdgexSetup(config: SecretStoreConfig, env: NodeJS.ProcessEnv, cwd: string, log: Logger): Promise<EdgexSetupPlan> {
  const settings = config.edgex;
  if (settings.version === '3.1' && settings.consulSecretsAdminTokenPath === '') {
    throw new SecretStoreError('CONFIG', 'SecretStore.ConsulSecretsAdminTokenPath is empty: EdgeX 3.1 writes the Consul management token there; set it (EdgeX: /tmp/edgex/secrets/edgex-consul/admin/token.json)');
  }
  if (config.kvVersion !== 1) {
    throw new SecretStoreError('CONFIG', 'KvVersion 2 with an EdgeX configuration: EdgeX services read and write KV v1 paths (secret/edgex/<service>/...); set KvVersion: 1');
  }
  const provider = await loadTokenProviderSettings(configDirFromArgs(settings.tokenProviderArgs), env, cwd);
  const services = await resolveServices(provider, env, settings.version, log);
  const additions = parseAddKnownSecrets(env['EDGEX_ADD_KNOWN_SECRETS'], {
    busType: settings.secureMessageBus.type,
    databaseType: settings.database.type,
    version: settings.version,
  });
  const databases: Record<string, { Service: string; Username: string }> = {};
  for (const [k, v] of Object.entries(settings.databases)) databases[k] = { Service: v.service, Username: v.username };
  const busServices: Record<string, { Service: string }> = {};
  for (const [k, v] of Object.entries(settings.secureMessageBus.services)) busServices[k] = { Service: v.service };
  const knownSecrets = planKnownSecrets(
    { databases, secureMessageBus: { Type: settings.secureMessageBus.type, Services: busServices }, databaseType: settings.database.type, version: settings.version },
    additions,
  );
  const passwords = await passwordGenerator({ provider: settings.passwordProvider, args: settings.passwordProviderArgs, env }, log);
  log.info('EdgeX setup planned', {
    edgex: settings.version,
    services: services.length,
    knownSecrets: knownSecrets.secrets.length,
    outputDir: provider.outputDir,
  });
  return { settings, provider, services, knownSecrets, passwords, adminTokenPath: config.tokenProviderAdminTokenPath, kvVersion: config.kvVersion };
}

function field(body: unknown, ...path: string[]): unknown {
  let v = body;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** `userpass` at the provider's mount point, enabled when absent (EdgeX checks `sys/auth` first). */
async function ensureUserpass(client: VaultClient, token: string, mount: string, log: Logger): Promise<boolean> {
  const auths = await client.call('GET', 'sys/auth', { token }, [200]);
  if (field(auths.body, 'data', `${mount}/`, 'type') === 'userpass') return false;
  await client.call('POST', `sys/auth/${mount}`, { token, body: { type: 'userpass' }, idempotent: false }, [200, 204]);
  log.info('userpass auth method enabled', { mount: `${mount}/` });
  return true;
}

/** The `edgex-identity` key (ES384, any client), created once and never updated — as EdgeX does. */
async function ensureIdentityKey(client: VaultClient, token: string, log: Logger): Promise<boolean> {
  const res = await client.request('GET', 'identity/oidc/key', { token, query: { list: 'true' } });
  if (res.status !== 200 && res.status !== 404) throw client.statusError(res, 'identity/oidc/key');
  const keys = res.status === 200 ? field(res.body, 'data', 'keys') : [];
  if (Array.isArray(keys) && keys.includes(EDGEX_IDENTITY_KEY)) return false;
  await client.call('POST', `identity/oidc/key/${EDGEX_IDENTITY_KEY}`, { token, body: { allowed_client_ids: ['*'], algorithm: 'ES384' }, idempotent: true }, [200, 204]);
  log.info('identity key created', { key: EDGEX_IDENTITY_KEY, algorithm: 'ES384' });
  return true;
}

/**
 * EdgeX's optional certificate upload: when `CertPath` is set and no secret is there, the PEM files go in as
 * `{cert, key}`. A secret already there is kept (EdgeX, as read, fails the boot there — every reboot would fail).
 */
export async function uploadCertificate(client: VaultClient, token: string, settings: EdgexSettings, log: Logger): Promise<EdgexSetupResult['certificate']> {
  if (settings.certPath === '') return 'none';
  const path = settings.certPath.replace(/^\/+/, '').replace(/^v1\//, '');
  if ((await client.read(token, path)) !== undefined) {
    log.info('certificate secret present; left unchanged', { path });
    return 'present';
  }
  let cert: string;
  let key: Buffer;
  try {
    cert = await readFile(settings.certFilePath, 'utf8');
    key = await readFile(settings.keyFilePath);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot read the certificate files CertFilePath/KeyFilePath (${describeCause(err)})`);
  }
  const body = Buffer.concat([Buffer.from(JSON.stringify({ cert }).slice(0, -1) + ',"key":', 'utf8'), Buffer.from(JSON.stringify(key.toString('utf8')), 'utf8'), Buffer.from('}')]);
  try {
    await client.call('POST', path, { token, body, idempotent: true }, [200, 204]);
  } finally {
    body.fill(0);
    key.fill(0);
  }
  log.info('certificate uploaded', { path });
  return 'uploaded';
}

/** Runs EdgeX's duties with the root token (see the module comment). The admin token is revoked whatever happens. */
export async function applyEdgexSetup(plan: EdgexSetupPlan, client: VaultClient, rootToken: string, log: Logger): Promise<EdgexSetupResult> {
  const sweep = await revokeNonRootTokens(client, rootToken, log);
  const admin = await issueAdminToken(client, rootToken, plan.adminTokenPath, log, edgexAdminToken(plan.settings.version));
  let revoked = false;
  try {
    const userpassEnabled = await ensureUserpass(client, rootToken, plan.provider.userPassMountPoint, log);
    const identityKeyCreated = await ensureIdentityKey(client, rootToken, log);
    const services = await runTokenProvider(client, admin.token, plan.services, plan.provider, plan.settings.version, log);
    await client.revokeSelf(admin.token);
    revoked = true;
    log.info('admin token revoked', { accessor: admin.accessor });
    const kvMount = await ensureKvMount(client, rootToken, plan.kvVersion, log);
    const summary = await ensureKnownSecrets(vaultKnownSecretsKv(client, rootToken), plan.knownSecrets, log, { passwords: plan.passwords });
    let kuiperFilesWritten: string[];
    try {
      const kuiper = await configureKuiperFiles(
        {
          busType: plan.settings.secureMessageBus.type,
          kuiperConfigPath: plan.settings.secureMessageBus.kuiperConfigPath,
          kuiperConnectionsPath: plan.settings.secureMessageBus.kuiperConnectionsPath,
        },
        summary.credentials,
        log,
      );
      kuiperFilesWritten = kuiper.written;
    } finally {
      wipeKnownSecretsSummary(summary);
    }
    const certificate = await uploadCertificate(client, rootToken, plan.settings, log);
    let consulTokenPath: string | undefined;
    if (plan.settings.version === '3.1') {
      // EdgeX 3.1 only: the Consul secrets engine and the token security-bootstrapper manages Consul ACLs with.
      await ensureConsulSecretsEngine(client, rootToken, log);
      consulTokenPath = (await issueConsulManagementToken(client, rootToken, plan.settings.consulSecretsAdminTokenPath, log)).path;
    }
    return {
      ...(consulTokenPath === undefined ? {} : { consulTokenPath }),
      tokensRevoked: sweep.revoked,
      adminTokenAccessor: admin.accessor,
      adminTokenPath: admin.path,
      kvMount,
      services,
      userpassEnabled,
      identityKeyCreated,
      knownSecretsCreated: summary.created,
      knownSecretsKept: summary.kept,
      kuiperFilesWritten,
      certificate,
    };
  } finally {
    if (!revoked) await client.revokeAccessor(rootToken, admin.accessor).catch(() => undefined);
  }
}
