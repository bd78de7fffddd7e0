/** `secretstore-setup bootstrap` (the default command): initialize, unseal and provision the secret store at boot. */
import type { Command, CommandContext } from '../command.js';
import { parseCommandArgs, parseIntegerOption } from '../args.js';
import { SecretStoreError } from '../../errors.js';
import { loadConfig, type ConfigOverrides, type LoadedConfig } from '../../config/config.js';
import { HookIkmSource, hookOptionsFromEnv, type IkmSource } from '../../vmk/ikm-hook.js';
import type { LongRun } from '../../bootstrap/long-run.js';
import { wipe } from '../../crypto.js';
import { openStageGate, stageGateFromEnv, type StageGate, type StageGateAddress } from '../../edgex/stage-gate.js';
import { normalizeEdgexArgs } from '../edgex-flags.js';

// The boot flow (and with it EdgeX's duties) and the --longRun service load when `bootstrap` runs them, not when
// this module is imported: status, watch and protect import it for its option table, configuration and IKM source.

/** Options shared by bootstrap, watch and status. */
export const STORE_OPTIONS = {
  config: { type: 'string' },
  configDir: { type: 'string' },
  configFile: { type: 'string' },
  profile: { type: 'string' },
  addr: { type: 'string', multiple: true },
} as const;

/** Usage lines for {@link STORE_OPTIONS}. */
export const STORE_OPTIONS_USAGE = `  --config FILE               YAML configuration (SecretStore section, and EdgeX's other sections); default:
                              ./configuration.yaml, else ./res/configuration.yaml, else built-in defaults;
                              env overrides as EdgeX's (SECRETSTORE_<KEY>, DATABASE_TYPE, ...)
  -cd, --configDir DIR        EdgeX's configuration folder (env EDGEX_CONFIG_DIR wins; default ./res)
  -cf, --configFile NAME      EdgeX's configuration file name (env EDGEX_CONFIG_FILE; default configuration.yaml)
  -p, --profile NAME          EdgeX's profile: a sub-folder of the configuration folder (env EDGEX_PROFILE)
  --addr URL                  secret store node address, replaces Protocol/Host/Port (repeatable: one cluster's
                              nodes, initialized through the first); default VAULT_ADDR or BAO_ADDR when set`;

/** Loads the configuration from the common flags plus command-specific overrides. */
export async function configFromFlags(
  ctx: CommandContext,
  values: { config?: string | undefined; addr?: string[] | undefined; configDir?: string | undefined; configFile?: string | undefined; profile?: string | undefined },
  extra: ConfigOverrides = {},
): Promise<LoadedConfig> {
  const overrides: ConfigOverrides = { ...extra };
  if (values.config !== undefined) overrides.configPath = values.config;
  if (values.configDir !== undefined) overrides.configDir = values.configDir;
  if (values.configFile !== undefined) overrides.configFile = values.configFile;
  if (values.profile !== undefined) overrides.profile = values.profile;
  if (values.addr !== undefined) overrides.addrs = values.addr;
  return loadConfig(overrides, ctx.env, ctx.cwd);
}

/** The IKM source named by EDGEX_IKM_HOOK (undefined: no encryption). */
export function ikmSourceFromEnv(env: NodeJS.ProcessEnv): IkmSource | undefined {
  const options = hookOptionsFromEnv(env);
  return options === undefined ? undefined : new HookIkmSource(options);
}

