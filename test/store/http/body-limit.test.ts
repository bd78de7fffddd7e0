/**
 * The per-endpoint body limit the listener asks for before reading a body ({@link bodyLimitFor}), the 413 it answers
 * over it ({@link bodyTooLargeResult}), and the JSON nesting bound of request bodies ({@link jsonNestingExceeds}).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bodyTooLargeResult } from '../../../src/store/http/api.js';
import {
  bodyLimitFor,
  DEFAULT_MAX_BODY_BYTES,
  jsonNestingExceeds,
  MAX_JSON_DEPTH,
  parseJsonBody,
  SEAL_BODY_LIMIT,
} from '../../../src/store/http/request.js';
import { StoreApiError } from '../../../src/store/api-error.js';
import { nested } from './store-harness.js';

const MAX = DEFAULT_MAX_BODY_BYTES;

test('the limits: 64 KiB for the seal endpoints, Vault\'s 32 MiB default for the rest, 500 levels of JSON', () => {
  assert.equal(SEAL_BODY_LIMIT, 64 * 1024);
  assert.equal(DEFAULT_MAX_BODY_BYTES, 32 * 1024 * 1024);
  assert.equal(MAX_JSON_DEPTH, 500);
});

test('bodyLimitFor: the seal endpoints (every method, however the target is spelled) get the small limit', () => {
  const seal = [
    '/v1/sys/init', '/v1/sys/unseal', '/v1/sys/seal', '/v1/sys/seal-status', '/v1/sys/health?standbyok=true', '/v1/sys/leader',
    '/v1/sys/generate-root/attempt', '/v1/sys/generate-root/update', '/v1/sys/generate-root', '/v1/sys/generate-root/anything',
    '/v1/sys/rekey/init', '/v1/sys/rekey/update', '/v1/sys/rekey/verify', '/v1/sys/rekey', '/v1/sys/rekey-recovery-key/init',
    '/v1//sys//unseal', '/v1/sys/unseal/', '/v1/sys%2Funseal', '/v1/%73ys/init?x=1', '/v1/sys/unseal?list=true',
  ];
  for (const target of seal) {
    for (const method of ['PUT', 'POST', 'GET', 'DELETE', 'PATCH', 'HEAD', 'LIST']) {
      assert.equal(bodyLimitFor(method, target, MAX), SEAL_BODY_LIMIT, `${method} ${target}`);
    }
    // A server configured below 64 KiB keeps its own, smaller limit.
    assert.equal(bodyLimitFor('PUT', target, 1000), 1000, target);
  }
});

test('bodyLimitFor: logical endpoints keep the server-wide limit; targets no endpoint reads a body for get the small one', () => {
  for (const target of ['/v1/secret/x', '/v1/kv/data/a/b?version=2', '/v1/sys/mounts/kv', '/v1/sys/policies/acl/p', '/v1/auth/userpass/login/u', '/v1/identity/entity', '/v1/sys/initx', '/v1/sys/unsealed', '/v1/sys/rekeyx/init']) {
    for (const method of ['PUT', 'POST', 'PATCH', 'GET', 'DELETE', 'LIST']) assert.equal(bodyLimitFor(method, target, MAX), MAX, `${method} ${target}`);
    assert.equal(bodyLimitFor('POST', target, 5 * MAX), 5 * MAX, 'a larger --max-body is honoured');
    // A method no logical path serves is answered 405 without reading the body.
    for (const method of ['HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'FOO']) assert.equal(bodyLimitFor(method, target, MAX), SEAL_BODY_LIMIT, `${method} ${target}`);
  }
  // Not an API path (404), or a path that cannot be decoded (400): nothing reads the body.
  for (const target of ['/', '/v2/secret/x', '/ui/', '/v1/a%zz', '/v1/../sys/unseal', '*']) assert.equal(bodyLimitFor('POST', target, MAX), SEAL_BODY_LIMIT, target);
});

test('property: bodyLimitFor never throws and never exceeds the server limit', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 8 }), fc.integer({ min: 0, max: 2 ** 40 }), (target, method, max) => {
      for (const t of [target, '/v1/' + target, '/v1/sys/' + target]) {
        const limit = bodyLimitFor(method, t, max);
        assert.ok(Number.isSafeInteger(limit) && limit >= 0 && limit <= max);
      }
    }),
    { numRuns: 2000 },
  );
});

test('bodyTooLargeResult: the seal endpoints answer as Vault\'s handlers (parseJSONRequest), the rest "error parsing JSON"', () => {
  assert.deepEqual(bodyTooLargeResult('/v1/sys/unseal'), { status: 413, body: { errors: ['failed to parse JSON input: http: request body too large'] } });
  assert.deepEqual(bodyTooLargeResult('/v1/sys/rekey/init?x'), { status: 413, body: { errors: ['failed to parse JSON input: http: request body too large'] } });
  for (const target of ['/v1/secret/x', '/v1/sys/rekey/verify', '/v1/sys/seal', '/', '/v1/%zz']) {
    assert.deepEqual(bodyTooLargeResult(target), { status: 413, body: { errors: ['error parsing JSON'] } }, target);
  }
});

test('jsonNestingExceeds: counts containers outside strings, escapes included; the limit is inclusive', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'utf8');
  assert.equal(jsonNestingExceeds(b(nested(500)), 500), false);
  assert.equal(jsonNestingExceeds(b(nested(501)), 500), true);
  assert.equal(jsonNestingExceeds(b(nested(501, true)), 500), true);
  assert.equal(jsonNestingExceeds(b('{"a":"[[[[[[[[[[[[","b":"\\"[[[[[[[[[[[["}'), 2), false);
  assert.equal(jsonNestingExceeds(b('{"a\\\\":[[[]]]}'), 3), true, 'an escaped backslash ends the escape');
  assert.equal(jsonNestingExceeds(b('{"é😀":[["[[["]]}'), 3), false, 'multi-byte characters never look like ASCII');
  // Closers cannot buy depth for later openers: a closer without an opener is refused at once.
  assert.equal(jsonNestingExceeds(b(']' + '['.repeat(3)), 1000), true, 'a stray closer');
  assert.equal(jsonNestingExceeds(b('{}}' + '['.repeat(600)), 1000), true, 'a closer too many');
  assert.equal(jsonNestingExceeds(b('[]'.repeat(1000)), 1), false, 'siblings are not nesting');
  assert.equal(jsonNestingExceeds(b(''), 0), false);
});

test('parseJsonBody: a body nested deeper than 500 levels is 400 "error parsing JSON" before JSON.parse', () => {
  assert.deepEqual(parseJsonBody(Buffer.from(`{"a":${nested(499)}}`)).a !== undefined, true);
  for (const body of [`{"a":${nested(500)}}`, `{"a":${nested(10_000)}}`, `{"a":${nested(1_000_000, true)}}`, '{"a":' + '['.repeat(2_000_000)]) {
    assert.throws(
      () => parseJsonBody(Buffer.from(body)),
      (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.errors.length === 1 && e.errors[0] === 'error parsing JSON',
    );
  }
});
