import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type V2Contents, V2_KEY_CHECK_INFO, decryptV2, encryptV2, parseV2, v2KeyCheckValue } from '../../src/vmk/envelope-v2.js';
import { keyCheckValue } from '../../src/vmk/aead-box.js';
import { parseJsonObject } from '../../src/vmk/json-fields.js';
import { isSecretStoreError } from '../../src/errors.js';
import { loadGolden } from './vectors.js';

const where = 'resp-init.json';
function open(ikm: Buffer, bytes: Buffer): V2Contents {
  return decryptV2(ikm, parseV2(bytes, parseJsonObject(bytes, where, 'KEYFILE_MALFORMED'), where), where);
}

const ikm = Buffer.alloc(32, 0x5a);
const shareSets = fc.integer({ min: 16, max: 33 }).chain((len) =>
  fc.uniqueArray(fc.uint8Array({ minLength: len, maxLength: len }), { minLength: 1, maxLength: 10, selector: (a) => Buffer.from(a).toString('hex') }),
);

test('round trip for any share set, threshold and root token', () => {
  fc.assert(
    fc.property(
      shareSets,
      fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
      fc.option(fc.stringMatching(/^[!-~]{1,120}$/), { nil: undefined }),
      fc.uint8Array({ minLength: 16, maxLength: 64 }),
      (raw, t, token, key) => {
        const shares = raw.map((s) => Buffer.from(s));
        const contents: V2Contents = { shares };
        if (t !== undefined && t <= shares.length) contents.threshold = t;
        if (token !== undefined) contents.rootToken = Buffer.from(token);
        const bytes = encryptV2(Buffer.from(key), contents);
        const back = open(Buffer.from(key), bytes);
        assert.deepEqual(back.shares, shares);
        assert.equal(back.threshold, contents.threshold);
        assert.deepEqual(back.rootToken, contents.rootToken);
      },
    ),
    { numRuns: 80 },
  );
});

test('v2 files written by the independent Python implementation (from the docs) decrypt', () => {
  const { v2 } = loadGolden();
  assert.equal(v2.length, 2);
  for (const c of v2) {
    const back = open(Buffer.from(c.ikm, 'hex'), Buffer.from(c.key_file));
    assert.deepEqual(back.shares.map((s) => s.toString('hex')), c.shares, c.name);
    assert.equal(back.threshold ?? null, c.threshold, c.name);
    assert.equal(back.rootToken?.toString() ?? null, c.root_token, c.name);
  }
});

test('the document is self-describing and carries no secret in the clear', () => {
  const share = Buffer.alloc(33, 0x11);
  const bytes = encryptV2(ikm, { shares: [share, Buffer.alloc(33, 0x22)], threshold: 2, rootToken: Buffer.from('hvs.ROOT') });
  const text = bytes.toString('utf8');
  assert.match(text, /^\{"format":"secretstore-setup\/keyfile","version":2,"kdf":"hkdf-sha256","cipher":"aes-256-gcm","salt":"[0-9a-f]{64}","key_check":"[0-9a-f]{64}","share_count":2,"share_length":33,"threshold":2,"shares":\[/);
  assert.ok(text.endsWith('}\n'));
  assert.ok(!text.includes(share.toString('hex')) && !text.includes('hvs.ROOT'));
});

test('a wrong IKM is told apart from tampering', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(33, 1), Buffer.alloc(33, 2)] });
  assert.throws(() => open(Buffer.alloc(32, 0x5b), bytes), {
    code: 'KEYFILE_WRONG_IKM',
    message: /the IKM does not decrypt resp-init.json: the hook returned a different key than the one that encrypted it \(changed TPM state or PCRs\?\); nothing was changed/,
  });
});

test('swapping two share boxes is detected (AAD binds the index)', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(33, 1), Buffer.alloc(33, 2)] });
  const obj = JSON.parse(bytes.toString('utf8')) as { shares: unknown[] };
  obj.shares.reverse();
  const swapped = Buffer.from(JSON.stringify(obj) + '\n');
  assert.throws(() => open(ikm, swapped), { code: 'KEYFILE_TAMPERED', message: /key share 0 fails authentication although the IKM is right/ });
});

test('changing the threshold is detected (AAD binds it)', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(33, 1), Buffer.alloc(33, 2), Buffer.alloc(33, 3)], threshold: 2 });
  const changed = Buffer.from(bytes.toString('utf8').replace('"threshold":2', '"threshold":3'));
  assert.throws(() => open(ikm, changed), { code: 'KEYFILE_TAMPERED' });
});

test('every single-bit flip of every byte of a small v2 file gives a clean error, never acceptance', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(16, 1), Buffer.alloc(16, 2)], threshold: 2, rootToken: Buffer.from('s.t') });
  const codes = new Map<string, number>();
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const copy = Buffer.from(bytes);
      copy[i] = (copy[i] ?? 0) ^ (1 << bit);
      let error: unknown;
      try {
        open(ikm, copy);
      } catch (err) {
        error = err;
      }
      assert.ok(error !== undefined, `a flip of bit ${bit} of byte ${i} was accepted`);
      assert.ok(isSecretStoreError(error), `byte ${i} bit ${bit}: not a domain error: ${error instanceof Error ? error.name : typeof error}`);
      codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
    }
  }
  for (const code of codes.keys()) assert.ok(['KEYFILE_MALFORMED', 'KEYFILE_UNSUPPORTED', 'KEYFILE_TAMPERED'].includes(code), code);
  // With the right IKM, no single-bit change — of the salt and the key check included — reads as a wrong IKM.
  assert.equal(codes.get('KEYFILE_WRONG_IKM'), undefined, 'a flip read as a wrong IKM');
  assert.ok((codes.get('KEYFILE_TAMPERED') ?? 0) > 0);
});

