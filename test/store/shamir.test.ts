import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { add, combine, div, inverse, mult, ShamirError, split } from '../../src/store/shamir.js';
import { sourceFile } from '../helpers/paths.js';

interface GoldenCase {
  name: string;
  secret_hex: string;
  parts: number;
  threshold: number;
  shares_hex: string[];
}
interface Golden {
  known_answers: { mult: number[][]; div: number[][]; add: number[][] };
  cases: GoldenCase[];
}
/** The source tree's test/vectors/<name> (found from the compiled test, any outDir depth). */
function vectorsFile(name: string): string {
  return sourceFile(join('test', 'vectors', name));
}
const golden = JSON.parse(readFileSync(vectorsFile('shamir-golden.json'), 'utf8')) as Golden;

function* orderedSubsets<T>(items: T[], k: number, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === k) {
    yield prefix;
    return;
  }
  for (const item of items) if (!prefix.includes(item)) yield* orderedSubsets(items, k, [...prefix, item]);
}

test('field known answers (Vault shamir tests, FIPS-197 §4.2)', () => {
  assert.equal(mult(3, 7), 9);
  assert.equal(div(6, 3), 2);
  assert.equal(add(3, 4), 7);
  assert.equal(mult(0x53, 0xca), 0x01);
  assert.equal(mult(0x57, 0x83), 0xc1);
  assert.equal(div(0, 7), 0);
  assert.equal(inverse(0), 0);
  for (const [a, b, r] of golden.known_answers.mult) assert.equal(mult(a ?? -1, b ?? -1), r);
  for (const [a, b, r] of golden.known_answers.div) assert.equal(div(a ?? -1, b ?? -1), r);
  for (const [a, b, r] of golden.known_answers.add) assert.equal(add(a ?? -1, b ?? -1), r);
});

test('every non-zero element has an inverse, and division undoes multiplication', () => {
  for (let a = 1; a < 256; a++) {
    assert.equal(mult(a, inverse(a)), 1, `a=${a}`);
    for (let b = 1; b < 256; b += 17) assert.equal(div(mult(a, b), b), a);
  }
  assert.throws(() => div(1, 0), { name: 'ShamirError', message: 'divide by zero' });
});

test('all 5·4·3 ordered triples of a 5/3 split recombine', () => {
  const secret = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
  const shares = split(secret, 5, 3);
  assert.equal(shares.length, 5);
  for (const s of shares) assert.equal(s.length, 33);
  assert.equal(new Set(shares.map((s) => s[32])).size, 5, 'x coordinates are distinct');
  for (const s of shares) assert.notEqual(s[32], 0, 'x is never 0');
  let n = 0;
  for (const triple of orderedSubsets(shares, 3)) {
    assert.deepEqual(combine(triple), secret);
    n++;
  }
  assert.equal(n, 60);
});

test('golden vectors from the independent Python implementation recombine (x LAST layout)', () => {
  assert.ok(golden.cases.length >= 4);
  for (const c of golden.cases) {
    const secret = Buffer.from(c.secret_hex, 'hex');
    const shares = c.shares_hex.map((h) => Buffer.from(h, 'hex'));
    assert.equal(shares.length, c.parts);
    const subsets = shares.length <= 5 ? [...orderedSubsets(shares, c.threshold)] : [shares.slice(0, c.threshold)];
    for (const subset of subsets) assert.deepEqual(combine(subset), secret, c.name);
    // With x read from the FIRST byte instead the result is wrong: the vectors pin Vault's layout.
    const flipped = shares.slice(0, c.threshold).map((s) => Buffer.concat([s.subarray(s.length - 1), s.subarray(0, s.length - 1)]));
    if (c.threshold > 1 && secret.length > 1) assert.notDeepEqual(combine(flipped), secret, c.name);
  }
});

test('split argument checks use Vault messages', () => {
  const s = Buffer.from('secret');
  assert.throws(() => split(s, 2, 3), new ShamirError('parts cannot be less than threshold'));
  assert.throws(() => split(s, 256, 3), new ShamirError('parts cannot exceed 255'));
  assert.throws(() => split(s, 3, 1), new ShamirError('threshold must be at least 2'));
  assert.throws(() => split(s, 300, 256), new ShamirError('parts cannot exceed 255'));
  assert.throws(() => split(Buffer.alloc(0), 3, 2), new ShamirError('cannot split an empty secret'));
});

test('combine checks use Vault messages', () => {
  const shares = split(Buffer.from('secret'), 3, 2);
  const [a, b] = shares as [Buffer, Buffer, Buffer];
  assert.throws(() => combine([a]), new ShamirError('less than two parts cannot be used to reconstruct the secret'));
  assert.throws(() => combine([Buffer.from([1]), Buffer.from([2])]), new ShamirError('parts must be at least two bytes'));
  assert.throws(() => combine([a, b.subarray(1)]), new ShamirError('all parts must be the same length'));
  assert.throws(() => combine([a, Buffer.from(a)]), new ShamirError('duplicate part detected'));
});

test('property: any threshold-subset of a split recombines; fewer shares do not reveal the secret', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.integer({ min: 2, max: 12 }),
      fc.integer({ min: 0, max: 6 }),
      fc.infiniteStream(fc.nat()),
      (bytes, threshold, extra, picks) => {
        const secret = Buffer.from(bytes);
        const parts = threshold + extra;
        const shares = split(secret, parts, threshold);
        for (const s of shares) assert.equal(s.length, secret.length + 1);
        const pool = [...shares];
        const chosen: Buffer[] = [];
        const it = picks[Symbol.iterator]();
        while (chosen.length < threshold) {
          const i = (it.next().value ?? 0) % pool.length;
          chosen.push(...pool.splice(i, 1));
        }
        assert.deepEqual(combine(chosen), secret);
        if (threshold > 2 && secret.length >= 16) {
          // threshold−1 shares interpolate a different degree-(t−2) polynomial: the result is (overwhelmingly) wrong.
          assert.notDeepEqual(combine(chosen.slice(1)), secret);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('property: mult is commutative, associative and distributes over add', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b, c) => {
      assert.equal(mult(a, b), mult(b, a));
      assert.equal(mult(a, mult(b, c)), mult(mult(a, b), c));
      assert.equal(mult(a, add(b, c)), add(mult(a, b), mult(a, c)));
    }),
    { numRuns: 500 },
  );
});
