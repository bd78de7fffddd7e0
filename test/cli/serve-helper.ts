/** Starts `secretstore-setup serve` as a separate process and waits for its `listening on …` line. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI_MAIN } from '../helpers/paths.js';

/** A running serve process. */
export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  /** The URL from the listening line. */
  url: string;
  /** Everything printed on stdout so far. */
  stdout: () => string;
  /** Everything printed on stderr so far. */
  stderr: () => string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code and signal. */
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `serve` with `args` (e.g. `['--data', dir, '--listen', '127.0.0.1:0']`). Rejects if it exits first. */
export function startServe(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 15_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI_MAIN, 'serve', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print its listening line in time; stderr: ${err}`));
    }, timeoutMs);
    const onData = (): void => {
      const m = /^listening on (https?:\/\/\S+)\n/m.exec(out);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ child, url: m[1], stdout: () => out, stderr: () => err, stop });
    };
    child.stdout.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early (code ${String(code)}, signal ${String(signal)}); stderr: ${err}`));
    });
  });
}
