/**
 * The HTTP transport under {@link VaultClient}: `node:http`/`node:https` (Node 20's fetch cannot take a private CA
 * without a new dependency), per-request timeouts, and retries with exponential backoff on transport errors only —
 * and only when repeating the request is harmless (see {@link RequestOptions.idempotent}). Bodies are read with a
 * size cap and parsed as JSON; raw response bytes (which may hold shares or tokens) are wiped after parsing.
 *
 * Start-up cost (docs/packaging.md, "Start-up"): `node:https` (and with it `node:tls`) is loaded only for an https
 * address — it costs a plain-http boot about 11 ms of CPU and 4 MiB of memory — and neither is imported as an ES
 * module (see {@link builtin}). Requests that may be repeated (idempotent) share a kept-alive connection per client
 * instead of a TCP connection each (a sealed boot: 6 connections instead of 19); a request that must never be sent
 * twice (`sys/init`, generate-root, token creation) still gets a connection of its own, so a kept-alive connection the
 * store closed while idle can never be what fails it. Idle connections never keep the process alive, and are dropped
 * after {@link IDLE_SOCKET_MS} (earlier when the store announces a shorter `Keep-Alive` timeout).
 */
import type * as http from 'node:http';
import type * as https from 'node:https';
import { createRequire } from 'node:module';
import { SecretStoreError, describeCause, isTlsFailure } from '../errors.js';
import type { Logger } from '../log.js';

/** Settings of a {@link VaultClient}. */
export interface VaultClientOptions {
  /** Base URL of one node, e.g. `http://127.0.0.1:8200` (no `/v1`). */
  address: string;
  /** PEM bundle of CAs to trust for https (CaFilePath's content); the system CAs otherwise. */
  ca?: Buffer;
  /** Per-request timeout in milliseconds (default 10 000). */
  timeoutMs?: number;
  /** Retries after a transport error (default 2). */
  retries?: number;
  /** First retry delay in milliseconds, doubled each retry (default 200). */
  retryDelayMs?: number;
  /** Debug logging of requests (method, path, status, duration — never headers or bodies). */
  log?: Logger;
  /** Aborts in-flight requests and retry waits. */
  signal?: AbortSignal;
}

/** Options of one request. */
export interface RequestOptions {
  token?: string;
  /** JSON body: a plain object (no secrets) or a Buffer already serialized (secrets; the caller wipes it). */
  body?: Buffer | Record<string, unknown>;
  query?: Record<string, string>;
  /**
   * Whether the request may be sent twice. Connection-refused errors are always retried (nothing was sent);
   * resets and timeouts after sending only when idempotent (default: GET/HEAD/DELETE). `sys/init` must never be.
   */
  idempotent?: boolean;
  /**
   * Retries after a transport error for this request (default: the client's). 0 for a probe that is polled anyway:
   * a node that is down then costs one refused connection, not a retry schedule.
   */
  retries?: number;
}

/** A raw response: HTTP status and parsed JSON body (`undefined` when empty). */
export interface VaultResponse {
  status: number;
  body: unknown;
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** How long an idle kept-alive connection is kept (well under the usual 5 s server keep-alive timeout). */
export const IDLE_SOCKET_MS = 2000;

/**
 * A built-in module through `process.getBuiltinModule` (Node >= 20.16), else `require`. Never an ES import: on Node 24
 * an ES import of `node:http` evaluates every export of it, the lazy ones included, which loads undici (fetch,
 * WebSocket) — about 35 ms of CPU and 13 MiB at start-up, for nothing. Nor a dynamic `import()`, which the single
 * executable's code cannot use (it runs without an ES module loader).
 */
function builtin(id: 'node:http' | 'node:https'): unknown {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return typeof get === 'function' ? get.call(process, id) : createRequire(import.meta.url)(id);
}

const httpModule = builtin('node:http') as typeof http;
let httpsModule: typeof https | undefined;
/** `node:https`, loaded on first use: a plain-http process never loads `node:tls`. */
function loadHttps(): typeof https {
  httpsModule ??= builtin('node:https') as typeof https;
  return httpsModule;
}

/** Errors raised before any byte reached the server: safe to retry whatever the request. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

class TransportError extends Error {
  readonly kind: 'connect' | 'reset' | 'timeout';
  readonly detail: string;
  constructor(kind: 'connect' | 'reset' | 'timeout', detail: string) {
    super(detail);
    this.kind = kind;
    this.detail = detail;
  }
}

/** Sleeps `ms`, or rejects with ABORTED when `signal` fires (the one abortable delay of the client and the flows). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new SecretStoreError('ABORTED', 'interrupted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new SecretStoreError('ABORTED', 'interrupted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sends requests to one node; {@link VaultClient} adds the API calls. */
export class VaultTransport {
  /** The node's base URL (no trailing slash), used in messages and metrics labels. */
  readonly address: string;
  protected readonly url: URL;
  protected readonly ca: Buffer | undefined;
  protected readonly timeoutMs: number;
  protected readonly retries: number;
  protected readonly retryDelayMs: number;
  protected readonly log: Logger | undefined;
  protected readonly signal: AbortSignal | undefined;
  /** The kept-alive connection(s) of idempotent requests; made on first use (an https one needs `node:https`). */
  private agent: http.Agent | undefined;

