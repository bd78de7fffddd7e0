import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, rejects, req } from '../../../helpers/logical.js';
import { OidcBackend } from '../../../../src/store/identity/oidc/oidc-backend.js';
import type { NamedKeyRecord } from '../../../../src/store/identity/oidc/oidc-keys.js';
import type { EntityRecord } from '../../../../src/store/identity/identity-types.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';

const UNSUPPORTED = ['1 error occurred:\n\t* unsupported operation\n\n'];

function entity(id: string): EntityRecord {
  return { id, name: id, metadata: {}, policies: [], disabled: false, aliases: [], creation_time: '', last_update_time: '' };
}

test('backend: only the two discovery documents are unauthenticated', () => {
  const b = new OidcBackend(new MemoryStorage(), { entityById: () => undefined });
  assert.equal(b.isUnauthenticated('oidc/.well-known/openid-configuration'), true);
  assert.equal(b.isUnauthenticated('oidc/.well-known/keys'), true);
  assert.equal(b.isUnauthenticated('oidc/.well-known/keys/'), true);
  for (const p of ['oidc/config', 'oidc/key/k', 'oidc/role/r', 'oidc/token/r', 'oidc/introspect', 'oidc/.well-known/other', 'entity']) {
    assert.equal(b.isUnauthenticated(p), false, p);
  }
});

test('backend: existence checks only for keys and roles', async () => {
  const b = new OidcBackend(new MemoryStorage(), { entityById: () => undefined });
  await b.handle(req('create', 'oidc/key/k', { algorithm: 'ES256' }), ROOT_CALLER);
  await b.handle(req('create', 'oidc/role/r', { key: 'k' }), ROOT_CALLER);
  assert.equal(await b.exists('oidc/key/k'), true);
  assert.equal(await b.exists('oidc/key/j'), false);
  assert.equal(await b.exists('oidc/role/r'), true);
  assert.equal(await b.exists('oidc/role/s'), false);
  for (const p of ['oidc/config', 'oidc/key/', 'oidc/role/', 'oidc/token/r', 'oidc/introspect', 'oidc/unknown']) {
    assert.equal(await b.exists(p), undefined, p);
  }
});

test('backend: unknown paths 404 with the identity route, unsupported operations 405', async () => {
  const b = new OidcBackend(new MemoryStorage(), { entityById: () => undefined });
  await rejects(b.handle(req('read', 'oidc/nothing'), ROOT_CALLER), 404, ['no handler for route "identity/oidc/nothing". route entry not found.']);
  await rejects(b.handle(req('update', 'oidc/key/-bad'), ROOT_CALLER), 404, ['no handler for route "identity/oidc/key/-bad". route entry not found.']);
  await rejects(b.handle(req('update', 'oidc/key/a/b'), ROOT_CALLER), 404, ['no handler for route "identity/oidc/key/a/b". route entry not found.']);
  await rejects(b.handle(req('read', 'oidc/key/'), ROOT_CALLER), 405, UNSUPPORTED);
  await rejects(b.handle(req('list', 'oidc/key/k'), ROOT_CALLER), 405, UNSUPPORTED);
  await rejects(b.handle(req('update', 'oidc/token/r'), ROOT_CALLER), 405, UNSUPPORTED);
  await rejects(b.handle(req('read', 'oidc/introspect'), ROOT_CALLER), 405, UNSUPPORTED);
  await rejects(b.handle(req('update', 'oidc/.well-known/keys'), ROOT_CALLER), 405, UNSUPPORTED);
  await rejects(b.handle(req('patch', 'oidc/role/r'), ROOT_CALLER), 405, UNSUPPORTED);
});

test('backend: the private key is stored only in its key record; forget() drops decoded keys', async () => {
  const storage = new MemoryStorage();
  const b = new OidcBackend(storage, { entityById: (id) => (id === 'e1' ? entity('e1') : undefined) });
  await b.handle(req('create', 'oidc/key/k', { algorithm: 'ES256', allowed_client_ids: '*' }), ROOT_CALLER);
  await b.handle(req('create', 'oidc/role/r', { key: 'k' }), ROOT_CALLER);
  await b.handle(req('update', 'oidc/config', { issuer: 'https://v:8200' }), ROOT_CALLER);
  const caller = { ...ROOT_CALLER, entityId: 'e1' };
  await b.handle(req('read', 'oidc/token/r'), caller);

  const holders: string[] = [];
  for (const folder of ['', 'key/', 'role/']) {
    for (const name of await storage.list(folder)) {
      const bytes = await storage.get(folder + name);
      if (bytes?.toString('utf8').includes('PRIVATE KEY') === true) holders.push(folder + name);
    }
  }
  assert.deepEqual(holders, ['key/k']);

  // Corrupt the stored PEM: the decoded key still signs until forget(), then the store is read again.
  const bytes = await storage.get('key/k');
  assert.ok(bytes);
  const record = JSON.parse(bytes.toString('utf8')) as NamedKeyRecord;
  await storage.put('key/k', Buffer.from(JSON.stringify({ ...record, current: { ...record.current, private_pem: 'corrupt' } })));
  await b.handle(req('read', 'oidc/token/r'), caller);
  b.forget();
  await assert.rejects(b.handle(req('read', 'oidc/token/r'), caller));
  await storage.put('key/k', bytes);
  assert.ok(typeof (await b.handle(req('read', 'oidc/token/r'), caller)).data?.token === 'string');
});

test('backend: a failed request does not block the ones queued after it', async () => {
  const b = new OidcBackend(new MemoryStorage(), { entityById: () => undefined });
  const results = await Promise.allSettled([
    b.handle(req('create', 'oidc/key/k', { algorithm: 'nope' }), ROOT_CALLER),
    b.handle(req('create', 'oidc/key/k', { algorithm: 'ES256' }), ROOT_CALLER),
    b.handle(req('create', 'oidc/role/r', { key: 'k' }), ROOT_CALLER),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
});
