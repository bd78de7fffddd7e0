import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Barrier, ENTRY_OVERHEAD, ENTRY_VERSION_AAD, KEYRING_PATH } from '../../src/store/barrier.js';
import { MemoryStorage } from '../../src/store/storage/storage.js';
import { randomBytes } from '../../src/crypto.js';
import { StoreApiError } from '../../src/store/api-error.js';

const CORRUPT = { name: 'SecretStoreError', code: 'STORE_CORRUPT', message: 'a stored entry failed authentication: the data folder was altered or damaged; restore it from a backup' };

async function unsealedBarrier() {
  const physical = new MemoryStorage();
  const rootKey = randomBytes(32);
  const barrier = new Barrier(physical);
  await barrier.initialize(rootKey);
  return { physical, barrier, rootKey };
}

test('entries use Vault layout: term ‖ 0x02 ‖ nonce ‖ ct ‖ tag; plaintext never reaches physical storage', async () => {
  const { physical, barrier } = await unsealedBarrier();
  const value = Buffer.from('{"password":"hunter2"}');
  await barrier.put('logical/kv/app', value);
  const raw = (await physical.get('logical/kv/app')) ?? Buffer.alloc(0);
  assert.equal(raw.length, value.length + ENTRY_OVERHEAD);
  assert.equal(raw.readUInt32BE(0), 1, 'term 1');
  assert.equal(raw[4], ENTRY_VERSION_AAD);
  assert.equal(raw.includes(Buffer.from('hunter2')), false);
  assert.deepEqual(await barrier.get('logical/kv/app'), value);
  assert.equal(await barrier.get('absent'), undefined);
  assert.deepEqual(await barrier.list('logical/'), ['kv/']);
  await barrier.delete('logical/kv/app');
  assert.equal(await physical.get('logical/kv/app'), undefined);
  const keyring = (await physical.get(KEYRING_PATH)) ?? Buffer.alloc(0);
  assert.equal(keyring.readUInt32BE(0), 0, 'keyring under term 0 (root key)');
});

test('tamper: a flipped byte anywhere, a truncated entry, or an entry moved to another path → STORE_CORRUPT', async () => {
  const { physical, barrier } = await unsealedBarrier();
  await barrier.put('a/one', Buffer.from('first value'));
  await barrier.put('a/two', Buffer.from('second value'));
  const raw = (await physical.get('a/one')) ?? Buffer.alloc(0);
  for (let i = 0; i < raw.length; i++) {
    const t = Buffer.from(raw);
    t[i] = (t[i] ?? 0) ^ 0x01;
    await physical.put('a/one', t);
    await assert.rejects(barrier.get('a/one'), CORRUPT, `byte ${i}`);
  }
  await physical.put('a/one', raw.subarray(0, 10));
  await assert.rejects(barrier.get('a/one'), CORRUPT);
  // Moving a valid ciphertext to another path fails: the path is the AAD.
  await physical.put('a/two', raw);
  await assert.rejects(barrier.get('a/two'), CORRUPT);
  await physical.put('a/one', raw);
  assert.deepEqual(await barrier.get('a/one'), Buffer.from('first value'));
});

test('unseal with the root key reloads the keyring; a wrong root key or tampered keyring fails; seal → 503', async () => {
  const { physical, barrier, rootKey } = await unsealedBarrier();
  await barrier.put('x', Buffer.from('v'));
  barrier.seal();
  assert.equal(barrier.sealed, true);
  await assert.rejects(barrier.get('x'), (e: unknown) => e instanceof StoreApiError && e.status === 503 && e.message === 'Vault is sealed');
  await assert.rejects(barrier.put('x', Buffer.from('w')), (e: unknown) => e instanceof StoreApiError && e.status === 503);
  const other = new Barrier(physical);
  await assert.rejects(other.unseal(randomBytes(32)), CORRUPT);
  assert.equal(other.sealed, true);
  await other.unseal(rootKey);
  assert.deepEqual(await other.get('x'), Buffer.from('v'));
  assert.equal(other.verifyRoot(rootKey), true);
  assert.equal(other.verifyRoot(randomBytes(32)), false);
  const kr = (await physical.get(KEYRING_PATH)) ?? Buffer.alloc(0);
  kr[kr.length - 1] = (kr[kr.length - 1] ?? 0) ^ 0xff;
  await physical.put(KEYRING_PATH, kr);
  await assert.rejects(new Barrier(physical).unseal(rootKey), CORRUPT);
});

test('reserved core paths cannot be written through the barrier', async () => {
  const { barrier } = await unsealedBarrier();
  for (const p of [KEYRING_PATH, 'core/seal-config', 'core/hsm/barrier-unseal-keys']) {
    await assert.rejects(barrier.put(p, Buffer.from('x')), { code: 'INTERNAL' });
    await assert.rejects(barrier.delete(p), { code: 'INTERNAL' });
  }
});

