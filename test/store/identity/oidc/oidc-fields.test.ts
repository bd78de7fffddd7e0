import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApiError } from '../../../../src/store/api-error.js';
import { durationField, has } from '../../../../src/store/identity/oidc/oidc-fields.js';

test('fields: has treats absent and null as not sent', () => {
  assert.equal(has({ a: 1 }, 'a'), true);
  assert.equal(has({ a: '' }, 'a'), true);
  assert.equal(has({ a: null }, 'a'), false);
  assert.equal(has({}, 'a'), false);
});

test('fields: durationField parses Go durations and seconds, falls back when not sent', () => {
  assert.equal(durationField({ ttl: '24h' }, 'ttl', 1), 86400);
  assert.equal(durationField({ ttl: 90 }, 'ttl', 1), 90);
  assert.equal(durationField({ ttl: '90' }, 'ttl', 1), 90);
  assert.equal(durationField({}, 'ttl', 7), 7);
  assert.equal(durationField({ ttl: null }, 'ttl', 7), 7);
  assert.throws(() => durationField({ ttl: 'x' }, 'ttl', 1), (e: unknown) => e instanceof StoreApiError && e.status === 400);
});
