/** `secretstore-setup status`: node and key-file state, never a secret. */
import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { gatherStatus, renderStatus } from '../../bootstrap/status.js';
import { STORE_OPTIONS, STORE_OPTIONS_USAGE, configFromFlags } from './bootstrap.js';

export const statusCommand: Command = {
  name: 'status',
  summary: 'show each node (role, initialized, sealed, progress, version) and the key file state',
  usage: `Usage: secretstore-setup status [options]

Shows, per node (--addr repeated for the nodes of a cluster): its role — active, standby (unsealed, forwarding to
the active node), sealed, uninitialized or down (no answer) —, initialized, sealed, unseal progress, version; and
the key file: format, encrypted,
share count, threshold, salt present, root token stored, IKM hook configured. Never runs the hook, never prints a
secret.

Options:
${STORE_OPTIONS_USAGE}
  --json                      machine-readable output

Exit status: 0 when every node is reachable, initialized and unsealed; 1 otherwise; 2 usage error.`,
  async run(ctx) {
    const { values } = parseCommandArgs(ctx.argv, { ...STORE_OPTIONS, json: { type: 'boolean' } });
    const { config } = await configFromFlags(ctx, values);
    const report = await gatherStatus(config, ctx.env, ctx.log);
    ctx.out(values.json === true ? JSON.stringify(report, null, 2) + '\n' : renderStatus(report));
    return report.nodes.every((n) => n.reachable && n.initialized === true && n.sealed === false) ? 0 : 1;
  },
};
