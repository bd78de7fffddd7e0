/** Helpers of the packaging tests: run a program to completion, and the packaging script. */
import { spawn } from 'node:child_process';
import { sourceFile } from '../helpers/paths.js';

/** What a run produced. */
export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `file ...args` with exactly `env` (nothing inherited), stdin closed; SIGKILL after `timeoutMs`. */
export function run(file: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<Ran> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

/** scripts/package.mjs in the source tree. */
export const PACKAGE_SCRIPT = sourceFile('scripts/package.mjs');

/** Exit status of scripts/package.mjs when the Node 24 binary cannot be obtained (offline, no npx). */
export const NO_NODE_24 = 3;

/** Runs scripts/package.mjs with `args` under this Node, with this process's environment (npx needs PATH, HOME). */
export function runPackageScript(args: readonly string[], timeoutMs: number): Promise<Ran> {
  return run(process.execPath, [PACKAGE_SCRIPT, ...args], { env: process.env, timeoutMs });
}

/** The last line of a program's output. */
export function lastLine(text: string): string {
  return text.trimEnd().split('\n').pop() ?? '';
}

/** Asserts-friendly summary of the demo's output: the step markers seen and whether it passed. */
export function demoSummary(stdout: string): { steps: number[]; passed: boolean; okCount: number } {
  const steps = [...stdout.matchAll(/^\[(\d+)\/7\] /gm)].map((m) => Number(m[1]));
  return { steps, passed: /^demo passed: all 7 steps in \d+ ms$/m.test(stdout), okCount: (stdout.match(/ ok \(\d+ ms\)/g) ?? []).length };
}
