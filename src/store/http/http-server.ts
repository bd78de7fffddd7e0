/**
 * The store's listener: `net.createServer` accepts each connection (optionally terminating TLS) and hands it to a
 * `node:http` server that never listens itself; node:http parses it natively (llhttp reads the socket in C++). Vault
 * clients' `LIST` method is the exception llhttp rejects (HPE_INVALID_METHOD): that connection is then taken over —
 * node:http's parser is detached, and the unparsed bytes from the `LIST` line on, plus everything the socket sends
 * afterwards, go through the `LIST` rewriter ({@link ListRewritingStream}) into a fresh HTTP connection, once the
 * requests already dispatched on it (pipelined before the `LIST`) have been answered. Reads bodies under a size limit,
 * calls {@link StoreApi}, writes JSON with `Cache-Control: no-store`, logs one line per request (method, path, status,
 * duration — never tokens, bodies or query strings), and shuts down gracefully: stop accepting, finish in-flight
 * requests, close idle keep-alive connections.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '../../log.js';
import type { StoreApi } from './api.js';
import { ListRewritingStream, listRequestFromParseError } from './list-rewrite.js';
import type { ApiRequest } from './request.js';
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
}

/** Counts of a connection's requests, for graceful shutdown; what node:http attached, for the `LIST` take-over. */
interface ConnState {
  socket: net.Socket;
  active: number;
  /** Listeners node:http added to the socket when it adopted it (removed when the connection is taken over). */
  httpListeners: [string, (...args: unknown[]) => void][];
  /** True once node:http's own parser was detached (the connection now runs through the `LIST` rewriter). */
  takenOver: boolean;
  /** Runs when `active` drops to 0 (the take-over waiting for requests pipelined before the `LIST`). */
  onIdle: (() => void) | undefined;
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
}

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
    const httpServer = http.createServer({ requestTimeout: 60_000, headersTimeout: 20_000, keepAliveTimeout: 5_000 });
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
      holder.server?.serve(req, res, options.api, options.log, maxBody);
    });
    httpServer.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: unknown }, socket: net.Socket) => {
      const self = holder.server;
      if (err.code === 'HPE_INVALID_METHOD' && self !== undefined && self.takeOverForList(socket, err.rawPacket, err.bytesParsed)) return;
      // A connection already handed to the rewriter: its detached parser has nothing more to say.
      if (self !== undefined && connState.get(socket)?.socket === socket && connState.get(socket)?.takenOver === true) return;
      // Malformed HTTP (llhttp error): answer 400 if we still can, as Node would, and close.
      options.log.debug('client error', { code: err.code ?? 'unknown' });
      if (socket.writable) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      } else {
        socket.destroy();
      }
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
    const state: ConnState = { socket, active: 0, httpListeners: [], takenOver: false, onIdle: undefined };
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
   * Called when llhttp rejected a request line on `socket`; returns false (the caller answers 400) unless it was a
   * `LIST` on a natively parsed connection. Otherwise detaches node:http's parser (no more native reads; inbound
   * bytes wait in the paused socket), and once every request dispatched before the `LIST` has been answered — so
   * responses stay in request order on the socket — starts a fresh HTTP connection over a {@link ListRewritingStream}
   * fed first with the unparsed bytes from the `LIST` line on. The connection stays in that mode until it closes.
   */
  private takeOverForList(socket: net.Socket, rawPacket: unknown, bytesParsed: unknown): boolean {
    const state = connState.get(socket);
    if (state === undefined || state.socket !== socket || state.takenOver || this.closing) return false;
    if (!Buffer.isBuffer(rawPacket) || typeof bytesParsed !== 'number') return false;
    const head = listRequestFromParseError(rawPacket, bytesParsed);
    if (head === undefined) return false;
    const parser = (socket as unknown as { parser?: NativeParser | null }).parser;
    const handle = (socket as unknown as { _handle?: NativeHandle | null })._handle;
    if (parser === undefined || parser === null) return false;
    state.takenOver = true;
    // Synchronously, before the next read: stop the flow, hand the handle's reads back to the socket (they buffer in
    // it while paused), and drop node:http's listeners except 'close' (which frees its parser when the socket closes).
    socket.pause();
    if (handle?._consumed === true) {
      parser.unconsume();
      handle._consumed = false;
      // While consumed, reads went to llhttp and the socket's own read state never moved: start the handle's reads
      // for the socket (they stop again under backpressure, as for any socket); bytes now buffer in the paused socket.
      if (handle.reading !== true && typeof handle.readStart === 'function') {
        handle.reading = true;
        if (handle.readStart() !== 0) {
          socket.destroy();
          return true;
        }
      }
    }
    for (const [ev, fn] of state.httpListeners) socket.removeListener(ev, fn);
    // Off the server's connection list: its header/request timeouts would otherwise fire on the dead parser.
    parser.remove();
    const start = (): void => {
      if (socket.destroyed || this.closing) {
        socket.destroy();
        return;
      }
      // A keep-alive timer the old connection set after its last response must not cut the new one.
      socket.setTimeout(0);
      const stream = new ListRewritingStream(socket, head);
      connState.set(stream as unknown as net.Socket, state);
      this.httpServer.emit('connection', stream);
    };
    if (state.active === 0) start();
    else state.onIdle = start;
    return true;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse, api: StoreApi, log: Logger, maxBody: number): void {
    const started = performance.now();
    const state = connState.get(req.socket);
    if (state !== undefined) state.active++;
    const method = req.method ?? 'GET';
    let loggedPath = '-';
    res.on('close', () => {
      if (state !== undefined) {
        state.active--;
        const idle = state.active === 0 ? state.onIdle : undefined;
        if (idle !== undefined) {
          state.onIdle = undefined;
          idle();
        }
      }
      const ms = performance.now() - started;
      log.info('request', { method, path: loggedPath, status: res.statusCode, duration_ms: Math.round(ms * 1000) / 1000 });
    });
    const respond = (body: Buffer | undefined): void => {
      if (body === undefined) {
        // Over the limit: Vault answers 413 with its JSON-parse message; stop reading and close afterwards.
        res.shouldKeepAlive = false;
        write(res, { status: 413, body: { errors: ['error parsing JSON'] } }, this.closing);
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
        // The raw socket's address (a connection handed to the LIST rewriter is a stream without one).
        remoteAddress: state?.socket.remoteAddress ?? req.socket.remoteAddress,
      };
      api
        .handle(apiReq)
        .then(({ result, path }) => {
          body.fill(0);
          loggedPath = logPath(path, req.url);
          write(res, method === 'HEAD' ? { status: result.status } : result, this.closing);
        })
        .catch(() => {
          res.destroy();
        });
    };
    // A request without a body (every plain GET) is answered without waiting for a body promise.
    if (hasNoBody(req)) respond(EMPTY_BODY);
    else
      readBody(req, maxBody).then(respond, () => {
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

/** Writes an API result: JSON with Vault's headers, or an empty body for 204 and HEAD. */
function write(res: http.ServerResponse, result: ApiResult, closing: boolean): void {
  if (closing) res.shouldKeepAlive = false;
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
