/**
 * Processes the chaos parts drive: the CLI (`bootstrap`, `keys …`, `protect`) as a killable child whose output is
 * watched line by line, and `serve` as a child that can be SIGKILLed and restarted on the same port and data folder.
 * Every child is registered for cleanup, so a part that fails half-way leaves nothing running.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { startStoreProcess, type StoreProcess } from '../../../src/bootstrap/store-process.js';
import { CLI_MAIN } from '../../helpers/paths.js';
import { onCleanup, sleep } from './util.js';
import { restartablePort } from '../../helpers/free-port.js';

export { CLI_MAIN };

/** How a CLI run ended. */
export interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** The run was killed by us (SIGKILL) before it exited on its own. */
  killed: boolean;
  /** The run hit its time limit (killed by the watchdog). */
  timedOut: boolean;
}

/** A running CLI process. */
export interface CliRun {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  started: number;
  stdout(): string;
  stderr(): string;
  /** SIGKILLs it (no-op once exited); resolves at once. */
  kill(): void;
  done: Promise<CliOutcome>;
}

/** Options of {@link spawnCli}. */
export interface SpawnCliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Watchdog (default 60 s): SIGKILL after this long. */
  timeoutMs?: number;
  /** Called with every complete stderr line as it arrives. */
  onStderrLine?: (line: string) => void;
}

/** Runs `secretstore-setup ...args` as a child; the caller may kill it at any moment. */
export function spawnCli(args: readonly string[], options: SpawnCliOptions = {}): CliRun {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  let partial = '';
  let killed = false;
  let timedOut = false;
  let exited = false;
  const unregister = onCleanup(() => {
    if (!exited) child.kill('SIGKILL');
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (options.onStderrLine === undefined) return;
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      options.onStderrLine(line);
    }
  });
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  const done = new Promise<CliOutcome>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      unregister();
      reject(err);
    });
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      unregister();
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started, killed: killed && signal === 'SIGKILL', timedOut });
    });
  });
  child.on('exit', () => {
    exited = true;
  });
  return {
    child,
    pid: child.pid ?? -1,
    started,
    stdout: () => stdout,
    stderr: () => stderr,
    kill: () => {
      if (exited) return;
      killed = true;
      child.kill('SIGKILL');
    },
    done,
  };
}

/** Runs the CLI to completion. */
export function runCliTo(args: readonly string[], options: SpawnCliOptions = {}): Promise<CliOutcome> {
  return spawnCli(args, options).done;
}

/** How a serve process ended when we did not stop it. */
export interface ServeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last lines of its output. */
  tail: string;
}

/**
 * `secretstore-setup serve` on a data folder, on 127.0.0.1 (port chosen at the first start, kept across restarts).
 * `kill()` is SIGKILL; `restart()` starts it again on the same port and folder; an exit we did not cause is
 * recorded in {@link ServeProc.crashes}.
 */
export class ServeProc {
  readonly dataDir: string;
  url = '';
  listen = '127.0.0.1:0';
  /** Unexpected exits (crashes) seen so far. */
  readonly crashes: ServeExit[] = [];
  private proc: StoreProcess | undefined;
  private expectExit = false;
  private log = '';
  private readonly args: string[];
  private readonly env: NodeJS.ProcessEnv | undefined;
  private unregister: (() => void) | undefined;

  private constructor(dataDir: string, args: string[], env: NodeJS.ProcessEnv | undefined) {
    this.dataDir = dataDir;
    this.args = args;
    this.env = env;
  }

  /** Starts serve on `dataDir` (created 0700 by serve itself). */
  static async start(dataDir: string, options: { args?: string[]; env?: NodeJS.ProcessEnv; listen?: string } = {}): Promise<ServeProc> {
    const s = new ServeProc(dataDir, options.args ?? [], options.env);
    if (options.listen !== undefined) {
      s.listen = options.listen;
      await s.launch();
      return s;
    }
    // A port below the ephemeral range, so no client's source port takes it while serve is down between a kill and
    // its restart (thousands of connections come and go meanwhile).
    for (let i = 0; ; i++) {
      s.listen = `127.0.0.1:${String(await restartablePort())}`;
      try {
        await s.launch();
        return s;
      } catch (err) {
        if (i >= 5 || !/EADDRINUSE|address already in use/i.test((err as Error).message)) throw err;
      }
    }
  }

  private async launch(): Promise<void> {
    const proc = await startStoreProcess({
      cliMain: CLI_MAIN,
      dataDir: this.dataDir,
      listen: this.listen,
      args: this.args,
      ...(this.env === undefined ? {} : { env: this.env }),
    });
    this.proc = proc;
    this.expectExit = false;
    this.url = proc.url;
    this.listen = proc.listen;
    this.unregister = onCleanup(() => {
      proc.child.kill('SIGKILL');
    });
    proc.child.once('exit', (code, signal) => {
      this.unregister?.();
      this.log += proc.output();
      if (!this.expectExit) this.crashes.push({ code, signal, tail: proc.output().split('\n').slice(-6).join('\n') });
      if (this.proc === proc) this.proc = undefined;
    });
  }

  /** The pid of the running process (undefined when down). */
  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** Everything every incarnation printed (stdout and stderr). */
  output(): string {
    return this.log + (this.proc?.output() ?? '');
  }

  /** Output of the current incarnation only. */
  currentOutput(): string {
    return this.proc?.output() ?? '';
  }

  /** SIGKILL, resolves once it is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    this.expectExit = true;
    const gone = new Promise<void>((resolve) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) resolve();
      else {
        p.child.once('exit', () => {
          resolve();
        });
      }
    });
    p.child.kill('SIGKILL');
    await gone;
  }

  /** SIGTERM (graceful), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    this.expectExit = true;
    await p.stop();
  }

  /** Starts again on the same port (retrying while the port is still held; any other failure is thrown at once). */
  async restart(): Promise<void> {
    if (this.proc !== undefined) await this.stop();
    for (let i = 0; ; i++) {
      try {
        await this.launch();
        return;
      } catch (err) {
        if (i >= 40 || !/EADDRINUSE|address already in use/i.test((err as Error).message)) throw err;
        await sleep(100);
      }
    }
  }
}

/** VmRSS and VmHWM of a process in KiB (undefined when it is gone). */
export function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    if (rss === undefined || hwm === undefined) return undefined;
    return { rssKiB: Number(rss), hwmKiB: Number(hwm) };
  } catch {
    return undefined;
  }
}

/** Number of open file descriptors of a process (undefined when it is gone). */
export function fdCountOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}
