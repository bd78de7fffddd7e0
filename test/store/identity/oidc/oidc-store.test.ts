import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigningKeyCache, generateSigningKey, type NamedKeyRecord } from '../../../../src/store/identity/oidc/oidc-keys.js';
import { OidcStore } from '../../../../src/store/identity/oidc/oidc-store.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';

const T0 = Date.UTC(2025, 0, 1);
const HOUR = 3600_000;

/** A storage that counts writes. */
class CountingStorage extends MemoryStorage {
  puts = 0;
  override put(key: string, value: Buffer): Promise<void> {
    this.puts += 1;
    return super.put(key, value);
  }
}

async function key(): Promise<NamedKeyRecord> {
  const { record } = await generateSigningKey('ES256');
  return {
    algorithm: 'ES256',
    rotation_period: 3600,
    verification_ttl: 3600,
    allowed_client_ids: [],
    next_rotation: T0 + HOUR,
    current: record,
    previous: [],
  };
}

test('store: config defaults to an empty issuer and round-trips', async () => {
  const store = new OidcStore(new MemoryStorage());
  assert.deepEqual(await store.getConfig(), { issuer: '' });
  await store.putConfig({ issuer: 'https://x' });
  assert.deepEqual(await store.getConfig(), { issuer: 'https://x' });
});

test('store: keys and roles round-trip, list sorted, roles by key', async () => {
  const storage = new MemoryStorage();
  const store = new OidcStore(storage);
  const k = await key();
  await store.putKey('b', k);
  await store.putKey('a', k);
  await storage.put('key/folder/x', Buffer.from('{}'));
  assert.deepEqual(await store.listKeys(), ['a', 'b']);
  assert.deepEqual(await store.getKey('a'), k);
  assert.equal(await store.getKey('zz'), undefined);
  await store.putRole('r2', { key: 'a', template: '', ttl: 60, client_id: 'c2' });
  await store.putRole('r1', { key: 'a', template: '', ttl: 60, client_id: 'c1' });
  await store.putRole('r3', { key: 'b', template: '', ttl: 60, client_id: 'c3' });
  assert.deepEqual(await store.listRoles(), ['r1', 'r2', 'r3']);
  assert.deepEqual((await store.rolesUsingKey('a')).map(([n]) => n), ['r1', 'r2']);
  await store.deleteRole('r1');
  await store.deleteKey('b');
  assert.deepEqual(await store.listRoles(), ['r2', 'r3']);
  assert.deepEqual(await store.listKeys(), ['a']);
});

test('store: getFreshKey writes only when the key changed', async () => {
  const storage = new CountingStorage();
  const store = new OidcStore(storage);
  const cache = new SigningKeyCache();
  const k = await key();
  await store.putKey('k', k);
  storage.puts = 0;
  assert.deepEqual(await store.getFreshKey('k', T0, cache), k);
  assert.equal(storage.puts, 0);
  const rotated = await store.getFreshKey('k', T0 + HOUR, cache);
  assert.equal(storage.puts, 1);
  assert.notEqual(rotated?.current.kid, k.current.kid);
  assert.deepEqual(await store.getKey('k'), rotated);
  assert.equal(await store.getFreshKey('none', T0, cache), undefined);
  const all = await store.getFreshKeys(T0 + HOUR, cache);
  assert.deepEqual([...all.keys()], ['k']);
  assert.equal(storage.puts, 1);
});
