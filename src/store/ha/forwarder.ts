/**
 * Request forwarding (Vault's, over plain HTTP(S) to the active node's `api_addr`): an unsealed standby sends every
 * request except the seal endpoints it answers itself to the active node — same method (a `LIST` arrives here already
 * rewritten to `GET ?list=true`, which the active node reads the same way), target, headers (X-Vault-Token and all)
 * and body, streamed both ways — and streams the answer back with its status and headers. The client's address
 * travels MACed (forwarded-address.ts). Nothing is retried (a request may not be repeatable); with no active node,
 * or when the active node cannot be reached or does not answer in time, the client gets a 503 with Vault's error body.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Logger } from '../../log.js';
import { describeCause } from '../../errors.js';
import type { ForwardingHooks } from '../http/http-server.js';
import { parseTarget } from '../http/request.js';
import { FORWARDED_CLIENT_HEADER, signForwardedClient, verifyForwardedClient } from './forwarded-address.js';
import type { HaNode } from './ha-node.js';

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** Bound on waiting for the active node's response headers (default 30 s); the body then streams unbounded. */
  timeoutMs?: number | undefined;
  /** CA certificates to trust for an `https` active node (default: Node's). */
  ca?: Buffer[] | undefined;
}

/** The endpoints a standby answers itself (Vault's handlers that are not wrapped in request forwarding). */
const LOCAL_PATHS: ReadonlySet<string> = new Set([
  'sys/init',
  'sys/init/abandon',
  'sys/seal-status',
  'sys/unseal',
  'sys/health',
  'sys/leader',
  'sys/seal',
]);

/** Marks a forwarded request, so a node that is not active never forwards it again (no loops between standbys). */
const FORWARDED_HOP_HEADER = 'x-secretstore-forwarded';
/**
 * On a refusal of a forwarded request by a node that is not active (any more): the forwarding standby then forgets
 * the active node it remembered, so its next request looks the active node up again instead of going back to the
 * node that stepped down for up to `leaderCacheMs`.
 */
const NOT_ACTIVE_HEADER = 'x-secretstore-not-active';

/** Headers that describe one connection, never copied to the next hop (RFC 9110 §7.6.1), plus Host (rewritten). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Idle lifetime of a kept-alive connection to the active node (below the listener's 5 s keep-alive timeout). */
const IDLE_MS = 4_000;

/** Vault's message when a standby knows no active node. */
export const NO_ACTIVE_NODE = 'local node not active but active cluster node not found';