/** Replaces hex digit `n` (0-based) of the string field `field` of a v2 file with another hex digit. */
function changeDigit(bytes: Buffer, field: 'salt' | 'key_check', n: number): Buffer {
  const text = bytes.toString('utf8');
  const at = text.indexOf(`"${field}":"`) + field.length + 4 + n;
  const digit = text[at] === '0' ? '1' : '0';
  return Buffer.from(text.slice(0, at) + digit + text.slice(at + 1));
}

test('an altered key_check is tampering, not a wrong IKM (the shares still open under the IKM)', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(33, 1), Buffer.alloc(33, 2)], threshold: 2 });
  for (const n of [0, 17, 63]) {
    assert.throws(() => open(ikm, changeDigit(bytes, 'key_check', n)), {
      code: 'KEYFILE_TAMPERED',
      message: /resp-init.json: its "key_check" field was changed: the file was altered or damaged, the IKM is right \(the key shares open under it\); restore the file from a backup, nothing was changed/,
    });
  }
  // A wrong IKM on the same altered file is still a wrong IKM.
  assert.throws(() => open(Buffer.alloc(32, 0x5b), changeDigit(bytes, 'key_check', 0)), { code: 'KEYFILE_WRONG_IKM' });
});

test('a salt altered in one hex digit (any single-bit error) is tampering, and says which digit', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(33, 1), Buffer.alloc(33, 2)], threshold: 2, rootToken: Buffer.from('hvs.ROOT') });
  for (const n of [0, 1, 30, 63]) {
    assert.throws(() => open(ikm, changeDigit(bytes, 'salt', n)), {
      code: 'KEYFILE_TAMPERED',
      message: new RegExp(`hex digit ${n + 1} of its "salt" field was changed: the file was altered or damaged, the IKM is right`),
    });
  }
  // Salt AND key check altered in one digit each: share 0 does not open and no salt neighbour reproduces the
  // altered key check — this combination cannot be told from a wrong IKM (the message says an altered salt looks so).
  assert.throws(() => open(ikm, changeDigit(changeDigit(bytes, 'salt', 5), 'key_check', 5)), { code: 'KEYFILE_WRONG_IKM', message: /"salt" field may have been replaced/ });
});

test('a salt replaced wholesale cannot be told from a wrong IKM: KEYFILE_WRONG_IKM, and the message names both causes', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(33, 1)] });
  const text = bytes.toString('utf8');
  const replaced = Buffer.from(text.replace(/"salt":"[0-9a-f]{64}"/, `"salt":"${'ab'.repeat(32)}"`));
  assert.throws(() => open(ikm, replaced), {
    code: 'KEYFILE_WRONG_IKM',
    message: /the hook returned a different key than the one that encrypted it \(changed TPM state or PCRs\?\); nothing was changed \(if the hook and the platform state are unchanged, the file's "salt" field may have been replaced/,
  });
});

test('the salt search computes exactly the key check HKDF computes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 128 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (k, salt) => {
      assert.deepEqual(v2KeyCheckValue(Buffer.from(k), Buffer.from(salt)), keyCheckValue(Buffer.from(k), Buffer.from(salt), V2_KEY_CHECK_INFO));
    }),
    { numRuns: 50 },
  );
});

test('any byte replaced by any value, and any truncation, is refused', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(16, 1)] });
  fc.assert(
    fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const copy = Buffer.from(bytes);
      copy[i] = (copy[i] ?? 0) ^ x;
      assert.throws(() => open(ikm, copy), (err: unknown) => isSecretStoreError(err));
    }),
    { numRuns: 500 },
  );
  for (let n = 0; n < bytes.length; n++) assert.throws(() => open(ikm, bytes.subarray(0, n)), (err: unknown) => isSecretStoreError(err));
});

test('pretty-printed or re-ordered documents are refused as non-canonical', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(16, 1)] });
  const pretty = Buffer.from(JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2) + '\n');
  assert.throws(() => open(ikm, pretty), { code: 'KEYFILE_MALFORMED', message: /not in canonical form/ });
});

test('a future version is KEYFILE_UNSUPPORTED', () => {
  const bytes = encryptV2(ikm, { shares: [Buffer.alloc(16, 1)] });
  const v3 = Buffer.from(bytes.toString('utf8').replace('"version":2', '"version":3'));
  assert.throws(() => open(ikm, v3), { code: 'KEYFILE_UNSUPPORTED', message: /version 3; this release reads version 2/ });
});

test('input checks on encryption: duplicates, lengths, counts, threshold', () => {
  const s = Buffer.alloc(33, 1);
  assert.throws(() => encryptV2(ikm, { shares: [s, Buffer.from(s)] }), { message: /are identical/ });
  assert.throws(() => encryptV2(ikm, { shares: [Buffer.alloc(15, 1)] }), { message: /not 16..33/ });
  assert.throws(() => encryptV2(ikm, { shares: [Buffer.alloc(34, 1)] }), { message: /not 16..33/ });
  assert.throws(() => encryptV2(ikm, { shares: [s, Buffer.alloc(32, 2)] }), { message: /differ in length/ });
  assert.throws(() => encryptV2(ikm, { shares: [] }), { message: /no key shares/ });
  assert.throws(() => encryptV2(ikm, { shares: [s], threshold: 2 }), { message: /threshold must be between 1 and the share count 1/ });
  assert.throws(() => encryptV2(ikm, { shares: [s], rootToken: Buffer.from('has space') }), { message: /non-printable/ });
});
