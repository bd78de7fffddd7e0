/**
 * HTTP for the chaos parts: a keep-alive JSON client over node:http (writers, verifiers, soak clients), and raw
 * TCP connections with a small HTTP/1.1 response reader (fuzz: path bytes node:http would refuse to send,
 * pipelining, smuggling attempts, slow clients).
 */
import * as http from 'node:http';
import * as net from 'node:net';

/** A response: status, parsed JSON body (undefined when empty or not JSON) and the raw text. */
export interface HttpResult {
  status: number;
  body: unknown;
  text: string;
}

/** Options of one request. */
export interface HttpOptions {
  token?: string;
  /** An object (sent as JSON), a string or bytes (sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** A transport failure (reset, refused, timeout): the request's fate is unknown. */
export class TransportError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

/** A keep-alive client for one store address. */
export class StoreClient {
  readonly url: string;
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(url: string, maxSockets = 16) {
    this.url = url;
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  /** `method /v1/<apiPath>`; rejects with {@link TransportError} when no answer came. */
  api(method: string, apiPath: string, options: HttpOptions = {}): Promise<HttpResult> {
    return this.request(method, `/v1/${apiPath}`, options);
  }

  /** Any target (must be acceptable to node:http: no spaces or control characters). */
  request(method: string, target: string, options: HttpOptions = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.isBuffer(options.body)
        ? options.body
        : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body), 'utf8');
      headers['Content-Type'] ??= 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    return new Promise<HttpResult>((resolve, reject) => {
      const req = http.request({ host: this.host, port: this.port, method, path: target, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
        res.on('error', () => {
          reject(new TransportError('ECONNRESET'));
        });
      });
      req.setTimeout(options.timeoutMs ?? 15_000, () => {
        req.destroy(new TransportError('ETIMEDOUT'));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(err instanceof TransportError ? err : new TransportError(err.code ?? 'ERROR'));
      });
      req.end(payload);
    });
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }
}

/** `data` of a Vault envelope (or undefined). */
export function dataOf(r: HttpResult): Record<string, unknown> | undefined {
  const b = r.body as { data?: unknown } | undefined;
  return typeof b?.data === 'object' && b.data !== null ? (b.data as Record<string, unknown>) : undefined;
}

/** One parsed raw response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses HTTP/1.1 responses out of a byte stream; `method` of each request decides whether a body follows (HEAD). */
export class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  /** The stream ended (a body delimited by close is then complete). */
  ended = false;
  /** Bytes that did not parse as a response. */
  garbage = false;

  feed(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Bytes buffered and not yet consumed by a parsed response. */
  get pending(): number {
    return this.buf.length;
  }

  /** The next whole response for a request of `method`, or undefined when more bytes are needed. */
  next(method: string): RawResponse | undefined {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const head = this.buf.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (m === null) {
      this.garbage = true;
      return undefined;
    }
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let at = end + 4;
    let body: Buffer;
    if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = Buffer.alloc(0);
    } else if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      for (;;) {
        const nl = this.buf.indexOf('\r\n', at);
        if (nl < 0) return undefined;
        const size = parseInt(this.buf.subarray(at, nl).toString('latin1'), 16);
        if (!Number.isFinite(size)) {
          this.garbage = true;
          return undefined;
        }
        if (size === 0) {
          const trailerEnd = this.buf.indexOf('\r\n', nl + 2);
          if (trailerEnd < 0) return undefined;
          at = trailerEnd + 2;
          break;
        }
        if (this.buf.length < nl + 2 + size + 2) return undefined;
        parts.push(this.buf.subarray(nl + 2, nl + 2 + size));
        at = nl + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (this.buf.length < at + len) return undefined;
      body = this.buf.subarray(at, at + len);
      at += len;
    } else {
      if (!this.ended) return undefined;
      body = this.buf.subarray(at);
      at = this.buf.length;
    }
    const out: RawResponse = { status, headers, body: Buffer.from(body) };
    this.buf = this.buf.subarray(at);
    return out;
  }
}

/** What {@link RawConn.exchange} saw. */
export interface Exchange {
  responses: RawResponse[];
  /** The server closed the connection (before or after answering). */
  closed: boolean;
  /** No complete answer within the time limit. */
  timedOut: boolean;
  /** Unparsable bytes came back. */
  garbage: boolean;
  /** Bytes left after the expected responses (an extra, unexpected response). */
  extraBytes: number;
}

/** A raw TCP connection to the store. */
export class RawConn {
  readonly socket: net.Socket;
  private reader = new ResponseReader();
  private closedFlag = false;
  private wake: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.reader.feed(c);
      this.wake?.();
    });
    const onEnd = (): void => {
      this.closedFlag = true;
      this.reader.ended = true;
      this.wake?.();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
  }

  static connect(url: string, timeoutMs = 5000): Promise<RawConn> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port) });
      s.setNoDelay(true);
      const t = setTimeout(() => {
        s.destroy();
        reject(new TransportError('ETIMEDOUT'));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(new RawConn(s));
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(t);
        reject(new TransportError(err.code ?? 'ERROR'));
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag || this.socket.destroyed;
  }

  /** Sends bytes (one write, or several with `splits` offsets for fragmentation). */
  async send(bytes: Buffer, splits: number[] = []): Promise<void> {
    if (this.closed) return;
    let from = 0;
    for (const at of [...splits.filter((s) => s > 0 && s < bytes.length).sort((a, b) => a - b), bytes.length]) {
      if (at <= from) continue;
      this.socket.write(bytes.subarray(from, at));
      from = at;
      if (at < bytes.length) await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Reads the responses to requests of `methods` (in order), until all arrived, the socket closed, or the time is up. */
  async read(methods: readonly string[], timeoutMs = 10_000): Promise<Exchange> {
    const responses: RawResponse[] = [];
    const deadline = Date.now() + timeoutMs;
    let timedOut = false;
    for (const method of methods) {
      for (;;) {
        const r = this.reader.next(method);
        if (r !== undefined) {
          responses.push(r);
          break;
        }
        if (this.reader.garbage || (this.closed && this.reader.ended)) {
          // One last parse after the end (a body delimited by close).
          const last = this.reader.next(method);
          if (last !== undefined) responses.push(last);
          return { responses, closed: true, timedOut: false, garbage: this.reader.garbage, extraBytes: this.reader.pending };
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          timedOut = true;
          break;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
      if (timedOut) break;
    }
    return { responses, closed: this.closed, timedOut, garbage: this.reader.garbage, extraBytes: this.reader.pending };
  }

  /** Waits briefly for anything more (an unexpected extra response, or the close). */
  async settle(ms: number): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        if (this.closed) {
          clearTimeout(t);
          resolve();
        }
      };
    });
    this.wake = undefined;
  }

  get pendingBytes(): number {
    return this.reader.pending;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Builds a request's bytes. `body` adds Content-Length unless `headers` already frame it. */
export function rawRequest(method: string, target: string, headers: readonly [string, string][], body?: Buffer | string): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1'];
  const framed = headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k.trim()));
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (b !== undefined && !framed) lines.push(`Content-Length: ${b.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return b === undefined ? head : Buffer.concat([head, b]);
}
