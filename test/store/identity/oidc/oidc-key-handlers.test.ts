import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, rejects, req } from '../../../helpers/logical.js';
import { OidcBackend } from '../../../../src/store/identity/oidc/oidc-backend.js';
import type { NamedKeyRecord } from '../../../../src/store/identity/oidc/oidc-keys.js';
import type { EntityRecord } from '../../../../src/store/identity/identity-types.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';

const T0 = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const caller = ROOT_CALLER;

function setup(): { backend: OidcBackend; storage: MemoryStorage; clock: { now: number } } {
  const clock = { now: T0 };
  const storage = new MemoryStorage();
  const entities = new Map<string, EntityRecord>();
  const backend = new OidcBackend(storage, { entityById: (id) => entities.get(id) }, { now: () => clock.now });
  return { backend, storage, clock };
}

async function stored(storage: MemoryStorage, name: string): Promise<NamedKeyRecord> {
  const bytes = await storage.get('key/' + name);
  assert.ok(bytes !== undefined, `key ${name} stored`);
  return JSON.parse(bytes.toString('utf8')) as NamedKeyRecord;
}

test('key: create with defaults (24h, 24h, RS256, no client ids), read, exists', async () => {
  const { backend, storage } = setup();
  assert.equal(await backend.exists('oidc/key/edgex-identity'), false);
  assert.deepEqual(await backend.handle(req('create', 'oidc/key/edgex-identity'), caller), { status: 204 });
  assert.equal(await backend.exists('oidc/key/edgex-identity'), true);
  assert.deepEqual((await backend.handle(req('read', 'oidc/key/edgex-identity'), caller)).data, {
    algorithm: 'RS256',
    allowed_client_ids: [],
    rotation_period: 86400,
    verification_ttl: 86400,
  });
  const key = await stored(storage, 'edgex-identity');
  assert.equal(key.next_rotation, T0 + 24 * HOUR);
  assert.match(key.current.private_pem, /BEGIN PRIVATE KEY/);
  assert.deepEqual(key.previous, []);
  await rejects(backend.handle(req('read', 'oidc/key/nope'), caller), 404, []);
});

test('key: create with every field; durations as strings or seconds; client ids as list or CSV', async () => {
  const { backend } = setup();
  await backend.handle(
    req('create', 'oidc/key/k1', { rotation_period: '1h', verification_ttl: 7200, algorithm: 'ES384', allowed_client_ids: 'a, b' }),
    caller,
  );
  assert.deepEqual((await backend.handle(req('read', 'oidc/key/k1'), caller)).data, {
    algorithm: 'ES384',
    allowed_client_ids: ['a', 'b'],
    rotation_period: 3600,
    verification_ttl: 7200,
  });
  await backend.handle(req('update', 'oidc/key/k1', { allowed_client_ids: ['*'] }), caller);
  const data = (await backend.handle(req('read', 'oidc/key/k1'), caller)).data;
  assert.deepEqual(data, { algorithm: 'ES384', allowed_client_ids: ['*'], rotation_period: 3600, verification_ttl: 7200 });
});

test('key: validation errors', async () => {
  const { backend } = setup();
  await rejects(backend.handle(req('create', 'oidc/key/k', { rotation_period: '59s' }), caller), 400, ['rotation_period must be at least one minute']);
  await rejects(
    backend.handle(req('create', 'oidc/key/k', { rotation_period: '1m', verification_ttl: '10m1s' }), caller),
    400,
    ['verification_ttl cannot be longer than 10x rotation_period'],
  );
  await rejects(backend.handle(req('create', 'oidc/key/k', { algorithm: 'HS256' }), caller), 400, ['unknown signing algorithm "HS256"']);
  await rejects(backend.handle(req('create', 'oidc/key/k', { rotation_period: 'soon' }), caller), 400, ['time: invalid duration "soon"']);
  await rejects(backend.handle(req('create', 'oidc/key/k', { allowed_client_ids: { a: 1 } }), caller), 400, [
    'error converting input {"a":1} for field "allowed_client_ids"',
  ]);
  // Boundaries are allowed.
  await backend.handle(req('create', 'oidc/key/k', { rotation_period: '1m', verification_ttl: '10m', algorithm: 'ES256' }), caller);
  assert.equal(await backend.exists('oidc/key/k'), true);
});

test('key: an update changes only the fields sent; a shorter period brings the rotation forward', async () => {
  const { backend, storage, clock } = setup();
  await backend.handle(req('create', 'oidc/key/k', { algorithm: 'ES256', allowed_client_ids: ['c1'] }), caller);
  const before = await stored(storage, 'k');
  clock.now += HOUR;
  await backend.handle(req('update', 'oidc/key/k', { verification_ttl: '2h' }), caller);
  let after = await stored(storage, 'k');
  assert.equal(after.current.kid, before.current.kid, 'no rotation');
  assert.equal(after.next_rotation, before.next_rotation, 'a later candidate never postpones the rotation');
  assert.deepEqual(after.allowed_client_ids, ['c1']);
  assert.equal(after.algorithm, 'ES256');
  assert.equal(after.verification_ttl, 7200);
  await backend.handle(req('update', 'oidc/key/k', { rotation_period: '1h' }), caller);
  after = await stored(storage, 'k');
  assert.equal(after.rotation_period, 3600);
  assert.equal(after.next_rotation, clock.now + HOUR);
  // A rotation period that makes the existing verification_ttl too long is refused.
  await rejects(backend.handle(req('update', 'oidc/key/k', { rotation_period: '1m' }), caller), 400, [
    'verification_ttl cannot be longer than 10x rotation_period',
  ]);
});

