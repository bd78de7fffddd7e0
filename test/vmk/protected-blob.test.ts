import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isProtectedBlob, protectBlob, unprotectBlob } from '../../src/vmk/protected-blob.js';
import { isSecretStoreError } from '../../src/errors.js';

const ikm = Buffer.alloc(32, 0x42);

test('round trip for any plaintext', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom('tls-key', 'store/tls-key', 'a'), (data, purpose) => {
      const doc = protectBlob(ikm, purpose, Buffer.from(data));
      assert.ok(isProtectedBlob(doc));
      assert.deepEqual(unprotectBlob(ikm, purpose, doc), Buffer.from(data));
    }),
    { numRuns: 60 },
  );
});

test('the purpose is bound: another purpose is refused', () => {
  const doc = protectBlob(ikm, 'tls-key', Buffer.from('-----BEGIN PRIVATE KEY-----'));
  assert.throws(() => unprotectBlob(ikm, 'other', doc), { code: 'PROTECTED_FILE_MALFORMED', message: /another purpose; use the file made for other/ });
  const relabeled = Buffer.from(doc.toString('utf8').replace('"purpose":"tls-key"', '"purpose":"tls-kez"'));
  assert.throws(() => unprotectBlob(ikm, 'tls-kez', relabeled), (err: unknown) => isSecretStoreError(err) && ['KEYFILE_WRONG_IKM', 'KEYFILE_TAMPERED'].includes(err.code));
});

test('wrong IKM vs tampered vs malformed', () => {
  const doc = protectBlob(ikm, 'tls-key', Buffer.from('secret'));
  assert.throws(() => unprotectBlob(Buffer.alloc(32, 1), 'tls-key', doc), { code: 'KEYFILE_WRONG_IKM' });
  const obj = JSON.parse(doc.toString('utf8')) as { ciphertext: string };
  const flipped = (obj.ciphertext.startsWith('0') ? '1' : '0') + obj.ciphertext.slice(1);
  const tampered = Buffer.from(doc.toString('utf8').replace(obj.ciphertext, flipped));
  assert.throws(() => unprotectBlob(ikm, 'tls-key', tampered), { code: 'KEYFILE_TAMPERED' });
  assert.throws(() => unprotectBlob(ikm, 'tls-key', Buffer.from('not json')), { code: 'PROTECTED_FILE_MALFORMED', message: /not valid JSON/ });
  assert.throws(() => unprotectBlob(ikm, 'tls-key', Buffer.from('{"format":"x"}')), { code: 'PROTECTED_FILE_MALFORMED' });
  assert.equal(isProtectedBlob(Buffer.from('{"keys":[]}')), false);
  assert.equal(isProtectedBlob(Buffer.from('-----BEGIN')), false);
});

test('every byte flip is a clean error', () => {
  const doc = protectBlob(ikm, 'tls-key', Buffer.from('k'));
  for (let i = 0; i < doc.length; i++) {
    const copy = Buffer.from(doc);
    copy[i] = (copy[i] ?? 0) ^ 0x01;
    assert.throws(() => unprotectBlob(ikm, 'tls-key', copy), (err: unknown) => isSecretStoreError(err), `byte ${i}`);
  }
});

test('bad purposes are refused', () => {
  assert.throws(() => protectBlob(ikm, '', Buffer.alloc(1)), { code: 'USAGE' });
  assert.throws(() => protectBlob(ikm, 'Upper', Buffer.alloc(1)), { code: 'USAGE' });
  assert.throws(() => protectBlob(ikm, 'x'.repeat(65), Buffer.alloc(1)), { code: 'USAGE' });
});
