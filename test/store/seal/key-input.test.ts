import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeKey, keyLengthProblem } from '../../../src/store/seal/key-input.js';
import { base64Bytes, fromBase64Bytes } from '../../../src/store/seal/stored-keys.js';
import { field } from '../../../src/store/seal/request-fields.js';
import { StoreApiError } from '../../../src/store/api-error.js';

test('hex first, base64 when hex fails or its length is outside 16..33 (Vault)', () => {
  const k33 = Buffer.alloc(33, 0xab);
  assert.deepEqual(decodeKey(k33.toString('hex')), k33);
  assert.deepEqual(decodeKey(k33.toString('hex').toUpperCase()), k33);
  assert.deepEqual(decodeKey(k33.toString('base64')), k33);
  // 24 hex digits = 12 bytes (too short as hex) but valid base64 of 18 bytes: base64 wins, as in Vault.
  assert.equal(decodeKey('abcd'.repeat(6)).length, 18);
  assert.deepEqual(decodeKey('AAEC\r\nAwQF'), Buffer.from([0, 1, 2, 3, 4, 5]));
  for (const bad of ['ThisKeyIsNeitherB64NorHex', 'abc', '====', 'AAE=AAE=', 'ab cd']) {
    assert.throws(() => decodeKey(bad), (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.message === "'key' must be a valid hex or base64 string", bad);
  }
  assert.equal(keyLengthProblem(Buffer.alloc(15), 'invalid key: '), 'invalid key: key is shorter than minimum 16 bytes');
  assert.equal(keyLengthProblem(Buffer.alloc(34), ''), 'key is longer than maximum 33 bytes');
  assert.equal(keyLengthProblem(Buffer.alloc(16), ''), undefined);
  assert.equal(keyLengthProblem(Buffer.alloc(33), ''), undefined);
});

test('property: any 16..33-byte key round-trips through hex and base64', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 33 }), (b) => {
      const key = Buffer.from(b);
      assert.deepEqual(decodeKey(key.toString('hex')), key);
      assert.deepEqual(decodeKey(key.toString('base64')), key);
    }),
  );
});

test('property: the string-free base64 codec matches Node and rejects what Node would mangle', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 70 }), (b) => {
      const enc = base64Bytes(b);
      assert.equal(enc.toString('ascii'), Buffer.from(b).toString('base64'));
      assert.deepEqual(fromBase64Bytes(enc), Buffer.from(b));
    }),
  );
  assert.equal(fromBase64Bytes(Buffer.from('AB$=')), undefined);
  assert.equal(fromBase64Bytes(Buffer.from('ABC')), undefined);
  assert.equal(fromBase64Bytes(Buffer.from('A=BC')), undefined);
});

test('field names match case-insensitively, last one wins', () => {
  assert.equal(field({ KEY: 'a', key: 'b' }, 'key'), 'b');
  assert.equal(field({ Reset: true }, 'reset'), true);
  assert.equal(field({}, 'key'), undefined);
});
