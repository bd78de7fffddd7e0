/**
 * The `watch` daemon's HTTP endpoint: `/healthz` (200 when every node is unsealed, 503 otherwise, JSON body) and
 * `/metrics` (Prometheus). Loopback only: it says which nodes are sealed, which is for the device, not the network.
 */
import * as http from 'node:http';
import { isIP } from 'node:net';
import { SecretStoreError, describeCause } from '../errors.js';
import type { WatchMetrics } from './metrics.js';

/** A running endpoint. */
export interface MetricsServer {
  /** `http://HOST:PORT` with the real port. */
  url: string;
  close(): Promise<void>;
}

/** Parses `HOST:PORT` (IPv6 in brackets) and insists on a loopback host. */
export function parseLoopbackListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SecretStoreError('USAGE', `--metrics-listen must be HOST:PORT (e.g. 127.0.0.1:9201), got "${value}"`);
  }
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback) throw new SecretStoreError('USAGE', `--metrics-listen must be a loopback address (127.x.x.x, ::1 or localhost), got "${host}"`);
  return { host, port };
}

/** Starts the endpoint on `host:port` (port 0 = any free port). */
export async function startMetricsServer(metrics: WatchMetrics, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : metrics.render());
      return;
    }
    if (path === '/healthz') {
      const nodes: Record<string, string> = {};
      for (const n of metrics.nodes.values()) nodes[n.address] = !n.reachable ? 'unreachable' : n.sealed === false ? 'unsealed' : 'sealed';
      const ok = metrics.healthy();
      res
        .writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' })
        .end(req.method === 'HEAD' ? undefined : JSON.stringify({ status: ok ? 'ok' : 'degraded', nodes }) + '\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(new SecretStoreError('IO', `cannot listen on ${host}:${port} for metrics (${describeCause(err)})`));
    });
    server.listen(port, host, () => {
      resolve();
    });
  });
  const address = server.address();
  const realPort = typeof address === 'object' && address !== null ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${realPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
