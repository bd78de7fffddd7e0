/**
 * A client of etcd's v3 API through etcd's own gRPC-JSON gateway (`POST /v3/kv/range` …, JSON bodies, base64 keys
 * and values, int64s as strings) on `node:http`/`node:https` — no dependency, where the `etcd3` package brings gRPC
 * and protobuf (docs/etcd-storage.md has the measurements behind this choice).
 *
 * Several endpoints: calls go to the endpoint that answered last; a connection error (nothing was sent) moves the
 * call to the next endpoint, and so do a dropped connection and etcd's "unavailable" answers (no leader, request
 * timed out, …) and a member that does not answer in its share of the time (at least 1 s) for a call that may be
 * sent twice. Every call is bounded by one deadline across all its attempts and fails with STORE_UNAVAILABLE when it
 * passes, never hangs; an endpoint that failed is not tried first by the next calls. Reads are etcd's default linearizable range; a write resolves only once etcd answered, which it does
 * after a majority of members committed it. With a username, the token etcd's authenticate returns travels in the
 * `Authorization` header only and is renewed when etcd says it is no longer valid; neither it nor the password is
 * ever logged or put in a message.
 */
import type * as http from 'node:http';
import type * as https from 'node:https';
import type * as tls from 'node:tls';
import { createRequire } from 'node:module';
import { SecretStoreError, describeCause, isTlsFailure } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import {
  asObject,
  malformed,
  parseAuthToken,
  parseGatewayError,
  parseKeepAlive,
  parseLeaseGrant,
  parseRange,
  parseTxn,
  sanitize,
  type LeaseGrant,
  type RangeResult,
  type TxnResult,
} from './etcd-json.js';
import type { ResolvedEtcdOptions } from './etcd-options.js';

/**
 * A built-in module through `process.getBuiltinModule` (Node >= 20.16), else `require`; never an ES import, for the
 * start-up reasons given in src/vault/transport.ts (an ES import of `node:http` loads undici on Node 24).
 */
function builtin(id: 'node:http' | 'node:https' | 'node:tls'): unknown {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return typeof get === 'function' ? get.call(process, id) : createRequire(import.meta.url)(id);
}

/** Largest answer accepted: far above etcd's default 1.5 MiB request limit, base64-inflated, times a list page. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** How long an idle kept-alive connection is kept (the gateway keeps them far longer). */
const IDLE_SOCKET_MS = 30_000;
/** The longest a repeatable call waits for one member in its first round of endpoints (doubled each round). */
const ATTEMPT_CAP_MS = 2000;
/** Pause between two rounds over every endpoint, so an election in progress is waited for, not hammered. */
const ROUND_PAUSE_MS = 150;
/** Errors raised before any byte reached the server: safe to send the call to another endpoint whatever it is. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** gRPC status codes etcd answers with. */
export const GRPC = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
/** Answers that say "this member cannot serve now" (no leader, election, overload): another member may. */
const TRANSIENT = new Set<number>([GRPC.DEADLINE_EXCEEDED, GRPC.RESOURCE_EXHAUSTED, GRPC.UNAVAILABLE]);

/** An error answer from etcd (a gRPC status), as a STORE_UNAVAILABLE the caller can still tell apart by `grpcCode`. */
export class EtcdCallError extends SecretStoreError {
  /** The gRPC status code of etcd's answer. */
  readonly grpcCode: number;
  constructor(grpcCode: number, message: string) {
    super('STORE_UNAVAILABLE', message);
    this.grpcCode = grpcCode;
  }
}

/** One comparison of a txn (only what the store needs: a key's create revision, or its lease). */
export interface Compare {
  key: Buffer;
  target: 'CREATE' | 'LEASE';
  /** The create revision or lease id (decimal string) the key must have; `'0'` for "absent". */
  equals: string;
}

/** One operation of a txn. */
export type TxnOp =
  | { put: { key: Buffer; value: Buffer; lease?: string } }
  | { delete: { key: Buffer } }
  | { range: { key: Buffer } };

