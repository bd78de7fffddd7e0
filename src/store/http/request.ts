/**
 * The transport-independent request the store's API handles, and the parsing rules Vault applies to build it:
 * the `/v1/` path, query, token headers, the method → operation mapping and the JSON body, with the bounds every
 * body is held to — a size limit per endpoint (decided from the request line, before the body is read) and a
 * nesting limit (checked before the body is parsed).
 */
import { StoreApiError } from '../api-error.js';
import type { JsonObject, Operation } from '../logical.js';

/** Vault's default `max_request_size` (32 MiB): the body limit of the logical endpoints unless `--max-body` says otherwise. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * The body limit of the seal endpoints (sys/init, sys/unseal, sys/generate-root/*, sys/rekey/* and the bodyless
 * sys/seal, seal-status, health, leader): unauthenticated, answered while sealed, and their largest legitimate body
 * (an init with 255 PGP keys aside, which this server refuses) is well under a kilobyte.
 */
export const SEAL_BODY_LIMIT = 64 * 1024;

/**
 * Deepest JSON nesting a request body may have: Vault's default `max_json_depth` (500; the body's own object is
 * level 1). Deeper documents would exhaust the stack of the recursive walks (serialization, merge, freezing) later.
 */
export const MAX_JSON_DEPTH = 500;

/** One HTTP request as the API sees it (already read from the socket, body size-limited). */
export interface ApiRequest {
  /** The HTTP method, upper case. */
  method: string;
  /** The raw request target (path and query, as on the request line). */
  target: string;
  /** Header values the API reads (lower-case names). */
  headers: {
    'x-vault-token'?: string | undefined;
    authorization?: string | undefined;
    'content-type'?: string | undefined;
  };
  /** The request body (empty when none). */
  body: Buffer;
  /** The client's IP address from the socket (undefined when not known, e.g. in unit tests). */
  remoteAddress?: string | undefined;
}

/** The request target split into the API path (after `/v1/`) and the query (first value of each parameter). */
export interface ParsedTarget {
  /** Path after `/v1/`, percent-decoded, without a leading `/`; undefined when the target is not under `/v1/`. */
  path: string | undefined;
  query: Record<string, string>;
}

/** Splits and decodes a request target. A path that cannot be percent-decoded is a 400. */
export function parseTarget(target: string): ParsedTarget {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query: Record<string, string> = {};
  if (q !== -1) {
    for (const [k, v] of new URLSearchParams(target.slice(q + 1))) if (!(k in query)) query[k] = v;
  }
  let decoded: string;
  try {
    // Most targets have nothing to decode; skip the work then (this runs on every request).
    decoded = rawPath.includes('%') ? decodeURIComponent(rawPath) : rawPath;
  } catch {
    throw new StoreApiError(400, 'invalid request path');
  }
  if (!decoded.startsWith('/v1/')) return { path: undefined, query };
  // Vault cleans the path (path.Clean): collapse repeated slashes. A trailing slash is kept (it marks lists).
  let path = decoded.slice(4);
  if (path.includes('//') || path.startsWith('/')) path = path.replace(/\/{2,}/g, '/').replace(/^\//, '');
  if (path.includes('.') && path.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw new StoreApiError(400, 'invalid request path');
  }
  return { path, query };
}

/** The caller's token: `X-Vault-Token`, else `Authorization: Bearer <t>`; undefined when neither is present. */
export function requestToken(headers: ApiRequest['headers']): string | undefined {
  const direct = headers['x-vault-token'];
  if (direct !== undefined && direct !== '') return direct;
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m?.[1] !== undefined) return m[1];
  }
  return undefined;
}

/** Go's strconv.ParseBool, which Vault uses for `?list=`. */
export function parseBool(value: string | undefined): boolean {
  return value !== undefined && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value);
}

/**
 * Vault's method → operation mapping for logical paths (`create` is decided later, from the backend's existence
 * check). Returns undefined for a method Vault does not serve (→ 405).
 */
export function operationFor(method: string, query: Record<string, string>): Operation | undefined {
  switch (method) {
    case 'GET':
      return parseBool(query.list) ? 'list' : 'read';
    case 'LIST':
      return 'list';
    case 'POST':
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return undefined;
  }
}

/** PATCH must be a JSON merge patch (RFC 7396), as Vault requires: 400 for no media type, 415 for another one. */
export function checkPatchContentType(contentType: string | undefined): void {
  const media = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === '') throw new StoreApiError(400, 'mime: no media type');
  if (media !== 'application/merge-patch+json') {
    throw new StoreApiError(415, `PATCH requires Content-Type of application/merge-patch+json, got "${media}"`);
  }
}

