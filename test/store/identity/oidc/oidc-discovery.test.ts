import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, req } from '../../../helpers/logical.js';
import { ANONYMOUS_CALLER } from '../../../../src/store/backend.js';
import { OidcBackend } from '../../../../src/store/identity/oidc/oidc-backend.js';
import { discoveryDocument } from '../../../../src/store/identity/oidc/oidc-discovery.js';
import type { NamedKeyRecord } from '../../../../src/store/identity/oidc/oidc-keys.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';

const ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

test('discovery: document for the default and a configured issuer', async () => {
  assert.deepEqual(discoveryDocument({ issuer: '' }), {
    issuer: '/v1/identity/oidc',
    jwks_uri: '/v1/identity/oidc/.well-known/keys',
    authorization_endpoint: '',
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ALGS,
  });
  const b = new OidcBackend(new MemoryStorage(), { entityById: () => undefined });
  await b.handle(req('update', 'oidc/config', { issuer: 'https://vault:8200' }), ROOT_CALLER);
  const res = await b.handle(req('read', 'oidc/.well-known/openid-configuration'), ANONYMOUS_CALLER);
  assert.equal(res.data, undefined, 'raw body');
  assert.deepEqual(res.raw, {
    issuer: 'https://vault:8200/v1/identity/oidc',
    jwks_uri: 'https://vault:8200/v1/identity/oidc/.well-known/keys',
    authorization_endpoint: '',
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ALGS,
  });
});

test('discovery: JWKS holds every key current and unexpired retired public keys, no private parts', async () => {
  const now = { t: Date.UTC(2025, 0, 1) };
  const storage = new MemoryStorage();
  const b = new OidcBackend(storage, { entityById: () => undefined }, { now: () => now.t });
  assert.deepEqual((await b.handle(req('read', 'oidc/.well-known/keys'), ANONYMOUS_CALLER)).raw, { keys: [] });
  await b.handle(req('create', 'oidc/key/b-ed', { algorithm: 'EdDSA' }), ROOT_CALLER);
  await b.handle(req('create', 'oidc/key/a-ec', { algorithm: 'ES512' }), ROOT_CALLER);
  await b.handle(req('update', 'oidc/key/a-ec/rotate', { verification_ttl: '1h' }), ROOT_CALLER);
  const record = async (name: string): Promise<NamedKeyRecord> =>
    JSON.parse((await storage.get('key/' + name))?.toString('utf8') ?? 'null') as NamedKeyRecord;
  const a = await record('a-ec');
  const bEd = await record('b-ed');

  const res = await b.handle(req('read', 'oidc/.well-known/keys/'), ANONYMOUS_CALLER);
  assert.equal(res.data, undefined, 'raw body');
  const keys = (res.raw?.keys ?? []) as Record<string, unknown>[];
  assert.deepEqual(keys.map((k) => k.kid), [a.current.kid, a.previous[0]?.kid, bEd.current.kid]);
  for (const k of keys) {
    assert.equal(k.use, 'sig');
    assert.equal(k.d, undefined);
    assert.ok(typeof k.kid === 'string' && typeof k.alg === 'string');
  }
  assert.deepEqual(keys.map((k) => k.alg), ['ES512', 'ES512', 'EdDSA']);

  now.t += 3600_000;
  const later = ((await b.handle(req('read', 'oidc/.well-known/keys'), ANONYMOUS_CALLER)).raw?.keys ?? []) as Record<string, unknown>[];
  assert.deepEqual(later.map((k) => k.kid), [a.current.kid, bEd.current.kid]);
  assert.deepEqual((await record('a-ec')).previous, [], 'the expired key was pruned from storage too');
});
