/** Response validators and the secret-carrying JSON bodies (properties with fast-check). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseInitResponse, parseSealStatus, parseMounts, parseErrors, parseLeader, decodeHexExact } from '../../src/vault/types.js';
import { hexBytes, jsonWithSecretHex } from '../../src/vault/secret-json.js';
import { isSecretStoreError, SecretStoreError } from '../../src/errors.js';

test('hexBytes equals Buffer hex for any bytes; jsonWithSecretHex is valid JSON with the right fields', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.string({ maxLength: 20 }), (bytes, nonce) => {
      assert.equal(hexBytes(bytes).toString('latin1'), Buffer.from(bytes).toString('hex'));
      const body = JSON.parse(jsonWithSecretHex({ nonce }, 'key', bytes).toString('utf8')) as Record<string, unknown>;
      assert.deepEqual(body, { nonce, key: Buffer.from(bytes).toString('hex') });
      assert.deepEqual(JSON.parse(jsonWithSecretHex({}, 'key', bytes).toString('utf8')), { key: Buffer.from(bytes).toString('hex') });
    }),
  );
});

test('parseInitResponse accepts a Vault init response and decodes the shares', () => {
  const shares = [Buffer.alloc(33, 1), Buffer.alloc(33, 2)];
  const r = parseInitResponse({ keys: shares.map((s) => s.toString('hex')), keys_base64: shares.map((s) => s.toString('base64')), root_token: 'hvs.x' }, 2);
  assert.deepEqual(r.shares, shares);
  assert.equal(r.rootToken.toString(), 'hvs.x');
});

test('parseInitResponse rejects every malformed variant with STORE_ERROR', () => {
  const good = { keys: ['01'.repeat(33), '02'.repeat(33)], keys_base64: [Buffer.alloc(33, 1).toString('base64'), Buffer.alloc(33, 2).toString('base64')], root_token: 'hvs.x' };
  const bad: unknown[] = [
    null,
    [],
    { ...good, keys: ['01'.repeat(33)] },
    { ...good, keys: ['zz'.repeat(33), '02'.repeat(33)] },
    { ...good, keys: ['01'.repeat(15), '02'.repeat(15)] },
    { ...good, keys: ['01'.repeat(34), '02'.repeat(34)] },
    { ...good, keys: ['01'.repeat(33), '02'.repeat(32)] },
    { ...good, keys_base64: [good.keys_base64[1], good.keys_base64[0]] },
    { ...good, root_token: '' },
    { ...good, root_token: 5 },
  ];
  for (const body of bad) assert.throws(() => parseInitResponse(body, 2), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR'));
});

test('validators never throw anything but SecretStoreError on arbitrary JSON', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      for (const fn of [() => parseSealStatus(value), () => parseInitResponse(value, 5), () => parseMounts(value), () => parseLeader(value)]) {
        try {
          fn();
        } catch (err) {
          assert.ok(err instanceof SecretStoreError);
        }
      }
      assert.ok(Array.isArray(parseErrors(value)));
    }),
  );
});

test('parseLeader reads Vault\'s sys/leader (HA on, standby, HA off) and rejects malformed bodies', () => {
  // Vault 1.15's answer on a standby, fields the flow does not use included.
  assert.deepEqual(
    parseLeader({ ha_enabled: true, is_self: false, active_time: '0001-01-01T00:00:00Z', leader_address: 'https://10.0.0.2:8200', leader_cluster_address: 'https://10.0.0.2:8201', performance_standby: false, performance_standby_last_remote_wal: 0 }),
    { haEnabled: true, isSelf: false, leaderAddress: 'https://10.0.0.2:8200' },
  );
  assert.deepEqual(parseLeader({ ha_enabled: false, is_self: false, leader_address: '', leader_cluster_address: '' }), { haEnabled: false, isSelf: false, leaderAddress: '' });
  assert.deepEqual(parseLeader({ ha_enabled: true, is_self: true, leader_address: null }), { haEnabled: true, isSelf: true, leaderAddress: '' });
  for (const body of [null, [], {}, { ha_enabled: 'true' }, { ha_enabled: true, is_self: 1 }, { ha_enabled: true, leader_address: 7 }]) {
    assert.throws(() => parseLeader(body), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR'));
  }
});

test('decodeHexExact is strict', () => {
  assert.deepEqual(decodeHexExact('0aFF'), Buffer.from([10, 255]));
  for (const s of ['', 'a', '0x00', 'zz', '00 ']) assert.equal(decodeHexExact(s), undefined);
});

test('parseErrors strips control characters and caps length', () => {
  assert.deepEqual(parseErrors({ errors: ['a\nb\u0007c', 5, 'x'.repeat(500)] }), ['a b c', 'x'.repeat(200)]);
});
