import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, sha256 } from '../../../src/crypto.js';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { INIT_ATTEMPT_PATH, NO_RECORDED_ATTEMPT } from '../../../src/store/seal/init-attempt.js';
import { MemoryStorage, type Storage } from '../../../src/store/storage/storage.js';
import { mintToken, OPTIONS, rejectsApi, unsealWith } from './helpers.js';

/** Every key of `s`, sorted. */
async function allKeys(s: Storage, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const child of await s.list(prefix)) {
    if (child.endsWith('/')) out.push(...(await allKeys(s, prefix + child)));
    else out.push(prefix + child);
  }
  return out;
}

/** Records the order of physical writes and deletes. */
class RecordingStorage extends MemoryStorage {
  readonly ops: string[] = [];
  override put(key: string, value: Buffer): Promise<void> {
    this.ops.push(`put ${key}`);
    return super.put(key, value);
  }
  override delete(key: string): Promise<void> {
    this.ops.push(`delete ${key}`);
    return super.delete(key);
  }
}

async function attemptStore(physical: Storage = new MemoryStorage()) {
  const attempt = randomBytes(32);
  const hash = sha256(attempt).toString('hex');
  const manager = await SealManager.open(physical, OPTIONS);
  const r = await manager.init({ secret_shares: 3, secret_threshold: 2, init_attempt_sha256: hash }, mintToken);
  return { manager, physical, attempt, hash, keys: r.keys.map((k) => k.toString('hex')) };
}

const BAD_HASH = ['init_attempt_sha256 must be 64 lowercase hex digits'];

test('init: init_attempt_sha256 must be 64 lowercase hex; nothing is written when it is not', async () => {
  const physical = new MemoryStorage();
  const m = await SealManager.open(physical, OPTIONS);
  for (const bad of ['', 'AB'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33), 'zz'.repeat(32), 42, true, ['ab'.repeat(32)], {}]) {
    await rejectsApi(m.init({ secret_shares: 1, secret_threshold: 1, init_attempt_sha256: bad }, mintToken), 400, BAD_HASH);
  }
  assert.equal(m.initialized, false);
  assert.deepEqual(await allKeys(physical), []);
  // null and absent mean "no attempt".
  await m.init({ secret_shares: 1, secret_threshold: 1, init_attempt_sha256: null }, mintToken);
  assert.equal(await physical.get(INIT_ATTEMPT_PATH), undefined);
  assert.equal('init_attempt_sha256' in m.sealStatus(), false);
  assert.equal(m.sealStatus().init_attempt_supported, true);
});

test('init: core/init-attempt is written (plaintext) before core/seal-config, the commit point', async () => {
  const physical = new RecordingStorage();
  const { hash } = await attemptStore(physical);
  const raw = await physical.get(INIT_ATTEMPT_PATH);
  assert.ok(raw !== undefined);
  assert.deepEqual(JSON.parse(raw.toString('utf8')), { sha256: hash });
  const at = physical.ops.indexOf(`put ${INIT_ATTEMPT_PATH}`);
  const commit = physical.ops.indexOf('put core/seal-config');
  assert.ok(at >= 0 && commit > at, physical.ops.join(', '));
});

test('seal-status reports the attempt while sealed, across a restart, until the first unseal deletes it', async () => {
  const { manager, physical, hash, keys } = await attemptStore();
  assert.equal(manager.sealStatus().init_attempt_sha256, hash);
  assert.equal(manager.sealStatus().init_attempt_supported, true);
  await manager.close();
  const reopened = await SealManager.open(physical, OPTIONS);
  assert.equal(reopened.sealStatus().init_attempt_sha256, hash);
  // A partial unseal does not remove it.
  await reopened.unseal({ key: keys[0] });
  assert.equal(reopened.sealStatus().init_attempt_sha256, hash);
  assert.ok((await physical.get(INIT_ATTEMPT_PATH)) !== undefined);
  const answer = await reopened.unseal({ key: keys[1] });
  assert.equal(answer.sealed, false);
  assert.equal('init_attempt_sha256' in answer, false);
  assert.equal(answer.init_attempt_supported, true);
  assert.equal(await physical.get(INIT_ATTEMPT_PATH), undefined);
  await reopened.seal();
  assert.equal('init_attempt_sha256' in reopened.sealStatus(), false);
  const again = await SealManager.open(physical, OPTIONS);
  assert.equal('init_attempt_sha256' in again.sealStatus(), false);
});

test('the first unseal deletes the attempt before any logical write (unseal callbacks)', async () => {
  const { manager, physical, keys } = await attemptStore();
  let presentInCallback: boolean | undefined;
  manager.onUnseal(async () => {
    presentInCallback = (await physical.get(INIT_ATTEMPT_PATH)) !== undefined;
  });
  await unsealWith(manager, keys.slice(0, 2));
  assert.equal(presentInCallback, false);
});

test('a failed delete of the attempt at unseal re-seals and keeps it', async () => {
  class FailingDelete extends MemoryStorage {
    fail = false;
    override delete(key: string): Promise<void> {
      if (this.fail && key === INIT_ATTEMPT_PATH) return Promise.reject(new Error('disk full'));
      return super.delete(key);
    }
  }
  const physical = new FailingDelete();
  const { manager, hash, keys } = await attemptStore(physical);
  physical.fail = true;
  await manager.unseal({ key: keys[0] });
  await assert.rejects(manager.unseal({ key: keys[1] }));
  assert.equal(manager.sealed, true);
  assert.equal(manager.sealStatus().init_attempt_sha256, hash);
});

