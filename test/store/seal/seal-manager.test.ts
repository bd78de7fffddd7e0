import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { split } from '../../../src/store/shamir.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { randomBytes } from '../../../src/crypto.js';
import { initializedStore, mintToken, OPTIONS, rejectsApi, throwsApi, unsealWith } from './helpers.js';

const AUTH_FAILED = 'unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed';

test('uninitialized: seal-status and health as Vault reports them', async () => {
  const m = await SealManager.open(new MemoryStorage(), OPTIONS);
  assert.equal(m.initialized, false);
  assert.equal(m.sealed, true);
  assert.deepEqual(m.sealStatus(), {
    type: 'shamir',
    initialized: false,
    sealed: true,
    t: 0,
    n: 0,
    progress: 0,
    nonce: '',
    version: '1.15.0-test',
    build_date: '',
    migration: false,
    recovery_seal: false,
    storage_type: 'inmem',
    init_attempt_supported: true,
  });
  const h = m.health({});
  assert.equal(h.status, 501);
  assert.equal(h.body.initialized, false);
  assert.equal(h.body.standby, true);
  assert.equal(h.body.replication_dr_mode, 'unknown');
  assert.equal(m.health({ uninitcode: '200' }).status, 200);
  await rejectsApi(m.unseal({ key: 'aa'.repeat(33) }), 400, ['Vault is not initialized']);
  throwsApi(() => m.barrier(), 503, ['Vault is sealed']);
});

test('init validation messages (Vault SealConfig.Validate order)', async () => {
  const m = await SealManager.open(new MemoryStorage(), OPTIONS);
  const cases: [Record<string, unknown>, string][] = [
    [{}, 'shares must be at least one'],
    [{ secret_shares: 0, secret_threshold: 1 }, 'shares must be at least one'],
    [{ secret_shares: 1, secret_threshold: 0 }, 'threshold must be at least one'],
    [{ secret_shares: 3, secret_threshold: 1 }, 'threshold must be greater than one for multiple shares'],
    [{ secret_shares: 256, secret_threshold: 3 }, 'shares must be less than 256'],
    [{ secret_shares: 300, secret_threshold: 256 }, 'shares must be less than 256'],
    [{ secret_shares: 3, secret_threshold: 4 }, 'threshold cannot be larger than shares'],
    [{ secret_shares: 3, secret_threshold: 2, pgp_keys: ['a'] }, 'count mismatch between number of provided PGP keys and number of shares'],
  ];
  for (const [req, msg] of cases) await rejectsApi(m.init(req, mintToken), 400, [`invalid seal configuration: ${msg}`]);
  await rejectsApi(m.init({ secret_shares: '5', secret_threshold: 3 }, mintToken), 400, [
    'failed to parse JSON input: json: cannot unmarshal string into Go struct field InitRequest.secret_shares of type int',
  ]);
  await rejectsApi(m.init({ secret_shares: 2.5, secret_threshold: 2 }, mintToken), 400, [
    'failed to parse JSON input: json: cannot unmarshal number 2.5 into Go struct field InitRequest.secret_shares of type int',
  ]);
  assert.equal(m.initialized, false);
});

