import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretStoreError } from '../../../../src/errors.js';
import {
  parseAuthToken,
  parseGatewayError,
  parseKeepAlive,
  parseLeaseGrant,
  parseRange,
  parseTxn,
  sanitize,
} from '../../../../src/store/storage/etcd/etcd-json.js';

const malformed = (e: unknown): boolean => isSecretStoreError(e, 'STORE_UNAVAILABLE') && e.message.includes('malformed');

test('range: defaults for left-out fields; every field type checked', () => {
  assert.deepEqual(parseRange({ header: { revision: '3' } }, 'r'), { kvs: [], more: false });
  const r = parseRange({ kvs: [{ key: 'YQ==', create_revision: '7', lease: '12', value: 'AAE=' }], more: true }, 'r');
  assert.deepEqual(r.kvs[0], { key: Buffer.from('a'), value: Buffer.from([0, 1]), createRevision: '7', lease: '12' });
  assert.equal(r.more, true);
  for (const bad of [null, [], 'x', { kvs: {} }, { kvs: [1] }, { kvs: [{}] }, { kvs: [{ key: 'a b' }] }, { kvs: [{ key: 'YQ==', lease: 1.5 }] }, { more: 'yes' }]) {
    assert.throws(() => parseRange(bad, 'r'), malformed, JSON.stringify(bad));
  }
});

test('txn, lease grant, keepalive and authenticate answers', () => {
  assert.deepEqual(parseTxn({ header: { revision: '9' }, succeeded: true }, 't'), { succeeded: true, revision: '9', responses: [] });
  assert.equal(parseTxn({ header: { revision: '9' } }, 't').succeeded, false);
  assert.throws(() => parseTxn({ succeeded: true }, 't'), malformed);
  assert.deepEqual(parseLeaseGrant({ ID: '42', TTL: '3' }, 'g'), { id: '42', ttlSeconds: 3 });
  assert.throws(() => parseLeaseGrant({ ID: '42' }, 'g'), malformed);
  assert.throws(() => parseLeaseGrant({ ID: '0', TTL: '3' }, 'g'), malformed);
  assert.equal(parseKeepAlive({ result: { ID: '42', TTL: '3' } }, 'k'), 3);
  assert.equal(parseKeepAlive({ result: { ID: '42' } }, 'k'), 0, 'a lease that is gone answers without TTL');
  assert.throws(() => parseKeepAlive({ error: { grpc_code: 14, message: 'x' } }, 'k'), malformed);
  assert.equal(parseAuthToken({ token: 'abc.123' }, 'a'), 'abc.123');
  assert.throws(() => parseAuthToken({ token: 'a\r\nX-Injected: 1' }, 'a'), malformed);
});

test('gateway errors, unary and stream shapes; etcd text made one safe line', () => {
  assert.deepEqual(parseGatewayError({ error: 'etcdserver: no leader', message: 'etcdserver: no leader', code: 14 }), { grpcCode: 14, message: 'etcdserver: no leader' });
  assert.deepEqual(parseGatewayError({ error: { grpc_code: 5, http_code: 404, message: 'lease not found' } }), { grpcCode: 5, message: 'lease not found' });
  assert.equal(parseGatewayError({ nope: 1 }), undefined);
  assert.equal(parseGatewayError('x'), undefined);
  assert.equal(sanitize('a\nb\u0000c'), 'a?b?c');
  assert.equal(sanitize('x'.repeat(500)).length, 160);
});
