/**
 * Helper process of the `concurrency` part (not a part itself). Two roles:
 *   node lock-waiter.js hold LOCKPATH          takes the lock with acquireFileLock, prints "held", waits to be killed
 *   node lock-waiter.js wait LOCKPATH START HOLD   waits until wall-clock START (ms), takes the lock (up to 30 s),
 *                                             holds it HOLD ms, releases it; prints one JSON line
 *                                             {"acquired":t,"releasing":t,"released":t} or {"error":"CODE message"}
 * Times are wall-clock milliseconds with sub-millisecond precision (performance.timeOrigin + performance.now()), so
 * the parent can check that no two waiters ever held the lock at the same time.
 */
import { acquireFileLock } from '../../../src/keyfile/lock.js';

const now = (): number => performance.timeOrigin + performance.now();
const [role, lockPath, startText, holdText] = process.argv.slice(2);

async function main(): Promise<void> {
  if (lockPath === undefined) throw new Error('usage: lock-waiter.js hold|wait LOCKPATH [START HOLD]');
  if (role === 'hold') {
    await acquireFileLock(lockPath, { timeoutMs: 5000 });
    process.stdout.write('held\n');
    setInterval(() => undefined, 60_000);
    return;
  }
  const start = Number(startText);
  const hold = Number(holdText);
  const wait = start - now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  try {
    const lock = await acquireFileLock(lockPath, { timeoutMs: 30_000 });
    const acquired = now();
    await new Promise((r) => setTimeout(r, hold));
    const releasing = now();
    await lock.release();
    process.stdout.write(JSON.stringify({ acquired, releasing, released: now() }) + '\n');
  } catch (err) {
    const e = err as { code?: string; message?: string };
    process.stdout.write(JSON.stringify({ error: `${e.code ?? 'ERROR'} ${e.message ?? ''}` }) + '\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`lock-waiter: ${(err as Error).message}\n`);
  process.exit(2);
});
