import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rfc3339Nano } from '../../../src/store/kv/time.js';

test('RFC3339Nano in UTC with trailing zeros trimmed, as Go prints it', () => {
  assert.equal(rfc3339Nano(Date.UTC(2018, 2, 22, 2, 24, 6)), '2018-03-22T02:24:06Z');
  assert.equal(rfc3339Nano(Date.UTC(2018, 2, 22, 2, 24, 6, 945)), '2018-03-22T02:24:06.945Z');
  assert.equal(rfc3339Nano(Date.UTC(2018, 2, 22, 2, 24, 6, 940)), '2018-03-22T02:24:06.94Z');
  assert.equal(rfc3339Nano(Date.UTC(2018, 2, 22, 2, 24, 6, 5)), '2018-03-22T02:24:06.005Z');
  // A fractional millisecond clock keeps what a double holds of it (well under a microsecond of error).
  assert.equal(rfc3339Nano(Date.UTC(2018, 2, 22, 2, 24, 6, 945) + 0.5), '2018-03-22T02:24:06.9455Z');
});
