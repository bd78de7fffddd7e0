import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApiError } from '../../../src/store/api-error.js';
import { planChildToken, type CreateContext } from '../../../src/store/tokens/token-create.js';
import type { StoredToken } from '../../../src/store/tokens/token-entry.js';

const T0 = Date.UTC(2026, 0, 1);

function parent(policies: string[], expire = 0): StoredToken {
  return {
    version: 1, key: 'pk', parentKey: '', accessor: 'pacc', policies, meta: null, display_name: 'p', parent: '', creation_time: 0, ttl: 0,
    explicit_max_ttl: 0, period: 0, num_uses: 0, renewable: false, orphan: true, path: 'auth/token/root', type: 'service', expire_time: expire,
    issueMs: T0, lastRenewalMs: 0, lease: false,
  };
}

function ctx(p: StoredToken, sudo: boolean, orphanEndpoint = false): CreateContext {
  return { parent: p, sudo, orphanEndpoint, nowMs: T0, defaultTtl: 2764800, maxTtl: 2764800, maxIdLength: 1024 };
}

test('plans a child: parent link, sorted policies with default, TTL and expiry', () => {
  const plan = planChildToken({ policies: ['b', 'a'], ttl: '2h', display_name: 'x y', meta: { k: 'v' } }, ctx(parent(['a', 'b']), false));
  assert.equal(plan.customId, '');
  assert.deepEqual(plan.warnings, []);
  assert.deepEqual(plan.fields.policies, ['a', 'b', 'default']);
  assert.equal(plan.fields.parentKey, 'pk');
  assert.equal(plan.fields.parent, 'pacc');
  assert.equal(plan.fields.ttl, 7200);
  assert.equal(plan.fields.expire_time, T0 + 7200_000);
  assert.equal(plan.fields.display_name, 'token-x-y');
  assert.deepEqual(plan.fields.meta, { k: 'v' });
  assert.equal(plan.fields.renewable, true);
});

test('orphans have no parent link', () => {
  const p = planChildToken({}, ctx(parent(['a']), false, true));
  assert.equal(p.fields.parentKey, '');
  assert.equal(p.fields.orphan, true);
  assert.equal(p.fields.path, 'auth/token/create-orphan');
});

test('a root child of an expiring root parent must have a TTL', () => {
  assert.throws(
    () => planChildToken({}, ctx(parent(['root'], T0 + 1000), true)),
    (e: unknown) => e instanceof StoreApiError && e.message === 'expiration date must be set',
  );
  assert.equal(planChildToken({ ttl: 60 }, ctx(parent(['root'], T0 + 1000), true)).fields.ttl, 60);
});

test('no_default_policy leaving nothing is refused', () => {
  assert.throws(
    () => planChildToken({ policies: ['default'], no_default_policy: true }, ctx(parent(['a']), false)),
    (e: unknown) => e instanceof StoreApiError && e.message === 'token must have at least one policy',
  );
});

test('explicit_max_ttl alone sets the TTL', () => {
  assert.equal(planChildToken({ explicit_max_ttl: '30m' }, ctx(parent(['a']), false)).fields.ttl, 1800);
});
