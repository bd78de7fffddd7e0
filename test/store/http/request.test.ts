import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreApiError } from '../../../src/store/api-error.js';
import {
  checkPatchContentType,
  operationFor,
  parseBool,
  parseJsonBody,
  parseTarget,
  queryAsData,
  requestToken,
} from '../../../src/store/http/request.js';
import { logPath } from '../../../src/store/http/request-log.js';

test('parseTarget: /v1/ prefix, percent-decoding, first query value wins, repeated slashes collapsed', () => {
  assert.deepEqual(parseTarget('/v1/secret/data/a%20b?version=2&version=3&list=true'), {
    path: 'secret/data/a b',
    query: { version: '2', list: 'true' },
  });
  assert.deepEqual(parseTarget('/v1//secret//x/'), { path: 'secret/x/', query: {} });
  assert.deepEqual(parseTarget('/v2/x'), { path: undefined, query: {} });
  assert.throws(() => parseTarget('/v1/%E0%A4%A'), (e) => e instanceof StoreApiError && e.status === 400);
});

test('property: parseTarget and parseJsonBody fail only with a 400 StoreApiError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      for (const input of [s, '/v1/' + s]) {
        try {
          const t = parseTarget(input);
          if (t.path !== undefined) assert.ok(!t.path.startsWith('/'));
        } catch (e) {
          assert.ok(e instanceof StoreApiError && e.status === 400);
        }
      }
    }),
  );
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.json()), (s) => {
      try {
        const v = parseJsonBody(Buffer.from(s, 'utf8'));
        assert.equal(typeof v, 'object');
        assert.ok(!Array.isArray(v));
      } catch (e) {
        assert.ok(e instanceof StoreApiError);
        assert.equal(e.status, 400);
        assert.deepEqual(e.errors, ['error parsing JSON']);
      }
    }),
  );
});

test('requestToken: X-Vault-Token first, then Authorization: Bearer; anything else is no token', () => {
  assert.equal(requestToken({ 'x-vault-token': 'a', authorization: 'Bearer b' }), 'a');
  assert.equal(requestToken({ 'x-vault-token': '', authorization: 'Bearer b' }), 'b');
  assert.equal(requestToken({ authorization: 'bearer   c ' }), 'c');
  assert.equal(requestToken({ authorization: 'Basic xyz' }), undefined);
  assert.equal(requestToken({}), undefined);
});

test('operationFor and parseBool follow Vault (Go strconv.ParseBool for ?list=)', () => {
  assert.equal(operationFor('GET', {}), 'read');
  for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(operationFor('GET', { list: v }), 'list');
  for (const v of ['0', 'yes', '', 'tRUE']) assert.equal(parseBool(v), false);
  assert.equal(operationFor('LIST', {}), 'list');
  assert.equal(operationFor('PUT', {}), 'update');
  assert.equal(operationFor('POST', {}), 'update');
  assert.equal(operationFor('PATCH', {}), 'patch');
  assert.equal(operationFor('DELETE', {}), 'delete');
  assert.equal(operationFor('OPTIONS', {}), undefined);
  assert.deepEqual(queryAsData({ list: 'true', version: '1' }), { version: '1' });
});

test('checkPatchContentType: merge-patch only (parameters allowed), 400 without a media type, else 415', () => {
  checkPatchContentType('application/merge-patch+json');
  checkPatchContentType('Application/Merge-Patch+JSON; charset=utf-8');
  assert.throws(() => { checkPatchContentType(undefined); }, (e) => e instanceof StoreApiError && e.status === 400 && e.errors[0] === 'mime: no media type');
  assert.throws(
    () => { checkPatchContentType('application/json'); },
    (e) => e instanceof StoreApiError && e.status === 415 && e.errors[0] === 'PATCH requires Content-Type of application/merge-patch+json, got "application/json"',
  );
});

test('property: the logged path never holds a query string, a control character or more than 201 characters', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), fc.string({ maxLength: 40 }), (path, query) => {
      const shown = logPath(undefined, `${path.replace(/\?/g, '')}?${query}`);
      assert.ok(shown.length <= 201);
      for (let i = 0; i < shown.length; i++) {
        const c = shown.charCodeAt(i);
        assert.ok(c >= 0x20 && c !== 0x7f);
      }
      if (query.length > 0 && !path.includes(query)) assert.ok(!shown.includes('?' + query));
    }),
  );
  assert.equal(logPath('auth/token/lookup/hvs.secret', undefined), 'auth/token/lookup/<redacted>');
  assert.equal(logPath('auth/token/lookup-self', undefined), 'auth/token/lookup-self');
  assert.equal(logPath('secret/data/x', '/v1/secret/data/x?token=abc'), 'secret/data/x');
});
