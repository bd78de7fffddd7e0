/**
 * What the API answers, independent of the socket: a status and an optional JSON body. Renders logical responses in
 * Vault's envelope and turns errors into `{"errors":[...]}` without ever exposing a stack trace or an internal message.
 */
import { StoreApiError } from '../api-error.js';
import { randomUUID } from '../../crypto.js';
import type { JsonObject, LogicalResponse } from '../logical.js';
import { sharedJson } from '../shared-json.js';

/** A response ready to be written: status and JSON body (undefined → no body, e.g. 204 or HEAD). */
export interface ApiResult {
  status: number;
  body?: unknown;
  /** `JSON.stringify(body)`, when it was cheaper to build along with the body (the writer uses it as is). */
  json?: string;
}

/** 204 No Content. */
export const noContent = (): ApiResult => ({ status: 204 });

/** 200 with a raw JSON body (the `sys/*` endpoints that answer without the envelope). */
export const okJson = (body: unknown): ApiResult => ({ status: 200, body });

/** `{"errors":[...]}` with the given status. */
export function errorResult(status: number, errors: string[]): ApiResult {
  return { status, body: { errors } };
}

/**
 * Renders an error. StoreApiError carries Vault's status and messages; anything else is a bug or an I/O failure and
 * becomes a bare 500 whose text says nothing about the cause (the caller logs the error class).
 */
export function renderError(err: unknown): ApiResult {
  if (err instanceof StoreApiError) return errorResult(err.status, err.errors);
  return errorResult(500, ['internal error']);
}

/** Renders a logical backend's response in Vault's envelope. */
export function renderLogical(resp: LogicalResponse, mountType: string): ApiResult {
  if (resp.status === 204) return noContent();
  if (resp.raw !== undefined) return { status: resp.status ?? 200, body: resp.raw };
  const data = resp.data ?? null;
  const requestId = randomUUID();
  const envelope: JsonObject = {
    request_id: requestId,
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: resp.warnings ?? null,
    auth: resp.auth ?? null,
    mount_type: mountType,
  };
  // sys/mounts, sys/policy and sys/auth also copy their data keys to the top level (older clients read them there).
  if (resp.topLevelData === true && data !== null) return { status: resp.status ?? 200, body: { ...data, ...envelope } };
  const known = data === null ? undefined : sharedJson(data);
  if (known === undefined) return { status: resp.status ?? 200, body: envelope };
  // Exactly JSON.stringify(envelope), keys in the same order, with the data's remembered text spliced in.
  const json =
    // (A UUID needs no escaping; null needs no serializing.)
    '{"request_id":"' + requestId + '","lease_id":"","renewable":false,"lease_duration":0,"data":' + known +
    ',"wrap_info":null,"warnings":' + (envelope.warnings === null ? 'null' : JSON.stringify(envelope.warnings)) +
    ',"auth":' + (envelope.auth === null ? 'null' : JSON.stringify(envelope.auth)) + ',"mount_type":' + JSON.stringify(mountType) + '}';
  return { status: resp.status ?? 200, body: envelope, json };
}
