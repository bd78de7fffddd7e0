import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle, type LoginThrottleOptions } from '../../../../src/store/auth/userpass/throttle.js';

/** A throttle on a fake clock whose sleep records the delay and advances the clock. */
function fakeThrottle(extra: LoginThrottleOptions = {}): { throttle: LoginThrottle; slept: number[]; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  const slept: number[] = [];
  const throttle = new LoginThrottle({
    now: () => clock.t,
    sleep: (ms) => {
      slept.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
    ...extra,
  });
  return { throttle, slept, clock };
}

async function fail(t: LoginThrottle, address: string | undefined, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) (await t.begin(address)).finish(false);
}

test('5 free failures, then 250 ms doubling per failure, capped at 10 s', async () => {
  const { throttle, slept } = fakeThrottle();
  await fail(throttle, '10.0.0.1', 5);
  assert.deepEqual(slept, []);
  assert.equal(throttle.failures('10.0.0.1'), 5);
  assert.equal(throttle.delayMs('10.0.0.1'), 250);
  await fail(throttle, '10.0.0.1', 8);
  assert.deepEqual(slept, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
  // Other addresses are not affected.
  assert.equal(throttle.delayMs('10.0.0.2'), 0);
});

test('a throttled address waits on a successful attempt too, and the success clears its count', async () => {
  const { throttle, slept } = fakeThrottle();
  await fail(throttle, '10.0.0.1', 6);
  slept.length = 0;
  const attempt = await throttle.begin('10.0.0.1');
  assert.deepEqual(slept, [500]);
  attempt.finish(true);
  assert.equal(throttle.failures('10.0.0.1'), 0);
  assert.equal(throttle.size, 0, 'a cleared address leaves no trace');
  await throttle.begin('10.0.0.1');
  assert.deepEqual(slept, [500]);
});

test('a failure count is forgotten 15 minutes after the latest failure', async () => {
  const { throttle, clock } = fakeThrottle();
  await fail(throttle, '10.0.0.1', 4);
  clock.t += 14 * 60_000;
  await fail(throttle, '10.0.0.1');
  assert.equal(throttle.delayMs('10.0.0.1'), 250, 'five failures within the window of the latest one');
  clock.t += 15 * 60_000 - 1;
  assert.equal(throttle.failures('10.0.0.1'), 5);
  clock.t += 1;
  assert.equal(throttle.failures('10.0.0.1'), 0);
  assert.equal(throttle.delayMs('10.0.0.1'), 0);
  await fail(throttle, '10.0.0.1');
  assert.equal(throttle.failures('10.0.0.1'), 1);
});

test('unknown addresses share one bucket; mapped IPv4 and IPv4 are one address', async () => {
  const { throttle } = fakeThrottle();
  await fail(throttle, undefined, 3);
  await fail(throttle, 'garbage', 2);
  assert.equal(throttle.failures(undefined), 5);
  await fail(throttle, '::ffff:127.0.0.1', 2);
  assert.equal(throttle.failures('127.0.0.1'), 2);
  await fail(throttle, 'FE80::1%eth0');
  assert.equal(throttle.failures('fe80::1'), 1);
});

test('the address table is bounded, least recently seen out first', async () => {
  const { throttle } = fakeThrottle({ maxAddresses: 3 });
  await fail(throttle, '10.0.0.1');
  await fail(throttle, '10.0.0.2');
  await fail(throttle, '10.0.0.3');
  await fail(throttle, '10.0.0.1'); // seen again: now the most recent
  await fail(throttle, '10.0.0.4');
  assert.equal(throttle.size, 3);
  assert.equal(throttle.failures('10.0.0.2'), 0, 'evicted');
  assert.equal(throttle.failures('10.0.0.1'), 2);
  assert.equal(throttle.failures('10.0.0.3'), 1);
  assert.equal(throttle.failures('10.0.0.4'), 1);
  const big = fakeThrottle();
  for (let i = 0; i < 10_050; i++) await fail(big.throttle, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  assert.equal(big.throttle.size, 10_000);
});

test('beyond the free budget attempts are admitted one at a time, so parallel requests cannot skip the delay', async () => {
  const { throttle, slept } = fakeThrottle();
  await fail(throttle, '10.0.0.1', 5);
  const order: number[] = [];
  const pending = [0, 1, 2].map(async (i) => {
    const a = await throttle.begin('10.0.0.1');
    order.push(i);
    return a;
  });
  const first = await pending[0];
  assert.ok(first !== undefined);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [0], 'the others wait for the first to finish');
  first.finish(false);
  const second = await pending[1];
  assert.ok(second !== undefined);
  second.finish(false);
  (await pending[2])?.finish(false);
  assert.deepEqual(order, [0, 1, 2]);
  // Each waited for the delay of the failures on record when its turn came.
  assert.deepEqual(slept, [250, 500, 1000]);
});

test('a burst with no failures is never delayed: 5 run at once, the rest one at a time', async () => {
  const { throttle, slept } = fakeThrottle();
  const admitted: number[] = [];
  const attempts = Array.from({ length: 8 }, (_, i) =>
    throttle.begin('127.0.0.1').then((a) => {
      admitted.push(i);
      return a;
    }),
  );
  await new Promise((r) => setImmediate(r));
  // Five free, plus the first queued one (its predecessor in the queue is none).
  assert.deepEqual(admitted, [0, 1, 2, 3, 4, 5]);
  (await attempts[5])?.finish(true);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(admitted, [0, 1, 2, 3, 4, 5, 6]);
  (await attempts[6])?.finish(true);
  for (const a of await Promise.all(attempts)) a.finish(true);
  assert.deepEqual(slept, []);
  assert.equal(throttle.size, 0);
});

test('finish is idempotent; a failing sleep does not stall the queue', async () => {
  const { throttle } = fakeThrottle();
  const a = await throttle.begin('10.0.0.9');
  a.finish(false);
  a.finish(false);
  a.finish(true);
  assert.equal(throttle.failures('10.0.0.9'), 1);

  let broken = true;
  const t = new LoginThrottle({
    sleep: () => (broken ? Promise.reject(new Error('timer')) : Promise.resolve()),
    freeFailures: 1,
  });
  await fail(t, '10.0.0.1');
  await assert.rejects(t.begin('10.0.0.1'), /timer/);
  broken = false;
  (await t.begin('10.0.0.1')).finish(true);
  assert.equal(t.failures('10.0.0.1'), 0);
});

test('the real timer is the default sleep', async () => {
  const t = new LoginThrottle({ freeFailures: 0, baseDelayMs: 20 });
  const started = Date.now();
  (await t.begin('10.0.0.1')).finish(false);
  assert.ok(Date.now() - started >= 15);
});
