/**
 * The store's listener: `net.createServer` accepts each connection (optionally terminating TLS) and hands it to a
 * `node:http` server that never listens itself; node:http parses it natively (llhttp reads the socket in C++). Vault
 * clients' `LIST` method is the exception llhttp rejects (HPE_INVALID_METHOD): that connection is then taken over —
 * node:http's parser is detached, and the unparsed bytes from the `LIST` line on, plus everything the socket sends
 * afterwards, go through the `LIST` rewriter ({@link ListRewritingStream}) into a fresh HTTP connection, once the
 * requests already dispatched on it (pipelined before the `LIST`) have been answered. A connection that cannot be
 * parsed any further (malformed HTTP, a request line whose start cannot be proven, a slow client's timeout) is
 * refused — see {@link StoreHttpServer} `refuse` for the rule. Reads bodies under a size limit,
 * calls {@link StoreApi}, writes JSON with `Cache-Control: no-store`, logs one line per request (method, path, status,
 * duration — never tokens, bodies or query strings), and shuts down gracefully: stop accepting, finish in-flight
 * requests, close idle keep-alive connections.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '../../log.js';
import { bodyLimitFor, bodyTooLargeResult, type StoreApi } from './api.js';
import { ListRewritingStream, listRequestFromParseError } from './list-rewrite.js';
import { parseTarget, type ApiRequest } from './request.js';
import type { ApiResult } from './response.js';
import { logPath } from './request-log.js';

/** Vault's default `max_request_size`: 32 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Default cap on simultaneous connections (beyond it new connections are closed at once). */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** TLS material for the listener (PEM). The key is wiped by the caller after start. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** Options of {@link StoreHttpServer.listen}. */
export interface StoreHttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  api: StoreApi;
  log: Logger;
  tls?: TlsMaterial;
  maxBodyBytes?: number;
  /** Simultaneous connections accepted (default {@link DEFAULT_MAX_CONNECTIONS}). */
  maxConnections?: number;
  /** Slow-client bounds (node:http enforces them); the defaults suit production, tests shorten them. */
  timeouts?: StoreHttpTimeouts;
  /** HA: request forwarding to the active node, and the client address a forwarding standby vouches for. */
  forwarding?: ForwardingHooks | undefined;
}

/**
 * What the listener asks of HA request forwarding (src/store/ha/forwarder.ts). Decided per request before its body
 * is read, so a forwarded body streams through without being held here.
 */
export interface ForwardingHooks {
  /** Whether this request goes to the active node (this node is a standby and the path is not answered locally). */
  shouldForward(method: string, target: string): boolean;
  /** Forwards the request and streams the answer into `res`; never rejects (failures answer 503). */
  forward(req: http.IncomingMessage, res: http.ServerResponse, clientAddress: string | undefined): Promise<void>;
  /** The client address a forwarding standby vouched for with a valid MAC, else undefined (the socket's counts). */
  vouchedAddress(req: http.IncomingMessage): string | undefined;
}

/** Bounds on slow clients (slowloris), enforced by node:http's own connection checks. */
export interface StoreHttpTimeouts {
  /** A request's header section must be complete this long after its first byte (default 20 s). */
  headersMs?: number;
  /** A whole request must be received this long after its first byte (default 60 s; at least `headersMs`). */
  requestMs?: number;
  /** An idle keep-alive connection is closed after this (default 5 s). */
  keepAliveMs?: number;
  /** How often the two request limits are checked (default node:http's 30 s): a slow client is cut off this late. */
  checkIntervalMs?: number;
}

/** How long a refused connection may stay open after its error answer, waiting for the peer to close. */
const REFUSED_LINGER_MS = 2_000;

/** Counts of a connection's requests, for graceful shutdown; what node:http attached, for the `LIST` take-over. */
interface ConnState {
  socket: net.Socket;
  /** Requests dispatched to the API whose response has not closed yet. */
  active: number;
  /** Listeners node:http added to the socket when it adopted it (removed when its parser is detached). */
  httpListeners: [string, (...args: unknown[]) => void][];
  /** True once node:http's own parser was detached (the connection now runs through the `LIST` rewriter). */
  takenOver: boolean;
  /**
   * True once no further request on this connection may be executed: it is being refused (see `refuse`), or a
   * response that closes it was decided (413). A request dispatched after that is dropped unexecuted (`serve`).
   */
  refusing: boolean;
  /** The status a refusal answered (see `refuse`), for the log line of a request whose body it cut off. */
  refusedStatus: number | undefined;
  /** Runs when `active` drops to `idleAt` (the take-over or a refusal waiting for requests dispatched earlier). */
  onIdle: (() => void) | undefined;
  idleAt: number;
}

