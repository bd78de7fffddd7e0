/** Short version of the chaos part crash-store: a few SIGKILLs of serve under writers, then the full disk and read-only folder. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './crash-store.js';
import { describeFailures } from './lib/short.js';

test('chaos crash-store (short): acknowledged writes survive SIGKILLs, a full disk and a read-only folder', { timeout: 240_000 }, async () => {
  const r = await run({ kills: 3, writers: 4, minWindowMs: 100, maxWindowMs: 500 });
  assert.equal(r.failures.length, 0, describeFailures(r));
});
