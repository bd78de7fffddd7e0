/**
 * Ports for test servers that are stopped and started again on the same port (etcd members, `serve` nodes).
 *
 * A port from `listen(0)` lies in the kernel's ephemeral range, the same range outgoing connections take their
 * source ports from. While such a server is down, any client connection on the machine may be given its port as a
 * source port, and the restart fails with "address already in use" (seen in CI: an etcd member restarted after a
 * quorum loss). Ports below the ephemeral range are never handed out that way, so these helpers pick one there at
 * random and check that it is free right now.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';

/** Lowest port we pick: clear of the well-known and most registered service ports. */
const LOWEST = 10_000;

/** First port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 0) return first;
  } catch {
    // not Linux, or /proc not mounted: the common default
  }
  return 32_768;
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/** A port the kernel assigns (`listen(0)`), free right now. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * A port on 127.0.0.1, free right now, that no outgoing connection will take while a server on it is down: below
 * the ephemeral range when there is room there (`span` consecutive ports free, for servers that need a pair), the
 * kernel's choice otherwise.
 */
export async function restartablePort(span = 1): Promise<number> {
  const top = ephemeralStart() - span;
  if (top - LOWEST < 1000) return kernelPort();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    let free = true;
    for (let i = 0; i < span && free; i++) free = await portIsFree(port + i);
    if (free) return port;
  }
  throw new Error(`no free port below ${String(top + span)} on 127.0.0.1 after 200 tries`);
}
