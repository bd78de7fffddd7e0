import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY_TEXT } from '../../../src/store/policy/default-policy.js';
import { parsePolicy } from '../../../src/store/policy/policy.js';

test('the default policy parses and has Vault\'s grants', () => {
  const rules = parsePolicy('default', DEFAULT_POLICY_TEXT).rules;
  const byPath = new Map(rules.map((r) => [r.path + (r.prefix ? '*' : ''), r.capabilities]));
  assert.deepEqual(byPath.get('auth/token/lookup-self'), ['read']);
  assert.deepEqual(byPath.get('auth/token/renew-self'), ['update']);
  assert.deepEqual(byPath.get('auth/token/revoke-self'), ['update']);
  assert.deepEqual(byPath.get('sys/capabilities-self'), ['update']);
  assert.deepEqual(byPath.get('cubbyhole/*'), ['create', 'read', 'update', 'delete', 'list']);
  assert.deepEqual(byPath.get('sys/wrapping/unwrap'), ['update']);
  assert.ok(rules.every((r) => !r.capabilities.includes('sudo')));
});