/** Options of one call. */
export interface CallOptions {
  /**
   * Whether sending the call twice is harmless. When false, only a connection error (nothing was sent) moves it to
   * another endpoint: after a drop or a timeout its outcome is unknown, and the caller is told so.
   */
  idempotent: boolean;
  /** A bound tighter than the request timeout (keepalives must not outlive the lease they renew). */
  timeoutMs?: number;
  /** The answer is a gateway stream (one JSON message per line): read its first message. */
  stream?: boolean;
}

class TransportError extends Error {
  readonly kind: 'connect' | 'reset' | 'timeout';
  constructor(kind: 'connect' | 'reset' | 'timeout', detail: string) {
    super(detail);
    this.kind = kind;
  }
}

interface Answer {
  status: number;
  body: unknown;
}

/** Sleeps `ms` (a call in progress keeps the process alive, as its socket would). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64');
}

function compareJson(c: Compare): Record<string, unknown> {
  return c.target === 'CREATE'
    ? { key: b64(c.key), target: 'CREATE', result: 'EQUAL', create_revision: c.equals }
    : { key: b64(c.key), target: 'LEASE', result: 'EQUAL', lease: c.equals };
}

function opJson(op: TxnOp): Record<string, unknown> {
  if ('put' in op) {
    const put: Record<string, unknown> = { key: b64(op.put.key), value: b64(op.put.value) };
    if (op.put.lease !== undefined) put.lease = op.put.lease;
    return { request_put: put };
  }
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key) } };
  return { request_range: { key: b64(op.range.key) } };
}

/** A client of one etcd cluster (all its endpoints). */
export class EtcdClient {
  private readonly endpoints: readonly URL[];
  /**
   * The TLS settings (CA, client certificate and key) as one OpenSSL context, made once: the caller may wipe its
   * key buffer as soon as the storage is open, and no copy of the key is kept in JavaScript memory.
   */
  private readonly secureContext: tls.SecureContext | undefined;
  private readonly credentials: ResolvedEtcdOptions['credentials'];
  private readonly timeoutMs: number;
  private readonly log: Logger;
  /** One kept-alive agent per endpoint, made on first use. */
  private readonly agents = new Map<number, http.Agent>();
  /** The endpoint that answered last: the next call starts there. */
  private current = 0;
  /** The auth token (with a username), or the authentication in flight; never logged. */
  private token: Promise<string> | undefined;
  private closed = false;

  constructor(options: ResolvedEtcdOptions, log: Logger) {
    this.endpoints = options.endpoints;
    if (options.endpoints.some((u) => u.protocol === 'https:')) {
      const { ca, cert, key } = options.tls;
      this.secureContext = (builtin('node:tls') as typeof tls).createSecureContext({
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
      });
    }
    this.credentials = options.credentials;
    this.timeoutMs = options.requestTimeoutMs;
    this.log = log;
  }

  /** The endpoints, for messages (no credentials: URLs with credentials are refused at open). */
  describeEndpoints(): string {
    return this.endpoints.map((u) => u.origin).join(', ');
  }

  /** A linearizable range: `key` alone, or [key, rangeEnd) — with `keysOnly`, values are left out. */
  async range(
    key: Buffer,
    options: { rangeEnd?: Buffer; keysOnly?: boolean; limit?: number; timeoutMs?: number } = {},
  ): Promise<RangeResult> {
    const body: Record<string, unknown> = { key: b64(key) };
    if (options.rangeEnd !== undefined) body.range_end = b64(options.rangeEnd);
    if (options.keysOnly === true) body.keys_only = true;
    if (options.limit !== undefined) body.limit = String(options.limit);
    const answer = await this.call('/v3/kv/range', body, { idempotent: true, timeoutMs: options.timeoutMs });
    return parseRange(answer, 'range');
  }

  /** Writes `value` at `key` (no lease). */
  async put(key: Buffer, value: Buffer): Promise<void> {
    const answer = await this.call('/v3/kv/put', { key: b64(key), value: b64(value) }, { idempotent: true });
    asObject(answer, 'put');
  }

