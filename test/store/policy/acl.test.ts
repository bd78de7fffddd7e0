import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Operation } from '../../../src/store/logical.js';
import { Acl, isSudoProtected } from '../../../src/store/policy/acl.js';
import { parsePolicy } from '../../../src/store/policy/policy.js';

function acl(...texts: string[]): Acl {
  return Acl.fromPolicies(texts.map((t, i) => parsePolicy(`p${i}`, t)));
}

type Case = [path: string, op: Operation, allowed: boolean];

function check(a: Acl, cases: Case[]): void {
  for (const [path, op, allowed] of cases) assert.equal(a.allows(path, op), allowed, `${op} ${path}`);
}

test('exact rule beats a glob, whatever the glob says', () => {
  const a = acl('path "secret/foo" { capabilities = ["read"] }\npath "secret/*" { capabilities = ["deny"] }');
  check(a, [
    ['secret/foo', 'read', true],
    ['secret/foo', 'update', false],
    ['secret/bar', 'read', false],
    ['secret/foo/x', 'read', false],
  ]);
});

test('longest glob prefix wins', () => {
  const a = acl('path "secret/*" { capabilities = ["read"] }\npath "secret/a/*" { capabilities = ["deny"] }\npath "secret/ab*" { capabilities = ["update"] }');
  check(a, [
    ['secret/b', 'read', true],
    ['secret/a/x', 'read', false],
    ['secret/abc', 'update', true],
    ['secret/abc', 'read', false],
    ['secret/a', 'read', true],
  ]);
});

test('+ matches exactly one segment', () => {
  const a = acl('path "secret/+/config" { capabilities = ["read"] }\npath "kv/+/+" { capabilities = ["list"] }');
  check(a, [
    ['secret/app/config', 'read', true],
    ['secret/app/x/config', 'read', false],
    ['secret/config', 'read', false],
    ['secret/app/config2', 'read', false],
    ['kv/a/b', 'list', true],
    ['kv/a', 'list', false],
    ['kv/a/b/c', 'list', false],
  ]);
});

test('+ with a trailing glob matches a segment prefix and anything after', () => {
  const a = acl('path "secret/+/team*" { capabilities = ["read"] }');
  check(a, [
    ['secret/x/teamA/foo', 'read', true],
    ['secret/x/team', 'read', true],
    ['secret/x/other', 'read', false],
  ]);
});

test('priority between + and *: later first wildcard, then non-prefix, then fewer +, then longer', () => {
  // Same first-wildcard position (7): the non-prefix + rule beats the glob.
  check(acl('path "secret/+/bar" { capabilities = ["read"] }\npath "secret/*" { capabilities = ["update"] }'), [
    ['secret/foo/bar', 'read', true],
    ['secret/foo/bar', 'update', false],
    ['secret/foo/baz', 'update', true],
  ]);
  // The glob's wildcard comes later (8 > 7): it wins over the + rule.
  check(acl('path "secret/a*" { capabilities = ["read"] }\npath "secret/+" { capabilities = ["update"] }'), [
    ['secret/ab', 'read', true],
    ['secret/ab', 'update', false],
    ['secret/b', 'update', true],
  ]);
  // Fewer + segments win.
  check(acl('path "a/b/+/d" { capabilities = ["read"] }\npath "a/+/+/d" { capabilities = ["update"] }'), [
    ['a/b/c/d', 'read', true],
    ['a/b/c/d', 'update', false],
    ['a/x/c/d', 'update', true],
  ]);
  // Longer wins when everything else ties.
  check(acl('path "a/+/bar/ba*" { capabilities = ["read"] }\npath "a/+/bar/b*" { capabilities = ["update"] }'), [
    ['a/x/bar/baz', 'read', true],
    ['a/x/bar/bz', 'update', true],
  ]);
});

test('rules for one path are OR-ed across policies and deny wins', () => {
  check(acl('path "secret/x" { capabilities = ["read"] }', 'path "secret/x" { capabilities = ["update"] }'), [
    ['secret/x', 'read', true],
    ['secret/x', 'update', true],
    ['secret/x', 'delete', false],
  ]);
  check(acl('path "secret/x" { capabilities = ["read"] }', 'path "secret/x" { capabilities = ["deny"] }', 'path "secret/x" { capabilities = ["list"] }'), [
    ['secret/x', 'read', false],
    ['secret/x', 'list', false],
  ]);
  check(acl('path "secret/*" { capabilities = ["deny"] }', 'path "secret/*" { capabilities = ["read"] }'), [['secret/y', 'read', false]]);
});

test('a more specific allow beats a less specific deny (only the chosen rule counts)', () => {
  check(acl('path "secret/*" { capabilities = ["deny"] }', 'path "secret/open/*" { capabilities = ["read"] }'), [
    ['secret/open/a', 'read', true],
    ['secret/closed', 'read', false],
  ]);
});

test('list matches an exact rule without the trailing slash', () => {
  const a = acl('path "secret/metadata/app" { capabilities = ["list", "read"] }');
  check(a, [
    ['secret/metadata/app/', 'list', true],
    ['secret/metadata/app/', 'read', false],
    ['secret/metadata/app', 'read', true],
  ]);
});

test('leading slashes in the request path are ignored', () => {
  check(acl('path "secret/x" { capabilities = ["read"] }'), [['//secret/x', 'read', true]]);
});

test('no policy, no access; root allows everything', () => {
  check(acl(), [['secret/x', 'read', false]]);
  const root = Acl.fromPolicies([{ name: 'root', text: '', rules: [] }]);
  assert.equal(root.isRoot, true);
  check(root, [['sys/anything', 'delete', true]]);
  assert.equal(root.hasSudo('sys/seal'), true);
  assert.deepEqual(root.capabilities('x'), ['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch']);
});