/** Forwards a standby's requests to the active node; implements the listener's {@link ForwardingHooks}. */
export class Forwarder implements ForwardingHooks {
  private readonly node: HaNode;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  /**
   * Idle connections to the active node are closed after 4 s, before the active node's own 5 s keep-alive timeout:
   * a request sent on a connection the other side is closing at that moment would fail (and is not retried).
   */
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 8, timeout: IDLE_MS });
  private readonly httpsAgent: https.Agent;

  constructor(node: HaNode, log: Logger, options: ForwarderOptions = {}) {
    this.node = node;
    this.log = log;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.httpsAgent = new https.Agent({ keepAlive: true, maxFreeSockets: 8, timeout: IDLE_MS, ...(options.ca === undefined ? {} : { ca: options.ca }) });
  }

  /** Only an unsealed standby forwards, and never the endpoints it answers itself. */
  shouldForward(method: string, target: string): boolean {
    if (this.node.role !== 'standby') return false;
    let path: string | undefined;
    try {
      path = parseTarget(target).path;
    } catch {
      // A target that does not parse is answered (400) by this node, as any node would.
      return false;
    }
    return path !== undefined && !LOCAL_PATHS.has(path) && method !== 'CONNECT';
  }

  /** The address in a forwarded request's MACed header (see forwarded-address.ts), when it verifies. */
  vouchedAddress(req: http.IncomingMessage): string | undefined {
    const value = req.headers[FORWARDED_CLIENT_HEADER];
    if (typeof value !== 'string') return undefined;
    const key = this.node.forwardingKey();
    if (key === undefined) return undefined;
    return verifyForwardedClient(key, value, req.method ?? 'GET', req.url ?? '/');
  }

  /** Streams the request to the active node and its answer back; 503 with Vault's body when that cannot be done. */
  async forward(req: http.IncomingMessage, res: http.ServerResponse, clientAddress: string | undefined): Promise<void> {
    if (req.headers[FORWARDED_HOP_HEADER] !== undefined) {
      // Sent to us by a standby that took us for the active node: we no longer are (or not yet). No second hop.
      fail(res, NO_ACTIVE_NODE, [NOT_ACTIVE_HEADER, '1']);
      return;
    }
    let leader;
    try {
      leader = await this.node.activeNode();
    } catch (err) {
      this.log.warn('forwarding: cannot look up the active node', { cause: describeCause(err) });
      fail(res, 'cannot look up the active node: storage backend unavailable');
      return;
    }
    const self = this.node.identity;
    if (leader === undefined || leader.nodeId === self.nodeId || leader.apiAddr === '') {
      // No active node, or this node just took the lock and is still becoming active.
      fail(res, NO_ACTIVE_NODE);
      return;
    }
    let base: URL;
    try {
      base = new URL(leader.apiAddr);
    } catch {
      fail(res, NO_ACTIVE_NODE);
      return;
    }
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const headers = forwardHeaders(req.rawHeaders);
    headers.push(FORWARDED_HOP_HEADER, '1');
    const key = this.node.forwardingKey();
    if (key !== undefined && clientAddress !== undefined) headers.push(FORWARDED_CLIENT_HEADER, signForwardedClient(key, clientAddress, method, target));
    const secure = base.protocol === 'https:';
    await new Promise<void>((resolve) => {
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      };
      const upstream = (secure ? https : http).request({
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: base.port === '' ? (secure ? 443 : 80) : Number(base.port),
        method,
        path: target,
        headers: [...headers, 'Host', base.host],
        agent: secure ? this.httpsAgent : this.httpAgent,
      });
      const timer = setTimeout(() => {
        upstream.destroy(new Error('the active node did not answer in time'));
      }, this.timeoutMs);
      upstream.on('response', (answer) => {
        clearTimeout(timer);
        if (answer.headers[NOT_ACTIVE_HEADER] !== undefined) this.node.forgetActiveNode();
        res.writeHead(answer.statusCode ?? 502, forwardHeaders(answer.rawHeaders));
        answer.pipe(res);
        answer.on('end', done);
        answer.on('error', () => {
          res.destroy();
          done();
        });
        res.on('close', () => {
          if (!answer.complete) answer.destroy();
          done();
        });
      });
      upstream.on('error', (err) => {
        this.node.forgetActiveNode();
        this.log.warn('forwarding to the active node failed', { cause: describeCause(err) });
        if (res.headersSent) res.destroy();
        else fail(res, `error forwarding the request to the active node: ${describeCause(err)}`);
        done();
      });
      // The client went away before the answer: stop the forwarded request too.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
  }

  /** Closes idle connections to the active node. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The end-to-end headers of a raw header list (hop-by-hop ones, Host and our own forwarding headers dropped). */
function forwardHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === FORWARDED_CLIENT_HEADER || lower === FORWARDED_HOP_HEADER || lower === NOT_ACTIVE_HEADER) continue;
    out.push(name, raw[i + 1] ?? '');
  }
  return out;
}

/** 503 with Vault's error body (what a client sees when no active node can take its request). */
function fail(res: http.ServerResponse, message: string, extraHeader: [string, string] | [] = []): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const payload = JSON.stringify({ errors: [message] });
  res.writeHead(503, ['Cache-Control', 'no-store', 'Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(payload)), ...extraHeader]);
  res.end(payload);
}
