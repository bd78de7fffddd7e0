/** Short version of the chaos part concurrency: 2 rounds of concurrent fresh bootstraps, one round per stale-lock kind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './concurrency.js';
import { describeFailures } from './lib/short.js';

test('chaos concurrency (short): one init among concurrent bootstraps, stale locks taken over one at a time', { timeout: 240_000 }, async () => {
  const r = await run({ rounds: 2, parallel: 4, lockRounds: 1, procSampler: false });
  assert.equal(r.failures.length, 0, describeFailures(r));
});
