/** `secretstore-setup watch`: the unseal daemon with /healthz and Prometheus /metrics on loopback. */
import type { Command } from '../command.js';
import { parseCommandArgs, parseIntegerOption } from '../args.js';
import { runWatch } from '../../bootstrap/watch.js';
import { WatchMetrics } from '../../bootstrap/metrics.js';
import { parseLoopbackListen, startMetricsServer } from '../../bootstrap/metrics-server.js';
import { STORE_OPTIONS, STORE_OPTIONS_USAGE, configFromFlags, ikmSourceFromEnv } from './bootstrap.js';

export const watchCommand: Command = {
  name: 'watch',
  summary: 'keep the nodes unsealed (re-unseal after a restart); /healthz and /metrics on loopback',
  usage: `Usage: secretstore-setup watch [options]

Checks every node each interval and unseals a sealed one (after a store restart) with the key file, running the
IKM hook only when an unseal is needed; once the IKM has opened the key file it is kept in memory for the life of
the process (a hook may release it only once per boot) and wiped on exit; the shares are never kept. A node that does not answer is polled every
interval (its restart is caught within one interval); other failures (unseal rejected, hook or key file failing)
back off exponentially per node. Unseals take the key-file lock, so watch and bootstrap never interleave shares.
Stops on SIGTERM/SIGINT. Serves /healthz (200 when every node is unsealed, else 503) and /metrics (Prometheus).

Options:
${STORE_OPTIONS_USAGE}
  --interval SECS             seconds between checks (default 5)
  --max-backoff SECS          cap of the error backoff (default 300)
  --metrics-listen HOST:PORT  loopback address of /healthz and /metrics (default 127.0.0.1:9201; port 0 = any;
                              "off" disables it). The real address is printed on stdout.`,
  async run(ctx) {
    const { values } = parseCommandArgs(ctx.argv, {
      ...STORE_OPTIONS,
      interval: { type: 'string' },
      'max-backoff': { type: 'string' },
      'metrics-listen': { type: 'string' },
    });
    const interval = parseIntegerOption('interval', values.interval, 1, 3600) ?? 5;
    const maxBackoff = parseIntegerOption('max-backoff', values['max-backoff'], 1, 86_400) ?? 300;
    const listen = values['metrics-listen'] ?? '127.0.0.1:9201';
    const endpoint = listen === 'off' ? undefined : parseLoopbackListen(listen);
    const { config, source } = await configFromFlags(ctx, values);
    ctx.log.info('configuration loaded', { source });
    const metrics = new WatchMetrics(config.nodes);
    const server = endpoint === undefined ? undefined : await startMetricsServer(metrics, endpoint.host, endpoint.port);
    if (server !== undefined) ctx.out(`metrics on ${server.url}\n`);
    try {
      await runWatch({
        config,
        ikmSource: () => ikmSourceFromEnv(ctx.env),
        metrics,
        log: ctx.log,
        signal: ctx.signal,
        intervalMs: interval * 1000,
        maxBackoffMs: maxBackoff * 1000,
      });
    } finally {
      await server?.close();
    }
    return 0;
  },
};