test('capabilities() in Vault order, deny when nothing or denied', () => {
  const a = acl('path "a" { capabilities = ["patch", "create", "read", "sudo"] }\npath "b" { capabilities = [] }\npath "c" { capabilities = ["deny"] }');
  assert.deepEqual(a.capabilities('a'), ['sudo', 'read', 'create', 'patch']);
  assert.deepEqual(a.capabilities('b'), ['deny']);
  assert.deepEqual(a.capabilities('c'), ['deny']);
  assert.deepEqual(a.capabilities('zzz'), ['deny']);
});

test('hasSudo follows the governing rule', () => {
  const a = acl('path "sys/seal" { capabilities = ["update", "sudo"] }\npath "sys/*" { capabilities = ["update"] }\npath "auth/token/accessors" { capabilities = ["list", "sudo"] }');
  assert.equal(a.hasSudo('sys/seal'), true);
  assert.equal(a.hasSudo('sys/raw/x'), false);
  assert.equal(a.hasSudo('auth/token/accessors/', 'list'), true);
  assert.equal(a.hasSudo('auth/token/accessors/'), false);
});

test('patch needs the patch capability', () => {
  check(acl('path "kv/data/x" { capabilities = ["update"] }'), [['kv/data/x', 'patch', false]]);
  check(acl('path "kv/data/x" { capabilities = ["patch"] }'), [['kv/data/x', 'patch', true]]);
});

test('isSudoProtected: Vault root paths', () => {
  const yes: [string, Operation][] = [
    ['sys/seal', 'update'],
    ['sys/step-down', 'update'],
    ['sys/auth/userpass', 'update'],
    ['sys/audit', 'read'],
    ['sys/audit/file', 'update'],
    ['sys/raw/core/keyring', 'read'],
    ['sys/rotate', 'update'],
    ['sys/remount', 'update'],
    ['auth/token/accessors/', 'list'],
    ['auth/token/revoke-orphan', 'update'],
    ['sys/leases/lookup/prefix/', 'list'],
  ];
  const no: [string, Operation][] = [
    ['sys/mounts', 'read'],
    ['sys/mounts/secret', 'update'],
    ['sys/policies/acl/x', 'update'],
    ['sys/auth', 'read'],
    ['auth/token/create', 'update'],
    ['secret/data/x', 'read'],
    ['sys/sealx', 'update'],
    ['auth/token/accessors/', 'read'],
  ];
  for (const [p, op] of yes) assert.equal(isSudoProtected(p, op), true, p);
  for (const [p, op] of no) assert.equal(isSudoProtected(p, op), false, p);
});

test('properties: an exact rule governs its path; a deny on it in any policy denies every operation', () => {
  const ops: Operation[] = ['create', 'read', 'update', 'patch', 'delete', 'list'];
  const seg = fc.constantFrom('a', 'b', 'c', '+');
  const rulePath = fc.tuple(fc.array(seg, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([parts, glob]) => parts.join('/') + (glob ? '*' : '')).filter((p) => !p.includes('+*'));
  const caps = fc.uniqueArray(fc.constantFrom('create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'), { maxLength: 7 });
  const policy = fc.array(fc.tuple(rulePath, caps), { maxLength: 5 });
  const target = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
  fc.assert(
    fc.property(fc.array(policy, { maxLength: 3 }), target, fc.uniqueArray(fc.constantFrom(...ops), { minLength: 1 }), fc.constantFrom(...ops), (policies, path, exactCaps, op) => {
      const texts = policies.map((rules) => rules.map(([p, c]) => `path "${p}" { capabilities = ${JSON.stringify(c)} }`).join('\n'));
      const granted = new Set<string>(exactCaps);
      for (const rules of policies) for (const [p, c] of rules) if (p === path) c.forEach((x) => granted.add(x));
      const withExact = acl(...texts, `path "${path}" { capabilities = ${JSON.stringify(exactCaps)} }`);
      assert.equal(withExact.allows(path, op), granted.has(op));
      const denied = acl(...texts, `path "${path}" { capabilities = ${JSON.stringify(exactCaps)} }`, `path "${path}" { capabilities = ["deny"] }`);
      assert.equal(denied.allows(path, op), false);
    }),
    { numRuns: 500 },
  );
});

test('remembered decisions: list and read kept apart, unchanged past the memo bound and for long paths', () => {
  const a = acl('path "secret/metadata/app" { capabilities = ["list", "read"] }', 'path "secret/data/+/cfg" { capabilities = ["read"] }');
  const cases: Case[] = [
    ['secret/metadata/app/', 'list', true],
    ['secret/metadata/app/', 'read', false],
    ['secret/metadata/app/', 'list', true],
    ['secret/data/x/cfg', 'read', true],
    ['secret/data/x/cfg', 'update', false],
  ];
  check(a, cases);
  check(a, cases);
  // Fill the memo past its bound with distinct paths; every answer stays the same.
  for (let i = 0; i < 3000; i++) assert.equal(a.allows(`secret/data/k${i}/cfg`, 'read'), true);
  check(a, cases);
  const long = 'secret/data/' + 'x'.repeat(1000) + '/cfg';
  assert.equal(a.allows(long, 'read'), true);
  assert.equal(a.allows(long + '/more', 'read'), false);
});

test('isSudoProtected: paths outside sys/ and auth/ are never root-protected', () => {
  for (const p of ['secret/data/sys/seal', 'sysx/seal', 'auth', 'kv/auth/token/accessors', '']) {
    assert.equal(isSudoProtected(p, 'update'), false, p);
    assert.equal(isSudoProtected(p, 'list'), false, p);
  }
  assert.equal(isSudoProtected('/sys/seal', 'update'), true);
  assert.equal(isSudoProtected('auth/token/accessors/', 'list'), true);
});