test('key: a changed algorithm rotates at once and keeps the old public key verifiable', async () => {
  const { backend, storage, clock } = setup();
  await backend.handle(req('create', 'oidc/key/k', { algorithm: 'ES256', verification_ttl: '1h' }), caller);
  const before = await stored(storage, 'k');
  clock.now += MINUTE;
  await backend.handle(req('update', 'oidc/key/k', { algorithm: 'EdDSA' }), caller);
  const after = await stored(storage, 'k');
  assert.notEqual(after.current.kid, before.current.kid);
  assert.equal(after.current.public_jwk.crv, 'Ed25519');
  assert.deepEqual(after.previous, [{ kid: before.current.kid, public_jwk: before.current.public_jwk, expire_at: clock.now + HOUR }]);
  assert.equal(after.next_rotation, clock.now + 24 * HOUR);
  // Sending the same algorithm again is no rotation.
  await backend.handle(req('update', 'oidc/key/k', { algorithm: 'EdDSA' }), caller);
  assert.equal((await stored(storage, 'k')).current.kid, after.current.kid);
});

test('key: list is sorted and 404 when empty', async () => {
  const { backend } = setup();
  await rejects(backend.handle(req('list', 'oidc/key/'), caller), 404, []);
  for (const name of ['zeta', 'alpha', 'mid.dle']) await backend.handle(req('create', `oidc/key/${name}`, { algorithm: 'ES256' }), caller);
  assert.deepEqual((await backend.handle(req('list', 'oidc/key/'), caller)).data, { keys: ['alpha', 'mid.dle', 'zeta'] });
  assert.deepEqual((await backend.handle(req('list', 'oidc/key'), caller)).data, { keys: ['alpha', 'mid.dle', 'zeta'] });
});

test('key: delete is refused while roles use the key, then succeeds', async () => {
  const { backend } = setup();
  await backend.handle(req('create', 'oidc/key/k', { algorithm: 'ES256' }), caller);
  await backend.handle(req('create', 'oidc/key/other', { algorithm: 'ES256' }), caller);
  await backend.handle(req('create', 'oidc/role/r2', { key: 'k' }), caller);
  await backend.handle(req('create', 'oidc/role/r1', { key: 'k' }), caller);
  await backend.handle(req('create', 'oidc/role/x', { key: 'other' }), caller);
  await rejects(backend.handle(req('delete', 'oidc/key/k'), caller), 400, [
    'unable to delete key "k" because it is currently referenced by these roles: r1, r2',
  ]);
  await backend.handle(req('delete', 'oidc/role/r1'), caller);
  await backend.handle(req('delete', 'oidc/role/r2'), caller);
  assert.deepEqual(await backend.handle(req('delete', 'oidc/key/k'), caller), { status: 204 });
  await rejects(backend.handle(req('read', 'oidc/key/k'), caller), 404, []);
  assert.deepEqual(await backend.handle(req('delete', 'oidc/key/never'), caller), { status: 204 });
});

test('key: verification_ttl may not drop below a role token ttl', async () => {
  const { backend } = setup();
  await backend.handle(req('create', 'oidc/key/k', { algorithm: 'ES256' }), caller);
  await backend.handle(req('create', 'oidc/role/r', { key: 'k', ttl: '2h' }), caller);
  await rejects(backend.handle(req('update', 'oidc/key/k', { verification_ttl: '1h' }), caller), 400, [
    'unable to update key "k" because it is currently referenced by one or more roles with a token ttl greater than 3600 seconds',
  ]);
  await backend.handle(req('update', 'oidc/key/k', { verification_ttl: '2h' }), caller);
});

test('key: rotate now; the old public key stays for the key verification_ttl or the request one', async () => {
  const { backend, storage, clock } = setup();
  await backend.handle(req('create', 'oidc/key/k', { algorithm: 'ES256', rotation_period: '1h', verification_ttl: '2h' }), caller);
  const k1 = (await stored(storage, 'k')).current;
  clock.now += 10 * MINUTE;
  assert.deepEqual(await backend.handle(req('update', 'oidc/key/k/rotate'), caller), { status: 204 });
  let key = await stored(storage, 'k');
  const k2 = key.current;
  assert.notEqual(k2.kid, k1.kid);
  assert.deepEqual(key.previous, [{ kid: k1.kid, public_jwk: k1.public_jwk, expire_at: clock.now + 2 * HOUR }]);
  assert.equal(key.next_rotation, clock.now + HOUR);

  clock.now += MINUTE;
  await backend.handle(req('update', 'oidc/key/k/rotate', { verification_ttl: '5m' }), caller);
  key = await stored(storage, 'k');
  assert.deepEqual(key.previous.map((p) => [p.kid, p.expire_at]), [
    [k1.kid, clock.now - MINUTE + 2 * HOUR],
    [k2.kid, clock.now + 5 * MINUTE],
  ]);
  // verification_ttl 0: the replaced key is gone at once.
  await backend.handle(req('update', 'oidc/key/k/rotate', { verification_ttl: 0 }), caller);
  key = await stored(storage, 'k');
  assert.equal(key.previous.length, 2);
  await rejects(backend.handle(req('update', 'oidc/key/nope/rotate'), caller), 400, ['no named key found at "nope"']);
  await rejects(backend.handle(req('read', 'oidc/key/k/rotate'), caller), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
  assert.equal(await backend.exists('oidc/key/k/rotate'), undefined);
});
