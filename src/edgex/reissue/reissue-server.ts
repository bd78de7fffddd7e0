/**
 * EdgeX 4's `--longRun` token re-issue endpoint (edgex-go `internal/security/secretstore/server/handlers/router.go`,
 * `controller/token.go`): one route, `PUT /api/v3/token/entityId/:entityId` (go-mod-core-contracts
 * `common.ApiRegenTokenRoute`), called by go-mod-bootstrap when a service's token has expired; the service then reads
 * its token file again. Success is HTTP 200 with EdgeX's `BaseResponse` `{"apiVersion":"v3","statusCode":200}`
 * (JSON-encoded plus a newline, `Content-Type: application/json`, `X-Correlation-ID` echoed).
 *
 * Like EdgeX there is no authentication: an expired token cannot authenticate, which is why the route exists. What
 * guards it here instead, where EdgeX has nothing:
 * - the entity id must look like one (a UUID), else 400 — it never reaches a store path unchecked;
 * - a failed re-issue is a real error: 500 with the (secret-free) reason, where EdgeX's echo answers with a bare 500
 *   and its token provider can even fail with exit status 0;
 * - rate limits per entity and in all (defaults 6 and 60 per minute; 429 with `Retry-After`);
 * - re-issues run one at a time (each regenerates a root token, and two root generations cannot overlap);
 * - a request body is not needed (EdgeX's client sends `null`) and is capped (413); other routes get 404, other
 *   methods 405, and requests arriving while `close()` drains 503;
 * - every PUT on the route is logged: re-issued or failed (entity id, outcome, status, duration), refused (bad id,
 *   body too large, rate limit) — never a token.
 * Errors use EdgeX's error shape, a `BaseResponse` with a message: `{"apiVersion":"v3","message":"…","statusCode":N}`,
 * which go-mod-core-contracts' client turns into its error text.
 */
import * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import { SecretStoreError, describeCause, isSecretStoreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { isEntityId } from './create-token.js';
import { ReissueRateLimiter, type ReissueRateLimitOptions } from './rate-limit.js';

export type { ReissueRateLimitOptions } from './rate-limit.js';

/** The route's fixed part: go-mod-core-contracts `ApiTokenRoute + "/" + EntityId + "/"` (`/api/v3/token/entityId/`). */
export const REISSUE_ROUTE_PREFIX = '/api/v3/token/entityId/';
/** EdgeX's API version, in every response body. */
export const API_VERSION = 'v3';
/** The default cap on a request body, in bytes (EdgeX's client sends the 4 bytes `null`). */
export const DEFAULT_MAX_BODY_BYTES = 1024;

/** Settings of {@link startReissueServer}. */
export interface ReissueServerOptions {
  /** The address to listen on (`''`: every interface). EdgeX: `Service.Host`, compose `edgex-security-secretstore-setup`. */
  host: string;
  /** The port (EdgeX: `Service.Port`, 59843); 0 picks a free one. */
  port: number;
  /** Where requests are logged. */
  log: Logger;
  /**
   * Re-issues the token of the service entity `entityId` stands for (EdgeX: a new root and admin token, then
   * `createToken -entityId`). Rejects on failure; a SecretStoreError's message is sent back to the caller, so it
   * must hold no secret (the project's rule for every SecretStoreError), other errors become "internal error".
   */
  reissue: (entityId: string) => Promise<void>;
  /** Rate limits (defaults: 6 per entity and 60 in all per minute) and, for tests, the clock. */
  rateLimit?: ReissueRateLimitOptions;
  /** The largest request body accepted, in bytes (default {@link DEFAULT_MAX_BODY_BYTES}); larger gets 413. */
  maxBodyBytes?: number;
  /** How long `close()` waits for requests in progress before it cuts their connections (default 30 000 ms). */
  drainTimeoutMs?: number;
}

/** A running re-issue server. */
export interface ReissueServer {
  /** `http://HOST:PORT` with the real port. */
  readonly url: string;
  /** The port it really listens on. */
  readonly port: number;
  /**
   * Stops accepting connections, lets the requests in progress (and re-issues already admitted) finish, and resolves
   * once every connection is closed (connections still busy after the drain timeout are cut). Safe to call twice.
   */
  close(): Promise<void>;
}

/** EdgeX's `BaseResponse` body: `apiVersion`, then `message` (omitted when empty), then `statusCode`, plus a newline. */
function baseResponse(statusCode: number, message = ''): string {
  const body: Record<string, string | number> = { apiVersion: API_VERSION };
  if (message !== '') body.message = message;
  body.statusCode = statusCode;
  return JSON.stringify(body) + '\n';
}

/** A correlation id worth echoing (EdgeX's clients send a UUID), else a fresh one. */
function correlationId(req: http.IncomingMessage): string {
  const given = req.headers['x-correlation-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(given) ? given : randomUUID();
}

/** The failure text sent to the caller: a SecretStoreError's message (secret-free by rule), else only the error's kind. */
function failureMessage(err: unknown): string {
  if (isSecretStoreError(err)) return `token re-issue failed: ${err.message}`;
  return `token re-issue failed: internal error (${describeCause(err)})`;
}

/** Starts the re-issue endpoint on `host:port`; a port in use is an 'IO' error naming `host:port`. */
export async function startReissueServer(options: ReissueServerOptions): Promise<ReissueServer> {
  const { log, reissue } = options;
  const limiter = new ReissueRateLimiter(options.rateLimit);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBody) || maxBody < 0) throw new SecretStoreError('CONFIG', `the re-issue body limit must be a non-negative integer, got ${String(maxBody)}`);
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const host = options.host.trim();
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new SecretStoreError('CONFIG', `the re-issue server port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  let closing = false;
  /** Re-issues run one after the other: this is the tail of the queue. */
  let queue: Promise<unknown> = Promise.resolve();

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const correlation = correlationId(req);
    const remote = req.socket.remoteAddress ?? '';
    const send = (status: number, message = '', headers: http.OutgoingHttpHeaders = {}): void => {
      if (res.headersSent) return;
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-store',
        'X-Correlation-ID': correlation,
        ...(closing ? { Connection: 'close' } : {}),
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : baseResponse(status, message));
    };

    if (closing) {
      req.resume();
      send(503, 'the token re-issue server is shutting down; retry later');
      return;
    }
    // Route: exactly one path segment after the prefix (echo's `:entityId`); the query string is ignored, as echo does.
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    if (!path.startsWith(REISSUE_ROUTE_PREFIX) || path.slice(REISSUE_ROUTE_PREFIX.length).includes('/')) {
      req.resume();
      send(404, 'route not found');
      return;
    }
    if (req.method !== 'PUT') {
      req.resume();
      send(405, `method ${String(req.method)} not allowed; use PUT`, { Allow: 'PUT' });
      return;
    }
    let entityId: string;
    try {
      entityId = decodeURIComponent(path.slice(REISSUE_ROUTE_PREFIX.length));
    } catch {
      entityId = '';
    }
    if (!isEntityId(entityId)) {
      req.resume();
      log.warn('token re-issue refused: not an entity id', { remote, outcome: 'bad-request', status: 400 });
      send(400, 'the entity id must be an identity entity id (a UUID such as 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0)');
      return;
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBody) {
      log.warn('token re-issue refused: request body too large', { entityId, remote, outcome: 'too-large', status: 413 });
      send(413, `the request body must not exceed ${maxBody} bytes`, { Connection: 'close' });
      req.socket.destroySoon();
      return;
    }
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody && !tooLarge) {
        tooLarge = true;
        log.warn('token re-issue refused: request body too large', { entityId, remote, outcome: 'too-large', status: 413 });
        send(413, `the request body must not exceed ${maxBody} bytes`, { Connection: 'close' });
        req.socket.destroySoon();
      }
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (tooLarge) return;
      const decision = limiter.take(entityId);
      if (!decision.allowed) {
        log.warn('token re-issue refused: rate limit reached', {
          entityId,
          remote,
          outcome: 'rate-limited',
          status: 429,
          limit: decision.scope === 'entity' ? `${limiter.perEntity} per entity per ${limiter.windowMs / 1000}s` : `${limiter.overall} per ${limiter.windowMs / 1000}s`,
          retryAfter: decision.retryAfterSeconds,
        });
        send(
          429,
          decision.scope === 'entity'
            ? `too many token re-issues for this entity (at most ${limiter.perEntity} per ${limiter.windowMs / 1000} s); retry after ${decision.retryAfterSeconds} s`
            : `too many token re-issues (at most ${limiter.overall} per ${limiter.windowMs / 1000} s); retry after ${decision.retryAfterSeconds} s`,
          { 'Retry-After': String(decision.retryAfterSeconds) },
        );
        return;
      }
      const run = queue.then(() => reissue(entityId));
      queue = run.catch(() => undefined);
      run.then(
        () => {
          log.info('token re-issued', { entityId, remote, outcome: 'ok', status: 200, ms: Math.round(performance.now() - started) });
          send(200);
        },
        (err: unknown) => {
          const message = failureMessage(err);
          log.error('token re-issue failed', {
            entityId,
            remote,
            outcome: 'failed',
            status: 500,
            ms: Math.round(performance.now() - started),
            code: isSecretStoreError(err) ? err.code : describeCause(err),
            error: message,
          });
          send(500, message);
        },
      );
    });
  });
  // Slow clients cannot hold a connection open for long before the request is in.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const where = host.includes(':') ? `[${host}]:${options.port}` : `${host}:${options.port}`;
    const onError = (err: unknown): void => {
      const code = describeCause(err);
      const why = code === 'EADDRINUSE' ? 'the port is already in use by another process' : 'the listen call failed';
      reject(new SecretStoreError('IO', `cannot start the token re-issue server on ${where}: ${why} (${code})`, { cause: err }));
    };
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (host === '') server.listen(options.port, listening);
    else server.listen(options.port, host, listening);
  });
  server.on('error', (err) => {
    log.warn('token re-issue server error', { error: describeCause(err) });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const shownHost = host === '' ? '0.0.0.0' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  log.info('token re-issue server listening', { url, route: `PUT ${REISSUE_ROUTE_PREFIX}:entityId` });

  // While closing, a keep-alive connection that finished its response is closed at once.
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.on('finish', () => {
      if (closing) server.closeIdleConnections();
    });
  });

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        let timer: NodeJS.Timeout | undefined;
        const drained = new Promise<void>((timedOut) => {
          timer = setTimeout(() => {
            log.warn('token re-issue server: cutting connections still busy after the drain timeout', { drainTimeoutMs });
            server.closeAllConnections();
            timedOut();
          }, drainTimeoutMs);
          timer.unref();
        });
        const stopped = new Promise<void>((done) => {
          server.close(() => {
            done();
          });
        });
        server.closeIdleConnections();
        // Re-issues already admitted finish too (their responses may go to closed connections), unless they outlast
        // the drain timeout.
        void Promise.race([Promise.all([stopped, queue]), drained.then(() => stopped)]).then(() => {
          clearTimeout(timer);
          log.info('token re-issue server stopped');
          resolve();
        });
      });
      return closed;
    },
  };
}