/** The events node:http listens to on an adopted socket. */
const HTTP_SOCKET_EVENTS = ['data', 'end', 'drain', 'timeout', 'pause', 'resume', 'error'] as const;

/** The parts of a socket's native handle the take-over touches (as node:http's own `unconsume` does). */
interface NativeHandle {
  _consumed?: boolean;
  reading?: boolean;
  readStart?: () => number;
}

/** node:http's per-connection parser, as far as the take-over needs it (`socket.parser`). */
interface NativeParser {
  unconsume(): void;
  remove(): void;
  _consumed?: boolean;
  /** The request being received (or the last one received, until its response is done). */
  incoming?: http.IncomingMessage | null;
}

/** A clientError's error: llhttp's code, the packet it failed in and the offset of the failing byte. */
type ClientError = NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: unknown };

/** A running listener. */
export class StoreHttpServer {
  private readonly netServer: net.Server;
  private readonly httpServer: http.Server;
  private readonly conns = new Set<ConnState>();
  private closing = false;
  /** The bound address (real port). */
  readonly host: string;
  readonly port: number;
  /** `http://HOST:PORT` or `https://HOST:PORT`. */
  readonly url: string;

  private constructor(netServer: net.Server, httpServer: http.Server, host: string, port: number, secure: boolean) {
    this.netServer = netServer;
    this.httpServer = httpServer;
    this.host = host;
    this.port = port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.url = `${secure ? 'https' : 'http'}://${shownHost}:${port}`;
  }