export const bootstrapCommand: Command = {
  name: 'bootstrap',
  summary: "initialize and unseal the secret store, then EdgeX's setup or the token-issuing token (default command)",
  usage: `Usage: secretstore-setup [bootstrap] [options]

Brings the secret store to ready at boot, as EdgeX's security-secretstore-setup: waits for it, initializes it on
first boot (shares saved encrypted and verified BEFORE unsealing), unseals it, regenerates a temporary root token
to revoke other root tokens, then:
  - with an EdgeX configuration (SecretStore.TokenProvider set): EdgeX's duties — every old token revoked, the
    admin token, userpass, the edgex-identity key, each service's policy, entity, user, alias, OIDC and token role,
    login and token file (<OutputDir>/<svc>/secrets-token.json), KV v1 at secret/, the known secrets, eKuiper files
    (EDGEX_ADD_SECRETSTORE_TOKENS and EDGEX_ADD_KNOWN_SECRETS honoured; see docs/edgex.md);
  - otherwise: KV at secret/ and a token-issuing token file;
and revokes the temporary root. Encryption of the key shares is on when EDGEX_IKM_HOOK names the IKM hook.
EdgeX's flag spellings are accepted (-cd, -cf, -p, --secretStoreInterval=10, --vaultInterval, --longRun=true).

Options:
${STORE_OPTIONS_USAGE}
  --secretStoreInterval SECS  seconds between polls while waiting for the store (default 1)
  --wait-timeout SECS         give up waiting for an unreachable store after this long (default WaitTimeout, 300)
  --keyfile-format v2|edgex   format of a newly written encrypted key file (default KeyFileFormat; edgex for an
                              EdgeX configuration, else v2)
  --tokens-ready-port PORT    after setup, open EdgeX's stage gate on this TCP port and keep running (env
                              STAGEGATE_SECRETSTORESETUP_TOKENS_READYPORT, host STAGEGATE_SECRETSTORESETUP_HOST)
  --longRun                   after setup, serve EdgeX 4's token re-issue endpoint on Service.Host:Port
                              (PUT /api/v3/token/entityId/:id) until stopped; the shares stay in memory meanwhile
  --log-level LEVEL           debug, info (default), warn or error
  --log-format text|json      one line per event on stderr

Exit status: 0 ready, 1 failure (one-line reason on stderr), 2 usage error.
See docs/bootstrap.md for the configuration reference and the operations runbook.`,
  async run(ctx) {
    // Loads while the arguments and the configuration are read (settled at once if they fail: no unhandled rejection).
    const flow = import('../../bootstrap/flow.js');
    flow.catch(() => undefined);
    const { values } = parseCommandArgs(normalizeEdgexArgs(ctx.argv), {
      ...STORE_OPTIONS,
      secretStoreInterval: { type: 'string' },
      'wait-timeout': { type: 'string' },
      'keyfile-format': { type: 'string' },
      'tokens-ready-port': { type: 'string' },
      longRun: { type: 'boolean' },
      insecureSkipVerify: { type: 'boolean' },
    });
    const format = values['keyfile-format'];
    if (format !== undefined && format !== 'v2' && format !== 'edgex') {
      throw new SecretStoreError('USAGE', `--keyfile-format must be v2 or edgex, got "${format}"`);
    }
    const interval = parseIntegerOption('secretStoreInterval', values.secretStoreInterval, 1, 3600);
    const wait = parseIntegerOption('wait-timeout', values['wait-timeout'], 0, 86_400);
    const gatePort = parseIntegerOption('tokens-ready-port', values['tokens-ready-port'], 1, 65_535);
    const gate: StageGateAddress | undefined = gatePort !== undefined ? { host: ctx.env['STAGEGATE_SECRETSTORESETUP_HOST'] ?? '', port: gatePort } : stageGateFromEnv(ctx.env);
    const longRun = values.longRun === true;
    const { config, source } = await configFromFlags(ctx, values, {
      ...(interval === undefined ? {} : { intervalSeconds: interval }),
      ...(wait === undefined ? {} : { waitTimeoutSeconds: wait }),
      ...(format === undefined ? {} : { keyFileFormat: format }),
    });
    ctx.log.info('configuration loaded', { source, edgex: config.edgex.enabled ? config.edgex.version : 'off' });
    if (longRun && !config.edgex.enabled) {
      throw new SecretStoreError('USAGE', '--longRun re-issues EdgeX service tokens: it needs an EdgeX configuration (SecretStore.TokenProvider set)');
    }
    if (longRun && config.edgex.version !== '4') {
      throw new SecretStoreError('USAGE', '--longRun is EdgeX 4 only (3.1 makes no token roles to re-issue through); remove it or set SecretStore.Type: openbao');
    }
    const ikmSource = ikmSourceFromEnv(ctx.env);
    const { runBootstrap } = await flow;
    const result = await runBootstrap({
      config,
      log: ctx.log,
      signal: ctx.signal,
      env: ctx.env,
      cwd: ctx.cwd,
      keepShares: longRun,
      ...(ikmSource === undefined ? {} : { ikmSource }),
    });
    const what = result.initialized ? 'initialized and unsealed' : result.unsealedNodes.length > 0 ? 'unsealed' : 'already unsealed';
    if (result.edgex !== undefined) {
      ctx.out(`secret store ready (${what}); EdgeX setup done: ${result.edgex.services.length} service token files, ${result.edgex.knownSecretsCreated.length} known secrets created\n`);
    } else {
      ctx.out(`secret store ready (${what}); token-issuing token written to ${result.adminTokenPath}\n`);
    }
    if (result.nodesLeft.length > 0) {
      // A cluster that serves without some of its nodes: the boot succeeded, and the operator sees which are missing.
      ctx.out(`active node ${result.activeNode}; not unsealed: ${result.nodesLeft.map((n) => `${n.address} (${n.state})`).join(', ')}\n`);
    }
    if (gate === undefined && !longRun) return 0;
    return serveAfterBoot(ctx, config, result.shares ?? [], gate, longRun, result.activeNode);
  },
};

/** Keeps running after the boot: EdgeX's stage gate and/or the token re-issue service, until SIGTERM/SIGINT. */
async function serveAfterBoot(
  ctx: CommandContext,
  config: LoadedConfig['config'],
  shares: Buffer[],
  gate: StageGateAddress | undefined,
  longRun: boolean,
  activeNode: string,
): Promise<number> {
  let stageGate: StageGate | undefined;
  let reissue: LongRun | undefined;
  try {
    if (gate !== undefined) stageGate = await openStageGate({ ...gate, log: ctx.log });
    if (longRun) {
      const [{ configDirFromArgs, loadTokenProviderSettings }, { makeClients }, { startLongRun }] = await Promise.all([
        import('../../edgex/token-provider/provider-settings.js'),
        import('../../bootstrap/nodes.js'),
        import('../../bootstrap/long-run.js'),
      ]);
      const provider = await loadTokenProviderSettings(configDirFromArgs(config.edgex.tokenProviderArgs), ctx.env, ctx.cwd);
      // Each re-issue goes to the node that is active then (a cluster may fail over); the boot's active node is the
      // fallback when none answers.
      const clients = makeClients(config, ctx.log, ctx.signal);
      const client = clients.find((c) => c.address === activeNode) ?? clients[0];
      if (client === undefined) throw new SecretStoreError('CONFIG', 'no secret store address configured');
      reissue = await startLongRun({ config, clients, client, shares, provider, log: ctx.log });
    } else wipe(...shares);
    if (!ctx.signal.aborted) {
      await new Promise<void>((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          resolve();
        }, { once: true });
      });
    }
    ctx.log.info('stopping');
    return 0;
  } finally {
    await reissue?.close();
    await stageGate?.close();
    wipe(...shares);
  }
}
