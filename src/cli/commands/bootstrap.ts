/** `secretstore-setup bootstrap` (the default command): initialize, unseal and provision the secret store at boot. */
import type { Command, CommandContext } from '../command.js';
import { parseCommandArgs, parseIntegerOption } from '../args.js';
import { SecretStoreError } from '../../errors.js';
import { loadConfig, type ConfigOverrides, type LoadedConfig } from '../../config.js';
import { HookIkmSource, hookOptionsFromEnv, type IkmSource } from '../../vmk/ikm-hook.js';
import { runBootstrap } from '../../bootstrap/flow.js';

/** Options shared by bootstrap, watch and status. */
export const STORE_OPTIONS = {
  config: { type: 'string' },
  addr: { type: 'string', multiple: true },
} as const;

/** Usage lines for {@link STORE_OPTIONS}. */
export const STORE_OPTIONS_USAGE = `  --config FILE               YAML configuration with a SecretStore section (default: ./configuration.yaml
                              when it exists, else EdgeX's built-in defaults); env SECRETSTORE_<KEY> overrides it
  --addr URL                  secret store node address, replaces Protocol/Host/Port (repeatable: one cluster's
                              nodes, initialized through the first); default VAULT_ADDR or BAO_ADDR when set`;

/** Loads the configuration from the common flags plus command-specific overrides. */
export async function configFromFlags(
  ctx: CommandContext,
  values: { config?: string | undefined; addr?: string[] | undefined },
  extra: ConfigOverrides = {},
): Promise<LoadedConfig> {
  const overrides: ConfigOverrides = { ...extra };
  if (values.config !== undefined) overrides.configPath = values.config;
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
  summary: 'initialize and unseal the secret store, issue the token-issuing token (default command)',
  usage: `Usage: secretstore-setup [bootstrap] [options]

Brings the secret store to ready at boot, as EdgeX's security-secretstore-setup: waits for it, initializes it on
first boot (shares saved encrypted and verified BEFORE unsealing), unseals it, regenerates a temporary root token
to revoke other root tokens, mounts KV at secret/, writes the token-issuing token, revokes the temporary root.
Encryption of the key shares is on when EDGEX_IKM_HOOK names the IKM hook (an absolute path).

Options:
${STORE_OPTIONS_USAGE}
  --secretStoreInterval SECS  seconds between polls while waiting for the store (default 1)
  --wait-timeout SECS         give up waiting for an unreachable store after this long (default WaitTimeout, 300)
  --keyfile-format v2|edgex   format of a newly written encrypted key file (default KeyFileFormat, v2)
  --log-level LEVEL           debug, info (default), warn or error
  --log-format text|json      one line per event on stderr

Exit status: 0 ready, 1 failure (one-line reason on stderr), 2 usage error.
See docs/bootstrap.md for the configuration reference and the operations runbook.`,
  async run(ctx) {
    const { values } = parseCommandArgs(ctx.argv, {
      ...STORE_OPTIONS,
      secretStoreInterval: { type: 'string' },
      'wait-timeout': { type: 'string' },
      'keyfile-format': { type: 'string' },
    });
    const format = values['keyfile-format'];
    if (format !== undefined && format !== 'v2' && format !== 'edgex') {
      throw new SecretStoreError('USAGE', `--keyfile-format must be v2 or edgex, got "${format}"`);
    }
    const interval = parseIntegerOption('secretStoreInterval', values.secretStoreInterval, 1, 3600);
    const wait = parseIntegerOption('wait-timeout', values['wait-timeout'], 0, 86_400);
    const { config, source } = await configFromFlags(ctx, values, {
      ...(interval === undefined ? {} : { intervalSeconds: interval }),
      ...(wait === undefined ? {} : { waitTimeoutSeconds: wait }),
      ...(format === undefined ? {} : { keyFileFormat: format }),
    });
    ctx.log.info('configuration loaded', { source });
    const ikmSource = ikmSourceFromEnv(ctx.env);
    const result = await runBootstrap({ config, log: ctx.log, signal: ctx.signal, ...(ikmSource === undefined ? {} : { ikmSource }) });
    const what = result.initialized ? 'initialized and unsealed' : result.unsealedNodes.length > 0 ? 'unsealed' : 'already unsealed';
    ctx.out(`secret store ready (${what}); token-issuing token written to ${result.adminTokenPath}\n`);
    return 0;
  },
};
