/** Polling for a condition in tests, with a deadline that fails the test with what was waited for. */

/**
 * Calls `fn` every `stepMs` until it returns something other than undefined, and returns that; throws
 * "timed out waiting for <what>" once `ms` have passed.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 5_000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
