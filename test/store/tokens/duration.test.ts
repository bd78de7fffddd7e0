import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreApiError } from '../../../src/store/api-error.js';
import { goDurationString, parseDurationSeconds } from '../../../src/store/tokens/duration.js';

test('parseDurationSeconds: numbers and integer strings are seconds, Go durations, days', () => {
  const cases: [unknown, number][] = [
    [undefined, 0],
    [null, 0],
    ['', 0],
    [90, 90],
    ['90', 90],
    ['90s', 90],
    ['1h30m', 5400],
    ['1.5h', 5400],
    ['768h', 2764800],
    ['2d', 172800],
    ['1500ms', 1],
    ['-5s', -5],
    ['0', 0],
  ];
  for (const [input, want] of cases) assert.equal(parseDurationSeconds(input), want, String(input));
});

test('parseDurationSeconds: malformed input is a 400 with Go\'s message', () => {
  for (const bad of ['abc', '1x', 'h', '1h 30m', '.s', '99999999999999h']) {
    assert.throws(
      () => parseDurationSeconds(bad),
      (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.message === `time: invalid duration "${bad}"`,
    );
  }
  assert.throws(() => parseDurationSeconds({}), StoreApiError);
  assert.throws(() => parseDurationSeconds(Number.NaN), StoreApiError);
});

test('goDurationString matches Go\'s time.Duration.String for whole seconds', () => {
  assert.equal(goDurationString(0), '0s');
  assert.equal(goDurationString(45), '45s');
  assert.equal(goDurationString(150), '2m30s');
  assert.equal(goDurationString(3600), '1h0m0s');
  assert.equal(goDurationString(2764800), '768h0m0s');
  assert.equal(goDurationString(-3600), '-1h0m0s');
});

test('format then parse is the identity (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: -1e9, max: 1e9 }), (s) => {
      assert.equal(parseDurationSeconds(goDurationString(s)), s);
    }),
  );
});
