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

test('rfc3339Nano: remembered values equal freshly formatted ones, also past the memo bound', () => {
  const base = Date.UTC(2024, 0, 2, 3, 4, 5, 6);
  const first = Array.from({ length: 5000 }, (_, i) => rfc3339Nano(base + i * 1.5));
  for (let i = 0; i < 5000; i++) assert.equal(rfc3339Nano(base + i * 1.5), first[i]);
  assert.equal(first[0], '2024-01-02T03:04:05.006Z');
  assert.equal(first[1], '2024-01-02T03:04:05.0075Z');
  assert.equal(first[4999], new Date(base + 7498).toISOString().replace('Z', '5Z'));
});
