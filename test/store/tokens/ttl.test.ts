import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calculateTtl, type TtlInput } from '../../../src/store/tokens/ttl.js';

const T0 = Date.UTC(2026, 0, 1);
const base: TtlInput = { increment: 0, backendTtl: 0, period: 0, explicitMax: 0, startMs: T0, nowMs: T0, defaultTtl: 2764800, maxTtl: 2764800 };

test('default, backend TTL and increment, in that order of preference', () => {
  assert.equal(calculateTtl(base).ttl, 2764800);
  assert.equal(calculateTtl({ ...base, backendTtl: 600 }).ttl, 600);
  assert.equal(calculateTtl({ ...base, backendTtl: 600, increment: 60 }).ttl, 60);
});

test('capped by what is left of the max TTL since the issue time, with a warning', () => {
  const r = calculateTtl({ ...base, backendTtl: 3600, explicitMax: 5400, nowMs: T0 + 3000_000 });
  assert.equal(r.ttl, 2400);
  assert.deepEqual(r.warnings, ['TTL of "3600s" exceeded the effective max_ttl of "2400s"; TTL value is capped accordingly']);
  assert.equal(calculateTtl({ ...base, nowMs: T0 + 2764800_000 + 1000 }).error, 'past the max TTL, cannot renew');
});

test('periodic: the period each time, bounded only by the explicit max', () => {
  assert.equal(calculateTtl({ ...base, period: 3600, nowMs: T0 + 5000 * 3600_000 }).ttl, 3600);
  assert.equal(calculateTtl({ ...base, period: 3600, explicitMax: 7200, nowMs: T0 + 6000_000 }).ttl, 1200);
  const capped = calculateTtl({ ...base, period: 9999999 });
  assert.equal(capped.ttl, 2764800);
  assert.equal(capped.warnings.length, 1);
});

test('times are truncated to whole seconds as Vault does', () => {
  assert.equal(calculateTtl({ ...base, backendTtl: 100, explicitMax: 100, startMs: T0 + 999, nowMs: T0 + 50_999 }).ttl, 50);
});