  /** Binds and starts serving; resolves once listening. */
  static async listen(options: StoreHttpServerOptions): Promise<StoreHttpServer> {
    const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const secureContext =
      options.tls === undefined ? undefined : tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' });
    // The http server's own header/request timeouts bound slow clients (slowloris); keep-alive idles out after 5 s.
    const t = options.timeouts ?? {};
    const httpServer = http.createServer({
      requestTimeout: t.requestMs ?? 60_000,
      headersTimeout: t.headersMs ?? 20_000,
      keepAliveTimeout: t.keepAliveMs ?? 5_000,
      ...(t.checkIntervalMs === undefined ? {} : { connectionsCheckingInterval: t.checkIntervalMs }),
      // node:http would answer a Host-less HTTP/1.1 request itself (unlogged) and still execute requests pipelined
      // after it, whose answers never go out; `serve` checks it instead.
      requireHostHeader: false,
    });
    // Connection tracking (request/headers timeouts, closeIdleConnections) starts on 'listening'; this server never
    // listens itself (sockets come from the net server), so start it explicitly.
    httpServer.emit('listening');
    const netServer = net.createServer({ allowHalfOpen: true, noDelay: true });
    // A bound on open connections: an edge device must not run out of file descriptors because of one noisy client.
    netServer.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    // Assigned once listening; connections arriving before that are refused.
    const holder: { server?: StoreHttpServer } = {};
    netServer.on('connection', (raw) => {
      raw.on('error', () => raw.destroy());
      const self = holder.server;
      if (self === undefined || self.closing) {
        raw.destroy();
        return;
      }
      const socket: net.Socket = secureContext === undefined ? raw : new tls.TLSSocket(raw, { isServer: true, secureContext });
      if (socket !== raw) socket.on('error', () => socket.destroy());
      self.adopt(socket);
    });
    httpServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      holder.server?.serve(req, res, options.api, options.log, maxBody, options.forwarding);
    });
    // node:http's parser failed (or a request/headers timeout fired): a LIST to take over, or a connection to refuse.
    httpServer.on('clientError', (err: ClientError, socket: net.Socket) => {
      const self = holder.server;
      if (self === undefined) socket.destroy();
      else self.onClientError(err, socket, options.log);
    });
    // CONNECT (node:http stopped parsing at it and detached itself; nothing here tunnels): refused like bad HTTP.
    httpServer.on('connect', (_req: http.IncomingMessage, socket: net.Socket) => {
      const state = connState.get(socket);
      if (holder.server === undefined || state === undefined || state.refusing) socket.destroy();
      else holder.server.refuse(socket, state, 400, false);
    });
    await new Promise<void>((resolve, reject) => {
      netServer.once('error', reject);
      netServer.listen(options.port, options.host, () => {
        netServer.off('error', reject);
        resolve();
      });
    });
    const addr = netServer.address() as net.AddressInfo;
    const server = new StoreHttpServer(netServer, httpServer, addr.address, addr.port, secureContext !== undefined);
    holder.server = server;
    return server;
  }

  private adopt(socket: net.Socket): void {
    const state: ConnState = { socket, active: 0, httpListeners: [], takenOver: false, refusing: false, refusedStatus: undefined, onIdle: undefined, idleAt: 0 };
    this.conns.add(state);
    socket.on('close', () => this.conns.delete(state));
    connState.set(socket, state);
    // Remember which listeners node:http adds (once per connection, not per request): a take-over removes exactly those.
    const before = HTTP_SOCKET_EVENTS.map((ev) => socket.listeners(ev));
    this.httpServer.emit('connection', socket);
    HTTP_SOCKET_EVENTS.forEach((ev, i) => {
      const had = before[i] ?? [];
      for (const fn of socket.listeners(ev)) if (!had.includes(fn)) state.httpListeners.push([ev, fn as (...args: unknown[]) => void]);
    });
  }

  /**
   * node:http reports a parse error (or a request/headers timeout) on `conn` — a raw socket it parses natively, or the
   * stream of a connection already handed to the `LIST` rewriter. A `LIST` whose request line starts at a provable
   * request boundary of a natively parsed connection is taken over; anything else refuses the connection.
   */
  private onClientError(err: ClientError, conn: net.Socket, log: Logger): void {
    const state = connState.get(conn);
    if (state === undefined) {
      conn.destroy();
      return;
    }
    // Already refused (its answer is on the way), or the raw socket of a taken-over connection (its detached parser
    // has nothing more to say): nothing to add.
    if (state.refusing || (conn === state.socket && state.takenOver)) return;
    if (err.code === 'HPE_INVALID_METHOD' && conn === state.socket && !this.closing && Buffer.isBuffer(err.rawPacket)) {
      const head = typeof err.bytesParsed === 'number' ? listRequestFromParseError(err.rawPacket, err.bytesParsed) : undefined;
      if (head !== undefined && this.takeOverForList(conn, state, head)) return;
    }
    log.debug('client error', { code: err.code ?? 'unknown' });
    this.refuse(conn, state, refusalStatus(err.code), true);
  }

  /**
   * Detaches node:http's parser from a socket it parses natively, synchronously (this runs inside the parser's own
   * error callback, before the socket's next read): no byte read from now on reaches it. Requests it dispatched
   * keep their place in node:http's response queue (that needs none of the listeners removed here); inbound bytes
   * now buffer in the paused socket. False when there is no parser any more (the socket is closing) or reading
   * cannot be restarted (the socket is then destroyed).
   */
  private detachParser(socket: net.Socket, state: ConnState): boolean {
    const parser = (socket as unknown as { parser?: NativeParser | null }).parser;
    const handle = (socket as unknown as { _handle?: NativeHandle | null })._handle;
    if (parser === undefined || parser === null) return false;
    // Synchronously, before the next read: stop the flow, hand the handle's reads back to the socket (they buffer in
    // it while paused), and drop node:http's listeners except 'close' (which frees its parser when the socket closes).
    socket.pause();
    // node:http's backpressure flag: while set, every response write would resume the socket (and its bytes would
    // flow to no listener). Nothing parses for node:http on this socket any more.
    (socket as unknown as { _paused?: boolean })._paused = false;
    if (handle?._consumed === true) {
      parser.unconsume();
      parser._consumed = false;
      handle._consumed = false;
      // While consumed, reads went to llhttp and the socket's own read state never moved: start the handle's reads
      // for the socket (they stop again under backpressure, as for any socket); bytes now buffer in the paused socket.
      if (handle.reading !== true && typeof handle.readStart === 'function') {
        handle.reading = true;
        if (handle.readStart() !== 0) {
          socket.destroy();
          return false;
        }
      }
    }
    for (const [ev, fn] of state.httpListeners) socket.removeListener(ev, fn);
    // Off the server's connection list: its header/request timeouts would otherwise fire on the dead parser.
    parser.remove();
    return true;
  }

  /**
   * A response that refuses a body still arriving (413) must not end in a reset: node:http closes such a connection
   * with `destroySoon()` — end, then destroy once our FIN is out — and closing a socket whose peer is still sending
   * makes the kernel answer with RST, which can discard the 413 before the client reads it (the chaos campaign saw
   * 16 of 30 clients get only a reset). As Go's net/http does, stop parsing, read and drop what else arrives, close
   * our side, and let the peer close; a peer that keeps sending is cut off after {@link REFUSED_LINGER_MS}.
   */
  private lingerAfterRefusal(state: ConnState): void {
    const socket = state.socket;
    if (!this.detachParser(socket, state)) return; // node:http keeps the socket: its own close applies
    socket.resume();
    socket.destroySoon = () => {
      socket.end();
      const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
      timer.unref();
      socket.once('close', () => {
        clearTimeout(timer);
      });
      socket.once('end', () => socket.destroy());
    };
  }

  /** Runs `fn` once no more than `remaining` of the connection's dispatched requests are unanswered. */
  private whenAnswered(state: ConnState, remaining: number, fn: () => void): void {
    if (state.active <= remaining) {
      fn();
    } else {
      state.idleAt = remaining;
      state.onIdle = fn;
    }
  }

  /**
   * Called when llhttp rejected a `LIST` request line on `socket`, whose unparsed bytes from the first byte of that
   * line on are `head` (see {@link listRequestFromParseError} for why that byte is a request boundary: everything
   * before it, bodies included, was parsed by node:http and every request in it dispatched). Detaches node:http's
   * parser and, once every request dispatched before the `LIST` has been answered — so responses stay in request
   * order on the socket, and are logged before anything after them runs — starts a fresh HTTP connection over a
   * {@link ListRewritingStream} fed first with `head`. The connection stays in that mode until it closes.
   */
  private takeOverForList(socket: net.Socket, state: ConnState, head: Buffer): boolean {
    if (!this.detachParser(socket, state)) return false;
    state.takenOver = true;
    this.whenAnswered(state, 0, () => {
      if (socket.destroyed || this.closing || state.refusing) {
        socket.destroy();
        return;
      }
      // A keep-alive timer the old connection set after its last response must not cut the new one.
      socket.setTimeout(0);
      const stream = new ListRewritingStream(socket, head);
      connState.set(stream as unknown as net.Socket, state);
      this.httpServer.emit('connection', stream);
    });
    return true;
  }

  /**
   * Refuses a connection that cannot be parsed any further, by this rule: **a request is either answered (in order)
   * and logged, or not executed.** It applies whenever node:http's parser fails on `conn` (malformed HTTP,
   * `Content-Length` with `Transfer-Encoding`, an unknown method, a `LIST` whose first byte cannot be proven to be a
   * request boundary — then where the next request starts is unknown), a request/headers timeout fires (slowloris),
   * or a CONNECT arrives:
   *
   * 1. Parsing stops at once: node:http's parser is detached (`parserAttached`; on a rewritten connection the
   *    rewriter drops all further input), and any request still dispatched after this point is dropped unexecuted
   *    (`refusing`, checked in `serve`). Nothing after the failure point is ever executed.
   * 2. Requests dispatched before it are answered first, in order, and logged as usual — except one whose body had
   *    not fully arrived: its body never completes now, so it is never executed (it is not waited for either).
   * 3. Then the error status goes out with `Connection: close` (408 for a timeout, 431/413 for oversized header or
   *    chunk extensions, 400 otherwise — Node's own choices) and the connection is closed.
   */
  private refuse(conn: net.Socket, state: ConnState, status: number, parserAttached: boolean): void {
    state.refusing = true;
    state.refusedStatus = status;
    // The request being received when parsing stopped: if we are reading its body (a 'data' listener), that body
    // never completes now, so it will not be answered — don't wait for it.
    const incoming = (conn as unknown as { parser?: NativeParser | null }).parser?.incoming;
    const stalled = incoming !== undefined && incoming !== null && !incoming.complete && incoming.listenerCount('data') > 0 ? 1 : 0;
    if (conn instanceof ListRewritingStream) {
      conn.discardInput();
    } else if (conn === state.socket) {
      if (parserAttached && !this.detachParser(conn, state)) {
        conn.destroy();
        return;
      }
      // Read and drop what else arrives (the peer's end is still seen, and no unread bytes make the close a reset).
      conn.resume();
    }
    this.whenAnswered(state, stalled, () => {
      // Every earlier response is done, so the stalled request's is the one node:http has given the connection: its
      // log line (when the connection closes) shows the refusal, not node:http's default 200.
      const pending = (conn as unknown as { _httpMessage?: http.ServerResponse | null })._httpMessage;
      if (stalled === 1 && pending !== undefined && pending !== null && pending.req === incoming && !pending.headersSent) pending.statusCode = status;
      const raw = state.socket;
      if (!raw.writable) {
        raw.destroy();
        return;
      }
      raw.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      // The peer's close (or end) finishes the close; a peer that keeps the connection open is cut off.
      const timer = setTimeout(() => raw.destroy(), REFUSED_LINGER_MS);
      timer.unref();
      raw.once('close', () => {
        clearTimeout(timer);
      });
    });
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse, api: StoreApi, log: Logger, maxBody: number, forwarding: ForwardingHooks | undefined): void {
    const started = performance.now();
    const state = connState.get(req.socket);
    if (state !== undefined) {
      // Parsed after its connection stopped executing requests (see `refuse`; after a closing 413): never executed,
      // never answered (the connection closes after the responses before it).
      if (state.refusing) return;
      state.active++;
    }
    const method = req.method ?? 'GET';
    let loggedPath = '-';
    res.on('close', () => {
      const ms = performance.now() - started;
      log.info('request', { method, path: loggedPath, status: res.statusCode, duration_ms: Math.round(ms * 1000) / 1000 });
      // After the line: a take-over or refusal waiting for this response runs only once it is logged.
      if (state !== undefined) {
        state.active--;
        const idle = state.active === state.idleAt ? state.onIdle : undefined;
        if (idle !== undefined) {
          state.onIdle = undefined;
          idle();
        }
      }
    });
    // HTTP/1.1 requires Host (RFC 9112 §3.2): 400 as Go's net/http answers, and the connection closes after it, so
    // nothing pipelined after it may be executed.
    if (req.headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
      res.shouldKeepAlive = false;
      if (state !== undefined) state.refusing = true;
      write(res, { status: 400, body: { errors: ['missing required Host header'] } }, this.closing);
      return;
    }
    // The raw socket's address (a connection handed to the LIST rewriter is a stream without one).
    const socketAddress = state?.socket.remoteAddress ?? req.socket.remoteAddress;
    if (forwarding?.shouldForward(method, req.url ?? '/') === true) {
      loggedPath = forwardedLogPath(req.url);
      if (this.closing) res.shouldKeepAlive = false;
      void forwarding.forward(req, res, socketAddress);
      return;
    }
    const respond = (body: Buffer | undefined): void => {
      if (body === undefined) {
        // Over the limit: Vault answers 413 with its JSON-parse message; stop reading and close afterwards. Requests
        // pipelined after this one would get no answer (the connection closes after it): none may be executed.
        res.shouldKeepAlive = false;
        if (state !== undefined) {
          state.refusing = true;
          if (req.socket === state.socket && !state.takenOver) this.lingerAfterRefusal(state);
        }
        write(res, bodyTooLargeResult(req.url ?? '/'), false);
        return;
      }
      const apiReq: ApiRequest = {
        method,
        target: req.url ?? '/',
        headers: {
          'x-vault-token': headerValue(req.headers['x-vault-token']),
          authorization: req.headers.authorization,
          'content-type': req.headers['content-type'],
        },
        body,
        // A forwarding standby's MACed header names the real client; anything else leaves the socket's address.
        remoteAddress: (forwarding === undefined ? undefined : forwarding.vouchedAddress(req)) ?? socketAddress,
      };
      api
        .handle(apiReq)
        .then(({ result, path }) => {
          body.fill(0);
          loggedPath = logPath(path, req.url);
          // While closing, only the connection's last unanswered response says `Connection: close`: node:http ends the
          // socket after such a response, so requests pipelined before it must be answered and none after it run.
          const last = this.closing && (state === undefined || state.active <= 1);
          if (last && state !== undefined) state.refusing = true;
          write(res, method === 'HEAD' ? { status: result.status } : result, last);
        })
        .catch(() => {
          res.destroy();
        });
    };
    // A request without a body (every plain GET) is answered without waiting for a body promise.
    if (hasNoBody(req)) respond(EMPTY_BODY);
    else
      // The limit is the endpoint's (small for the unauthenticated seal endpoints), decided before a byte is read.
      readBody(req, bodyLimitFor(method, req.url ?? '/', maxBody)).then(respond, () => {
        // The body never arrived in full (the peer went away, or the connection was refused mid-body): not executed,
        // not answered. Logged with the refusal's status, else 499 (the peer closed), not node:http's default 200.
        res.statusCode = state?.refusedStatus ?? 499;
        res.destroy();
      });
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const stopped = new Promise<void>((resolve) => {
      this.netServer.close(() => {
        resolve();
      });
    });
    for (const c of this.conns) if (c.active === 0) c.socket.destroy();
    const deadline = Date.now() + graceMs;
    while (this.conns.size > 0 && [...this.conns].some((c) => c.active > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of this.conns) c.socket.destroy();
    this.httpServer.close();
    await stopped;
  }
}