test('init 5/3: shares are 33 bytes, store ends sealed, nothing secret in plaintext, second init refused', async () => {
  const { manager, physical, keys, rootToken } = await initializedStore(5, 3);
  assert.equal(keys.length, 5);
  for (const k of keys) assert.equal(Buffer.from(k, 'hex').length, 33);
  assert.match(rootToken, /^hvs\.[0-9A-Za-z]{24}$/);
  assert.equal(manager.initialized, true);
  assert.equal(manager.sealed, true);
  const status = manager.sealStatus();
  assert.equal(status.t, 3);
  assert.equal(status.n, 5);
  assert.equal(status.cluster_name, undefined);

  const config = JSON.parse(((await physical.get('core/seal-config')) ?? Buffer.alloc(0)).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(config, { type: 'shamir', secret_shares: 5, secret_threshold: 3, pgp_keys: null, nonce: '', backup: false, stored_shares: 1 });
  // The root token and the keyring must not appear in clear anywhere in physical storage.
  const needle = Buffer.from(rootToken.slice(4));
  for (const prefix of ['', 'core/', 'core/hsm/', 'auth/', 'auth/token/', 'auth/token/id/', 'core/cluster/', 'core/cluster/local/']) {
    for (const k of await physical.list(prefix)) {
      if (k.endsWith('/')) continue;
      const v = (await physical.get(prefix + k)) ?? Buffer.alloc(0);
      assert.equal(v.includes(needle), false, `${prefix + k} holds the token in clear`);
    }
  }
  await rejectsApi(manager.init({ secret_shares: 1, secret_threshold: 1 }, mintToken), 400, ['Vault is already initialized']);
});

test('init 1/1: the key is the raw 32-byte unseal key and unseals alone', async () => {
  const { manager, keys } = await initializedStore(1, 1);
  assert.equal(Buffer.from(keys[0] ?? '', 'hex').length, 32);
  await unsealWith(manager, [keys[0] ?? '']);
});

test('unseal progress: nonce, duplicates ignored, base64 and hex mixed, case-insensitive fields, reset', async () => {
  const { manager, keys } = await initializedStore(5, 3);
  const [k0, k1, k2] = keys as [string, string, string];
  let s = await manager.unseal({ KEY: k0 });
  assert.equal(s.progress, 1);
  assert.equal(s.sealed, true);
  assert.match(String(s.nonce), /^[0-9a-f-]{36}$/);
  const nonce = s.nonce;
  s = await manager.unseal({ key: Buffer.from(k0, 'hex').toString('base64') });
  assert.equal(s.progress, 1, 'duplicate (same share as base64) ignored');
  assert.equal(s.nonce, nonce);
  s = await manager.unseal({ Key: k1 });
  assert.equal(s.progress, 2);
  s = await manager.unseal({ reset: true });
  assert.equal(s.progress, 0);
  assert.equal(s.nonce, '');
  await manager.unseal({ key: k2 });
  await manager.unseal({ key: k0 });
  s = await manager.unseal({ key: Buffer.from(k1, 'hex').toString('base64') });
  assert.equal(s.sealed, false);
  assert.equal(s.progress, 0);
  assert.equal(s.nonce, '');
  assert.match(String(s.cluster_name), /^vault-cluster-[0-9a-f]{8}$/);
  assert.match(String(s.cluster_id), /^[0-9a-f-]{36}$/);
  assert.deepEqual(await manager.unseal({ key: k0 }), manager.sealStatus(), 'already unsealed → status');
  await rejectsApi(manager.unseal({ reset: true }), 400, ['vault is unsealed']);
  const h = manager.health({});
  assert.equal(h.status, 200);
  assert.equal(h.body.standby, false);
  assert.equal(h.body.replication_performance_mode, 'disabled');
});

test('unseal input errors (Vault messages)', async () => {
  const { manager, keys } = await initializedStore(5, 3);
  await rejectsApi(manager.unseal({}), 400, ["'key' must be specified in request body as JSON, or 'reset' set to true"]);
  await rejectsApi(manager.unseal({ key: 'ThisKeyIsNeitherB64NorHex' }), 400, ["'key' must be a valid hex or base64 string"]);
  await rejectsApi(manager.unseal({ key: '0123' }), 400, ['invalid key: key is shorter than minimum 16 bytes']);
  await rejectsApi(manager.unseal({ key: Buffer.alloc(15, 0xff).toString('base64') }), 400, ['invalid key: key is shorter than minimum 16 bytes']);
  // 15 bytes of hex is too short as hex, and 30 characters are not base64 either (Vault tries hex, then base64).
  await rejectsApi(manager.unseal({ key: 'ab'.repeat(15) }), 400, ["'key' must be a valid hex or base64 string"]);
  await rejectsApi(manager.unseal({ key: 'ab'.repeat(34) }), 400, ['invalid key: key is longer than maximum 33 bytes']);
  await rejectsApi(manager.unseal({ key: randomBytes(40).toString('base64') }), 400, ['invalid key: key is longer than maximum 33 bytes']);
  await rejectsApi(manager.unseal({ key: 12 }), 400, [
    'failed to parse JSON input: json: cannot unmarshal number 12 into Go struct field UnsealRequest.key of type string',
  ]);
  await rejectsApi(manager.unseal({ reset: 'yes' }), 400, [
    'failed to parse JSON input: json: cannot unmarshal string into Go struct field UnsealRequest.reset of type bool',
  ]);
  await rejectsApi(manager.unseal({ key: keys[0], migrate: true }), 400, ["'migrate' parameter set true in JSON body when not in seal migration mode"]);
  assert.equal(manager.sealStatus().progress, 0, 'rejected keys do not count');
  // Unequal share lengths at threshold.
  await manager.unseal({ key: keys[0] });
  await manager.unseal({ key: keys[1] });
  await rejectsApi(manager.unseal({ key: 'cd'.repeat(32) }), 400, ['invalid key: failed to compute combined key: all parts must be the same length']);
  assert.equal(manager.sealStatus().progress, 0, 'progress cleared at threshold');
  assert.equal(manager.sealStatus().nonce, '');
});

test('conformance: foreign 33-byte shares — first t−1 accepted (200), the t-th fails with 400', async () => {
  const { manager, keys } = await initializedStore(5, 3);
  const foreign = split(randomBytes(32), 5, 3).map((b) => b.toString('hex'));
  assert.equal((await manager.unseal({ key: foreign[0] })).progress, 1);
  assert.equal((await manager.unseal({ key: foreign[1] })).progress, 2);
  await rejectsApi(manager.unseal({ key: foreign[2] }), 400, [AUTH_FAILED]);
  assert.equal(manager.sealed, true);
  assert.equal(manager.sealStatus().progress, 0);
  // Two right shares and one wrong one fail too, and the right quorum still works afterwards.
  await manager.unseal({ key: keys[0] });
  await manager.unseal({ key: keys[1] });
  // A foreign share whose x (last byte) differs from both right ones; a shared x would be "duplicate part detected".
  const wrong = foreign.find((f) => f.slice(-2) !== keys[0]?.slice(-2) && f.slice(-2) !== keys[1]?.slice(-2));
  await rejectsApi(manager.unseal({ key: wrong }), 400, [AUTH_FAILED]);
  await unsealWith(manager, keys.slice(2, 5));
});

test('conformance: a foreign 32-byte key on a 1/1 store → 400; a 33-byte key on it → bad AES key size', async () => {
  const { manager, keys } = await initializedStore(1, 1);
  await rejectsApi(manager.unseal({ key: randomBytes(32).toString('hex') }), 400, [AUTH_FAILED]);
  await rejectsApi(manager.unseal({ key: randomBytes(33).toString('hex') }), 400, ['invalid key: failed to setup unseal key: crypto/aes: invalid key size 33']);
  await rejectsApi(manager.unseal({ key: randomBytes(16).toString('base64') }), 400, [AUTH_FAILED]);
  await unsealWith(manager, keys);
});

test('conformance: 32-byte keys as shares of a 5/3 store combine to a 31-byte key → bad AES key size', async () => {
  const { manager } = await initializedStore(5, 3);
  // Distinct last bytes (the x coordinates): random ones collide ~1% of the time and give "duplicate part detected".
  const key = (x: number): string => Buffer.concat([randomBytes(31), Buffer.from([x])]).toString('hex');
  await manager.unseal({ key: key(1) });
  await manager.unseal({ key: key(2) });
  await rejectsApi(manager.unseal({ key: key(3) }), 400, ['invalid key: failed to setup unseal key: crypto/aes: invalid key size 31']);
  await manager.unseal({ key: key(7) });
  await manager.unseal({ key: key(9) });
  // A different share with an x already given (9) at the threshold: Vault's duplicate-x message.
  await rejectsApi(manager.unseal({ key: key(9) }), 400, [
    'invalid key: failed to compute combined key: duplicate part detected',
  ]);
});

test('seal wipes keys, fires callbacks; barrier refuses while sealed', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  const events: string[] = [];
  manager.onUnseal(async (b) => {
    events.push('unseal');
    assert.ok((await b.list('auth/token/id/')).length === 1);
  });
  manager.onSeal(() => events.push('seal'));
  await unsealWith(manager, keys.slice(0, 2));
  const barrier = manager.barrier();
  await barrier.put('secret/x', Buffer.from('v'));
  assert.deepEqual(await barrier.get('secret/x'), Buffer.from('v'));
  // Reach into the keyring through the barrier's private field to prove the buffers are zeroed by seal().
  const kr = (barrier as unknown as { keyring: { rootKey: Buffer; activeTerm: { key: Buffer } } }).keyring;
  const rootKey = kr.rootKey;
  const dataKey = kr.activeTerm.key;
  assert.notDeepEqual(rootKey, Buffer.alloc(32));
  await manager.seal();
  assert.deepEqual(rootKey, Buffer.alloc(32), 'root key wiped');
  assert.deepEqual(dataKey, Buffer.alloc(32), 'data key wiped');
  assert.equal(manager.sealed, true);
  await rejectsApi(barrier.get('secret/x'), 503, ['Vault is sealed']);
  throwsApi(() => manager.barrier(), 503, ['Vault is sealed']);
  await manager.seal();
  assert.deepEqual(events, ['unseal', 'seal']);
  assert.equal(manager.health({}).status, 503);
  assert.equal(manager.health({ sealedcode: '299' }).status, 299);
  throwsApi(() => manager.health({ sealedcode: 'x' }), 400, []);
  throwsApi(() => manager.health({ standbyok: 'maybe' }), 400, []);
});

