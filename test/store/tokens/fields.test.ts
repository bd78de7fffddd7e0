import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApiError } from '../../../src/store/api-error.js';
import { boolField, intField, intListField, stringField, stringListField, stringMapField } from '../../../src/store/tokens/fields.js';

function bad(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.message === message);
}

test('conversions Vault\'s framework performs', () => {
  assert.equal(stringField({ a: 5 }, 'a'), '5');
  assert.equal(stringField({}, 'a', 'x'), 'x');
  assert.equal(boolField({ a: 'true' }, 'a', false), true);
  assert.equal(boolField({ a: 'F' }, 'a', true), false);
  assert.equal(boolField({ a: null }, 'a', true), true);
  assert.equal(intField({ a: '12' }, 'a', 0), 12);
  assert.equal(intField({ a: '' }, 'a', 7), 7);
  assert.deepEqual(stringListField({ a: 'x, y' }, 'a'), ['x', 'y']);
  assert.deepEqual(stringListField({ a: ['x', 1] }, 'a'), ['x', '1']);
  assert.equal(stringListField({}, 'a'), undefined);
  assert.deepEqual(stringMapField({ a: { k: 'v' } }, 'a'), { k: 'v' });
  assert.deepEqual(intListField({ a: '1,2' }, 'a'), [1, 2]);
  assert.deepEqual(intListField({ a: [3, '4'] }, 'a'), [3, 4]);
  assert.deepEqual(intListField({ a: 5 }, 'a'), [5]);
});

test('anything else is a 400 naming the field', () => {
  bad(() => stringField({ a: {} }, 'a'), 'error converting input {} for field "a"');
  bad(() => boolField({ a: 'yes' }, 'a', false), 'error converting input yes for field "a"');
  bad(() => intField({ a: 1.5 }, 'a', 0), 'error converting input 1.5 for field "a"');
  bad(() => intField({ a: '1e3' }, 'a', 0), 'error converting input 1e3 for field "a"');
  bad(() => stringListField({ a: [{}] }, 'a'), 'error converting input [{}] for field "a"');
  bad(() => stringMapField({ a: ['x'] }, 'a'), 'error converting input ["x"] for field "a"');
  bad(() => stringMapField({ a: { k: 1 } }, 'a'), 'error converting input {"k":1} for field "a"');
  bad(() => intListField({ a: [true] }, 'a'), 'error converting input [true] for field "a"');
});
