import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decryptEdgexShares,
  encryptEdgexShares,
  parseEdgexDocument,
  serializeEdgexDocument,
} from '../../src/vmk/envelope-edgex.js';
import { parseJsonObject } from '../../src/vmk/json-fields.js';
import { loadGolden } from './vectors.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const parse = (text: string) => parseEdgexDocument(parseJsonObject(Buffer.from(text), 'resp-init.json', 'KEYFILE_MALFORMED'), 'resp-init.json');

test('golden EdgeX files from the independent Python implementation decrypt, v3 "vault<i>" included', () => {
  const { edgex } = loadGolden();
  assert.ok(edgex.some((c) => c.label === 'vault'), 'a v3 file is among the vectors');
  for (const c of edgex) {
    const doc = parse(c.key_file);
    const opened = decryptEdgexShares(hex(c.ikm), [hex(c.salt)], doc, 'resp-init.json');
    assert.equal(opened.label, c.label, c.name);
    assert.deepEqual(opened.shares.map((s) => s.toString('hex')), c.shares, c.name);
    assert.equal(doc.rootToken?.toString('utf8') ?? null, c.root_token, c.name);
  }
});

test('our serialization of a golden document is byte-identical to EdgeX\'s (compact JSON + newline)', () => {
  const { edgex } = loadGolden();
  for (const c of edgex.filter((x) => x.root_token === null)) {
    assert.equal(serializeEdgexDocument(parse(c.key_file)).toString('utf8'), c.key_file, c.name);
  }
});

test('round trip for any share set (1..8 shares of 16..33 bytes), either label', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 16, max: 33 }).chain((len) =>
        fc.uniqueArray(fc.uint8Array({ minLength: len, maxLength: len }), {
          minLength: 1,
          maxLength: 8,
          selector: (a) => Buffer.from(a).toString('hex'),
        }),
      ),
      fc.uint8Array({ minLength: 32, maxLength: 64 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constantFrom('secretstore' as const, 'vault' as const),
      (raw, ikm, salt, label) => {
        const shares = raw.map((s) => Buffer.from(s));
        const bytes = serializeEdgexDocument(encryptEdgexShares(Buffer.from(ikm), Buffer.from(salt), shares, label));
        const opened = decryptEdgexShares(Buffer.from(ikm), [Buffer.from(salt)], parse(bytes.toString('utf8')), 'f');
        assert.equal(opened.label, label);
        assert.deepEqual(opened.shares, shares);
      },
    ),
    { numRuns: 60 },
  );
});

test('a wrong IKM is KEYFILE_WRONG_IKM; a damaged later share is KEYFILE_TAMPERED', () => {
  const { edgex } = loadGolden();
  const c = edgex[0];
  assert.ok(c !== undefined);
  const doc = parse(c.key_file);
  const wrong = Buffer.alloc(32, 7);
  assert.throws(() => decryptEdgexShares(wrong, [hex(c.salt)], doc, 'resp-init.json'), {
    code: 'KEYFILE_WRONG_IKM',
    message: /the IKM does not decrypt resp-init.json: the hook returned a different key .* nothing was changed/,
  });
  const second = doc.encryptedKeys[1];
  assert.ok(second !== undefined);
  second[0] = (second[0] ?? 0) ^ 1;
  assert.throws(() => decryptEdgexShares(hex(c.ikm), [hex(c.salt)], doc, 'resp-init.json'), {
    code: 'KEYFILE_TAMPERED',
    message: /key share 1 fails authentication although share 0 decrypts/,
  });
});

test('the second salt is tried (pending salt replacement) and reported', () => {
  const ikm = Buffer.alloc(32, 1);
  const salt = Buffer.alloc(32, 2);
  const doc = encryptEdgexShares(ikm, salt, [Buffer.alloc(33, 3), Buffer.alloc(33, 4)]);
  assert.equal(decryptEdgexShares(ikm, [Buffer.alloc(32, 9), salt], doc, 'f').saltIndex, 1);
});

const bad: [string, string, string, RegExp][] = [
  ['fewer nonces than keys (EdgeX defect 4)', '{"encrypted_keys":["%CT%","%CT%"],"nonces":["%N%"]}', 'KEYFILE_MALFORMED', /has 2 encrypted keys but 1 nonces/],
  ['a short nonce', '{"encrypted_keys":["%CT%"],"nonces":["00"]}', 'KEYFILE_MALFORMED', /nonce 0 must be 24 hex digits/],
  ['a non-hex nonce', '{"encrypted_keys":["%CT%"],"nonces":["zz0000000000000000000000"]}', 'KEYFILE_MALFORMED', /nonce 0 must be 24 hex digits/],
  ['a too short ciphertext', '{"encrypted_keys":["00"],"nonces":["%N%"]}', 'KEYFILE_MALFORMED', /encrypted key 0 must be 64..98 hex digits/],
  ['an odd-length ciphertext', '{"encrypted_keys":["%CT%0"],"nonces":["%N%"]}', 'KEYFILE_MALFORMED', /encrypted key 0 must be/],
  ['ciphertexts of different lengths', '{"encrypted_keys":["%CT%","%CT2%"],"nonces":["%N%","%N%"]}', 'KEYFILE_MALFORMED', /differ in length/],
  ['no shares', '{"encrypted_keys":[],"nonces":[]}', 'KEYFILE_MALFORMED', /holds no encrypted key shares/],
  ['a number where a string belongs', '{"encrypted_keys":[1],"nonces":["%N%"]}', 'KEYFILE_MALFORMED', /must hold only strings/],
  ['nonces not an array', '{"encrypted_keys":["%CT%"],"nonces":"%N%"}', 'KEYFILE_MALFORMED', /"nonces" must be an array/],
  ['a root token that is not a string', '{"encrypted_keys":["%CT%"],"nonces":["%N%"],"root_token":5}', 'KEYFILE_MALFORMED', /"root_token" must be a string/],
  ['plaintext keys next to encrypted ones', '{"keys":["aa"],"encrypted_keys":["%CT%"],"nonces":["%N%"]}', 'KEYFILE_MALFORMED', /both encrypted and plaintext/],
  ['an unknown field', '{"encrypted_keys":["%CT%"],"nonces":["%N%"],"extra":1}', 'KEYFILE_UNSUPPORTED', /unexpected field "extra"/],
];
for (const [what, template, code, message] of bad) {
  test(`validation: ${what}`, () => {
    const text = template.replaceAll('%CT2%', 'ab'.repeat(48)).replaceAll('%CT%', 'ab'.repeat(49)).replaceAll('%N%', '00'.repeat(12));
    assert.throws(() => parse(text), { code, message });
  });
}

test('256 shares are refused before any work', () => {
  const text = JSON.stringify({ encrypted_keys: Array(256).fill('ab'.repeat(49)), nonces: Array(256).fill('00'.repeat(12)) });
  assert.throws(() => parse(text), { code: 'KEYFILE_MALFORMED', message: /more than 255/ });
});

test('writing a root token in the edgex format is refused (EdgeX defect 7)', () => {
  const doc = encryptEdgexShares(Buffer.alloc(32, 1), Buffer.alloc(32, 2), [Buffer.alloc(33, 3)]);
  assert.throws(() => serializeEdgexDocument({ ...doc, rootToken: Buffer.from('s.x') }), { code: 'KEYFILE_UNSUPPORTED' });
});