/**
 * Parses a JSON request body: empty means `{}`; anything but a JSON object, or one nested deeper than
 * {@link MAX_JSON_DEPTH}, is Vault's 400 `error parsing JSON` (the depth is checked on the bytes, before parsing).
 */
export function parseJsonBody(body: Buffer): JsonObject {
  if (body.length === 0 || body.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) return {};
  if (jsonNestingExceeds(body, MAX_JSON_DEPTH)) throw new StoreApiError(400, 'error parsing JSON');
  let value: unknown;
  const text = body.toString('utf8');
  try {
    value = JSON.parse(text);
  } catch {
    throw new StoreApiError(400, 'error parsing JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StoreApiError(400, 'error parsing JSON');
  // Only an escape (`\ud800`) can put a lone surrogate in: invalid UTF-8 bytes already decode to U+FFFD.
  return ESCAPED_SURROGATE.test(text) ? (wellFormed(value) as JsonObject) : (value as JsonObject);
}

const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Replaces every lone UTF-16 surrogate in the strings and keys of a parsed body with U+FFFD, as Go's encoding/json
 * decodes them in Vault: such a string is not Unicode, so it could not become a storage key or a JWT claim, and a
 * name made of one would otherwise fail deep in a backend (a 500) instead of being an ordinary, odd name.
 */
function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\ufffd');
  if (Array.isArray(value)) return value.map(wellFormed);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty, as JSON.parse does: a `__proto__` key stays an own property, never the prototype.
      Object.defineProperty(out, k.replace(LONE_SURROGATE, '\ufffd'), { value: wellFormed(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** For GET, DELETE and list requests Vault passes the query parameters as the request data (minus `list`). */
export function queryAsData(query: Record<string, string>): JsonObject {
  const data: JsonObject = {};
  for (const [k, v] of Object.entries(query)) if (k !== 'list') data[k] = v;
  return data;
}

/**
 * Whether the JSON text in `bytes` opens more than `limit` containers (`{`, `[`) at once, counting outside strings
 * only (escapes skipped), or closes one it never opened (never JSON). One pass, no allocation, no recursion; other
 * malformed input gives some answer and is rejected by the parser anyway. UTF-8 multi-byte sequences never contain
 * an ASCII byte, so scanning bytes is exact.
 */
export function jsonNestingExceeds(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > limit) return true;
    } else if (b === 0x7d || b === 0x5d) {
      // A closer without an opener is never JSON: refuse it here rather than let the count go negative.
      if (--depth < 0) return true;
    }
  }
  return false;
}

/** Whether `path` is `base` itself or below it. */
function isUnder(path: string, base: string): boolean {
  return path.startsWith(base) && (path.length === base.length || path.charCodeAt(base.length) === 0x2f);
}

/** The bodyless seal endpoints and the ones whose handlers read a small JSON body (exact API paths). */
const SEAL_PATHS: ReadonlySet<string> = new Set(['sys/init', 'sys/init/abandon', 'sys/unseal', 'sys/seal', 'sys/seal-status', 'sys/health', 'sys/leader']);

/** Whether `path` (after `/v1/`, a trailing slash ignored) is one of the seal endpoints of {@link SEAL_BODY_LIMIT}. */
export function isSealEndpoint(path: string): boolean {
  const p = path.endsWith('/') ? path.slice(0, -1) : path;
  return SEAL_PATHS.has(p) || isUnder(p, 'sys/generate-root') || isUnder(p, 'sys/rekey') || isUnder(p, 'sys/rekey-recovery-key');
}

/**
 * The body limit for an already parsed API path (`undefined` = not an API path): the small seal limit for the seal
 * endpoints and for requests no endpoint reads a body of (not under `/v1/`, or a method no logical path serves),
 * else `serverMax`; never more than `serverMax`.
 */
export function bodyLimitForPath(method: string, path: string | undefined, serverMax: number): number {
  const small = Math.min(SEAL_BODY_LIMIT, serverMax);
  if (path === undefined || isSealEndpoint(path)) return small;
  return operationFor(method, {}) === undefined ? small : serverMax;
}

/**
 * How many body bytes the API accepts for a request, decided from its method and raw target alone so the listener
 * can refuse (413) before reading the body: see {@link bodyLimitForPath}. A target that cannot be decoded (a 400
 * whatever the body) gets the small limit. Never throws; `serverMax` is the listener's `--max-body`.
 */
export function bodyLimitFor(method: string, target: string, serverMax: number): number {
  let path: string | undefined;
  try {
    path = parseTarget(target).path;
  } catch {
    return Math.min(SEAL_BODY_LIMIT, serverMax);
  }
  return bodyLimitForPath(method, path, serverMax);
}
