/**
 * Vault clients (node-vault `list()`, hvac, the Vault CLI) send the non-standard `LIST` method, which Node 20's HTTP
 * parser (llhttp) rejects with HPE_INVALID_METHOD before any handler runs. This module sits between the TCP (or TLS)
 * socket and Node's HTTP server: it follows HTTP/1.1 request framing (request line, header section, Content-Length
 * and chunked bodies, keep-alive pipelining) and rewrites each request line `LIST <target>` to
 * `GET <target>?list=true` (`&list=true` when the target already has a query), exactly what Vault's Go client sends.
 *
 * Framing is tracked only as far as needed to know where the next request line starts. Whenever the byte stream is
 * something llhttp itself will reject (conflicting lengths, a bad chunk size, an over-long header section, an
 * upgrade), the tracker stops rewriting and passes bytes through untouched: llhttp then answers 400/431 and closes
 * the connection, so the two parsers can never disagree about a request boundary on a connection that stays open.
 */
import { Duplex, Readable } from 'node:stream';
import type { Socket } from 'node:net';

/** Longest header section (request line + headers) tracked; llhttp's own default limit is 16 KiB. */
export const MAX_TRACKED_HEAD_BYTES = 64 * 1024;

const LF = 0x0a;
const LIST_PREFIX = Buffer.from('LIST ', 'latin1');

type State =
  | { kind: 'request-line' }
  | { kind: 'headers' }
  | { kind: 'body'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'chunk-end' }
  | { kind: 'trailers' }
  | { kind: 'passthrough' };

/**
 * An incremental rewriter for one connection's inbound bytes. Feed it chunks in order with {@link push}; it returns
 * the bytes to hand to the HTTP parser (possibly fewer, when a line is incomplete; they come out with later chunks).
 */
export class ListRequestRewriter {
  private state: State = { kind: 'request-line' };
  /** The incomplete line (request line, header, chunk size or trailer) carried over from earlier chunks. */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Bytes of the current header section seen so far (request line included). */
  private headBytes = 0;
  private contentLength: number | undefined;
  private chunked = false;
  private framingError = false;
  private upgrade = false;
  private isConnect = false;

  /** How many `LIST` request lines were rewritten so far (for tests and debugging). */
  rewritten = 0;

  /**
   * True when the last {@link push} returned exactly its input bytes, in order (nothing held back or carried over,
   * nothing rewritten): the caller can then pass the original chunk on as one buffer instead of the pieces.
   */
  lastPushUnchanged = false;

  /** True once the tracker gave up on this connection and passes every byte through unchanged. */
  get passthrough(): boolean {
    return this.state.kind === 'passthrough';
  }

  /** Processes one inbound chunk; returns the bytes to deliver to the HTTP parser now. */
  push(chunk: Buffer): Buffer[] {
    const hadPartial = this.partialLength > 0;
    const rewrittenBefore = this.rewritten;
    const out = this.consume(chunk);
    this.lastPushUnchanged = !hadPartial && this.partialLength === 0 && this.rewritten === rewrittenBefore;
    return out;
  }