  /** Deletes `key` (absent is not an error). */
  async deleteKey(key: Buffer): Promise<void> {
    const answer = await this.call('/v3/kv/deleterange', { key: b64(key) }, { idempotent: true });
    asObject(answer, 'deleterange');
  }

  /** One transaction: if every comparison holds, `success` runs, else `failure`. */
  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[], idempotent: boolean): Promise<TxnResult> {
    const body = { compare: compare.map(compareJson), success: success.map(opJson), failure: failure.map(opJson) };
    const answer = await this.call('/v3/kv/txn', body, { idempotent });
    return parseTxn(answer, 'txn');
  }

  /** Grants a lease of `ttlSeconds` (a lease nobody uses just expires, so a repeated grant is harmless). */
  async leaseGrant(ttlSeconds: number): Promise<LeaseGrant> {
    const answer = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) }, { idempotent: true });
    return parseLeaseGrant(answer, 'lease grant');
  }

  /** Renews a lease once: its TTL from now in seconds, 0 when the lease is gone (expired or revoked). */
  async leaseKeepAlive(id: string, timeoutMs: number): Promise<number> {
    const answer = await this.call('/v3/lease/keepalive', { ID: id }, { idempotent: true, timeoutMs, stream: true });
    return parseKeepAlive(answer, 'lease keepalive');
  }

  /** Revokes a lease, deleting every key attached to it; a lease already gone is not an error. */
  async leaseRevoke(id: string, timeoutMs?: number): Promise<void> {
    try {
      asObject(await this.call('/v3/lease/revoke', { ID: id }, { idempotent: true, timeoutMs }), 'lease revoke');
    } catch (err) {
      if (err instanceof EtcdCallError && err.grpcCode === GRPC.NOT_FOUND) return;
      throw err;
    }
  }

  /** Drops the kept-alive connections; later calls fail. */
  close(): void {
    this.closed = true;
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /**
   * Sends one call, moving across endpoints as described at the top of this file, and returns etcd's answer (a
   * 200 body); an error answer becomes an {@link EtcdCallError}, a passed deadline STORE_UNAVAILABLE.
   */
  async call(path: string, body: Record<string, unknown>, options: CallOptions): Promise<unknown> {
    if (this.closed) throw new SecretStoreError('INTERNAL', 'the etcd storage is closed');
    const budget = options.timeoutMs ?? this.timeoutMs;
    const deadline = performance.now() + budget;
    const payload = Buffer.from(JSON.stringify(body));
    const n = this.endpoints.length;
    let reauthenticated = false;
    let last = '';
    for (let round = 0; ; round++) {
      const start = this.current;
      for (let i = 0; i < n; i++) {
        const index = (start + i) % n;
        const endpoint = this.origin(index);
        const remaining = deadline - performance.now();
        if (remaining <= 0) break;
        // A call that may be repeated leaves room for the endpoints after this one: a member cut off from the
        // others (it hangs rather than refuses) then costs a share of the budget, not all of it. The share is also
        // capped (2 s in the first round, doubling each round): a member that took the call just before its raft
        // leader died answers only when etcd's own request timeout passes (about 7 s), while the next member can
        // take the call as soon as the new leader is elected (1–2.5 s).
        const untried = n - i;
        const share = Math.min(remaining / untried, ATTEMPT_CAP_MS * 2 ** round);
        const attemptMs = options.idempotent ? Math.min(remaining, Math.max(share, 1000)) : remaining;
        let answer: Answer;
        try {
          const token = this.credentials === undefined ? undefined : await this.authToken(index, attemptMs);
          answer = await this.post(index, path, payload, Math.min(attemptMs, deadline - performance.now()), token, options.stream === true);
        } catch (err) {
          if (!(err instanceof TransportError)) throw err;
          if (err.kind === 'timeout' && options.idempotent && deadline - performance.now() > 0) {
            last = `${endpoint}: no answer`;
            this.moveFrom(index, 'timeout');
            continue;
          }
          if (err.kind === 'timeout') {
            // Whatever holds this endpoint up, the next call tries another first.
            this.moveFrom(index, 'timeout');
            throw new SecretStoreError(
              'STORE_UNAVAILABLE',
              `etcd at ${endpoint} did not answer within ${budget} ms; check the etcd cluster (quorum) and --etcd-endpoints`,
            );
          }
          if (err.kind === 'reset' && !options.idempotent) {
            throw new SecretStoreError(
              'STORE_UNAVAILABLE',
              `the connection to etcd at ${endpoint} dropped during ${path} (${err.message}); its outcome is unknown — check the etcd cluster and retry`,
            );
          }
          last = `${endpoint}: ${err.message}`;
          this.moveFrom(index, err.message);
          continue;
        }
        // A stream answers 200 and puts a failure in its message: `{"error": {"grpc_code", "message", …}}`.
        const streamFailed = options.stream === true && typeof answer.body === 'object' && answer.body !== null && 'error' in answer.body;
        if (answer.status === 200 && !streamFailed) {
          this.current = index;
          return answer.body;
        }
        const error = parseGatewayError(answer.body);
        if (error === undefined) {
          throw new SecretStoreError('STORE_UNAVAILABLE', `etcd at ${endpoint} answered HTTP ${answer.status} to ${path}; check --etcd-endpoints`);
        }
        if (error.grpcCode === GRPC.UNAUTHENTICATED && this.credentials !== undefined && !reauthenticated) {
          // The token expired (etcd's --auth-token-ttl) or the member restarted: authenticate again, once.
          reauthenticated = true;
          this.token = undefined;
          this.log.debug('etcd auth token no longer valid, authenticating again', { endpoint });
          i--;
          continue;
        }
        // "no leader" is answered before anything is proposed: even a call that must not run twice may go elsewhere.
        if (TRANSIENT.has(error.grpcCode) && (options.idempotent || error.message.includes('no leader'))) {
          last = `${endpoint}: ${error.message}`;
          this.moveFrom(index, error.message);
          continue;
        }
        throw this.answerError(error.grpcCode, error.message, endpoint, path);
      }
      if (deadline - performance.now() <= ROUND_PAUSE_MS) break;
      // Every endpoint failed in a way that may pass (refused: restarting; no leader: electing): wait a little.
      await pause(Math.min(ROUND_PAUSE_MS * (round + 1), 1000, deadline - performance.now() - ROUND_PAUSE_MS));
    }
    throw new SecretStoreError(
      'STORE_UNAVAILABLE',
      `no etcd endpoint answered ${path} within ${budget} ms (last: ${last === '' ? 'none tried' : last}); check the etcd cluster (quorum) and --etcd-endpoints`,
    );
  }

  private answerError(grpcCode: number, message: string, endpoint: string, path: string): SecretStoreError {
    if (grpcCode === GRPC.INVALID_ARGUMENT && message.includes('user name is empty')) {
      return new SecretStoreError('CONFIG', `etcd at ${endpoint} requires authentication; give the etcd username and password`);
    }
    if (grpcCode === GRPC.PERMISSION_DENIED || grpcCode === GRPC.UNAUTHENTICATED) {
      return new SecretStoreError('CONFIG', `etcd at ${endpoint} refused ${path} (${message}); check the etcd user's role: it needs read-write on the prefix`);
    }
    return new EtcdCallError(grpcCode, `etcd at ${endpoint} refused ${path}: ${message}`);
  }

  /** Moves the next calls off `index` (logged once per move, not per call). */
  private moveFrom(index: number, why: string): void {
    if (this.current !== index || this.endpoints.length === 1) return;
    this.current = (index + 1) % this.endpoints.length;
    this.log.warn('etcd endpoint failed, using the next', { endpoint: this.origin(index), next: this.origin(this.current), error: sanitize(why) });
  }

  private origin(index: number): string {
    return (this.endpoints[index] as URL).origin;
  }

  /** The auth token, authenticating at `index` when there is none (one authentication for concurrent calls). */
  private authToken(index: number, timeoutMs: number): Promise<string> {
    const credentials = this.credentials;
    if (credentials === undefined) throw new Error('no credentials');
    if (this.token !== undefined) return this.token;
    const body = Buffer.from(JSON.stringify({ name: credentials.username, password: credentials.password }));
    const attempt = this.post(index, '/v3/auth/authenticate', body, timeoutMs, undefined, false)
      .then((answer) => {
        if (answer.status === 200) return parseAuthToken(answer.body, 'authenticate');
        const error = parseGatewayError(answer.body);
        if (error !== undefined && TRANSIENT.has(error.grpcCode)) throw new TransportError('connect', error.message);
        throw new SecretStoreError(
          'CONFIG',
          `etcd at ${this.origin(index)} refused the etcd username or password${error === undefined ? '' : ` (${error.message})`}; check the etcd credentials`,
        );
      })
      .finally(() => {
        body.fill(0);
      });
    this.token = attempt;
    // A failed authentication is not kept: the next call tries again.
    attempt.catch(() => {
      if (this.token === attempt) this.token = undefined;
    });
    return attempt;
  }

  private agentFor(index: number, mod: typeof http | typeof https): http.Agent {
    let agent = this.agents.get(index);
    if (agent === undefined) {
      agent = new mod.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
      this.agents.set(index, agent);
    }
    return agent;
  }

  /** One POST to one endpoint, bounded by `timeoutMs` for the whole exchange. */
  private post(index: number, path: string, payload: Buffer, timeoutMs: number, token: string | undefined, stream: boolean): Promise<Answer> {
    const base = this.endpoints[index] as URL;
    const secure = base.protocol === 'https:';
    const mod = (secure ? builtin('node:https') : builtin('node:http')) as typeof http | typeof https;
    const target = new URL(base.pathname.replace(/\/+$/, '') + path, base);
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json', 'Content-Length': payload.length };
    if (token !== undefined) headers.Authorization = token;
    const requestOptions: https.RequestOptions = { method: 'POST', headers, agent: this.agentFor(index, mod) };
    // tls.connect's `secureContext` (the https types leave it out, Node passes it through).
    if (secure && this.secureContext !== undefined) Object.assign(requestOptions, { secureContext: this.secureContext });
    return new Promise<Answer>((resolve, reject) => {
      const req = mod.request(target, requestOptions, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy();
            reject(new SecretStoreError('STORE_UNAVAILABLE', `etcd at ${base.origin} sent an oversized answer to ${path}`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => {
          reject(err instanceof TransportError ? err : new TransportError('reset', describeCause(err)));
        });
        res.on('end', () => {
          let text = Buffer.concat(chunks).toString('utf8').trim();
          // A stream answer is one JSON message per line; the first is the one asked for.
          if (stream) text = text.split('\n', 1)[0] ?? '';
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            reject(res.statusCode === 200 ? malformed(path) : new SecretStoreError('STORE_UNAVAILABLE', `etcd at ${base.origin} answered HTTP ${res.statusCode ?? 0} to ${path}; check --etcd-endpoints`));
            return;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      const deadline = setTimeout(() => {
        req.destroy(new TransportError('timeout', 'timeout'));
      }, Math.max(1, timeoutMs));
      req.on('close', () => {
        clearTimeout(deadline);
      });
      req.on('error', (err: unknown) => {
        if (err instanceof TransportError) {
          reject(err);
          return;
        }
        const code = describeCause(err);
        if (CONNECT_ERRORS.has(code)) reject(new TransportError('connect', code));
        else if (isTlsFailure(code)) {
          // A certificate or protocol mismatch: a configuration problem that waiting will not fix.
          reject(new SecretStoreError('CONFIG', `TLS connection to etcd at ${base.origin} failed (${code}); check the etcd CA and client certificate`));
        } else reject(new TransportError('reset', code));
      });
      req.end(payload);
    });
  }
}
