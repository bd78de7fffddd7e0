import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze, shareFrozen, sharedJson } from '../../src/store/shared-json.js';

test('deepFreeze freezes nested objects and arrays', () => {
  const v = deepFreeze({ a: { b: [1, { c: 2 }] } });
  assert.ok(Object.isFrozen(v.a.b));
  assert.ok(Object.isFrozen(v.a.b[1]));
});

test('only registered objects have shared JSON; frozen alone is not enough', () => {
  const frozen = Object.freeze({ inner: { mutable: 1 } });
  assert.equal(sharedJson(frozen), undefined);
  const shared = shareFrozen({ a: 'x', list: [1, { b: null }] });
  assert.equal(sharedJson(shared), JSON.stringify(shared));
  assert.ok(Object.isFrozen(shared.list[1]));
  // The text is computed once and reused.
  assert.equal(sharedJson(shared), sharedJson(shared));
});
