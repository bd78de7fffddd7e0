import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApiError } from '../../../src/store/api-error.js';
import type { LoginPlan } from '../../../src/store/logical.js';
import { planLoginToken } from '../../../src/store/tokens/login-token.js';

const T0 = Date.UTC(2026, 0, 1);
const LIMITS = { nowMs: T0, defaultTtl: 768 * 3600, maxTtl: 768 * 3600 };

function plan(over: Partial<LoginPlan> = {}): LoginPlan {
  return {
    aliasName: 'svc',
    displayName: 'userpass-svc',
    metadata: { username: 'svc' },
    policies: [],
    noDefaultPolicy: false,
    ttl: 0,
    maxTtl: 0,
    period: 0,
    explicitMaxTtl: 0,
    numUses: 0,
    boundCidrs: [],
    path: 'auth/userpass/login/svc',
    ...over,
  };
}

test('an EdgeX user (token_period 1h, no policies): periodic orphan with default, bound to the entity', () => {
  const p = planLoginToken(plan({ period: 3600 }), 'ent-1', ['edgex-service-svc'], LIMITS);
  assert.deepEqual(p.fields.policies, ['default']);
  assert.equal(p.fields.ttl, 3600);
  assert.equal(p.fields.period, 3600);
  assert.equal(p.fields.orphan, true);
  assert.equal(p.fields.parentKey, '');
  assert.equal(p.fields.renewable, true);
  assert.equal(p.fields.entity_id, 'ent-1');
  assert.equal(p.fields.path, 'auth/userpass/login/svc');
  assert.equal(p.fields.display_name, 'userpass-svc');
  assert.deepEqual(p.fields.meta, { username: 'svc' });
  assert.equal(p.fields.expire_time, T0 + 3600_000);
});

test('TTL: default 768h, bounded by the mount max, then by the system max; no_default_policy', () => {
  assert.equal(planLoginToken(plan(), '', [], LIMITS).fields.ttl, 768 * 3600);
  const capped = planLoginToken(plan({ ttl: 7200, maxTtl: 3600 }), '', [], LIMITS);
  assert.equal(capped.fields.ttl, 3600);
  assert.equal(capped.fields.max_ttl, 3600);
  assert.ok(capped.warnings.length > 0);
  assert.deepEqual(planLoginToken(plan({ policies: ['A', ' b '], noDefaultPolicy: true }), '', [], LIMITS).fields.policies, ['a', 'b']);
  assert.deepEqual(planLoginToken(plan({ boundCidrs: ['10.0.0.0/8'] }), '', [], LIMITS).fields.bound_cidrs, ['10.0.0.0/8']);
});

test('auth methods cannot create root tokens, from the user or from the entity', () => {
  for (const [policies, identity] of [[['root'], []], [[], ['root']]] as const) {
    assert.throws(
      () => planLoginToken(plan({ policies: [...policies] }), 'e', identity, LIMITS),
      (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.message === 'auth methods cannot create root tokens',
    );
  }
});
