import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scrypt, type ScryptParams } from '../../../../src/crypto.js';
import {
  DEFAULT_SCRYPT_PARAMS,
  HASH_LENGTH,
  MAX_CONCURRENT_HASHES,
  PasswordHasher,
  SALT_LENGTH,
  parsePasswordHashRecord,
  validScryptParams,
  type Kdf,
} from '../../../../src/store/auth/userpass/password-hash.js';

const CHEAP: ScryptParams = { N: 16, r: 1, p: 1 };

/** A KDF that records the parameters of every call and runs the real scrypt. */
function countingKdf(): { kdf: Kdf; calls: ScryptParams[] } {
  const calls: ScryptParams[] = [];
  return {
    calls,
    kdf: (password, salt, length, params) => {
      calls.push({ ...params });
      return scrypt(password, salt, length, params);
    },
  };
}

test('the default cost is N=2^15, r=8, p=1, and it hashes and verifies', async () => {
  assert.deepEqual({ ...DEFAULT_SCRYPT_PARAMS }, { N: 32768, r: 8, p: 1 });
  const h = new PasswordHasher();
  assert.deepEqual({ ...h.params }, { N: 32768, r: 8, p: 1 });
  const record = await h.hash(Buffer.from('edgex-secret'));
  assert.equal(record.N, 32768);
  assert.equal(await h.verify(Buffer.from('edgex-secret'), record), true);
});

test('a record holds the algorithm, its parameters, a 16-byte salt and a 32-byte hash — not the password', async () => {
  const h = new PasswordHasher({ params: CHEAP });
  const password = Buffer.from('correct horse battery staple');
  const record = await h.hash(password);
  assert.deepEqual(Object.keys(record).sort(), ['N', 'alg', 'hash_b64', 'p', 'r', 'salt_b64']);
  assert.equal(record.alg, 'scrypt');
  assert.deepEqual([record.N, record.r, record.p], [16, 1, 1]);
  assert.equal(Buffer.from(record.salt_b64, 'base64').length, SALT_LENGTH);
  assert.equal(Buffer.from(record.hash_b64, 'base64').length, HASH_LENGTH);
  assert.ok(!JSON.stringify(record).includes('horse'));
  // The caller's buffer is left for the caller to wipe.
  assert.equal(password.toString(), 'correct horse battery staple');
  // Fresh salt every time.
  assert.notEqual((await h.hash(password)).salt_b64, record.salt_b64);
});

test('verify: right and wrong passwords', async () => {
  const h = new PasswordHasher({ params: CHEAP });
  const record = await h.hash(Buffer.from('pw-1'));
  assert.equal(await h.verify(Buffer.from('pw-1'), record), true);
  assert.equal(await h.verify(Buffer.from('pw-2'), record), false);
  assert.equal(await h.verify(Buffer.from(''), record), false);
});

test('with no record the dummy hash is computed with the current parameters, and never matches', async () => {
  const { kdf, calls } = countingKdf();
  const h = new PasswordHasher({ params: CHEAP, kdf });
  assert.equal(await h.verify(Buffer.from('anything'), undefined), false);
  assert.deepEqual(calls, [CHEAP]);
});

test('old parameters still verify and are flagged for re-hashing', async () => {
  const old = new PasswordHasher({ params: { N: 8, r: 1, p: 1 } });
  const record = await old.hash(Buffer.from('pw'));
  const { kdf, calls } = countingKdf();
  const current = new PasswordHasher({ params: CHEAP, kdf });
  assert.equal(await current.verify(Buffer.from('pw'), record), true);
  assert.deepEqual(calls, [{ N: 8, r: 1, p: 1 }]);
  assert.equal(current.needsRehash(record), true);
  assert.equal(current.needsRehash(await current.hash(Buffer.from('pw'))), false);
});

test('parsePasswordHashRecord accepts only well-formed records', async () => {
  const good = await new PasswordHasher({ params: CHEAP }).hash(Buffer.from('pw'));
  assert.deepEqual(parsePasswordHashRecord(JSON.parse(JSON.stringify(good))), good);
  for (const broken of [
    null,
    'x',
    { ...good, alg: 'bcrypt' },
    { ...good, N: 3 },
    { ...good, N: 2 ** 31 },
    { ...good, r: 0 },
    { ...good, p: '1' },
    { ...good, salt_b64: 'AAAA' },
    { ...good, hash_b64: Buffer.alloc(31).toString('base64') },
    { ...good, hash_b64: 5 },
  ]) {
    assert.equal(parsePasswordHashRecord(broken), undefined, JSON.stringify(broken));
  }
});

test('parameters are validated', () => {
  assert.equal(validScryptParams({ N: 2, r: 1, p: 1 }), true);
  assert.equal(validScryptParams({ N: 1, r: 1, p: 1 }), false);
  assert.equal(validScryptParams({ N: 1000, r: 1, p: 1 }), false);
  assert.equal(validScryptParams({ N: 2 ** 20, r: 8, p: 1 }), true);
  assert.equal(validScryptParams({ N: 2 ** 20, r: 16, p: 1 }), false, 'over 1 GiB');
  assert.equal(validScryptParams({ N: 16, r: 1.5, p: 1 }), false);
  assert.throws(() => new PasswordHasher({ params: { N: 15, r: 1, p: 1 } }), RangeError);
});

test('at most MAX_CONCURRENT_HASHES computations run at once; the rest wait in order', async () => {
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  let n = 0;
  const hasher = new PasswordHasher({
    kdf: async (_pw, _salt, length) => {
      const id = n++;
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      order.push(id);
      return Buffer.alloc(length);
    },
  });
  await Promise.all(Array.from({ length: 7 }, () => hasher.hash(Buffer.from('pw'))));
  assert.equal(peak, MAX_CONCURRENT_HASHES);
  assert.equal(order.length, 7);
});