const connState = new WeakMap<net.Socket, ConnState>();

/** The log path of a forwarded request (same redaction as any other). */
function forwardedLogPath(target: string | undefined): string {
  try {
    return logPath(parseTarget(target ?? '/').path, target);
  } catch {
    return logPath(undefined, target);
  }
}

/** The status refusing a connection after `code` (see `refuse`): Node's own choices. */
function refusalStatus(code: string | undefined): number {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    default:
      return 400;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The body of a request without one (shared: nothing ever writes to an empty buffer). */
const EMPTY_BODY = Buffer.alloc(0);

/**
 * No Content-Length (or zero) and no Transfer-Encoding: the request has no body (RFC 9112 §6.3), which is every
 * plain GET. node:http discards the (empty) body itself once the response ends; no listeners or buffers are needed.
 */
function hasNoBody(req: http.IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return (declared === undefined || declared === '0') && req.headers['transfer-encoding'] === undefined;
}

/** Reads the body; resolves undefined as soon as it exceeds `max` bytes (checked up front from Content-Length). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) {
        over = true;
        for (const c of chunks) c.fill(0);
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) return;
      const body = chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(chunks);
      if (chunks.length > 1) for (const c of chunks) c.fill(0);
      resolve(body);
    });
    req.on('error', reject);
  });
}

/** Writes an API result: JSON with Vault's headers, or an empty body for 204 and HEAD; `close`: with `Connection: close`. */
function write(res: http.ServerResponse, result: ApiResult, close: boolean): void {
  if (close) res.shouldKeepAlive = false;
  // All headers in one writeHead call: node:http then builds the head straight from the list, with no header map.
  if (result.body === undefined) {
    res.writeHead(result.status, result.status === 204 ? NO_CONTENT_HEADERS : EMPTY_JSON_HEADERS);
    res.end();
    return;
  }
  // A string body lets node:http send head and body in one write (a Buffer body goes out as a second chunk).
  const payload = result.json ?? JSON.stringify(result.body);
  res.writeHead(result.status, ['Cache-Control', 'no-store', 'Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(payload, 'utf8'))]);
  res.end(payload, 'utf8');
}

const NO_CONTENT_HEADERS = ['Cache-Control', 'no-store'];
const EMPTY_JSON_HEADERS = ['Cache-Control', 'no-store', 'Content-Type', 'application/json'];
