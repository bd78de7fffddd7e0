import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Keyring, KeyringFormatError } from '../../src/store/keyring.js';
import { randomBytes } from '../../src/crypto.js';

test('encode/decode round-trip with several terms; wipe zeroes every key', () => {
  const root = randomBytes(32);
  const kr = Keyring.create(root, 1000);
  kr.rotate(2000);
  kr.rotate(3000);
  const bytes = kr.encode();
  const back = Keyring.decode(bytes);
  assert.equal(back.size, 3);
  assert.equal(back.activeTerm.term, 3);
  assert.deepEqual(back.rootKey, root);
  assert.deepEqual(back.term(2)?.key, kr.term(2)?.key);
  assert.equal(back.term(2)?.installTime, 2000);
  const keys = [back.rootKey, back.term(1)?.key, back.term(3)?.key];
  back.wipe();
  for (const k of keys) assert.deepEqual(k, Buffer.alloc(32));
  assert.throws(() => back.activeTerm, KeyringFormatError);
});

test('decode rejects every truncation and bad headers', () => {
  const bytes = Keyring.create(randomBytes(32)).encode();
  for (let n = 0; n < bytes.length; n++) assert.throws(() => Keyring.decode(bytes.subarray(0, n)), KeyringFormatError, `length ${n}`);
  assert.throws(() => Keyring.decode(Buffer.concat([bytes, Buffer.alloc(1)])), KeyringFormatError);
  const badVersion = Buffer.from(bytes);
  badVersion[4] = 9;
  assert.throws(() => Keyring.decode(badVersion), KeyringFormatError);
});

test('property: decode never throws anything but KeyringFormatError on random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      try {
        Keyring.decode(Buffer.concat([Buffer.from('SSKR\x01'), Buffer.from(b)]));
      } catch (e) {
        assert.ok(e instanceof KeyringFormatError);
      }
    }),
  );
});
