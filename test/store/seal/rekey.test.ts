import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { split } from '../../../src/store/shamir.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { randomBytes } from '../../../src/crypto.js';
import { initializedStore, OPTIONS, rejectsApi, throwsApi, unsealWith } from './helpers.js';

test('rekey 5/3 → 4/2: old shares stop working, new ones unseal, data intact across restart', async () => {
  const { manager, keys, physical } = await initializedStore(5, 3);
  await unsealWith(manager, keys.slice(0, 3));
  await manager.barrier().put('secret/db', Buffer.from('pw'));
  assert.deepEqual(manager.rekeyStatus(), {
    nonce: '',
    started: false,
    t: 0,
    n: 0,
    progress: 0,
    required: 3,
    pgp_fingerprints: null,
    backup: false,
    verification_required: false,
  });
  const st = manager.rekeyInit({ secret_shares: 4, secret_threshold: 2 });
  assert.equal(st.started, true);
  assert.equal(st.t, 2);
  assert.equal(st.n, 4);
  const nonce = String(st.nonce);
  throwsApi(() => manager.rekeyInit({ secret_shares: 4, secret_threshold: 2 }), 400, ['rekey already in progress']);
  await rejectsApi(manager.rekeyUpdate({ key: keys[0], nonce: 'x' }), 400, [`incorrect nonce supplied; nonce for this rekey operation is "${nonce}"`]);
  let r = await manager.rekeyUpdate({ key: keys[0], nonce });
  assert.equal(r.progress, 1);
  assert.equal(r.started, true);
  await rejectsApi(manager.rekeyUpdate({ key: keys[0], nonce }), 400, ['given key has already been provided during this generation operation']);
  await manager.rekeyUpdate({ key: keys[3], nonce });
  r = await manager.rekeyUpdate({ key: Buffer.from(keys[4] ?? '', 'hex').toString('base64'), nonce });
  assert.equal(r.complete, true);
  assert.equal(r.nonce, nonce);
  const newKeys = r.keys as string[];
  assert.equal(newKeys.length, 4);
  assert.deepEqual(
    (r.keys_base64 as string[]).map((b) => Buffer.from(b, 'base64').toString('hex')),
    newKeys,
  );
  assert.equal(manager.rekeyStatus().started, false);
  assert.equal(manager.sealStatus().t, 2);
  assert.equal(manager.sealStatus().n, 4);

  await manager.close();
  const again = await SealManager.open(physical, OPTIONS);
  assert.equal(again.sealStatus().n, 4);
  await again.unseal({ key: keys[0] });
  await rejectsApi(again.unseal({ key: keys[1] }), 400, [
    'unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed',
  ]);
  await unsealWith(again, [newKeys[3] ?? '', newKeys[1] ?? '']);
  assert.deepEqual(await again.barrier().get('secret/db'), Buffer.from('pw'));
});

test('rekey to a single key (1/1) returns the raw 32-byte unseal key', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  await unsealWith(manager, keys.slice(0, 2));
  const { nonce } = manager.rekeyInit({ secret_shares: 1, secret_threshold: 1 });
  await manager.rekeyUpdate({ key: keys[2], nonce });
  const r = await manager.rekeyUpdate({ key: keys[1], nonce });
  const newKeys = r.keys as string[];
  assert.equal(newKeys.length, 1);
  assert.equal(Buffer.from(newKeys[0] ?? '', 'hex').length, 32);
  await manager.seal();
  await unsealWith(manager, newKeys);
});

test('rekey errors: validation (400: Vault says 500), unsupported options, wrong shares (400), sealed, uninitialized', async () => {
  const m = await SealManager.open(new MemoryStorage(), OPTIONS);
  throwsApi(() => m.rekeyStatus(), 400, ['server is not yet initialized']);
  const { manager, keys } = await initializedStore(3, 2);
  throwsApi(() => manager.rekeyStatus(), 503, ['Vault is sealed']);
  throwsApi(() => manager.rekeyInit({ secret_shares: 3, secret_threshold: 2 }), 503, ['Vault is sealed']);
  await rejectsApi(manager.rekeyUpdate({ key: keys[0], nonce: '' }), 503, ['Vault is sealed']);
  await unsealWith(manager, keys.slice(0, 2));
  throwsApi(() => manager.rekeyInit({ secret_shares: 3, secret_threshold: 4 }), 400, ['provided threshold greater than the total shares']);
  throwsApi(() => manager.rekeyInit({ secret_shares: 3, secret_threshold: 1 }), 400, [
    'invalid rekey seal configuration: threshold must be greater than one for multiple shares',
  ]);
  throwsApi(() => manager.rekeyInit({ secret_shares: 3, secret_threshold: 2, backup: true }), 400, [
    'cannot request a backup of the new keys without providing PGP keys for encryption',
  ]);
  throwsApi(() => manager.rekeyInit({ secret_shares: 3, secret_threshold: 2, pgp_keys: ['a'] }), 400, ['incorrect number of PGP keys for rekey']);
  await rejectsApi(manager.rekeyUpdate({ key: keys[0], nonce: '' }), 400, ['no barrier rekey in progress']);
  await rejectsApi(manager.rekeyUpdate({ key: '0011', nonce: '' }), 400, ['key is shorter than minimum 16 bytes']);
  const { nonce } = manager.rekeyInit({ secret_shares: 2, secret_threshold: 2 });
  const foreign = split(randomBytes(32), 3, 2).map((b) => b.toString('hex'));
  await manager.rekeyUpdate({ key: foreign[0], nonce });
  await rejectsApi(manager.rekeyUpdate({ key: foreign[1], nonce }), 400, [
    'failed to read root key: invalid key: failed to decrypt keys from storage: cipher: message authentication failed',
  ]);
  assert.equal(manager.rekeyStatus().progress, 0, 'progress cleared, operation kept');
  assert.equal(manager.rekeyStatus().started, true);
  manager.rekeyCancel();
  assert.equal(manager.rekeyStatus().started, false);
  // The old shares still work: nothing was changed by the failed attempt.
  await manager.seal();
  await unsealWith(manager, [keys[2] ?? '', keys[1] ?? '']);
});
