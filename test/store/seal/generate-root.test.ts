import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { decodeToken, encodeToken, OTP_LENGTH } from '../../../src/store/seal/generate-root.js';
import { split } from '../../../src/store/shamir.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { randomBytes } from '../../../src/crypto.js';
import fc from 'fast-check';
import { initializedStore, mintToken, OPTIONS, rejectsApi, throwsApi, unsealWith } from './helpers.js';

test('not initialized → 400 server is not yet initialized; sealed → 503', async () => {
  const m = await SealManager.open(new MemoryStorage(), OPTIONS);
  throwsApi(() => m.generateRootStatus(), 400, ['server is not yet initialized']);
  throwsApi(() => m.generateRootStart({}), 503, ['Vault is sealed']);
  await rejectsApi(m.generateRootUpdate({ key: 'aa'.repeat(33), nonce: 'x' }, () => Promise.resolve('')), 400, ['Vault is not initialized']);
  const { manager } = await initializedStore(3, 2);
  throwsApi(() => manager.generateRootStatus(), 503, ['Vault is sealed']);
  throwsApi(() => manager.generateRootStart({}), 503, ['Vault is sealed']);
  throwsApi(() => {
    manager.generateRootCancel();
  }, 503, ['Vault is sealed']);
});

test('full flow: start (server OTP), shares, encoded token decodes with the OTP to a fresh root token', async () => {
  const { manager, keys, physical } = await initializedStore(5, 3);
  await unsealWith(manager, keys.slice(0, 3));
  assert.deepEqual(manager.generateRootStatus(), {
    nonce: '',
    started: false,
    progress: 0,
    required: 3,
    complete: false,
    encoded_token: '',
    encoded_root_token: '',
    pgp_fingerprint: '',
    otp: '',
    otp_length: 28,
  });
  const started = manager.generateRootStart({});
  assert.equal(started.started, true);
  assert.equal(started.otp_length, OTP_LENGTH);
  const otp = String(started.otp);
  assert.match(otp, /^[0-9A-Za-z]{28}$/);
  const nonce = String(started.nonce);
  assert.match(nonce, /^[0-9a-f-]{36}$/);
  assert.equal(manager.generateRootStatus().otp, '', 'the OTP is shown once');
  throwsApi(() => manager.generateRootStart({}), 400, ['root generation already in progress']);

  await rejectsApi(manager.generateRootUpdate({ key: keys[0], nonce: 'wrong' }, () => mintToken(manager.barrier())), 400, [
    `incorrect nonce supplied; nonce for this root generation operation is "${nonce}"`,
  ]);
  const minted: string[] = [];
  const mint = async (): Promise<string> => {
    const t = await mintToken(manager.barrier());
    minted.push(t);
    return t;
  };
  let r = await manager.generateRootUpdate({ key: keys[4], nonce }, mint);
  assert.deepEqual(r, {
    nonce,
    started: true,
    progress: 1,
    required: 3,
    complete: false,
    encoded_token: '',
    encoded_root_token: '',
    pgp_fingerprint: '',
    otp: '',
    otp_length: 0,
  });
  await rejectsApi(manager.generateRootUpdate({ key: keys[4], nonce }, mint), 400, ['given key has already been provided during this generation operation']);
  r = await manager.generateRootUpdate({ key: Buffer.from(keys[2] ?? '', 'hex').toString('base64'), nonce }, mint);
  assert.equal(r.progress, 2);
  assert.equal(manager.generateRootStatus().progress, 2);
  r = await manager.generateRootUpdate({ key: keys[1], nonce }, mint);
  assert.equal(r.complete, true);
  assert.equal(r.progress, 3);
  assert.equal(r.encoded_token, r.encoded_root_token);
  const token = decodeToken(String(r.encoded_token), otp);
  assert.deepEqual([token], minted);
  assert.match(token, /^hvs\.[0-9A-Za-z]{24}$/);
  assert.ok((await physical.list('auth/token/id/')).includes(token.slice(4)));
  assert.equal(manager.generateRootStatus().started, false, 'attempt finished');
});

test('caller-supplied OTP: wrong length → 400; right length is used and not echoed', async () => {
  const { manager, keys } = await initializedStore(1, 1);
  await unsealWith(manager, keys);
  throwsApi(() => manager.generateRootStart({ otp: 'short' }), 400, ['OTP string has incorrect length']);
  const otp = 'A'.repeat(28);
  const s = manager.generateRootStart({ otp });
  assert.equal(s.otp, '');
  const r = await manager.generateRootUpdate({ key: keys[0], nonce: s.nonce }, () => Promise.resolve('hvs.abcdefghijklmnopqrstuvwx'));
  assert.equal(decodeToken(String(r.encoded_token), otp), 'hvs.abcdefghijklmnopqrstuvwx');
});