test('an unseal callback that fails re-seals the store', async () => {
  const { manager, keys } = await initializedStore(1, 1);
  manager.onUnseal(() => Promise.reject(new Error('boom')));
  await assert.rejects(manager.unseal({ key: keys[0] }), { name: 'SecretStoreError', code: 'INTERNAL' });
  assert.equal(manager.sealed, true);
});

test('restart from the same physical storage: sealed, then unseal works and data is intact', async () => {
  const { manager, physical, keys } = await initializedStore(5, 3);
  await unsealWith(manager, keys.slice(1, 4));
  await manager.barrier().put('secret/app', Buffer.from('{"password":"x"}'));
  const clusterId = manager.sealStatus().cluster_id;
  await manager.close();
  const again = await SealManager.open(physical, OPTIONS);
  assert.equal(again.initialized, true);
  assert.equal(again.sealed, true);
  assert.equal(again.sealStatus().t, 3);
  const s = await unsealWith(again, [keys[4] ?? '', keys[0] ?? '', keys[2] ?? '']);
  assert.equal(s.cluster_id, clusterId);
  assert.deepEqual(await again.barrier().get('secret/app'), Buffer.from('{"password":"x"}'));
});

test('concurrent inits: exactly one succeeds', async () => {
  const m = await SealManager.open(new MemoryStorage(), OPTIONS);
  const results = await Promise.allSettled([1, 2, 3].map(() => m.init({ secret_shares: 1, secret_threshold: 1 }, mintToken)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).message, 'Vault is already initialized');
});

