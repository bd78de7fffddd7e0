import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settleAll } from '../src/settle.js';

const after = <T>(ms: number, value: T, fail = false): Promise<T> =>
  new Promise((resolve, reject) => {
    setTimeout(() => {
      if (fail) reject(new Error(String(value)));
      else resolve(value);
    }, ms);
  });

test('settleAll resolves to every value, in argument order', async () => {
  assert.deepEqual(await settleAll([after(20, 'a'), after(1, 2), Promise.resolve(true)] as const), ['a', 2, true]);
  assert.deepEqual(await settleAll([]), []);
});

test('settleAll rejects only once every promise has settled', async () => {
  let slowDone = false;
  const slow = after(60, 'slow').then((v) => {
    slowDone = true;
    return v;
  });
  await assert.rejects(settleAll([after(1, 'fast failure', true), slow]), /fast failure/);
  assert.equal(slowDone, true, 'Promise.all would have rejected while the slow one was still running');
});

test('settleAll throws the first failure in argument order, whatever the timing', async () => {
  await assert.rejects(settleAll([after(40, 'first', true), after(1, 'second', true), after(5, 'ok')]), /^Error: first$/);
});
