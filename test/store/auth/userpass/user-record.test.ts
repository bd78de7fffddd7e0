import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreApiError } from '../../../../src/store/api-error.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';
import { defaultTokenParams } from '../../../../src/store/auth/token-params.js';
import { decodeUser, encodeUser, isValidUsername, normalizeUsername } from '../../../../src/store/auth/userpass/user-record.js';
import { admin, login, makeBackend } from './fixtures.js';

const nameChar = fc.constantFrom(...Array.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'));
const validName = fc.array(nameChar, { minLength: 1, maxLength: 40 }).map((cs) => cs.join(''));

test('property: a name is accepted exactly when it matches ^[-a-zA-Z0-9_]+$, and is stored lower-cased', () => {
  fc.assert(
    fc.property(fc.oneof(validName, fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 10 })), (name) => {
      const ok = /^[-a-zA-Z0-9_]+$/.test(name);
      assert.equal(isValidUsername(name), ok);
      if (ok) {
        assert.equal(normalizeUsername(name), name.toLowerCase());
      } else {
        assert.throws(
          () => normalizeUsername(name),
          (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.message === 'username must match ^[-a-zA-Z0-9_]+$',
        );
      }
    }),
  );
});

test('property: any valid name can be created, read in any case, and logged in with', async () => {
  const b = makeBackend(new MemoryStorage());
  await fc.assert(
    fc.asyncProperty(validName, fc.string({ minLength: 1, maxLength: 30 }), async (name, password) => {
      await admin(b, 'update', `users/${name}`, { password });
      assert.ok((await admin(b, 'read', `users/${name.toUpperCase()}`)).data !== undefined);
      assert.equal((await login(b, name.toUpperCase(), password)).login?.aliasName, name.toLowerCase());
    }),
    { numRuns: 40 },
  );
});

test('records round-trip; foreign or damaged fields fall back to defaults', () => {
  const token = { ...defaultTokenParams(), token_policies: ['a'], token_ttl: 60, token_bound_cidrs: ['10.0.0.1'] };
  const password = { alg: 'scrypt' as const, N: 16, r: 1, p: 1, salt_b64: Buffer.alloc(16, 1).toString('base64'), hash_b64: Buffer.alloc(32, 2).toString('base64') };
  assert.deepEqual(decodeUser(encodeUser({ token, legacy: ['ttl'], password })), { token, legacy: ['ttl'], password });
  assert.deepEqual(decodeUser(encodeUser({ token, legacy: [] })), { token, legacy: [] });
  const damaged = Buffer.from(JSON.stringify({ token_params: { token_ttl: -5, token_policies: [1, 'b'], token_type: 7 }, legacy_fields: ['ttl', 'bogus'] }));
  assert.deepEqual(decodeUser(damaged), { token: { ...defaultTokenParams(), token_policies: ['b'] }, legacy: ['ttl'] });
  assert.deepEqual(decodeUser(Buffer.from('null')), { token: defaultTokenParams(), legacy: [] });
  assert.throws(() => decodeUser(Buffer.from('{')), SyntaxError);
});
