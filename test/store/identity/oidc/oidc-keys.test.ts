import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { StoreApiError } from '../../../../src/store/api-error.js';
import {
  SUPPORTED_ALGORITHMS,
  SigningKeyCache,
  generateSigningKey,
  maintainKey,
  parseAlgorithm,
  pruneKey,
  rotateKey,
  verificationKeys,
  type NamedKeyRecord,
} from '../../../../src/store/identity/oidc/oidc-keys.js';

const T0 = Date.UTC(2025, 0, 1);
const HOUR = 3600_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function namedKey(overrides: Partial<NamedKeyRecord> = {}): Promise<NamedKeyRecord> {
  const { record } = await generateSigningKey('ES256');
  return {
    algorithm: 'ES256',
    rotation_period: 3600,
    verification_ttl: 7200,
    allowed_client_ids: ['*'],
    next_rotation: T0 + HOUR,
    current: record,
    previous: [],
    ...overrides,
  };
}

test('keys: parseAlgorithm accepts the seven JOSE algorithms and nothing else', () => {
  assert.deepEqual([...SUPPORTED_ALGORITHMS], ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
  for (const alg of SUPPORTED_ALGORITHMS) assert.equal(parseAlgorithm(alg), alg);
  for (const bad of ['HS256', 'rs256', 'none', '']) {
    assert.throws(() => parseAlgorithm(bad), (e: unknown) => {
      assert.ok(e instanceof StoreApiError);
      assert.equal(e.status, 400);
      assert.deepEqual(e.errors, [`unknown signing algorithm "${bad}"`]);
      return true;
    });
  }
});

test('keys: generateSigningKey gives a UUID kid, a PKCS#8 private key and a public JWK for every algorithm', async () => {
  const expected: Record<string, { kty: string; crv?: string }> = {
    RS256: { kty: 'RSA' },
    RS384: { kty: 'RSA' },
    RS512: { kty: 'RSA' },
    ES256: { kty: 'EC', crv: 'P-256' },
    ES384: { kty: 'EC', crv: 'P-384' },
    ES512: { kty: 'EC', crv: 'P-521' },
    EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  };
  const kids = new Set<string>();
  for (const alg of SUPPORTED_ALGORITHMS) {
    const { record, privateKey } = await generateSigningKey(alg);
    assert.match(record.kid, UUID);
    kids.add(record.kid);
    assert.match(record.private_pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(privateKey.type, 'private');
    const jwk = record.public_jwk;
    assert.equal(jwk.kid, record.kid);
    assert.equal(jwk.alg, alg);
    assert.equal(jwk.use, 'sig');
    assert.equal(jwk.kty, expected[alg]?.kty);
    assert.equal(jwk.crv, expected[alg]?.crv);
    assert.equal(jwk.d, undefined, 'no private part in the public JWK');
    // The stored PEM and the public JWK are the two halves of one key pair.
    const fromPem = createPublicKey(createPrivateKey(record.private_pem)).export({ format: 'jwk' });
    assert.equal(fromPem.x ?? fromPem.n, jwk.x ?? jwk.n);
  }
  assert.equal(kids.size, SUPPORTED_ALGORITHMS.length);
});

test('keys: rotateKey retires the current key and schedules the next rotation', async () => {
  const key = await namedKey();
  const { record: fresh } = await generateSigningKey('ES256');
  const rotated = rotateKey(key, fresh, T0 + 5 * HOUR, T0 + 2 * HOUR);
  assert.equal(rotated.current, fresh);
  assert.deepEqual(rotated.previous, [{ kid: key.current.kid, public_jwk: key.current.public_jwk, expire_at: T0 + 5 * HOUR }]);
  assert.equal(rotated.next_rotation, T0 + 3 * HOUR);
  assert.equal(key.previous.length, 0, 'the input is not changed');
});

test('keys: pruneKey drops retired keys from their expiry instant on', async () => {
  const key = await namedKey();
  const { record: a } = await generateSigningKey('ES256');
  const withOld = rotateKey(key, a, T0 + 2 * HOUR, T0);
  assert.equal(pruneKey(withOld, T0 + 2 * HOUR - 1), withOld, 'unchanged: same object');
  assert.deepEqual(pruneKey(withOld, T0 + 2 * HOUR).previous, []);
  assert.deepEqual(verificationKeys(withOld, T0).map((j) => j.kid), [a.kid, key.current.kid]);
  assert.deepEqual(verificationKeys(withOld, T0 + 2 * HOUR).map((j) => j.kid), [a.kid]);
});

test('keys: maintainKey does nothing before the rotation is due', async () => {
  const key = await namedKey();
  assert.equal(await maintainKey(key, T0), undefined);
  assert.equal(await maintainKey(key, T0 + HOUR - 1), undefined);
});

test('keys: maintainKey rotates once when due; the old key retires at the scheduled rotation plus verification_ttl', async () => {
  const key = await namedKey();
  const cache = new SigningKeyCache();
  const late = T0 + HOUR + 30 * 60_000;
  const rotated = await maintainKey(key, late, cache);
  assert.ok(rotated !== undefined);
  assert.notEqual(rotated.current.kid, key.current.kid);
  assert.deepEqual(rotated.previous, [{ kid: key.current.kid, public_jwk: key.current.public_jwk, expire_at: T0 + HOUR + 2 * HOUR }]);
  assert.equal(rotated.next_rotation, late + HOUR);
  // The new private key was remembered, so signing needs no PEM decoding.
  assert.equal(cache.privateKey({ ...rotated.current, private_pem: 'not a pem' }).type, 'private');
});

test('keys: maintainKey after many missed periods makes one new key and drops what has expired', async () => {
  const key = await namedKey();
  const muchLater = T0 + 10 * HOUR;
  const rotated = await maintainKey(key, muchLater);
  assert.ok(rotated !== undefined);
  assert.deepEqual(rotated.previous, [], 'retired at T0+1h+2h, long gone');
  assert.equal(rotated.next_rotation, muchLater + HOUR);
  assert.equal(verificationKeys(rotated, muchLater).length, 1);
});

test('keys: maintainKey prunes expired retired keys without rotating', async () => {
  const key = await namedKey({ next_rotation: T0 + 10 * HOUR });
  const { record } = await generateSigningKey('ES256');
  const withOld = rotateKey(key, record, T0 + HOUR, T0);
  const pruned = await maintainKey({ ...withOld, next_rotation: T0 + 10 * HOUR }, T0 + HOUR);
  assert.ok(pruned !== undefined);
  assert.equal(pruned.current.kid, record.kid);
  assert.deepEqual(pruned.previous, []);
});

test('keys: SigningKeyCache decodes a PEM once and forgets on clear/drop', async () => {
  const { record } = await generateSigningKey('ES256');
  const cache = new SigningKeyCache();
  const first = cache.privateKey(record);
  assert.equal(cache.privateKey(record), first);
  cache.drop(record.kid);
  const second = cache.privateKey(record);
  assert.notEqual(second, first);
  cache.clear();
  assert.throws(() => cache.privateKey({ ...record, private_pem: 'garbage' }));
});
