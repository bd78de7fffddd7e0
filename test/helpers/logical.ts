/** Shared fixtures for tests of the store's logical backends (requests without sockets). */
import assert from 'node:assert/strict';
import { StoreApiError } from '../../src/store/api-error.js';
import type { CallerContext } from '../../src/store/backend.js';
import type { JsonObject, LogicalRequest, Operation } from '../../src/store/logical.js';

/** A caller holding the root policy (sudo everywhere). */
export const ROOT_CALLER: CallerContext = { clientToken: 't', policies: ['root'], sudo: true, root: true };

/** A logical request for a backend. */
export function req(operation: Operation, path: string, data: JsonObject = {}, query: Record<string, string> = {}): LogicalRequest {
  return { operation, path, data, query };
}

/** Asserts `p` rejects with a StoreApiError of `status` whose errors are exactly `errors`. */
export async function rejects(p: Promise<unknown>, status: number, errors: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StoreApiError);
    assert.equal(e.status, status);
    assert.deepEqual(e.errors, errors);
    return true;
  });
}

/** Asserts `v` is a JSON object (not null, not an array) and returns it typed. */
export function obj(v: unknown): JsonObject {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), 'expected a JSON object');
  return v as JsonObject;
}
