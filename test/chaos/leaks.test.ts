/** Short version of the chaos part leaks: the whole scenario once (it is short), with /proc sampled. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './leaks.js';
import { describeFailures } from './lib/short.js';

test('chaos leaks (short): no secret in any output, file, argv or environment', { timeout: 240_000 }, async () => {
  const r = await run({ repeat: 1, procSampler: true });
  assert.equal(r.failures.length, 0, describeFailures(r));
});
