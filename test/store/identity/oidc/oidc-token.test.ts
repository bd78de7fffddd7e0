import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { ROOT_CALLER, rejects, req } from '../../../helpers/logical.js';
import { requireTools } from '../../../helpers/require-tools.js';
import { makeTempDir, removeTempDir } from '../../../helpers/tmp.js';
import type { CallerContext } from '../../../../src/store/backend.js';
import { OidcBackend } from '../../../../src/store/identity/oidc/oidc-backend.js';
import type { EntityRecord } from '../../../../src/store/identity/identity-types.js';
import type { JsonObject } from '../../../../src/store/logical.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';

const T0 = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const ISS = '/v1/identity/oidc';

function entity(id: string, name: string, disabled = false): EntityRecord {
  return {
    id,
    name,
    metadata: { svc: name },
    policies: [],
    disabled,
    aliases: [
      {
        id: `alias-${id}`,
        canonical_id: id,
        mount_accessor: 'auth_userpass_1',
        mount_type: 'userpass',
        mount_path: 'auth/userpass/',
        name: `${name}-user`,
        metadata: {},
        custom_metadata: {},
        creation_time: '2025-01-01T00:00:00Z',
        last_update_time: '2025-01-01T00:00:00Z',
      },
    ],
    creation_time: '2025-01-01T00:00:00Z',
    last_update_time: '2025-01-01T00:00:00Z',
  };
}

interface Fixture {
  backend: OidcBackend;
  storage: MemoryStorage;
  entities: Map<string, EntityRecord>;
  clock: { now: number };
  caller: CallerContext;
}

/** A backend with key `k` (ES256, all clients), role `core-data` (EdgeX template) and entity `e1`. */
async function setup(key: JsonObject = {}): Promise<Fixture> {
  const clock = { now: T0 };
  const storage = new MemoryStorage();
  const entities = new Map<string, EntityRecord>([['e1', entity('e1', 'core-data')]]);
  const backend = new OidcBackend(storage, { entityById: (id) => entities.get(id) }, { now: () => clock.now });
  await backend.handle(req('create', 'oidc/key/k', { algorithm: 'ES256', allowed_client_ids: ['*'], ...key }), ROOT_CALLER);
  await backend.handle(req('create', 'oidc/role/core-data', { key: 'k', template: '{"name": "core-data"}', ttl: '1h', client_id: 'cd-client' }), ROOT_CALLER);
  return { backend, storage, entities, clock, caller: { ...ROOT_CALLER, entityId: 'e1' } };
}

async function issue(f: Fixture, role = 'core-data', caller = f.caller): Promise<string> {
  const data = (await f.backend.handle(req('read', `oidc/token/${role}`), caller)).data;
  assert.ok(data && typeof data.token === 'string');
  return data.token;
}

async function introspect(f: Fixture, token: unknown, clientId?: string): Promise<JsonObject | undefined> {
  const body: JsonObject = clientId === undefined ? { token } : { token, client_id: clientId };
  const res = await f.backend.handle(req('update', 'oidc/introspect', body), ROOT_CALLER);
  assert.equal(res.data, undefined, 'raw body, not the envelope');
  assert.equal(res.status, undefined, 'always 200');
  return res.raw;
}

async function jwks(f: Fixture): Promise<JSONWebKeySet> {
  const raw = (await f.backend.handle(req('read', 'oidc/.well-known/keys'), ROOT_CALLER)).raw;
  return raw as unknown as JSONWebKeySet;
}

test('token: claims, header and response of an EdgeX token', async () => {
  const f = await setup();
  const res = await f.backend.handle(req('read', 'oidc/token/core-data'), f.caller);
  assert.ok(res.data);
  assert.deepEqual(Object.keys(res.data).sort(), ['client_id', 'token', 'ttl']);
  assert.equal(res.data.client_id, 'cd-client');
  assert.equal(res.data.ttl, 3600);
  const token = String(res.data.token);
  const iat = Math.floor(T0 / 1000);
  assert.deepEqual(decodeJwt(token), { name: 'core-data', iss: ISS, namespace: 'root', sub: 'e1', aud: 'cd-client', iat, exp: iat + 3600 });
  const header = decodeProtectedHeader(token);
  const keys = (await jwks(f)).keys;
  assert.equal(keys.length, 1);
  assert.deepEqual(header, { alg: 'ES256', kid: keys[0]?.kid });
  assert.deepEqual(await introspect(f, token), { active: true });
  assert.deepEqual(await introspect(f, token, 'cd-client'), { active: true });
});