test('an init that crashed before its commit point leaves the store uninitialized; a new init starts clean', async () => {
  const physical = new MemoryStorage();
  const m = await SealManager.open(physical, OPTIONS);
  await assert.rejects(m.init({ secret_shares: 1, secret_threshold: 1 }, () => Promise.reject(new Error('crash'))), /crash/);
  assert.equal(m.initialized, false);
  assert.equal(m.sealed, true);
  assert.ok((await physical.list('core/')).length > 0, 'leftovers exist');
  const r = await m.init({ secret_shares: 1, secret_threshold: 1 }, mintToken);
  assert.equal((await physical.list('auth/token/id/')).length, 1, 'old leftovers removed');
  await unsealWith(m, [r.keys[0]?.toString('base64') ?? '']);
});

test('init refuses storage that holds data without a seal config or an init marker, and leaves the data alone', async () => {
  const { physical } = await initializedStore(3, 2);
  await physical.delete('core/seal-config');
  const before = await physical.list('');
  const m = await SealManager.open(physical, OPTIONS);
  assert.equal(m.initialized, false);
  await rejectsApi(m.init({ secret_shares: 1, secret_threshold: 1 }, mintToken), 500, [
    'storage holds data but no seal configuration; refusing to initialize over it: restore core/seal-config from a ' +
      'backup, or move the data folder aside to start a new store',
  ]);
  assert.deepEqual(await physical.list(''), before, 'nothing was deleted');
  assert.ok((await physical.get('core/keyring')) !== undefined);
});