  private consume(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const state = this.state;
      switch (state.kind) {
        case 'passthrough':
          out.push(pos === 0 ? chunk : chunk.subarray(pos));
          return out;
        case 'body':
        case 'chunk-data': {
          const n = Math.min(state.remaining, chunk.length - pos);
          out.push(chunk.subarray(pos, pos + n));
          pos += n;
          state.remaining -= n;
          if (state.remaining === 0) this.state = state.kind === 'body' ? { kind: 'request-line' } : { kind: 'chunk-end' };
          break;
        }
        default: {
          const nl = chunk.indexOf(LF, pos);
          if (nl === -1) {
            this.keepPartial(chunk.subarray(pos), out);
            return out;
          }
          const piece = chunk.subarray(pos, nl + 1);
          pos = nl + 1;
          const line = this.partialLength === 0 ? piece : Buffer.concat([...this.partial, piece]);
          this.partial = [];
          this.partialLength = 0;
          this.onLine(line, out);
        }
      }
    }
    return out;
  }

  /** Flushes whatever is buffered (at end of input), unchanged. */
  flush(): Buffer[] {
    const rest = this.partial;
    this.partial = [];
    this.partialLength = 0;
    return rest;
  }

  private keepPartial(bytes: Buffer, out: Buffer[]): void {
    // Copy: the socket may reuse its buffer, and a partial line is kept across reads.
    this.partial.push(Buffer.from(bytes));
    this.partialLength += bytes.length;
    if (this.isHeadState() && this.headBytes + this.partialLength > MAX_TRACKED_HEAD_BYTES) {
      this.giveUp(out);
    } else if (!this.isHeadState() && this.partialLength > MAX_TRACKED_HEAD_BYTES) {
      this.giveUp(out);
    }
  }

  private isHeadState(): boolean {
    return this.state.kind === 'request-line' || this.state.kind === 'headers';
  }

  /** Stops tracking: every buffered and future byte goes through untouched, for llhttp to reject or handle. */
  private giveUp(out: Buffer[]): void {
    out.push(...this.partial);
    this.partial = [];
    this.partialLength = 0;
    this.state = { kind: 'passthrough' };
  }

  private onLine(line: Buffer, out: Buffer[]): void {
    switch (this.state.kind) {
      case 'request-line':
        this.onRequestLine(line, out);
        return;
      case 'headers':
        this.onHeaderLine(line, out);
        return;
      case 'chunk-size':
        this.onChunkSize(line, out);
        return;
      case 'chunk-end':
        out.push(line);
        // The CRLF after chunk data; anything else is a framing error llhttp will report.
        if (isBlankLine(line)) this.state = { kind: 'chunk-size' };
        else this.state = { kind: 'passthrough' };
        return;
      case 'trailers':
        out.push(line);
        if (isBlankLine(line)) this.state = { kind: 'request-line' };
        return;
      default:
        out.push(line);
    }
  }

  private onRequestLine(line: Buffer, out: Buffer[]): void {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request line.
    if (isBlankLine(line)) {
      out.push(line);
      return;
    }
    this.headBytes = line.length;
    this.contentLength = undefined;
    this.chunked = false;
    this.framingError = false;
    this.upgrade = false;
    this.isConnect = line.subarray(0, 8).toString('latin1') === 'CONNECT ';
    this.state = { kind: 'headers' };
    if (line.length > LIST_PREFIX.length && line.subarray(0, LIST_PREFIX.length).equals(LIST_PREFIX)) {
      const rewrittenLine = rewriteListLine(line);
      if (rewrittenLine !== undefined) {
        this.rewritten++;
        out.push(rewrittenLine);
        return;
      }
    }
    out.push(line);
  }

  private onHeaderLine(line: Buffer, out: Buffer[]): void {
    out.push(line);
    this.headBytes += line.length;
    if (this.headBytes > MAX_TRACKED_HEAD_BYTES) {
      this.state = { kind: 'passthrough' };
      return;
    }
    if (!isBlankLine(line)) {
      this.inspectHeader(line);
      return;
    }
    // End of the header section: decide how the body is framed (RFC 9112 §6.3, requests only).
    if (this.framingError || this.upgrade || this.isConnect) {
      this.state = { kind: 'passthrough' };
    } else if (this.chunked) {
      this.state = { kind: 'chunk-size' };
    } else if (this.contentLength !== undefined && this.contentLength > 0) {
      this.state = { kind: 'body', remaining: this.contentLength };
    } else {
      this.state = { kind: 'request-line' };
    }
  }

  private inspectHeader(line: Buffer): void {
    const colon = line.indexOf(0x3a);
    // Only three header names matter; skip the others without making strings (this runs for every header line).
    if (colon !== 14 && colon !== 17 && colon !== 7) return;
    const name = line.subarray(0, colon).toString('latin1').toLowerCase();
    if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'upgrade') return;
    const value = line.subarray(colon + 1).toString('latin1').trim();
    if (name === 'upgrade') {
      this.upgrade = true;
    } else if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value) || this.chunked) {
        this.framingError = true;
        return;
      }
      const n = Number(value);
      if (this.contentLength !== undefined && this.contentLength !== n) this.framingError = true;
      this.contentLength = n;
    } else {
      // Transfer-Encoding on a request: chunked must be the final coding, and it excludes Content-Length.
      const codings = value.toLowerCase().split(',').map((c) => c.trim());
      if (codings[codings.length - 1] !== 'chunked' || this.contentLength !== undefined) this.framingError = true;
      this.chunked = true;
    }
  }

  private onChunkSize(line: Buffer, out: Buffer[]): void {
    out.push(line);
    const text = line.toString('latin1');
    const semi = text.indexOf(';');
    const hex = (semi === -1 ? text : text.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
      this.state = { kind: 'passthrough' };
      return;
    }
    const size = parseInt(hex, 16);
    this.state = size === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', remaining: size };
  }
}

/** True for `\r\n` or a bare `\n`. */
function isBlankLine(line: Buffer): boolean {
  return line.length === 1 || (line.length === 2 && line[0] === 0x0d);
}

