/** Whether a process id names a live process: the one test both the lock and the temp-file cleanup rely on. */
import { describeCause } from '../errors.js';

/** True when `pid` exists now (also when it belongs to another user: EPERM), false when it is gone (ESRCH). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return describeCause(err) === 'EPERM'; // exists, but belongs to someone else
  }
}
