/** Stopping a child process the tests (and benches) started: one signal, a bounded grace period, then SIGKILL. */
import type { ChildProcess } from 'node:child_process';

/**
 * Sends `signal` to `child` and resolves once it has exited; SIGKILLs it if it is still running after `graceMs`.
 * A child that is absent or already gone resolves at once.
 */
export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
