/** Credential text: one quoting valid as a JSON string and as a YAML double-quoted scalar, for any text. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSecretStoreError } from '../../../src/errors.js';
import { copyCredential, credentialJson, quotedBytes, sameCredential, wipeCredential } from '../../../src/edgex/known-secrets/credential.js';

const YAML = await import('yaml');

test('property: quotedBytes round-trips any text through JSON.parse and a YAML parser', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (raw) => {
      const text = Buffer.from(raw, 'utf8').toString('utf8'); // lone surrogates become U+FFFD, as on the wire
      const quoted = quotedBytes(Buffer.from(text, 'utf8'));
      assert.equal(JSON.parse(quoted.toString('utf8')), text);
      const doc = YAML.parse(`a:\n  Password: ${quoted.toString('utf8')}\n`) as { a: { Password: unknown } };
      assert.equal(doc.a.Password, text);
      // nothing a YAML reader could take for a line break or an unprintable character stays raw
      for (const ch of quoted.toString('utf8')) {
        const c = ch.codePointAt(0) ?? 0;
        assert.ok(!(c < 0x20 || (c >= 0x7f && c <= 0x9f) || [0x2028, 0x2029, 0xfeff, 0xfffe, 0xffff].includes(c)), `raw U+${c.toString(16)}`);
      }
    }),
    { numRuns: 1000 },
  );
});

test('quotedBytes escapes what must be escaped and copies the rest', () => {
  assert.equal(quotedBytes(Buffer.from('a"b\\c\nd\u0085e\u2028f\u00e9\u{1f600}')).toString(), '"a\\"b\\\\c\\u000ad\\u0085e\\u2028f\u00e9\u{1f600}"');
  assert.throws(() => quotedBytes(Buffer.from([0xff])), (err: unknown) => isSecretStoreError(err, 'INTERNAL'));
});

test('credentialJson is the KV body; sameCredential compares both fields; copies are independent; wipe zeroes', () => {
  const c = { username: 'default', password: Buffer.from('s3cr"et') };
  assert.deepEqual(JSON.parse(credentialJson(c).toString()), { username: 'default', password: 's3cr"et' });
  const d = copyCredential(c);
  assert.ok(sameCredential(c, d));
  assert.ok(!sameCredential(c, { ...d, username: 'other' }));
  assert.ok(!sameCredential(c, { username: 'default', password: Buffer.from('other') }));
  wipeCredential(d);
  assert.ok(d.password.every((b) => b === 0));
  assert.equal(c.password.toString(), 's3cr"et');
  wipeCredential(undefined);
});