test('wrong shares at threshold → root generation aborted; progress cleared, attempt stays; cancel', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  await unsealWith(manager, keys.slice(0, 2));
  const { nonce } = manager.generateRootStart({});
  const foreign = split(randomBytes(32), 3, 2).map((b) => b.toString('hex'));
  let minted = 0;
  const mint = (): Promise<string> => {
    minted++;
    return Promise.resolve('hvs.abcdefghijklmnopqrstuvwx');
  };
  await manager.generateRootUpdate({ key: foreign[0], nonce }, mint);
  await rejectsApi(manager.generateRootUpdate({ key: foreign[1], nonce }, mint), 400, [
    'root generation aborted: unable to authenticate: unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed',
  ]);
  assert.equal(minted, 0);
  const st = manager.generateRootStatus();
  assert.equal(st.started, true);
  assert.equal(st.progress, 0);
  await manager.generateRootUpdate({ key: keys[0], nonce }, mint);
  await rejectsApi(manager.generateRootUpdate({ key: 'ab'.repeat(32), nonce }, mint), 400, ['failed to compute root key: all parts must be the same length']);
  await rejectsApi(manager.generateRootUpdate({ nonce }, mint), 400, ["'key' must be specified in request body as JSON"]);
  await rejectsApi(manager.generateRootUpdate({ key: '0123', nonce }, mint), 400, ['invalid key: key is shorter than minimum 16 bytes']);
  manager.generateRootCancel();
  assert.equal(manager.generateRootStatus().started, false);
  await rejectsApi(manager.generateRootUpdate({ key: keys[0], nonce }, mint), 400, ['no root generation in progress']);
  assert.equal(minted, 0);
});

test('sealing cancels a root generation', async () => {
  const { manager, keys } = await initializedStore(1, 1);
  await unsealWith(manager, keys);
  manager.generateRootStart({});
  await manager.seal();
  await unsealWith(manager, keys);
  assert.equal(manager.generateRootStatus().started, false);
});

test('property: decodeToken inverts encodeToken for equal-length token and OTP', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9A-Za-z]{28}$/), fc.stringMatching(/^[0-9A-Za-z]{28}$/), (token, otp) => {
      const e = encodeToken(token, otp);
      assert.doesNotMatch(e, /=/, 'raw base64, no padding');
      assert.equal(decodeToken(e, otp), token);
    }),
  );
});

test('the OTP length is counted in bytes (Go len): 28 non-ASCII characters are refused before any share is spent', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  await unsealWith(manager, keys.slice(0, 2));
  throwsApi(() => manager.generateRootStart({ otp: 'é'.repeat(OTP_LENGTH) }), 400, ['OTP string has incorrect length']);
  assert.equal(manager.generateRootStatus().started, false);
});

test('cancel and seal wipe the OTP bytes of a running attempt', async () => {
  const { manager, keys } = await initializedStore(3, 2);
  await unsealWith(manager, keys.slice(0, 2));
  const otpOf = (): Buffer | undefined => (manager as unknown as { rootGeneration: { otp: Buffer | undefined } }).rootGeneration.otp;
  manager.generateRootStart({});
  const first = otpOf();
  assert.ok(first !== undefined && first.length === OTP_LENGTH && !first.equals(Buffer.alloc(OTP_LENGTH)));
  manager.generateRootCancel();
  assert.deepEqual(first, Buffer.alloc(OTP_LENGTH), 'wiped by cancel');
  manager.generateRootStart({});
  const second = otpOf();
  await manager.seal();
  assert.deepEqual(second, Buffer.alloc(OTP_LENGTH), 'wiped by seal');
});

test('a combined key of a non-AES size → root generation aborted: unable to authenticate: … invalid key size (Vault wording)', async () => {
  const { manager, keys } = await initializedStore(1, 1);
  await unsealWith(manager, keys);
  const { nonce } = manager.generateRootStart({});
  await rejectsApi(manager.generateRootUpdate({ key: randomBytes(33).toString('hex'), nonce }, () => Promise.resolve('')), 400, [
    'root generation aborted: unable to authenticate: invalid key: failed to setup unseal key: crypto/aes: invalid key size 33',
  ]);
});
