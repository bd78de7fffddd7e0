/**
 * Runs `secretstore-setup serve` as a separate process (the demo and the tests do): the boot flow never imports
 * the store, it only talks HTTP to whatever answers. Waits for the `listening on URL` line on stdout.
 *
 * Which program: `command` when given; else node + `cliMain` when given (the tests' compiled CLI); else this same
 * program ({@link selfCommand}: node + main.js, node + the bundle, or the single executable alone).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { SecretStoreError } from '../errors.js';
import { selfCommand } from '../self-exec.js';

/** Options of {@link startStoreProcess}. */
export interface StoreProcessOptions {
  /** The program as `[file, ...argumentPrefix]` (default: this program, {@link selfCommand}). */
  command?: readonly [string, ...string[]];
  /** Shorthand for `command: [process.execPath, cliMain]` (the compiled CLI entry, `.../src/cli/main.js`). */
  cliMain?: string;
  /** The store's data folder. */
  dataDir: string;
  /** `HOST:PORT` (default `127.0.0.1:0`). */
  listen?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra arguments for serve. */
  args?: string[];
  /** Milliseconds to wait for the listening line (default 20 000). */
  startTimeoutMs?: number;
}

/** A running store process. */
export interface StoreProcess {
  /** `http://127.0.0.1:PORT` (or https). */
  url: string;
  /** `HOST:PORT` it listens on (to restart on the same port). */
  listen: string;
  child: ChildProcessWithoutNullStreams;
  /** Everything it wrote on stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000); resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const LISTENING = /listening on (https?:\/\/[^\s]+)/;

/** Starts serve and resolves once it listens. */
export function startStoreProcess(options: StoreProcessOptions): Promise<StoreProcess> {
  const listen = options.listen ?? '127.0.0.1:0';
  const [file, ...prefix] = options.command ?? (options.cliMain !== undefined ? [process.execPath, options.cliMain] : selfCommand());
  const child = spawn(file, [...prefix, 'serve', '--data', options.dataDir, '--listen', listen, ...(options.args ?? [])], {
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let out = '';
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async (graceMs = 5000): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exitedPromise;
    clearTimeout(timer);
  };
  return new Promise<StoreProcess>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      fail(`the store did not print its listening line within ${options.startTimeoutMs ?? 20_000} ms`);
    }, options.startTimeoutMs ?? 20_000);
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const tail = out.split('\n').slice(-3).join(' | ').slice(0, 300);
      void stop(1000).then(() => {
        reject(new SecretStoreError('STORE_UNREACHABLE', `${why}${tail === '' ? '' : ` (output: ${tail})`}`));
      });
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = LISTENING.exec(out);
      if (m?.[1] !== undefined && !settled) {
        settled = true;
        clearTimeout(timer);
        const url = m[1].replace(/\/+$/, '');
        resolve({ url, listen: new URL(url).host, child, output: () => out, stop });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.once('error', () => {
      fail('cannot start the store process');
    });
    child.once('exit', (code, signal) => {
      fail(`the store exited before listening (${signal ?? `exit ${code ?? '?'}`})`);
    });
  });
}
