import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizePolicies } from '../../../src/store/tokens/token-entry.js';

test('sanitizePolicies as Vault\'s policyutil', () => {
  assert.deepEqual(sanitizePolicies([' B', 'a', '', 'a'], false), ['a', 'b']);
  assert.deepEqual(sanitizePolicies(['b'], true), ['b', 'default']);
  assert.deepEqual(sanitizePolicies(['x', 'Root', 'y'], true), ['root']);
  assert.deepEqual(sanitizePolicies([], true), ['default']);
  assert.deepEqual(sanitizePolicies([], false), []);
});
