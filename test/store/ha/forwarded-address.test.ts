/** The forwarded client address header: believed only with a valid, recent MAC for this very request. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORWARDED_MAX_SKEW_MS, signForwardedClient, verifyForwardedClient } from '../../../src/store/ha/forwarded-address.js';

const key = Buffer.alloc(32, 9);
const now = 1_800_000_000_000;

test('a header signed for a request verifies for exactly that request', () => {
  const h = signForwardedClient(key, '192.0.2.7', 'GET', '/v1/secret/data/x?version=2', now);
  assert.equal(verifyForwardedClient(key, h, 'GET', '/v1/secret/data/x?version=2', now), '192.0.2.7');
  assert.equal(verifyForwardedClient(key, h, 'GET', '/v1/secret/data/x?version=2', now + FORWARDED_MAX_SKEW_MS), '192.0.2.7');
  const v6 = signForwardedClient(key, '2001:db8::1', 'POST', '/v1/auth/userpass/login/u', now);
  assert.equal(verifyForwardedClient(key, v6, 'POST', '/v1/auth/userpass/login/u', now), '2001:db8::1');
});

test('anything else is not believed: other key, request, time, address, or a malformed value', () => {
  const h = signForwardedClient(key, '192.0.2.7', 'GET', '/v1/a', now);
  assert.equal(verifyForwardedClient(Buffer.alloc(32, 8), h, 'GET', '/v1/a', now), undefined);
  assert.equal(verifyForwardedClient(key, h, 'POST', '/v1/a', now), undefined);
  assert.equal(verifyForwardedClient(key, h, 'GET', '/v1/b', now), undefined);
  assert.equal(verifyForwardedClient(key, h, 'GET', '/v1/a', now + FORWARDED_MAX_SKEW_MS + 1), undefined);
  assert.equal(verifyForwardedClient(key, h, 'GET', '/v1/a', now - FORWARDED_MAX_SKEW_MS - 1), undefined);
  const [, at, mac] = h.split(' ');
  assert.equal(verifyForwardedClient(key, `192.0.2.8 ${at ?? ''} ${mac ?? ''}`, 'GET', '/v1/a', now), undefined);
  for (const bad of ['', '192.0.2.7', `not-an-ip ${at ?? ''} ${mac ?? ''}`, `${h} extra`, `192.0.2.7 ${at ?? ''} short`, `192.0.2.7 -1 ${mac ?? ''}`]) {
    assert.equal(verifyForwardedClient(key, bad, 'GET', '/v1/a', now), undefined, bad);
  }
});
