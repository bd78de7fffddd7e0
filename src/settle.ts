/**
 * Running independent steps at once without leaving any of them behind: {@link settleAll}.
 */

/**
 * Like `Promise.all`, but it settles only when every promise has: a failure is thrown once the others are done too,
 * so nothing is still in flight when the caller cleans up (e.g. revokes the token the other requests use). Of
 * several failures the first in argument order is thrown (deterministic, whatever the timing); the others are
 * dropped, as `Promise.all` drops them.
 */
export async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const outcomes = await Promise.allSettled(promises);
  const values: unknown[] = [];
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') throw outcome.reason;
    values.push(outcome.value);
  }
  return values as unknown as T;
}
