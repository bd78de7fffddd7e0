/** Short version of the chaos part soak: 4 clients, 2 s warm-up, 5 s measured. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './soak.js';
import { describeFailures } from './lib/short.js';

test('chaos soak (short): RSS and file descriptors of serve stay flat under load', { timeout: 240_000 }, async () => {
  const r = await run({ seconds: 7, warmupSeconds: 2, clients: 4 });
  assert.equal(r.failures.length, 0, describeFailures(r));
});
