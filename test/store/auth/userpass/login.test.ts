import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApiError } from '../../../../src/store/api-error.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';
import { UserpassBackend } from '../../../../src/store/auth/userpass/backend.js';
import { rejects } from '../../../helpers/logical.js';
import { CHEAP, admin, countingHasher, instantThrottle, login, makeBackend } from './fixtures.js';

const INVALID = ['invalid username or password'];

/** The error a promise rejects with (asserting it does). */
async function errorOf(p: Promise<unknown>): Promise<StoreApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StoreApiError);
    return e;
  }
  assert.fail('expected a rejection');
}

test('a successful login returns the plan for the core, with the user\'s token settings', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/edgex-core-data', {
    password: 'pw',
    token_policies: 'edgex-service-core-data,other',
    token_ttl: '1h',
    token_max_ttl: '2h',
    token_period: 0,
    token_explicit_max_ttl: '3h',
    token_num_uses: 7,
    token_no_default_policy: true,
    token_bound_cidrs: '127.0.0.1,10.0.0.0/8',
  });
  const res = await login(b, 'edgex-core-data', 'pw', '::ffff:127.0.0.1');
  assert.equal(res.auth, undefined, 'the backend never mints a token');
  assert.deepEqual(res, {
    login: {
      aliasName: 'edgex-core-data',
      displayName: 'userpass-edgex-core-data',
      metadata: { username: 'edgex-core-data' },
      policies: ['edgex-service-core-data', 'other'],
      noDefaultPolicy: true,
      ttl: 3600,
      maxTtl: 7200,
      period: 0,
      explicitMaxTtl: 10800,
      numUses: 7,
      boundCidrs: ['127.0.0.1', '10.0.0.0/8'],
      path: 'auth/userpass/login/edgex-core-data',
    },
  });
});

test('the mount path shapes the display name and the login path', async () => {
  for (const [mountPath, display, path] of [
    ['edgex-up/', 'edgex-up-svc', 'auth/edgex-up/login/svc'],
    ['team/up', 'team-up-svc', 'auth/team/up/login/svc'],
  ] as const) {
    const b = makeBackend(new MemoryStorage(), { mountPath });
    await admin(b, 'create', 'users/svc', { password: 'pw' });
    const plan = (await login(b, 'SVC', 'pw')).login;
    assert.ok(plan !== undefined);
    assert.equal(plan.displayName, display);
    assert.equal(plan.path, path);
    assert.equal(plan.aliasName, 'svc');
    await rejects(admin(b, 'read', 'nope'), 404, [`no handler for route "auth/${mountPath.replace(/\/?$/, '/')}nope". route entry not found.`]);
  }
});

test('wrong password and unknown user: the same error, each after exactly one hash with the same parameters', async () => {
  const { hasher, calls } = countingHasher();
  const b = makeBackend(new MemoryStorage(), { hasher });
  await admin(b, 'create', 'users/svc', { password: 'right' });
  calls.length = 0;

  const wrong = await errorOf(login(b, 'svc', 'wrong'));
  assert.deepEqual(calls, [CHEAP]);
  const unknown = await errorOf(login(b, 'ghost', 'wrong'));
  assert.deepEqual(calls, [CHEAP, CHEAP], 'the dummy hash is computed for an unknown user');
  const malformed = await errorOf(login(b, 'not.a.valid.name', 'wrong'));
  assert.deepEqual(calls, [CHEAP, CHEAP, CHEAP], 'and for a name no user can have');
  for (const e of [wrong, unknown, malformed]) {
    assert.equal(e.status, 400);
    assert.deepEqual(e.errors, INVALID);
    assert.equal(e.message, wrong.message);
  }
  assert.ok(!JSON.stringify([wrong, unknown]).includes('wrong'), 'the password is not in the error');
});

test('a missing password is refused before any hashing or throttling', async () => {
  const { hasher, calls } = countingHasher();
  const { throttle } = instantThrottle();
  const b = makeBackend(new MemoryStorage(), { hasher, throttle });
  await admin(b, 'create', 'users/svc', { password: 'pw' });
  calls.length = 0;
  await rejects(login(b, 'svc', undefined, '10.0.0.1'), 400, ['missing password']);
  await rejects(login(b, 'svc', '', '10.0.0.1'), 400, ['missing password']);
  await rejects(login(b, 'ghost', undefined, '10.0.0.1'), 400, ['missing password']);
  assert.deepEqual(calls, []);
  assert.equal(throttle.failures('10.0.0.1'), 0);
});

test('bound CIDRs: the right password from outside is 403; from inside it logs in', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/svc', { password: 'pw', token_bound_cidrs: ['10.0.0.0/8', '::1'] });
  assert.ok((await login(b, 'svc', 'pw', '10.2.3.4')).login !== undefined);
  assert.ok((await login(b, 'svc', 'pw', '::1')).login !== undefined);
  assert.ok((await login(b, 'svc', 'pw', '::ffff:10.9.9.9')).login !== undefined);
  await rejects(login(b, 'svc', 'pw', '192.168.1.1'), 403, ['permission denied']);
  await rejects(login(b, 'svc', 'pw'), 403, ['permission denied']);
  // The password is checked first (as Vault): outside the CIDRs a wrong password is the usual 400.
  await rejects(login(b, 'svc', 'nope', '192.168.1.1'), 400, INVALID);
  // Unbound users log in from anywhere, and with no known address.
  await admin(b, 'create', 'users/free', { password: 'pw' });
  assert.ok((await login(b, 'free', 'pw')).login !== undefined);
});

