/**
 * The JSON shapes of etcd's v3 gRPC-JSON gateway, validated: every answer from etcd is untrusted bytes, so each field
 * the store relies on is checked for its type (keys and values are base64 strings, int64s are decimal strings —
 * proto3's JSON mapping) before it is used, and anything else fails the call instead of being guessed at. Proto3 JSON
 * leaves out fields that hold their default value (`kvs` when empty, `succeeded` when false, `TTL` when 0), so an
 * absent field reads as that default.
 */
import { SecretStoreError } from '../../../errors.js';

/** One key-value pair of a range answer (`value` is empty for a keys-only range). */
export interface KeyValue {
  key: Buffer;
  value: Buffer;
  /** The revision that created the key (decimal string): it changes whenever the key is deleted and created again. */
  createRevision: string;
  /** The lease the key is attached to (decimal string), `'0'` for none. */
  lease: string;
}

/** A range answer. */
export interface RangeResult {
  kvs: KeyValue[];
  /** More keys match than the range's `limit` returned. */
  more: boolean;
}

/** A txn answer. */
export interface TxnResult {
  /** Whether every comparison held (the `success` branch ran). */
  succeeded: boolean;
  /** The store's revision after the txn: for a txn that put a new key, that key's create revision. */
  revision: string;
  /** The answers of the branch that ran, each still raw (`response_range`, `response_put`, …). */
  responses: Record<string, unknown>[];
}

/** A lease grant answer. */
export interface LeaseGrant {
  /** The lease id (decimal string). */
  id: string;
  /** The TTL etcd granted, in seconds (etcd raises a TTL below its minimum). */
  ttlSeconds: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT64 = /^-?[0-9]{1,19}$/;

/** A malformed-answer error: etcd (or whatever answers at its address) sent something the gateway never sends. */
export function malformed(what: string): SecretStoreError {
  return new SecretStoreError(
    'STORE_UNAVAILABLE',
    `etcd sent a malformed answer to ${what}; check that --etcd-endpoints name etcd v3.4+ client URLs`,
  );
}

/** `value` as a JSON object, or a malformed-answer error. */
export function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(what);
  return value as Record<string, unknown>;
}

/** An optional int64 field (a decimal string, or a safe integer number), `'0'` when absent. */
function int64(obj: Record<string, unknown>, field: string, what: string): string {
  const v = obj[field];
  if (v === undefined) return '0';
  if (typeof v === 'string' && INT64.test(v)) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  throw malformed(what);
}

/** An optional bytes field (base64), empty when absent. */
function bytes(obj: Record<string, unknown>, field: string, what: string): Buffer {
  const v = obj[field];
  if (v === undefined) return Buffer.alloc(0);
  if (typeof v !== 'string' || !BASE64.test(v)) throw malformed(what);
  return Buffer.from(v, 'base64');
}

/** An optional boolean field, `false` when absent. */
function bool(obj: Record<string, unknown>, field: string, what: string): boolean {
  const v = obj[field];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw malformed(what);
  return v;
}

/** An optional array-of-objects field, empty when absent. */
function objects(obj: Record<string, unknown>, field: string, what: string): Record<string, unknown>[] {
  const v = obj[field];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw malformed(what);
  return v.map((item) => asObject(item, what));
}

/** The revision in an answer's `header` (present in every successful unary answer). */
export function parseRevision(body: unknown, what: string): string {
  const header = asObject(asObject(body, what).header, what);
  return int64(header, 'revision', what);
}

/** A range answer (the body of /v3/kv/range, or a txn's `response_range`). */
export function parseRange(body: unknown, what: string): RangeResult {
  const obj = asObject(body, what);
  const kvs = objects(obj, 'kvs', what).map((kv) => {
    const key = bytes(kv, 'key', what);
    if (key.length === 0) throw malformed(what);
    return { key, value: bytes(kv, 'value', what), createRevision: int64(kv, 'create_revision', what), lease: int64(kv, 'lease', what) };
  });
  return { kvs, more: bool(obj, 'more', what) };
}

/** A txn answer. */
export function parseTxn(body: unknown, what: string): TxnResult {
  const obj = asObject(body, what);
  return { succeeded: bool(obj, 'succeeded', what), revision: parseRevision(obj, what), responses: objects(obj, 'responses', what) };
}

/** A lease grant answer; a grant without an id or with a TTL of 0 is refused (etcd puts the reason in `error`). */
export function parseLeaseGrant(body: unknown, what: string): LeaseGrant {
  const obj = asObject(body, what);
  const id = int64(obj, 'ID', what);
  const ttlSeconds = Number(int64(obj, 'TTL', what));
  if (id === '0' || ttlSeconds <= 0) throw malformed(what);
  return { id, ttlSeconds };
}

/**
 * A keepalive answer: the lease's remaining TTL in seconds, 0 when the lease is gone (etcd then answers without
 * `TTL`). The keepalive is a stream over the gateway: one `{"result": …}` message per line, or `{"error": …}`.
 */
export function parseKeepAlive(body: unknown, what: string): number {
  const obj = asObject(body, what);
  if (obj.error !== undefined) throw malformed(what);
  const ttl = Number(int64(asObject(obj.result, what), 'TTL', what));
  return ttl < 0 ? 0 : ttl;
}

/** An authenticate answer: the token (never logged, never in a message). */
export function parseAuthToken(body: unknown, what: string): string {
  const token = asObject(body, what).token;
  // A token goes into a request header: printable ASCII only, so a hostile answer cannot inject header lines.
  if (typeof token !== 'string' || token === '' || token.length > 4096 || !/^[\x21-\x7e]+$/.test(token)) throw malformed(what);
  return token;
}

/** The gRPC status code and message of a gateway error answer (`{"error", "message", "code"}`), when it is one. */
export function parseGatewayError(body: unknown): { grpcCode: number; message: string } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const obj = body as Record<string, unknown>;
  // Streams (keepalive) wrap it: {"error": {"grpc_code", "http_code", "message", "http_status"}}.
  const inner = typeof obj.error === 'object' && obj.error !== null ? (obj.error as Record<string, unknown>) : obj;
  const code = inner.code ?? inner.grpc_code;
  const message = inner.message ?? inner.error;
  if (typeof code !== 'number' || !Number.isInteger(code) || typeof message !== 'string') return undefined;
  return { grpcCode: code, message: sanitize(message) };
}

/** etcd's error text, made safe for a one-line message: printable ASCII, at most 160 characters. */
export function sanitize(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 160 ? clean.slice(0, 157) + '...' : clean;
}
