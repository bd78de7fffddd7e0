/** Runs an IKM hook (or any program) to completion with a given environment, as EDGEX_IKM_HOOK runners do. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { sourceFile } from './paths.js';

/** The repository's `hooks/` folder, found walking up from this compiled file (dist/ and .build/<name>/ both work). */
function hooksDir(): string {
  return dirname(sourceFile(join('hooks', 'ikm-dev')));
}

/** Absolute path of a hook in the repository's `hooks/` folder. */
export function hookPath(name: 'ikm-dev' | 'ikm-tpm2' | 'ikm-tang' | 'ikm-pkcs11'): string {
  return join(hooksDir(), name);
}

/** What a run produced. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `file ...args` with `env`, stdin closed, and resolves with its status and output (killed after 60 s). */
export function runProgram(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a program and throws (with its stderr) unless it exits 0; resolves to its stdout. */
export async function mustRun(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runProgram(file, args, env);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${String(r.code)}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** One IKM line as every hook prints it: 64 lowercase hex digits (32 bytes) and a newline. */
export const IKM_LINE = /^[0-9a-f]{64}\n$/;

/** Asserts a hook run succeeded and printed exactly one line matching `line`; returns that line without its newline. */
export function expectIkm(r: RunResult, line: RegExp = IKM_LINE): string {
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, line);
  return r.stdout.trim();
}

/** Asserts a hook run failed with status 1, printed nothing on stdout and exactly one stderr line matching `msg`. */
export function expectHookFailure(r: RunResult, msg: RegExp): void {
  assert.equal(r.code, 1, `expected failure, got ${String(r.code)}: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, msg);
}