test('the throttle: after 5 failures from an address every attempt waits, right or wrong; success resets', async () => {
  const { throttle, slept } = instantThrottle();
  const b = makeBackend(new MemoryStorage(), { throttle });
  await admin(b, 'create', 'users/svc', { password: 'pw', token_bound_cidrs: '10.0.0.0/8' });
  for (let i = 0; i < 5; i++) await rejects(login(b, i % 2 === 0 ? 'svc' : 'ghost', 'bad', '10.0.0.1'), 400, INVALID);
  assert.deepEqual(slept, []);
  await rejects(login(b, 'svc', 'bad', '10.0.0.1'), 400, INVALID);
  assert.deepEqual(slept, [250]);
  // Another address is not slowed down.
  await rejects(login(b, 'svc', 'bad', '10.0.0.2'), 400, INVALID);
  assert.deepEqual(slept, [250]);
  // The right password also waits, then clears the count.
  assert.ok((await login(b, 'svc', 'pw', '10.0.0.1')).login !== undefined);
  assert.deepEqual(slept, [250, 500]);
  assert.equal(throttle.failures('10.0.0.1'), 0);
  // A refusal for the address (403) is not a success: it counts.
  await rejects(login(b, 'svc', 'pw', '192.168.0.1'), 403, ['permission denied']);
  assert.equal(throttle.failures('192.168.0.1'), 1);
});

test('a backend builds its own throttle on the given clock when none is passed', async () => {
  let now = 0;
  const b = new UserpassBackend(new MemoryStorage(), { mountPath: 'userpass/', hash: CHEAP, now: () => now });
  await admin(b, 'create', 'users/svc', { password: 'pw' });
  for (let i = 0; i < 5; i++) await rejects(login(b, 'svc', 'bad', '10.0.0.1'), 400, INVALID);
  // The failures are forgotten 15 minutes (on the injected clock) after the latest one: no real waiting follows.
  now += 15 * 60_000;
  assert.ok((await login(b, 'svc', 'pw', '10.0.0.1')).login !== undefined);
});

test('a hash made with older parameters still verifies and is upgraded at the next good login', async () => {
  const storage = new MemoryStorage();
  const OLD = { N: 8, r: 1, p: 1 };
  await admin(makeBackend(storage, { hash: OLD }), 'create', 'users/svc', { password: 'pw' });
  const stored = async (): Promise<{ N: number; hash_b64: string }> =>
    (JSON.parse((await storage.get('user/svc'))?.toString('utf8') ?? '{}') as { password_hash: { N: number; hash_b64: string } }).password_hash;
  assert.equal((await stored()).N, 8);

  const { hasher, calls } = countingHasher(CHEAP);
  const upgraded = makeBackend(storage, { hasher });
  await rejects(login(upgraded, 'svc', 'bad'), 400, INVALID);
  assert.equal((await stored()).N, 8, 'a failed login changes nothing');
  assert.ok((await login(upgraded, 'svc', 'pw')).login !== undefined);
  assert.equal((await stored()).N, 16);
  assert.deepEqual(calls, [OLD, OLD, CHEAP], 'verify (bad), verify (good) with the old cost, then one re-hash');
  assert.ok((await login(upgraded, 'svc', 'pw')).login !== undefined);
  assert.deepEqual(calls.slice(3), [CHEAP], 'no further re-hash');
  await rejects(login(upgraded, 'svc', 'bad'), 400, INVALID);
});

test('a stored record without a usable hash refuses every password (after the dummy hash)', async () => {
  const storage = new MemoryStorage();
  const { hasher, calls } = countingHasher();
  const b = makeBackend(storage, { hasher });
  await admin(b, 'create', 'users/svc', { password: 'pw' });
  const record = JSON.parse((await storage.get('user/svc'))?.toString('utf8') ?? '{}') as Record<string, unknown>;
  await storage.put('user/svc', Buffer.from(JSON.stringify({ ...record, password_hash: { alg: 'md5' } })));
  calls.length = 0;
  await rejects(login(b, 'svc', 'pw'), 400, INVALID);
  assert.deepEqual(calls, [CHEAP]);
  // The record still reads, and a new password makes it usable again.
  assert.ok((await admin(b, 'read', 'users/svc')).data !== undefined);
  await admin(b, 'update', 'users/svc/password', { password: 'pw' });
  assert.ok((await login(b, 'svc', 'pw')).login !== undefined);
});

test('numbers are passwords too (converted as Vault converts string fields)', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/svc', { password: 123456 });
  assert.ok((await login(b, 'svc', '123456')).login !== undefined);
});
