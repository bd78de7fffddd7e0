import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, rejects, req } from '../../../helpers/logical.js';
import { OidcBackend } from '../../../../src/store/identity/oidc/oidc-backend.js';
import type { EntityRecord } from '../../../../src/store/identity/identity-types.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';

const caller = ROOT_CALLER;

async function setup(): Promise<OidcBackend> {
  const entities = new Map<string, EntityRecord>();
  const backend = new OidcBackend(new MemoryStorage(), { entityById: (id) => entities.get(id) }, { now: () => Date.UTC(2025, 0, 1) });
  await backend.handle(req('create', 'oidc/key/k', { algorithm: 'ES256', allowed_client_ids: '*' }), caller);
  await backend.handle(req('create', 'oidc/key/short', { algorithm: 'ES256', rotation_period: '10m', verification_ttl: '1h' }), caller);
  return backend;
}

test('role: create with defaults, read, exists; a base62 client id is generated', async () => {
  const backend = await setup();
  assert.equal(await backend.exists('oidc/role/core-data'), false);
  assert.deepEqual(await backend.handle(req('create', 'oidc/role/core-data', { key: 'k' }), caller), { status: 204 });
  assert.equal(await backend.exists('oidc/role/core-data'), true);
  const data = (await backend.handle(req('read', 'oidc/role/core-data'), caller)).data;
  assert.ok(data);
  assert.match(String(data.client_id), /^[0-9A-Za-z]{26}$/);
  assert.deepEqual(data, { client_id: data.client_id, key: 'k', template: '', ttl: 86400 });
  await rejects(backend.handle(req('read', 'oidc/role/nope'), caller), 404, []);
});

test('role: EdgeX shape: literal template, explicit ttl and client id', async () => {
  const backend = await setup();
  await backend.handle(req('create', 'oidc/role/core-data', { key: 'k', template: '{"name": "core-data"}', ttl: '1h', client_id: 'core-data' }), caller);
  assert.deepEqual((await backend.handle(req('read', 'oidc/role/core-data'), caller)).data, {
    client_id: 'core-data',
    key: 'k',
    template: '{"name": "core-data"}',
    ttl: 3600,
  });
});

test('role: a base64 template is stored decoded', async () => {
  const backend = await setup();
  const template = '{"name": {{identity.entity.name}}}';
  await backend.handle(req('create', 'oidc/role/r', { key: 'k', template: Buffer.from(template).toString('base64') }), caller);
  assert.equal((await backend.handle(req('read', 'oidc/role/r'), caller)).data?.template, template);
});

test('role: an update changes only the fields sent and keeps the client id', async () => {
  const backend = await setup();
  await backend.handle(req('create', 'oidc/role/r', { key: 'k', template: '{"a": 1}', ttl: '30m' }), caller);
  const first = (await backend.handle(req('read', 'oidc/role/r'), caller)).data;
  await backend.handle(req('update', 'oidc/role/r', { ttl: '45m' }), caller);
  const second = (await backend.handle(req('read', 'oidc/role/r'), caller)).data;
  assert.deepEqual(second, { ...first, ttl: 2700 });
  await backend.handle(req('update', 'oidc/role/r', { key: 'short', template: '' }), caller);
  assert.deepEqual((await backend.handle(req('read', 'oidc/role/r'), caller)).data, { ...first, key: 'short', template: '', ttl: 2700 });
  await backend.handle(req('update', 'oidc/role/r', { client_id: 'mine' }), caller);
  assert.equal((await backend.handle(req('read', 'oidc/role/r'), caller)).data?.client_id, 'mine');
});

test('role: validation errors with Vault messages', async () => {
  const backend = await setup();
  await rejects(backend.handle(req('create', 'oidc/role/r', {}), caller), 400, ['the key parameter is required']);
  await rejects(backend.handle(req('create', 'oidc/role/r', { key: '' }), caller), 400, ['the key parameter is required']);
  await rejects(backend.handle(req('create', 'oidc/role/r', { key: 'nope' }), caller), 400, ['key "nope" does not exist']);
  await rejects(backend.handle(req('create', 'oidc/role/r', { key: 'short', ttl: '61m' }), caller), 400, [
    "a role's token ttl cannot be longer than the verification_ttl of the key it references",
  ]);
  // The default ttl (24h) is too long for a key verifiable for 1h.
  await rejects(backend.handle(req('create', 'oidc/role/r', { key: 'short' }), caller), 400, [
    "a role's token ttl cannot be longer than the verification_ttl of the key it references",
  ]);
  await rejects(backend.handle(req('create', 'oidc/role/r', { key: 'k', template: '{"iss": "x"}' }), caller), 400, [
    'top level key "iss" not allowed. Restricted keys: iat, aud, exp, iss, sub, namespace, nonce, auth_time, at_hash, c_hash',
  ]);
  await assert.rejects(backend.handle(req('create', 'oidc/role/r', { key: 'k', template: '{"a": ' }), caller), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /^error parsing template JSON: /);
    return true;
  });
  await rejects(backend.handle(req('create', 'oidc/role/r', { key: 'k', template: '{"a": {{identity.entity.x}}}' }), caller), 400, [
    'error parsing template: no value could be found for one of the template directives',
  ]);
  await rejects(backend.handle(req('create', 'oidc/role/r', { key: 'k', ttl: 'later' }), caller), 400, ['time: invalid duration "later"']);
  assert.equal(await backend.exists('oidc/role/r'), false, 'nothing stored by a refused write');
});

test('role: delete and list (sorted, 404 when none)', async () => {
  const backend = await setup();
  await rejects(backend.handle(req('list', 'oidc/role/'), caller), 404, []);
  await backend.handle(req('create', 'oidc/role/b', { key: 'k' }), caller);
  await backend.handle(req('create', 'oidc/role/a', { key: 'k' }), caller);
  assert.deepEqual((await backend.handle(req('list', 'oidc/role/'), caller)).data, { keys: ['a', 'b'] });
  assert.deepEqual(await backend.handle(req('delete', 'oidc/role/a'), caller), { status: 204 });
  assert.deepEqual(await backend.handle(req('delete', 'oidc/role/a'), caller), { status: 204 });
  assert.deepEqual((await backend.handle(req('list', 'oidc/role'), caller)).data, { keys: ['b'] });
});
