/**
 * Short version of the chaos part crash-boot (npm test keeps it alive): one SIGKILL at a random moment per operation
 * (first boot, migration, rewrap v2 and edgex, protect, serve killed mid-init and mid-unseal) and one the moment a
 * temporary file appears for each operation that writes one; the same oracles as `npm run chaos`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './crash-boot.js';
import { describeFailures } from './lib/short.js';

test('chaos crash-boot (short): a plain bootstrap recovers from a SIGKILL in every boot operation', { timeout: 240_000 }, async () => {
  const r = await run({ kills: 7, targetedKills: 5, lanes: 1, calibrationRuns: 1, procSampler: false, maxSeconds: 180 });
  assert.equal(r.failures.length, 0, describeFailures(r));
});
