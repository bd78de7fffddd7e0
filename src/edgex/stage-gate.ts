/**
 * EdgeX's "tokens ready" stage gate: a TCP port that opens once setup has written the service tokens and the known
 * secrets, so that the database and message-bus containers (`waitFor -uri tcp://<host>:<port>`) start only then.
 *
 * EdgeX runs it as a separate process (`security-bootstrapper listenTcp --port=$STAGEGATE_SECRETSTORESETUP_TOKENS_READYPORT
 * --host=$STAGEGATE_SECRETSTORESETUP_HOST`, started by `cmd/security-secretstore-setup/entrypoint.sh`). Its listener
 * (edgex-go `internal/security/bootstrapper/tcp/listener.go`) trims the host, listens on `host:port` (an empty host:
 * every interface), accepts every connection and closes it. It tries to write the current time first, through a
 * `bufio.Writer` it never flushes, so nothing reaches the peer: on the wire a connection is accepted and closed with
 * no data. This listener does the same: accept, close, never read or write — a waiter only needs the connect to
 * succeed, and a port scanner cannot make it hold sockets or memory.
 */
import * as net from 'node:net';
import { SecretStoreError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';

/** The environment variable holding the stage gate's port (EdgeX compose: 54322). */
export const STAGE_GATE_PORT_ENV = 'STAGEGATE_SECRETSTORESETUP_TOKENS_READYPORT';
/** The environment variable holding the host the stage gate listens on (EdgeX compose: `edgex-security-secretstore-setup`). */
export const STAGE_GATE_HOST_ENV = 'STAGEGATE_SECRETSTORESETUP_HOST';

/** Where the stage gate listens. */
export interface StageGateAddress {
  /** A host name or IP address to listen on; `''` listens on every interface (as EdgeX does with an empty host). */
  host: string;
  /** The TCP port; 0 picks a free one (tests only: EdgeX requires a real port). */
  port: number;
}

/** Settings of {@link openStageGate}. */
export interface StageGateOptions extends StageGateAddress {
  /** Where the gate reports opening, closing and (at debug level) each connection. */
  log: Logger;
}

/** An open stage gate. */
export interface StageGate {
  /** The host it was asked to listen on (`''`: every interface). */
  readonly host: string;
  /** The port it really listens on (the chosen one when it was asked for 0). */
  readonly port: number;
  /** How many connections it accepted so far. */
  readonly connections: number;
  /** Stops listening and frees the port; safe to call more than once. */
  close(): Promise<void>;
}

/** `host:port` for messages, IPv6 literals in brackets (Go's net.JoinHostPort). */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Opens the stage gate on `host:port` (the host trimmed, as EdgeX does) and keeps it open until `close()`. Every
 * connection is accepted and closed at once, without reading or writing. A port already in use, an address not on
 * this machine or a host name that does not resolve fails with an 'IO' error naming `host:port`.
 */
export async function openStageGate(options: StageGateOptions): Promise<StageGate> {
  const host = options.host.trim();
  const { port, log } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SecretStoreError('CONFIG', `the stage gate port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const where = joinHostPort(host, port);
  let accepted = 0;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    accepted++;
    // A reset from the peer must not become an unhandled 'error' event.
    socket.on('error', () => undefined);
    // Go's conn.Close(): the descriptor is closed at once; the peer sees the connection end with no data.
    socket.destroy();
    log.debug('stage gate: accepted and closed a connection', { listen: where });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const code = describeCause(err);
      const why =
        code === 'EADDRINUSE'
          ? 'the port is already in use by another process'
          : code === 'EADDRNOTAVAIL'
            ? 'the address is not one of this machine'
            : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
              ? 'the host name does not resolve'
              : code === 'EACCES'
                ? 'permission denied (ports below 1024 need privileges)'
                : 'the listen call failed';
      reject(
        new SecretStoreError('IO', `cannot open the stage gate on ${where}: ${why} (${code}); check ${STAGE_GATE_HOST_ENV} and ${STAGE_GATE_PORT_ENV}`, {
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (host === '') server.listen(port, listening);
    else server.listen(port, host, listening);
  });
  // After it listens, an error (an accept failing for lack of descriptors) is logged; the server keeps listening,
  // as EdgeX's loop retries its accepts.
  server.on('error', (err) => {
    log.warn('stage gate: error while accepting a connection', { listen: where, error: describeCause(err) });
  });
  const address = server.address();
  const realPort = typeof address === 'object' && address !== null ? address.port : port;
  const shown = joinHostPort(host, realPort);
  log.info('stage gate open: services waiting for the secret-store tokens may start', { listen: `tcp://${shown}` });
  let closing: Promise<void> | undefined;
  return {
    host,
    port: realPort,
    get connections() {
      return accepted;
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          log.info('stage gate closed', { listen: `tcp://${shown}` });
          resolve();
        });
      });
      return closing;
    },
  };
}

/** A host name (RFC 1123 labels; `_` allowed, as Docker names have it) or an IP literal. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/**
 * The stage gate's address from EdgeX's environment variables, or `undefined` when {@link STAGE_GATE_PORT_ENV} is
 * unset or empty (no gate: EdgeX's `listenTcp` refuses to start without a port). The port must be a plain decimal
 * number from 1 to 65535; the host (optional, trimmed as EdgeX does; empty = every interface) an IP address or a host
 * name. Anything else is a 'CONFIG' error naming the variable.
 */
export function stageGateFromEnv(env: NodeJS.ProcessEnv): StageGateAddress | undefined {
  const rawPort = env[STAGE_GATE_PORT_ENV];
  if (rawPort === undefined || rawPort === '') return undefined;
  if (!/^[0-9]{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) {
    throw new SecretStoreError('CONFIG', `${STAGE_GATE_PORT_ENV} must be a port number from 1 to 65535, got ${JSON.stringify(rawPort.slice(0, 40))}`);
  }
  const host = (env[STAGE_GATE_HOST_ENV] ?? '').trim();
  if (host !== '' && net.isIP(host) === 0 && !HOST_NAME.test(host)) {
    throw new SecretStoreError(
      'CONFIG',
      `${STAGE_GATE_HOST_ENV} must be a host name or an IP address (without brackets or a port), got ${JSON.stringify(host.slice(0, 80))}`,
    );
  }
  return { host, port: Number(rawPort) };
}
