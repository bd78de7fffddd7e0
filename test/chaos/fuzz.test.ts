/**
 * Short version of the chaos part fuzz: a few hundred generated requests, every pipelined pair, the smuggling
 * attempts, a few slow clients (not waited for), and every property with a few hundred runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run as runHttp } from './fuzz-http.js';
import { run as runProperties } from './fuzz-properties.js';
import { describeFailures } from './lib/short.js';

test('chaos fuzz-http (short): no bypass, no 5xx, no crash, pipelining and framing hold', { timeout: 240_000 }, async () => {
  const r = await runHttp({ requests: 400, concurrency: 4, slowClients: 3, slowSeconds: 0, memoryProbe: false, pipelineTriples: 5 });
  assert.equal(r.failures.length, 0, describeFailures(r));
});

test('chaos fuzz-properties (short): every key-material parser holds its properties', { timeout: 240_000 }, async () => {
  const r = await runProperties({ runs: 200, hookRuns: 40, lanes: 2, only: [] });
  assert.equal(r.failures.length, 0, describeFailures(r));
});