test('rotation: new writes use the new term, old entries still decrypt, survives re-unseal', async () => {
  const { physical, barrier, rootKey } = await unsealedBarrier();
  await barrier.put('old', Buffer.from('1'));
  assert.equal(await barrier.rotate(), 2);
  await barrier.put('new', Buffer.from('2'));
  assert.equal(((await physical.get('new')) ?? Buffer.alloc(4)).readUInt32BE(0), 2);
  barrier.seal();
  await barrier.unseal(rootKey);
  assert.equal(barrier.activeTerm, 2);
  assert.deepEqual(await barrier.get('old'), Buffer.from('1'));
  assert.deepEqual(await barrier.get('new'), Buffer.from('2'));
});

test('property: any value at any path round-trips; the stored bytes never contain it in clear', async () => {
  const { physical, barrier } = await unsealedBarrier();
  await fc.assert(
    fc.asyncProperty(fc.string({ minLength: 1, maxLength: 60 }), fc.uint8Array({ minLength: 8, maxLength: 300 }), async (path, bytes) => {
      const value = Buffer.from(bytes);
      await barrier.put(`p/${path}`, value);
      assert.deepEqual(await barrier.get(`p/${path}`), value);
      const raw = (await physical.get(`p/${path}`)) ?? Buffer.alloc(0);
      assert.equal(raw.length, value.length + ENTRY_OVERHEAD);
      // 8+ bytes of plaintext appearing in random ciphertext by chance: ~2^-58 per entry.
      assert.equal(raw.includes(value), false, 'the value is stored in clear');
    }),
    { numRuns: 100 },
  );
});

/** A MemoryStorage whose reads wait for `gate` and whose writes to `failPath` fail once `failWrites` is set. */
class SlowStorage extends MemoryStorage {
  gate: Promise<void> = Promise.resolve();
  failPath: string | undefined;
  override async get(key: string): Promise<Buffer | undefined> {
    const v = await super.get(key);
    await this.gate;
    return v;
  }
  override async put(key: string, value: Buffer): Promise<void> {
    if (key === this.failPath) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    await super.put(key, value);
  }
}

test('a read in flight when the store seals answers 503 Vault is sealed, not STORE_CORRUPT', async () => {
  const physical = new SlowStorage();
  const barrier = new Barrier(physical);
  await barrier.initialize(randomBytes(32));
  await barrier.put('secret/x', Buffer.from('v'));
  let open = (): void => undefined;
  physical.gate = new Promise((r) => (open = r));
  const reading = barrier.get('secret/x');
  barrier.seal();
  open();
  await assert.rejects(reading, (e: unknown) => e instanceof StoreApiError && e.status === 503 && e.message === 'Vault is sealed');
});

test('rotation: the new term is used only once the keyring holding it is durable', async () => {
  const physical = new SlowStorage();
  const rootKey = randomBytes(32);
  const barrier = new Barrier(physical);
  await barrier.initialize(rootKey);
  physical.failPath = KEYRING_PATH;
  await assert.rejects(barrier.rotate(), /disk full/);
  assert.equal(barrier.activeTerm, 1, 'a failed persist leaves the active term alone');
  physical.failPath = undefined;
  await barrier.put('written-after-failed-rotate', Buffer.from('still readable'));
  // Two rotations at once get distinct terms, and both survive a re-unseal.
  assert.deepEqual((await Promise.all([barrier.rotate(), barrier.rotate()])).sort(), [2, 3]);
  await barrier.put('under-3', Buffer.from('3'));
  barrier.seal();
  await barrier.unseal(rootKey);
  assert.equal(barrier.activeTerm, 3);
  assert.deepEqual(await barrier.get('written-after-failed-rotate'), Buffer.from('still readable'));
  assert.deepEqual(await barrier.get('under-3'), Buffer.from('3'));
});

test('writeOrdered encrypts every value (bound to its key) and hands the batch down; a reserved path refuses the whole batch', async () => {
  const { physical, barrier } = await unsealedBarrier();
  await barrier.put('logical/kv/old', Buffer.from('old'));
  await barrier.writeOrdered([
    ['logical/kv/v1', Buffer.from('secret-one')],
    ['logical/kv/meta', Buffer.from('secret-two')],
    ['logical/kv/old', undefined],
  ]);
  for (const [key, plain] of [['logical/kv/v1', 'secret-one'], ['logical/kv/meta', 'secret-two']] as const) {
    const raw = (await physical.get(key)) ?? Buffer.alloc(0);
    assert.equal(raw.includes(Buffer.from(plain)), false, 'ciphertext only');
    assert.deepEqual(await barrier.get(key), Buffer.from(plain));
  }
  assert.equal(await physical.get('logical/kv/old'), undefined);
  await assert.rejects(barrier.writeOrdered([['logical/kv/x', Buffer.from('x')], [KEYRING_PATH, Buffer.from('x')]]), { code: 'INTERNAL' });
  assert.equal(await physical.get('logical/kv/x'), undefined, 'nothing of a refused batch was written');
});
