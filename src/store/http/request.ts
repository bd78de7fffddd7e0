/**
 * The transport-independent request the store's API handles, and the parsing rules Vault applies to build it:
 * the `/v1/` path, query, token headers, the method → operation mapping and the JSON body.
 */
import { StoreApiError } from '../api-error.js';
import type { JsonObject, Operation } from '../logical.js';

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

/** Parses a JSON request body: empty means `{}`; anything but a JSON object is Vault's 400 `error parsing JSON`. */
export function parseJsonBody(body: Buffer): JsonObject {
  if (body.length === 0 || body.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new StoreApiError(400, 'error parsing JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StoreApiError(400, 'error parsing JSON');
  return value as JsonObject;
}

/** For GET, DELETE and list requests Vault passes the query parameters as the request data (minus `list`). */
export function queryAsData(query: Record<string, string>): JsonObject {
  const data: JsonObject = {};
  for (const [k, v] of Object.entries(query)) if (k !== 'list') data[k] = v;
  return data;
}
