import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeHexBytes, decodeHexString, hexProblem } from '../../src/vmk/hex.js';

test('decodeHexBytes agrees with Buffer.from(hex) for any bytes, in either case', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.boolean(), (bytes, upper) => {
      const text = Buffer.from(bytes).toString('hex');
      const digits = Buffer.from(upper ? text.toUpperCase() : text, 'ascii');
      const out = decodeHexBytes(digits);
      assert.ok(out !== undefined);
      assert.deepEqual([...out], [...bytes]);
    }),
  );
});

test('decodeHexBytes refuses anything that is not an even run of hex digits', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (raw) => {
      const buf = Buffer.from(raw);
      const valid = buf.length > 0 && buf.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(buf.toString('latin1'));
      const out = decodeHexBytes(buf);
      assert.equal(out !== undefined, valid && hexProblem(buf) === undefined);
      if (out !== undefined) assert.deepEqual(out, Buffer.from(buf.toString('latin1'), 'hex'));
    }),
  );
});

test('hexProblem names each kind of bad output', () => {
  const p = (s: string): string | undefined => hexProblem(Buffer.from(s, 'latin1'));
  assert.equal(p(''), 'empty');
  assert.equal(p('abc'), 'odd-length');
  assert.equal(p('abzz'), 'not-hex');
  assert.equal(p('ab\r'), 'cr');
  assert.equal(p('ab cd'), 'whitespace');
  assert.equal(p('ab\ncd'), 'whitespace');
  assert.equal(p('0xabcd'), 'prefix-0x');
  assert.equal(p('0Xabcd'), 'prefix-0x');
  assert.equal(p('abcd'), undefined);
});

test('decodeHexString: strict lengths, optional lowercase-only', () => {
  assert.deepEqual(decodeHexString('0aFf'), Buffer.from([0x0a, 0xff]));
  assert.equal(decodeHexString('0aFf', true), undefined);
  assert.equal(decodeHexString('0a f'), undefined);
  assert.equal(decodeHexString('abc'), undefined);
  assert.equal(decodeHexString(''), undefined);
});
