/**
 * What the API answers, independent of the socket: a status and an optional JSON body. Renders logical responses in
 * Vault's envelope and turns errors into `{"errors":[...]}` without ever exposing a stack trace or an internal message.
 */
import { StoreApiError } from '../api-error.js';
import { randomUUID } from '../../crypto.js';
import type { JsonObject, LogicalResponse } from '../logical.js';

/** A response ready to be written: status and JSON body (undefined → no body, e.g. 204 or HEAD). */
export interface ApiResult {
  status: number;
  body?: unknown;
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
  const envelope: JsonObject = {
    request_id: randomUUID(),
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
  const body = resp.topLevelData === true && data !== null ? { ...data, ...envelope } : envelope;
  return { status: resp.status ?? 200, body };
}