test('token: template placeholders are filled from the caller entity', async () => {
  const f = await setup();
  await f.backend.handle(
    req('create', 'oidc/role/t', {
      key: 'k',
      template: '{"n": {{identity.entity.name}}, "m": {{identity.entity.metadata.svc}}, "a": {{identity.entity.aliases.auth_userpass_1.name}}, "x": "x-{{identity.entity.id}}", "groups": {{identity.entity.groups.names}}}',
    }),
    ROOT_CALLER,
  );
  const claims = decodeJwt(await issue(f, 't'));
  assert.deepEqual([claims.n, claims.m, claims.a, claims.x, claims.groups], ['core-data', 'core-data', 'core-data-user', 'x-e1', []]);
});

test('token: iss follows the configured issuer; old tokens stop introspecting when it changes', async () => {
  const f = await setup();
  const before = await issue(f);
  assert.equal(decodeJwt(before).iss, '/v1/identity/oidc');
  await f.backend.handle(req('update', 'oidc/config', { issuer: 'https://vault.example:8200' }), ROOT_CALLER);
  const after = await issue(f);
  assert.equal(decodeJwt(after).iss, 'https://vault.example:8200/v1/identity/oidc');
  assert.deepEqual(await introspect(f, after), { active: true });
  assert.deepEqual(await introspect(f, before), {
    active: false,
    error: 'error validating claims: go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)',
  });
});

test('token: issue errors (400, Vault messages)', async () => {
  const f = await setup();
  await rejects(f.backend.handle(req('read', 'oidc/token/nope'), f.caller), 400, ['role "nope" not found']);
  await rejects(f.backend.handle(req('read', 'oidc/token/core-data'), ROOT_CALLER), 400, ["no entity associated with the request's token"]);
  await rejects(f.backend.handle(req('read', 'oidc/token/core-data'), { ...ROOT_CALLER, entityId: '' }), 400, [
    "no entity associated with the request's token",
  ]);
  await rejects(f.backend.handle(req('read', 'oidc/token/core-data'), { ...ROOT_CALLER, entityId: 'ghost' }), 400, ['entity "ghost" not found']);
  f.entities.set('off', entity('off', 'off', true));
  await rejects(f.backend.handle(req('read', 'oidc/token/core-data'), { ...ROOT_CALLER, entityId: 'off' }), 400, ['entity "off" is disabled']);

  await f.backend.handle(req('update', 'oidc/key/k', { allowed_client_ids: ['someone-else'] }), ROOT_CALLER);
  await rejects(f.backend.handle(req('read', 'oidc/token/core-data'), f.caller), 400, [
    'the key "k" does not list the client ID of the role "core-data" as an allowed client ID',
  ]);
  await f.backend.handle(req('update', 'oidc/key/k', { allowed_client_ids: [] }), ROOT_CALLER);
  await rejects(f.backend.handle(req('read', 'oidc/token/core-data'), f.caller), 400, [
    'the key "k" does not list the client ID of the role "core-data" as an allowed client ID',
  ]);
  await f.backend.handle(req('update', 'oidc/key/k', { allowed_client_ids: ['cd-client'] }), ROOT_CALLER);
  await issue(f);

  // A role whose key vanished behind its back (only possible through storage).
  await f.storage.put('role/orphan', Buffer.from(JSON.stringify({ key: 'gone', template: '', ttl: 60, client_id: 'c' })));
  await rejects(f.backend.handle(req('read', 'oidc/token/orphan'), f.caller), 400, ['key "gone" not found']);
});

test('introspect: expiry is exact (no clock skew)', async () => {
  const f = await setup();
  const token = await issue(f);
  f.clock.now = T0 + HOUR - 1000;
  assert.deepEqual(await introspect(f, token), { active: true });
  f.clock.now = T0 + HOUR;
  assert.deepEqual(await introspect(f, token), {
    active: false,
    error: 'error validating claims: go-jose/go-jose/jwt: validation failed, token is expired (exp)',
  });
});

test('introspect: client_id must be the audience', async () => {
  const f = await setup();
  const token = await issue(f);
  assert.deepEqual(await introspect(f, token, 'other'), {
    active: false,
    error: 'error validating claims: go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)',
  });
  assert.deepEqual(await introspect(f, token, ''), { active: true });
});

