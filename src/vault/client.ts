/**
 * A small Vault/OpenBao HTTP client on `node:http`/`node:https` (Node 20's fetch cannot take a private CA without a
 * new dependency). Per-request timeouts; retries with exponential backoff on transport errors only — and only when
 * repeating the request is harmless (see {@link RequestOptions.idempotent}); lists as `GET ?list=true` like Vault's
 * Go client; every response body validated in ./types.ts. Tokens travel only in the `X-Vault-Token` header and are
 * never logged; secret request bodies are Buffers the caller wipes.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { SecretStoreError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import { jsonWithSecretHex } from './secret-json.js';
import {
  asObject,
  parseErrors,
  parseGenerateRoot,
  parseHealth,
  parseInitResponse,
  parseListKeys,
  parseMounts,
  parseSealStatus,
  parseTokenAuth,
  parseTokenLookup,
  type GenerateRootStatus,
  type HealthResponse,
  type InitResponse,
  type MountInfo,
  type SealStatus,
  type TokenAuth,
  type TokenLookup,
} from './types.js';

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
}

/** A raw response: HTTP status and parsed JSON body (`undefined` when empty). */
export interface VaultResponse {
  status: number;
  body: unknown;
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
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

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
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

/** A client for one node of a Vault-API secret store. */
export class VaultClient {
  /** The node's base URL (no trailing slash), used in messages and metrics labels. */
  readonly address: string;
  private readonly url: URL;
  private readonly ca: Buffer | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly log: Logger | undefined;
  private readonly signal: AbortSignal | undefined;

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
        return await this.once(method, path, options);
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        const retryable = err.kind === 'connect' || idempotent;
        if (!retryable || attempt >= this.retries) {
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
        const delay = this.retryDelayMs * 2 ** attempt;
        this.log?.debug('retrying request after a transport error', { node: this.address, path, error: err.detail, delayMs: delay });
        await sleep(delay, this.signal);
      }
    }
  }

  private once(method: string, path: string, options: RequestOptions): Promise<VaultResponse> {
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
        agent: false,
        ...(this.signal === undefined ? {} : { signal: this.signal }),
        ...(this.ca === undefined ? {} : { ca: this.ca }),
      };
      const req = (target.protocol === 'https:' ? https : http).request(target, requestOptions, (res) => {
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
          reject(new TransportError('reset', describeCause(err)));
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
      req.on('timeout', () => {
        req.destroy(new TransportError('timeout', 'timeout'));
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
        else if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('DEPTH_') || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
          // Certificate or protocol mismatch: a configuration problem that waiting will not fix.
          reject(new SecretStoreError('CONFIG', `TLS connection to ${this.address} failed (${code}); check CaFilePath and the server certificate`));
        } else reject(new TransportError('reset', code));
      });
      req.end(body);
    });
  }

  /** Sends a request and fails with STORE_ERROR unless the status is one of `ok`. */
  async call(method: string, path: string, options: RequestOptions, ok: number[], what = path): Promise<VaultResponse> {
    const res = await this.request(method, path, options);
    if (!ok.includes(res.status)) throw this.statusError(res, what);
    return res;
  }

  /** A STORE_ERROR (or a more specific code) for an unexpected status, with the store's sanitized message. */
  statusError(res: VaultResponse, what: string): SecretStoreError {
    const errors = parseErrors(res.body);
    const detail = errors.length > 0 ? `: ${errors.join('; ')}` : '';
    if (res.status === 503) {
      return new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} is sealed (HTTP 503 on ${what})${detail}`);
    }
    if (res.status === 403) {
      return new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} denied ${what} (HTTP 403)${detail}`);
    }
    return new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} answered HTTP ${res.status} to ${what}${detail}`);
  }

  /** `GET sys/health?standbyok=true&perfstandbyok=true`: the status code is the state (200/429/501/503/…). */
  async health(): Promise<HealthResponse> {
    const res = await this.request('GET', 'sys/health', { query: { standbyok: 'true', perfstandbyok: 'true' } });
    return parseHealth(res.status, res.body);
  }

  /** `GET sys/seal-status`. */
  async sealStatus(): Promise<SealStatus> {
    const res = await this.call('GET', 'sys/seal-status', {}, [200]);
    return parseSealStatus(res.body);
  }

  /** `PUT sys/init`. Never retried after it may have been sent: a second init would answer "already initialized". */
  async init(secretShares: number, secretThreshold: number): Promise<InitResponse> {
    const res = await this.call(
      'PUT',
      'sys/init',
      { body: { secret_shares: secretShares, secret_threshold: secretThreshold }, idempotent: false },
      [200],
    );
    return parseInitResponse(res.body, secretShares);
  }

  /**
   * `PUT sys/unseal` with one share. Resolves to the new seal status; a 400 (a share the store rejects) becomes
   * UNSEAL_REJECTED. Idempotent: the store ignores a share it already has.
   */
  async unseal(share: Uint8Array): Promise<SealStatus> {
    const body = jsonWithSecretHex({}, 'key', share);
    try {
      const res = await this.request('PUT', 'sys/unseal', { body, idempotent: true });
      if (res.status === 400) {
        const errors = parseErrors(res.body);
        throw new SecretStoreError(
          'UNSEAL_REJECTED',
          `the secret store at ${this.address} rejected the unseal key shares (${errors[0] ?? 'HTTP 400'}); the key file does not belong to this store's data — do not retry, check TokenFolderPath and the store's data folder`,
        );
      }
      if (res.status !== 200) throw this.statusError(res, 'sys/unseal');
      return parseSealStatus(res.body, 'sys/unseal');
    } finally {
      body.fill(0);
    }
  }

  /** `PUT sys/unseal {"reset":true}`: drops a partial unseal attempt (left by a crash or another client). */
  async unsealReset(): Promise<SealStatus> {
    const res = await this.call('PUT', 'sys/unseal', { body: { reset: true }, idempotent: true }, [200]);
    return parseSealStatus(res.body, 'sys/unseal');
  }

  /** `GET sys/generate-root/attempt`. */
  async generateRootStatus(): Promise<GenerateRootStatus> {
    const res = await this.call('GET', 'sys/generate-root/attempt', {}, [200]);
    return parseGenerateRoot(res.body);
  }

  /** `PUT sys/generate-root/attempt` without an OTP: the store generates one and returns it once. */
  async generateRootStart(): Promise<GenerateRootStatus> {
    const res = await this.call('PUT', 'sys/generate-root/attempt', { body: {}, idempotent: false }, [200]);
    return parseGenerateRoot(res.body);
  }

  /** `DELETE sys/generate-root/attempt`. */
  async generateRootCancel(): Promise<void> {
    await this.call('DELETE', 'sys/generate-root/attempt', {}, [200, 204]);
  }

  /** `PUT sys/generate-root/update` with one share. */
  async generateRootUpdate(share: Uint8Array, nonce: string): Promise<GenerateRootStatus> {
    const body = jsonWithSecretHex({ nonce }, 'key', share);
    try {
      const res = await this.call('PUT', 'sys/generate-root/update', { body, idempotent: false }, [200]);
      return parseGenerateRoot(res.body, 'sys/generate-root/update');
    } finally {
      body.fill(0);
    }
  }

  /** `GET auth/token/lookup-self`; `undefined` when the token is not valid (403). */
  async lookupSelf(token: string): Promise<TokenLookup | undefined> {
    const res = await this.request('GET', 'auth/token/lookup-self', { token });
    if (res.status === 403) return undefined;
    if (res.status !== 200) throw this.statusError(res, 'auth/token/lookup-self');
    return parseTokenLookup(res.body, 'auth/token/lookup-self');
  }

  /** `GET auth/token/accessors?list=true` (needs sudo). */
  async listAccessors(token: string): Promise<string[]> {
    const res = await this.request('GET', 'auth/token/accessors', { token, query: { list: 'true' } });
    if (res.status === 404) return [];
    if (res.status !== 200) throw this.statusError(res, 'auth/token/accessors');
    return parseListKeys(res.body, 'auth/token/accessors');
  }

  /** `POST auth/token/lookup-accessor`; `undefined` when the accessor no longer exists. */
  async lookupAccessor(token: string, accessor: string): Promise<TokenLookup | undefined> {
    const res = await this.request('POST', 'auth/token/lookup-accessor', { token, body: { accessor }, idempotent: true });
    if (res.status === 400 || res.status === 404) return undefined;
    if (res.status !== 200) throw this.statusError(res, 'auth/token/lookup-accessor');
    return parseTokenLookup(res.body, 'auth/token/lookup-accessor');
  }

  /** `POST auth/token/revoke-accessor`. An accessor already gone is not an error. */
  async revokeAccessor(token: string, accessor: string): Promise<void> {
    const res = await this.request('POST', 'auth/token/revoke-accessor', { token, body: { accessor }, idempotent: true });
    if (res.status === 200 || res.status === 204 || res.status === 400) return;
    throw this.statusError(res, 'auth/token/revoke-accessor');
  }

  /** `POST auth/token/revoke-self`. */
  async revokeSelf(token: string): Promise<void> {
    await this.call('POST', 'auth/token/revoke-self', { token, body: {}, idempotent: true }, [200, 204]);
  }

  /**
   * `POST auth/token/create` or `create-orphan`: returns the validated auth block and the raw response body
   * (what EdgeX writes to the token file).
   */
  async createToken(
    token: string,
    request: Record<string, unknown>,
    orphan: boolean,
  ): Promise<{ auth: TokenAuth; response: Record<string, unknown> }> {
    const path = orphan ? 'auth/token/create-orphan' : 'auth/token/create';
    const res = await this.call('POST', path, { token, body: request, idempotent: false }, [200]);
    const auth = parseTokenAuth(res.body, path);
    return { auth, response: asObject(res.body, path) };
  }

  /** `PUT sys/policies/acl/<name>`. */
  async putPolicy(token: string, name: string, policy: string): Promise<void> {
    await this.call('PUT', `sys/policies/acl/${encodeURIComponent(name)}`, { token, body: { policy }, idempotent: true }, [200, 204]);
  }

  /** `GET sys/mounts`. */
  async listMounts(token: string): Promise<Map<string, MountInfo>> {
    const res = await this.call('GET', 'sys/mounts', { token }, [200]);
    return parseMounts(res.body);
  }

  /** `POST sys/mounts/<path>`. */
  async enableMount(token: string, path: string, type: string, options: Record<string, string>, description: string): Promise<void> {
    await this.call('POST', `sys/mounts/${path}`, { token, body: { type, options, description }, idempotent: false }, [200, 204]);
  }

  /** Reads a logical path; `undefined` on 404. */
  async read(token: string, path: string): Promise<unknown> {
    const res = await this.request('GET', path, { token });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.statusError(res, path);
    return res.body;
  }

  /** Writes a logical path (POST). */
  async write(token: string, path: string, body: Record<string, unknown>): Promise<unknown> {
    const res = await this.call('POST', path, { token, body, idempotent: true }, [200, 204]);
    return res.body;
  }
}