test('a completed init leaves no init marker behind', async () => {
  const { physical } = await initializedStore(3, 2);
  assert.equal(await physical.get('core/init-in-progress'), undefined);
});

test('two requests unsealing at once with the last two shares: one unseals, both answer 200, no error', async () => {
  const { manager, keys } = await initializedStore(5, 3);
  const unsealed: string[] = [];
  manager.onUnseal(() => {
    unsealed.push('x');
    return Promise.resolve();
  });
  await manager.unseal({ key: keys[0] });
  const [a, b] = await Promise.all([manager.unseal({ key: keys[1] }), manager.unseal({ key: keys[2] })]);
  // Serialized: the first reaches progress 2, the second reaches the threshold (or finds the store unsealed).
  assert.deepEqual([a.sealed, b.sealed], [true, false]);
  assert.equal(a.progress, 2);
  assert.equal(manager.sealed, false);
  assert.deepEqual(unsealed, ['x'], 'the unseal callbacks ran exactly once');
  // The same share sent twice at once by two clients counts once.
  await manager.seal();
  await manager.unseal({ key: keys[3] });
  const twice = await Promise.all([manager.unseal({ key: keys[4] }), manager.unseal({ key: keys[4] })]);
  assert.deepEqual(twice.map((s) => s.progress), [2, 2]);
  assert.equal(manager.sealed, true);
});

test('a seal requested while an unseal is running waits for it, then wipes what it loaded', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  await manager.unseal({ key: keys[0] });
  const unsealing = manager.unseal({ key: keys[1] });
  const sealing = manager.seal();
  assert.equal((await unsealing).sealed, false);
  await sealing;
  assert.equal(manager.sealed, true);
  assert.equal(manager.sealStatus().progress, 0);
  throwsApi(() => manager.barrier(), 503, ['Vault is sealed']);
});

test('damaged core entries fail closed with STORE_CORRUPT and leave the store sealed with no progress', async () => {
  // Malformed seal configuration: the store does not open at all.
  const bad = new MemoryStorage();
  await bad.put('core/seal-config', Buffer.from('{"type":"shamir","secret_shares":2,"secret_threshold":5}'));
  await assert.rejects(SealManager.open(bad, OPTIONS), {
    name: 'SecretStoreError',
    code: 'STORE_CORRUPT',
    message: 'core/seal-config in the data folder is malformed; restore the data folder from a backup',
  });
  await bad.put('core/seal-config', Buffer.from('not json'));
  await assert.rejects(SealManager.open(bad, OPTIONS), { code: 'STORE_CORRUPT' });

  const cases: [string, (p: MemoryStorage) => Promise<void>, string][] = [
    ['stored keys missing', (p) => p.delete('core/hsm/barrier-unseal-keys'), 'core/hsm/barrier-unseal-keys is missing from the data folder; restore it from a backup'],
    ['keyring missing', (p) => p.delete('core/keyring'), 'the keyring is missing from the data folder; restore it from a backup'],
    [
      'keyring altered',
      async (p) => {
        const kr = (await p.get('core/keyring')) ?? Buffer.alloc(0);
        kr[kr.length - 1] = (kr[kr.length - 1] ?? 0) ^ 1;
        await p.put('core/keyring', kr);
      },
      'a stored entry failed authentication: the data folder was altered or damaged; restore it from a backup',
    ],
  ];
  for (const [name, damage, message] of cases) {
    const physical = new MemoryStorage();
    const { manager, keys } = await initializedStore(3, 2, physical);
    await damage(physical);
    await manager.unseal({ key: keys[0] });
    await assert.rejects(manager.unseal({ key: keys[1] }), { name: 'SecretStoreError', code: 'STORE_CORRUPT', message }, name);
    assert.equal(manager.sealed, true, name);
    assert.equal(manager.sealStatus().progress, 0, name);
  }
});