  constructor(options: VaultClientOptions) {
    let url: URL;
    try {
      url = new URL(options.address);
    } catch {
      throw new SecretStoreError('CONFIG', `the secret store address "${options.address}" is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SecretStoreError('CONFIG', `the secret store address must use http or https, got "${url.protocol}"`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new SecretStoreError('CONFIG', 'the secret store address must not carry credentials');
    }
    this.url = url;
    this.address = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    this.ca = options.ca;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.log = options.log;
    this.signal = options.signal;
  }

  /** Sends one request (with retries on transport errors) and returns status and parsed body, whatever the status. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<VaultResponse> {
    const idempotent = options.idempotent ?? (method === 'GET' || method === 'HEAD' || method === 'DELETE');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(method, path, options, idempotent);
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        const retryable = err.kind === 'connect' || idempotent;
        if (!retryable || attempt >= (options.retries ?? this.retries)) {
          if (err.kind === 'timeout') {
            throw new SecretStoreError(
              'STORE_TIMEOUT',
              `the secret store at ${this.address} did not answer ${method} /v1/${path} within ${this.timeoutMs} ms`,
            );
          }
          throw new SecretStoreError(
            'STORE_UNREACHABLE',
            `cannot reach the secret store at ${this.address} (${err.detail}); check that it runs and the address (Host/Port/Protocol or --addr)`,
          );
        }
        const wait = this.retryDelayMs * 2 ** attempt;
        this.log?.debug('retrying request after a transport error', { node: this.address, path, error: err.detail, delayMs: wait });
        await delay(wait, this.signal);
      }
    }
  }

  /** The module and, for a request that may be repeated, the shared keep-alive agent (`false`: a connection of its own). */
  private transportFor(idempotent: boolean): { mod: typeof http | typeof https; agent: http.Agent | false } {
    const mod = this.url.protocol === 'https:' ? loadHttps() : httpModule;
    if (!idempotent) return { mod, agent: false };
    this.agent ??= new mod.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
    return { mod, agent: this.agent };
  }

  private once(method: string, path: string, options: RequestOptions, idempotent: boolean): Promise<VaultResponse> {
    const { mod, agent } = this.transportFor(idempotent);
    const target = new URL(`${this.url.pathname.replace(/\/+$/, '')}/v1/${path}`, this.url);
    for (const [k, v] of Object.entries(options.query ?? {})) target.searchParams.set(k, v);
    const body =
      options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(JSON.stringify(options.body));
    const headers: http.OutgoingHttpHeaders = { Accept: 'application/json', 'X-Vault-Request': 'true' };
    if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = body.length;
    }
    const started = Date.now();
    return new Promise<VaultResponse>((resolve, reject) => {
      if (this.signal?.aborted === true) {
        reject(new SecretStoreError('ABORTED', 'interrupted'));
        return;
      }
      const requestOptions: https.RequestOptions = {
        method,
        headers,
        timeout: this.timeoutMs,
        agent,
        ...(this.signal === undefined ? {} : { signal: this.signal }),
        ...(this.ca === undefined ? {} : { ca: this.ca }),
      };
      const req = mod.request(target, requestOptions, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy();
            reject(new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} sent an oversized response to ${path}`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => {
          reject(err instanceof TransportError ? err : new TransportError('reset', describeCause(err)));
        });
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          for (const c of chunks) c.fill(0);
          const status = res.statusCode ?? 0;
          this.log?.debug('store request', { node: this.address, method, path, status, ms: Date.now() - started });
          if (raw.length === 0) {
            resolve({ status, body: undefined });
            return;
          }
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw.toString('utf8'));
          } catch {
            reject(new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} sent a non-JSON response (HTTP ${status}) to ${path}`));
            return;
          } finally {
            // The body may hold shares or tokens (init, generate-root, token create).
            raw.fill(0);
          }
          resolve({ status, body: parsed });
        });
      });
      // Two limits: socket inactivity (`timeout` above) and a hard deadline for the whole exchange, so a store that
      // drips bytes cannot hold the boot flow forever.
      req.on('timeout', () => {
        req.destroy(new TransportError('timeout', 'timeout'));
      });
      const deadline = setTimeout(() => {
        req.destroy(new TransportError('timeout', 'timeout'));
      }, this.timeoutMs);
      req.on('close', () => {
        clearTimeout(deadline);
      });
      req.on('error', (err: unknown) => {
        if (err instanceof TransportError) {
          reject(err);
          return;
        }
        if (this.signal?.aborted === true) {
          reject(new SecretStoreError('ABORTED', 'interrupted'));
          return;
        }
        const code = describeCause(err);
        if (CONNECT_ERRORS.has(code)) reject(new TransportError('connect', code));
        else if (isTlsFailure(code)) {
          // Certificate or protocol mismatch: a configuration problem that waiting will not fix.
          reject(new SecretStoreError('CONFIG', `TLS connection to ${this.address} failed (${code}); check CaFilePath and the server certificate`));
        } else reject(new TransportError('reset', code));
      });
      req.end(body);
    });
  }

}