test('abandon: not initialized → 400', async () => {
  const m = await SealManager.open(new MemoryStorage(), OPTIONS);
  await rejectsApi(m.abandonInit({ init_attempt: 'ab'.repeat(32) }), 400, ['the store is not initialized']);
});

test('abandon: initialized without an attempt → 409; unsealed since init → 409', async () => {
  const plain = await SealManager.open(new MemoryStorage(), OPTIONS);
  await plain.init({ secret_shares: 1, secret_threshold: 1 }, mintToken);
  await rejectsApi(plain.abandonInit({ init_attempt: 'ab'.repeat(32) }), 409, [NO_RECORDED_ATTEMPT]);

  const { manager, physical, attempt, keys } = await attemptStore();
  await unsealWith(manager, keys.slice(0, 2));
  await manager.seal();
  const before = await allKeys(physical);
  await rejectsApi(manager.abandonInit({ init_attempt: attempt.toString('hex') }), 409, [NO_RECORDED_ATTEMPT]);
  assert.equal(manager.initialized, true);
  assert.deepEqual(await allKeys(physical), before);
});

test('abandon: a wrong id → 403, a malformed one → 400, and nothing changes', async () => {
  const { manager, physical, hash, keys } = await attemptStore();
  const before = await allKeys(physical);
  await rejectsApi(manager.abandonInit({ init_attempt: randomBytes(32).toString('hex') }), 403, ['init attempt mismatch']);
  // The hash itself is not the id.
  await rejectsApi(manager.abandonInit({ init_attempt: hash }), 403, ['init attempt mismatch']);
  for (const bad of [undefined, '', 'AB'.repeat(32), 'ab'.repeat(31), 7]) {
    const err = await manager.abandonInit(bad === undefined ? {} : { init_attempt: bad }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((err as { status?: number }).status, 400, String(bad));
  }
  assert.deepEqual(await allKeys(physical), before);
  assert.equal(manager.initialized, true);
  assert.equal(manager.sealStatus().init_attempt_sha256, hash);
  await unsealWith(manager, keys.slice(0, 2));
});

test('abandon with the right id erases everything, reports uninitialized, and a new init works', async () => {
  const physical = new RecordingStorage();
  const { manager, attempt } = await attemptStore(physical);
  assert.ok((await allKeys(physical)).length > 3);
  let resets = 0;
  manager.onInitAbandoned(() => resets++);
  physical.ops.length = 0;
  assert.deepEqual(await manager.abandonInit({ init_attempt: attempt.toString('hex') }), { initialized: false });
  assert.equal(resets, 1);
  assert.deepEqual(await allKeys(physical), []);
  // Marker first, then the commit point, marker last.
  assert.equal(physical.ops[0], 'put core/init-in-progress');
  assert.equal(physical.ops[1], 'delete core/seal-config');
  assert.equal(physical.ops.at(-1), 'delete core/init-in-progress');
  assert.equal(manager.initialized, false);
  const status = manager.sealStatus();
  assert.equal(status.initialized, false);
  assert.equal(status.t, 0);
  assert.equal('init_attempt_sha256' in status, false);
  assert.equal(manager.health({}).status, 501);
  await rejectsApi(manager.abandonInit({ init_attempt: attempt.toString('hex') }), 400, ['the store is not initialized']);

  const next = randomBytes(32);
  const r = await manager.init({ secret_shares: 1, secret_threshold: 1, init_attempt_sha256: sha256(next).toString('hex') }, mintToken);
  assert.equal(manager.sealStatus().init_attempt_sha256, sha256(next).toString('hex'));
  await unsealWith(manager, r.keys.map((k) => k.toString('hex')));
  const reopened = await SealManager.open(physical, OPTIONS);
  assert.equal(reopened.initialized, true);
});

test('a crash during the erase is finished at the next open', async () => {
  /** Throws on the n-th delete, as a process killed mid-erase would stop there. */
  class CrashingStorage extends MemoryStorage {
    deletesLeft = Infinity;
    override delete(key: string): Promise<void> {
      if (this.deletesLeft-- <= 0) return Promise.reject(new Error('killed'));
      return super.delete(key);
    }
  }
  for (const crashAfter of [0, 1, 2, 4]) {
    const physical = new CrashingStorage();
    const { manager, attempt, hash } = await attemptStore(physical);
    physical.deletesLeft = crashAfter;
    await assert.rejects(manager.abandonInit({ init_attempt: attempt.toString('hex') }));
    physical.deletesLeft = Infinity;
    const reopened = await SealManager.open(physical, OPTIONS);
    if (crashAfter === 0) {
      // Killed before the commit point: still initialized with its attempt; abandoning again works.
      assert.equal(reopened.initialized, true);
      assert.equal(reopened.sealStatus().init_attempt_sha256, hash);
      await reopened.abandonInit({ init_attempt: attempt.toString('hex') });
    } else {
      assert.equal(reopened.initialized, false, `crash after ${crashAfter}`);
    }
    assert.deepEqual(await allKeys(physical), [], `crash after ${crashAfter}`);
    await reopened.init({ secret_shares: 1, secret_threshold: 1 }, mintToken);
  }
});

test('abandon runs under the seal mutex: a concurrent unseal and abandon do not interleave', async () => {
  const { manager, physical, attempt, keys } = await attemptStore();
  await manager.unseal({ key: keys[0] });
  const [u, a] = await Promise.allSettled([manager.unseal({ key: keys[1] }), manager.abandonInit({ init_attempt: attempt.toString('hex') })]);
  // Unseal queued first: it wins, and the abandon is refused with 409.
  assert.equal(u.status, 'fulfilled');
  assert.equal(a.status, 'rejected');
  assert.equal(manager.initialized, true);
  assert.ok((await allKeys(physical)).includes('core/seal-config'));
});