test('introspect: malformed, missing and tampered tokens are inactive', async () => {
  const f = await setup();
  const token = await issue(f);
  const [h, p, s] = token.split('.');
  assert.ok(h !== undefined && p !== undefined && s !== undefined);
  const flip = (c: string): string => (c === 'A' ? 'B' : 'A');
  const tampered = `${h}.${p.slice(0, 10)}${flip(p.charAt(10))}${p.slice(11)}.${s}`;
  assert.deepEqual(await introspect(f, tampered), { active: false, error: 'unable to validate the token signature' });
  const badSig = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  assert.deepEqual(await introspect(f, badSig), { active: false, error: 'unable to validate the token signature' });

  for (const garbage of ['', 'abc', 'a.b.c', `${h}.${p}`]) {
    const res = await introspect(f, garbage);
    assert.equal(res?.active, false);
    assert.match(String(res.error), /^error parsing token: /);
  }
  const missing = await f.backend.handle(req('update', 'oidc/introspect', {}), ROOT_CALLER);
  assert.equal(missing.raw?.active, false);
  assert.match(String(missing.raw.error), /^error parsing token: /);
  await rejects(f.backend.handle(req('update', 'oidc/introspect', { token: { x: 1 } }), ROOT_CALLER), 400, [
    'error converting input {"x":1} for field "token"',
  ]);
  // A token signed with a key the store never had.
  const other = await setup();
  assert.deepEqual(await introspect(f, await issue(other)), { active: false, error: 'unable to validate the token signature' });
});

test('introspect: deleted role, deleted key, missing or disabled entity make tokens inactive', async () => {
  const f = await setup();
  const token = await issue(f);
  f.entities.set('e1', entity('e1', 'core-data', true));
  assert.deepEqual(await introspect(f, token), { active: false, error: 'entity is disabled' });
  f.entities.delete('e1');
  assert.deepEqual(await introspect(f, token), { active: false, error: 'entity was not found' });
  f.entities.set('e1', entity('e1', 'core-data'));
  assert.deepEqual(await introspect(f, token), { active: true });

  // Another role with a different client id on the same key does not keep the token alive.
  await f.backend.handle(req('create', 'oidc/role/other', { key: 'k', client_id: 'other-client', ttl: '1h' }), ROOT_CALLER);
  await f.backend.handle(req('delete', 'oidc/role/core-data'), ROOT_CALLER);
  assert.deepEqual(await introspect(f, token), { active: false, error: "no role with the token's client ID uses the key that signed it" });
  // Re-created with the same client id: its earlier tokens are valid again (Vault keys tokens to client ids).
  await f.backend.handle(req('create', 'oidc/role/core-data', { key: 'k', ttl: '1h', client_id: 'cd-client' }), ROOT_CALLER);
  assert.deepEqual(await introspect(f, token), { active: true });

  await f.backend.handle(req('delete', 'oidc/role/core-data'), ROOT_CALLER);
  await f.backend.handle(req('delete', 'oidc/role/other'), ROOT_CALLER);
  await f.backend.handle(req('delete', 'oidc/key/k'), ROOT_CALLER);
  assert.deepEqual(await introspect(f, token), { active: false, error: 'unable to validate the token signature' });
});

test('rotation: a manual rotation keeps old tokens verifiable until the verification_ttl, then inactive', async () => {
  const f = await setup({ rotation_period: '1h', verification_ttl: '2h' });
  const old = await issue(f);
  const oldKid = decodeProtectedHeader(old).kid;
  f.clock.now += MINUTE;
  await f.backend.handle(req('update', 'oidc/key/k/rotate', { verification_ttl: '10m' }), ROOT_CALLER);
  const fresh = await issue(f);
  assert.notEqual(decodeProtectedHeader(fresh).kid, oldKid);
  assert.deepEqual((await jwks(f)).keys.map((k) => k.kid).sort(), [oldKid, decodeProtectedHeader(fresh).kid].sort());
  f.clock.now = T0 + MINUTE + 10 * MINUTE - 1000;
  assert.deepEqual(await introspect(f, old), { active: true });
  f.clock.now = T0 + MINUTE + 10 * MINUTE;
  assert.deepEqual(await introspect(f, old), { active: false, error: 'unable to validate the token signature' });
  assert.deepEqual(await introspect(f, fresh), { active: true });
  assert.deepEqual((await jwks(f)).keys.map((k) => k.kid), [decodeProtectedHeader(fresh).kid]);
});