/**
 * `LIST <target> HTTP/x.y\r\n` → `GET <target>?list=true HTTP/x.y\r\n` (or `&list=true`). Returns undefined for a
 * line of any other shape, which is then passed on unchanged for llhttp to reject.
 */
export function rewriteListLine(line: Buffer): Buffer | undefined {
  const text = line.toString('latin1');
  const m = /^LIST ([^ \r\n]+) (HTTP\/\d\.\d)(\r?\n)$/.exec(text);
  if (m === null) return undefined;
  const target = m[1] ?? '';
  const hash = target.indexOf('#');
  const base = hash === -1 ? target : target.slice(0, hash);
  const sep = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return Buffer.from(`GET ${base}${sep}list=true ${m[2] ?? ''}${m[3] ?? ''}`, 'latin1');
}

/**
 * Where llhttp stops on a `LIST` request line: at the `S` (offset 2), since `LI` is still a prefix of `LINK`.
 * Checked by test/store/http/list-rewrite.test.ts against the running Node.
 */
const LLHTTP_LIST_ERROR_OFFSET = 2;

const S = 0x53;
const U = 0x55;
const N = 0x4e;

/**
 * Given the packet in which node:http's native parser failed with `HPE_INVALID_METHOD` (the error's `rawPacket`) and
 * the offset of the failing byte (`bytesParsed`), returns a copy of the unparsed bytes from the first byte of the
 * offending `LIST` request line to the end of the packet — or undefined, and the caller answers 400 and closes,
 * whenever that first byte cannot be proven to be where the request starts.
 *
 * The proof does not look for a line end before `LIST` (after a request with a body, the byte before the next request
 * line is the body's last byte, anything at all). It rests on llhttp itself:
 *
 * - llhttp only parses a method at a request boundary: after the previous request's header section and its whole
 *   body, delimited by Content-Length or chunked encoding (and any empty lines it skips there). So
 *   `HPE_INVALID_METHOD` at offset `e` means a request began `k` bytes before `e`, `k` being the length of the method
 *   prefix llhttp accepted before failing.
 * - llhttp fails on `LIST` at its `S` (`e` = start + 2). Its method table (HTTP, RTSP and ICE methods) has exactly
 *   two prefixes that end in `LI` — `LI` (LINK) and `UNLI` (UNLINK) — so `LI` then `S` at `e` means the request began
 *   at `e - 2`, or at `e - 4` for an `UNLIST`. The two differ only when the two bytes before `LI` are `UN`.
 * - Those two bytes, when in this packet, decide: anything but `UN` proves the start at `e - 2`. `UN` is an
 *   `UNLIST`, or a previous body that happens to end in `UN`: the boundary is not provable, so undefined (400).
 *   `xN` with the `x` in an earlier packet is treated the same way.
 * - When the method began in an earlier packet (the packet starts at `IST…` or `ST…`, or `LI` is its first byte), the
 *   bytes before are gone: the request boundary is still the one llhttp found, and the method prefix it consumed is
 *   taken to be the rest of `LIST`. One approximation is accepted there: a client that splits a method that is no
 *   method at all (`UNLIST` after `UN`, `PRIST` after `PR`, `MOST` after `MO`, …) exactly there is served the `LIST`
 *   the bytes spell — framed exactly as those bytes frame it, answered and logged like any `LIST`.
 *
 * A packet that ends inside `LIST ` counts as a `LIST`: the rewriter holds the incomplete line and, should it turn
 * out to be another method (`LISTEN`), passes it on for the new parser to reject.
 */
export function listRequestFromParseError(packet: Buffer, errorAt: number): Buffer | undefined {
  // llhttp fails on `LIST` at the `S`, which is in this packet.
  if (!Number.isSafeInteger(errorAt) || errorAt < 0 || errorAt >= packet.length || packet[errorAt] !== S) return undefined;
  const start = errorAt - LLHTTP_LIST_ERROR_OFFSET;
  let bytes: Buffer;
  if (start >= 0) {
    // The two bytes before `LI`, as far as they are in this packet: `UN` (or a lone `N` first) is not provable.
    if (start >= 2 && packet[start - 2] === U && packet[start - 1] === N) return undefined;
    if (start === 1 && packet[0] === N) return undefined;
    bytes = Buffer.from(packet.subarray(start));
  } else {
    bytes = Buffer.concat([LIST_PREFIX.subarray(0, -start), packet]);
  }
  const n = Math.min(bytes.length, LIST_PREFIX.length);
  return bytes.subarray(0, n).equals(LIST_PREFIX.subarray(0, n)) ? bytes : undefined;
}

/** The parts of a socket's native handle that decide whether node:http parses it natively. */
interface ConsumableHandle {
  isStreamBase?: boolean;
  _consumed?: boolean;
}

