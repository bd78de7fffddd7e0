import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { errorResult, renderError, renderLogical } from '../../../src/store/http/response.js';
import { StoreApiError } from '../../../src/store/api-error.js';
import type { JsonObject } from '../../../src/store/logical.js';
import { shareFrozen } from '../../../src/store/shared-json.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('the envelope: Vault key order, a fresh request id each time', () => {
  const a = renderLogical({ data: { k: 'v' } }, 'kv');
  const b = renderLogical({ data: { k: 'v' } }, 'kv');
  const body = a.body as JsonObject;
  assert.deepEqual(Object.keys(body), ['request_id', 'lease_id', 'renewable', 'lease_duration', 'data', 'wrap_info', 'warnings', 'auth', 'mount_type']);
  assert.match(String(body.request_id), UUID);
  assert.notEqual(body.request_id, (b.body as JsonObject).request_id);
  // Unshared data: no precomputed text (the writer serializes the body).
  assert.equal(a.json, undefined);
});

test('shared data: the precomputed text is exactly JSON.stringify(body), for any data, warnings and mount type', () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  fc.assert(
    fc.property(
      fc.dictionary(fc.string(), json),
      fc.option(fc.array(fc.string(), { maxLength: 3 }), { nil: undefined }),
      fc.string(),
      fc.constantFrom<200 | 404>(200, 404),
      (data, warnings, mountType, status) => {
        const shared = shareFrozen(structuredClone(data) as JsonObject);
        const r = renderLogical({ status, data: shared, warnings }, mountType);
        assert.equal(r.status, status);
        assert.ok(r.json !== undefined);
        assert.equal(r.json, JSON.stringify(r.body));
        assert.deepEqual(JSON.parse(r.json), JSON.parse(JSON.stringify(r.body)));
      },
    ),
  );
});

test('top-level data copies keys next to the envelope and is never precomputed', () => {
  const r = renderLogical({ data: shareFrozen({ 'secret/': { type: 'kv' } }), topLevelData: true }, 'system');
  assert.equal(r.json, undefined);
  assert.deepEqual((r.body as JsonObject)['secret/'], { type: 'kv' });
});

test('errors: Vault shape, internal errors say nothing', () => {
  assert.deepEqual(renderError(new StoreApiError(400, 'bad')), errorResult(400, ['bad']));
  assert.deepEqual(renderError(new Error('secret detail')), { status: 500, body: { errors: ['internal error'] } });
  assert.deepEqual(renderLogical({ status: 204 }, 'kv'), { status: 204 });
});
