import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBase64Strict } from '../../src/keyfile/plaintext.js';

test('decodeBase64Strict accepts exactly the canonical padded base64 of some bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (bytes) => {
      const text = Buffer.from(bytes).toString('base64');
      assert.deepEqual(decodeBase64Strict(text), Buffer.from(bytes));
    }),
    { numRuns: 300 },
  );
  // Any text: accepted exactly when re-encoding the decoded bytes gives the text back (the old, string-making check).
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9+/=]{0,12}$/), (text) => {
      const got = decodeBase64Strict(text);
      const reference = text.length > 0 && text.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, 'base64').toString('base64') === text;
      assert.equal(got !== undefined, reference, JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
  for (const bad of ['', 'QQ', 'QQ=', 'QR==', 'QUI=A', 'QUJ=', '====', 'QUJD====', 'Q===', 'QU I=', 'QUI-']) {
    assert.equal(decodeBase64Strict(bad), undefined, bad);
  }
  assert.deepEqual(decodeBase64Strict('QQ=='), Buffer.from('A'));
});