/**
 * Installs the `LIST` rewriter directly on a connected socket (plain TCP or TLS), with no stream layer in between:
 * the socket's own `push` (where its handle delivers each read) rewrites inbound bytes before any reader sees them,
 * and responses are written to the socket itself. Hand the socket to an `http.Server` with
 * `server.emit('connection', socket)` afterwards. Returns the connection's rewriter (for tests and debugging).
 *
 * Why not {@link ListRewritingStream}: a Duplex wrapper adds a second Readable and Writable per connection — every
 * request and response went through two stream machineries. node:http would otherwise read a fresh socket's handle
 * natively (llhttp in C++, no JavaScript `data` events), which would bypass the rewriter; marking the handle as
 * already consumed makes it read through the socket's `data` events, which pass through `push`.
 *
 * The store's listener no longer installs it on every connection: it lets llhttp read sockets natively and hands
 * only a connection that sent `LIST` to a {@link ListRewritingStream} (see `http-server.ts`); this remains for
 * callers that want every byte rewritten from the first one.
 */
export function attachListRewriter(socket: Socket): ListRequestRewriter {
  const rewriter = new ListRequestRewriter();
  const handle = (socket as unknown as { _handle?: ConsumableHandle | null })._handle;
  if (handle !== undefined && handle !== null) handle._consumed = true;
  // The socket's own push, called with the socket as `this` (the instance property below shadows it).
  const push = (chunk: unknown, encoding?: BufferEncoding): boolean => Readable.prototype.push.call(socket, chunk, encoding);
  socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) {
      for (const piece of rewriter.flush()) push(piece);
      return push(null);
    }
    if (!Buffer.isBuffer(chunk)) return push(chunk, encoding);
    const pieces = rewriter.push(chunk);
    // One push per socket read: the HTTP parser then runs once per chunk, not once per header line.
    const bytes = rewriter.lastPushUnchanged ? chunk : pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    // Nothing to deliver yet (an incomplete line is held back): keep reading.
    if (bytes === undefined || bytes.length === 0) return true;
    return push(bytes);
  };
  return rewriter;
}

/** A socket-like stream: what the HTTP server needs from a connection besides reading and writing. */
type Underlying = Socket;

/**
 * Wraps a connected socket (plain TCP or TLS) in a Duplex whose inbound bytes have `LIST` rewritten; outbound bytes
 * go to the socket unchanged. Hand the result to an `http.Server` with `server.emit('connection', stream)`.
 */
export class ListRewritingStream extends Duplex {
  /** The wrapped socket. */
  readonly socket: Underlying;
  /** The rewriter for this connection's inbound bytes. */
  readonly rewriter = new ListRequestRewriter();

  /** Set by {@link discardInput}: inbound bytes are dropped instead of delivered. */
  private discarding = false;

  /**
   * `initial`: bytes the connection already sent that no parser has consumed (the rest of the packet in which
   * llhttp rejected a `LIST`, see {@link listRequestFromParseError}); they are rewritten and delivered first.
   */
  constructor(socket: Underlying, initial?: Buffer) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    if (initial !== undefined && initial.length > 0) {
      const pieces = this.rewriter.push(initial);
      const bytes = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
      if (bytes !== undefined && bytes.length > 0) this.push(bytes);
    }
    socket.on('data', (chunk: Buffer) => {
      if (this.discarding) return;
      const pieces = this.rewriter.push(chunk);
      // One push per socket read: the HTTP parser then runs once per chunk, not once per header line.
      const bytes = this.rewriter.lastPushUnchanged ? chunk : pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
      if (bytes !== undefined && bytes.length > 0 && !this.push(bytes)) socket.pause();
    });
    socket.on('end', () => {
      for (const piece of this.rewriter.flush()) this.push(piece);
      this.push(null);
    });
    socket.on('timeout', () => this.emit('timeout'));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  /**
   * Stops delivering inbound bytes for good (the connection is being refused: no further request may be parsed):
   * what the socket sends from now on is read and dropped, so the peer's end of the connection is still seen.
   * Bytes already delivered stay with the reader. Writing is unaffected.
   */
  discardInput(): void {
    this.discarding = true;
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    // One write for a response's head and body: fewer syscalls and TCP segments.
    this.socket.write(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  /** Socket API used by node:http for idle and keep-alive timeouts. */
  setTimeout(ms: number, callback?: () => void): this {
    this.socket.setTimeout(ms);
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  /** Socket API used by node:http (Nagle off for small responses). */
  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  /** Socket API used by node:http. */
  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  /** The peer's address, as on a socket. */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** The peer's port, as on a socket. */
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
}