test('rotation: lazy and deterministic; old kid verifies until scheduled rotation + verification_ttl', async () => {
  const f = await setup({ rotation_period: '1h', verification_ttl: '2h' });
  const t1 = await issue(f);
  const k1 = decodeProtectedHeader(t1).kid;
  f.clock.now = T0 + HOUR - 1;
  assert.equal(decodeProtectedHeader(await issue(f)).kid, k1, 'not due yet');
  f.clock.now = T0 + HOUR + 30 * MINUTE;
  const t2 = await issue(f);
  const k2 = decodeProtectedHeader(t2).kid;
  assert.notEqual(k2, k1);
  assert.deepEqual((await jwks(f)).keys.map((k) => k.kid), [k2, k1]);
  // k1 retired at its scheduled rotation (T0+1h) and verifies until T0+3h.
  f.clock.now = T0 + 3 * HOUR - 1;
  const keysBefore = (await jwks(f)).keys.map((k) => k.kid);
  assert.ok(keysBefore.includes(k1));
  f.clock.now = T0 + 3 * HOUR;
  const keysAfter = (await jwks(f)).keys.map((k) => k.kid);
  assert.ok(!keysAfter.includes(k1));
  assert.ok(keysAfter.includes(k2));
  // Many periods later: a single new key, nothing older still verifiable.
  f.clock.now = T0 + 50 * HOUR;
  const keysLate = (await jwks(f)).keys;
  assert.equal(keysLate.length, 1);
  assert.ok(keysLate[0]?.kid !== k2);
});

test('rotation: concurrent requests on a due key rotate it once', async () => {
  const f = await setup({ rotation_period: '1h', verification_ttl: '2h' });
  const k1 = decodeProtectedHeader(await issue(f)).kid;
  f.clock.now = T0 + 2 * HOUR;
  const tokens = await Promise.all([issue(f), issue(f), jwks(f), issue(f), introspect(f, 'x'), issue(f)]);
  const kids = new Set(tokens.filter((t): t is string => typeof t === 'string').map((t) => decodeProtectedHeader(t).kid));
  assert.equal(kids.size, 1);
  assert.ok(!kids.has(k1));
  assert.equal((await jwks(f)).keys.length, 2);
});

test('independent check: every algorithm verifies with jose against the served JWKS', async () => {
  const f = await setup();
  for (const alg of ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA']) {
    await f.backend.handle(req('create', `oidc/key/${alg}`, { algorithm: alg, allowed_client_ids: ['*'] }), ROOT_CALLER);
    await f.backend.handle(req('create', `oidc/role/${alg}`, { key: alg, client_id: `client-${alg}`, ttl: '5m' }), ROOT_CALLER);
    const token = await issue(f, alg);
    const set = createLocalJWKSet(await jwks(f));
    const { payload, protectedHeader } = await jwtVerify(token, set, {
      issuer: ISS,
      audience: `client-${alg}`,
      currentDate: new Date(f.clock.now),
    });
    assert.equal(protectedHeader.alg, alg);
    assert.equal(payload.sub, 'e1');
    assert.deepEqual(await introspect(f, token), { active: true });
  }
});

/** DER of one ASN.1 INTEGER holding the unsigned big-endian `bytes`. */
function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
  let body = bytes.subarray(i);
  if (((body[0] ?? 0) & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

/** A JWS ECDSA signature (R||S) as the DER `ECDSA-Sig-Value` OpenSSL verifies. */
function joseToDer(sig: Buffer): Buffer {
  const half = sig.length / 2;
  const seq = Buffer.concat([derInteger(sig.subarray(0, half)), derInteger(sig.subarray(half))]);
  // P-384 sequences stay under 128 bytes: a one-byte length suffices.
  return Buffer.concat([Buffer.from([0x30, seq.length]), seq]);
}

const run = promisify(execFile);

test('independent check: openssl verifies an ES384 token signature with the served public key', async (t) => {
  if (!requireTools(t, ['openssl'], 'openssl')) return;
  const f = await setup({ algorithm: 'ES384' });
  const token = await issue(f);
  const [h, p, s] = token.split('.');
  assert.ok(h !== undefined && p !== undefined && s !== undefined);
  const sig = Buffer.from(s, 'base64url');
  assert.equal(sig.length, 96);
  const jwk = (await jwks(f)).keys.find((k) => k.kid === decodeProtectedHeader(token).kid);
  assert.ok(jwk);
  const pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const dir = await makeTempDir('sss-oidc-');
  try {
    await writeFile(join(dir, 'pub.pem'), pem);
    await writeFile(join(dir, 'sig.der'), joseToDer(sig));
    await writeFile(join(dir, 'data.txt'), `${h}.${p}`);
    await writeFile(join(dir, 'bad.txt'), `${h}.${p}x`);
    const verify = (data: string): Promise<{ stdout: string }> =>
      run('openssl', ['dgst', '-sha384', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.der'), join(dir, data)]);
    assert.equal((await verify('data.txt')).stdout.trim(), 'Verified OK');
    await assert.rejects(verify('bad.txt'), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match((e as Error & { stdout?: string }).stdout ?? '', /Verification failure/);
      return true;
    });
  } finally {
    await removeTempDir(dir);
  }
});
