import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveKey } from '../../src/vmk/kdf.js';
import { aesGcmEncrypt } from '../../src/crypto.js';
import { loadVectors } from './vectors.js';

interface RfcFile {
  cases: { name: string; ikm: string; salt: string; info: string; length: number; okm: string }[];
}
interface EdgexFile {
  hkdf: { ikm: string; salt: string; info: string; okm: string }[];
  gcm: { key: string; nonce: string; plaintext: string; sealed: string }[];
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

test('RFC 5869 Appendix A SHA-256 cases 1-3', () => {
  const { cases } = loadVectors('hkdf-sha256-rfc5869.json') as RfcFile;
  assert.equal(cases.length, 3);
  for (const c of cases) {
    assert.equal(deriveKey(hex(c.ikm), hex(c.salt), hex(c.info), c.length).toString('hex'), c.okm, c.name);
  }
});

test('EdgeX KDF known answers (IKM = salt = 32 zero bytes)', () => {
  const { hkdf } = loadVectors('edgex-kdf.json') as EdgexFile;
  assert.equal(hkdf.length, 4);
  for (const v of hkdf) assert.equal(deriveKey(hex(v.ikm), hex(v.salt), v.info).toString('hex'), v.okm, v.info);
});

test('EdgeX AES-256-GCM known answer (key of secretstore0, zero nonce, no AAD)', () => {
  const { gcm } = loadVectors('edgex-kdf.json') as EdgexFile;
  for (const v of gcm) {
    const { ciphertext, tag } = aesGcmEncrypt(hex(v.key), hex(v.nonce), hex(v.plaintext));
    assert.equal(Buffer.concat([ciphertext, tag]).toString('hex'), v.sealed);
  }
});

test('deriveKey defaults to 32 bytes and refuses impossible lengths', () => {
  assert.equal(deriveKey(Buffer.alloc(32), Buffer.alloc(32), 'x').length, 32);
  assert.throws(() => deriveKey(Buffer.alloc(32), Buffer.alloc(32), 'x', 0), { code: 'INTERNAL' });
  assert.throws(() => deriveKey(Buffer.alloc(32), Buffer.alloc(32), 'x', 255 * 32 + 1), { code: 'INTERNAL' });
});
