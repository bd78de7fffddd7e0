/**
 * Key inputs of any length: unseal, generate-root and rekey answer an over-long key with Vault's length message, in
 * Vault's order of checks, after a length check that costs the same for 5 M characters as for 50 (no regular
 * expression or decoding runs over the input). Invalid rekey configurations and wrong rekey shares are 400s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from '../../../src/crypto.js';
import { decodeKey, keyLengthProblem } from '../../../src/store/seal/key-input.js';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { split } from '../../../src/store/shamir.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { initializedStore, OPTIONS, rejectsApi, throwsApi, unsealWith } from './helpers.js';

const HUGE = ['a'.repeat(5_000_000), 'ab'.repeat(2_500_000), 'A'.repeat(4_999_999) + 'z', '\n'.repeat(5_000_000), '%'.repeat(5_000_000)];

test('decodeKey: an input over 1024 characters is not decoded, reads as longer than any key, in constant time', () => {
  for (const key of HUGE) {
    const decoded = decodeKey(key);
    assert.equal(keyLengthProblem(decoded, 'invalid key: '), 'invalid key: key is longer than maximum 33 bytes');
  }
  // Up to the bound the input is decoded as before (Vault's rules), so a valid key with line breaks still works.
  const k33 = Buffer.alloc(33, 0xab);
  const wrapped = k33.toString('base64') + '\r\n'.repeat(400);
  assert.ok(wrapped.length <= 1024);
  assert.deepEqual(decodeKey(wrapped), k33);
  // Bounded work: 200 calls on 5 M characters take far less than one regular-expression pass over them did (~100 ms).
  const started = performance.now();
  for (let i = 0; i < 200; i++) decodeKey(HUGE[i % HUGE.length] ?? '');
  const ms = performance.now() - started;
  assert.ok(ms < 200, `200 decodes of 5 M characters took ${ms.toFixed(1)} ms`);
});

test('unseal with a 5 M-character key: 400 invalid key (longer than maximum), no progress; uninitialized first', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  for (const key of HUGE) await rejectsApi(manager.unseal({ key }), 400, ['invalid key: key is longer than maximum 33 bytes']);
  assert.equal(manager.sealStatus().progress, 0);
  await unsealWith(manager, keys.slice(0, 2));
  // Unsealed: Vault still checks the length before answering "already unsealed".
  await rejectsApi(manager.unseal({ key: HUGE[0] }), 400, ['invalid key: key is longer than maximum 33 bytes']);
  const fresh = await SealManager.open(new MemoryStorage(), OPTIONS);
  await rejectsApi(fresh.unseal({ key: HUGE[1] }), 400, ['Vault is not initialized']);
});

test('generate-root/update and rekey/update with a 5 M-character key: 400 with their wording, sealed rekey 503', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  await rejectsApi(manager.rekeyUpdate({ key: HUGE[0], nonce: '' }), 503, ['Vault is sealed']);
  await unsealWith(manager, keys.slice(0, 2));
  const { nonce } = manager.generateRootStart({});
  for (const key of HUGE) {
    await rejectsApi(manager.generateRootUpdate({ key, nonce }, () => Promise.resolve('hvs.x')), 400, ['invalid key: key is longer than maximum 33 bytes']);
  }
  assert.equal(manager.generateRootStatus().progress, 0);
  const rekey = manager.rekeyInit({ secret_shares: 3, secret_threshold: 2 });
  for (const key of HUGE) await rejectsApi(manager.rekeyUpdate({ key, nonce: rekey.nonce }), 400, ['key is longer than maximum 33 bytes']);
  assert.equal(manager.rekeyStatus().progress, 0);
});

test('rekey/init: an invalid configuration is a 400 with Vault\'s message, checked before the seal state', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  throwsApi(() => manager.rekeyInit({}), 400, ['invalid rekey seal configuration: shares must be at least one']);
  throwsApi(() => manager.rekeyInit({ secret_shares: 3, secret_threshold: 4 }), 400, ['provided threshold greater than the total shares']);
  await unsealWith(manager, keys.slice(0, 2));
  throwsApi(() => manager.rekeyInit({}), 400, ['invalid rekey seal configuration: shares must be at least one']);
  throwsApi(() => manager.rekeyInit({ secret_shares: 2 }), 400, ['invalid rekey seal configuration: threshold must be at least one']);
  throwsApi(() => manager.rekeyInit({ secret_shares: 256, secret_threshold: 256 }), 400, ['invalid rekey seal configuration: shares must be less than 256']);
  assert.equal(manager.rekeyStatus().started, false);
});

test('rekey/update: shares that do not recombine to the unseal key are a client mistake (400), the operation is kept', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  await unsealWith(manager, keys.slice(0, 2));
  const { nonce } = manager.rekeyInit({ secret_shares: 2, secret_threshold: 2 });
  const foreign = split(randomBytes(32), 3, 2).map((b) => b.toString('hex'));
  await manager.rekeyUpdate({ key: foreign[0], nonce });
  await rejectsApi(manager.rekeyUpdate({ key: foreign[1], nonce }), 400, [
    'failed to read root key: invalid key: failed to decrypt keys from storage: cipher: message authentication failed',
  ]);
  // Shares of different lengths cannot be combined.
  await manager.rekeyUpdate({ key: randomBytes(16).toString('hex'), nonce });
  await rejectsApi(manager.rekeyUpdate({ key: randomBytes(20).toString('hex'), nonce }), 400, ['failed to compute root key: all parts must be the same length']);
  assert.equal(manager.rekeyStatus().started, true);
  assert.equal(manager.rekeyStatus().progress, 0);
});
