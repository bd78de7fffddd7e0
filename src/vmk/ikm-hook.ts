/**
 * The IKM hook runner: EdgeX's "piped hex reader", hardened (EdgeX defect 8). The hook is a vendor executable
 * (TPM, HSM, network escrow) that prints the input keying material as hex on stdout. We run it with no arguments,
 * never through PATH or a shell, with stdin from /dev/null, a cap on stdout and stderr, and a timeout that kills
 * its whole process group.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { SecretStoreError, describeCause } from '../errors.js';
import { wipe } from '../crypto.js';
import { decodeHexBytes, hexProblem, type HexProblem } from './hex.js';

/** Default time the hook may run (EdgeX has none). */
export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
/** Default minimum IKM length: 256 bits, as the EdgeX design asks. */
export const DEFAULT_MIN_IKM_BYTES = 32;
/** The minimum can be lowered for odd hardware, but never below 128 bits. */
export const FLOOR_MIN_IKM_BYTES = 16;
/** Upper bound on the decoded IKM: anything longer is not keying material but a broken hook. */
export const MAX_IKM_BYTES = 1024;
/** Default cap on stdout bytes; past it the hook is killed. */
export const DEFAULT_MAX_OUTPUT_BYTES = 65_536;
/** How many bytes of the hook's stderr are kept for error messages. */
const STDERR_TAIL_BYTES = 512;
/** Characters of stderr quoted in a message. */
const STDERR_QUOTE_CHARS = 200;

/** How to run the hook. */
export interface HookOptions {
  /** Absolute path to the executable. */
  path: string;
  /** Kill the hook (and its process group) after this long; default 30000. */
  timeoutMs?: number;
  /** Minimum decoded IKM length in bytes; default 32, never below 16. */
  minIkmBytes?: number;
  /** Cap on stdout; default 65536. */
  maxOutputBytes?: number;
  /** Environment given to the hook; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

function parseWhole(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new SecretStoreError('CONFIG', `${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new SecretStoreError('CONFIG', `${name} must be between ${min} and ${max}, got ${value}`);
  }
  return n;
}

/**
 * Hook options from the environment: `EDGEX_IKM_HOOK` (the path; unset or empty = no hook), optional
 * `EDGEX_IKM_HOOK_TIMEOUT` (seconds, 1..3600) and `EDGEX_IKM_MIN_BYTES` (16..1024). The hook inherits `env`.
 */
export function hookOptionsFromEnv(env: NodeJS.ProcessEnv): HookOptions | undefined {
  const path = env.EDGEX_IKM_HOOK;
  if (path === undefined || path === '') return undefined;
  const options: HookOptions = { path, env };
  const timeout = env.EDGEX_IKM_HOOK_TIMEOUT;
  if (timeout !== undefined && timeout !== '') {
    options.timeoutMs = parseWhole('EDGEX_IKM_HOOK_TIMEOUT (seconds)', timeout, 1, 3600) * 1000;
  }
  const min = env.EDGEX_IKM_MIN_BYTES;
  if (min !== undefined && min !== '') {
    options.minIkmBytes = parseWhole('EDGEX_IKM_MIN_BYTES', min, FLOOR_MIN_IKM_BYTES, MAX_IKM_BYTES);
  }
  return options;
}

/** Checks the path before running anything: absolute, an existing regular file, executable by us. */
function checkHookPath(path: string): void {
  if (!isAbsolute(path)) {
    throw new SecretStoreError(
      'HOOK_INVALID_PATH',
      `the IKM hook path must be absolute (it is never looked up on PATH), got a relative path; set EDGEX_IKM_HOOK to /full/path/of/the/hook`,
    );
  }
  let info;
  try {
    info = statSync(path);
  } catch (err) {
    throw new SecretStoreError('HOOK_INVALID_PATH', `the IKM hook ${path} cannot be found (${describeCause(err)}); check EDGEX_IKM_HOOK`, {
      cause: err,
    });
  }
  if (!info.isFile()) {
    throw new SecretStoreError('HOOK_INVALID_PATH', `the IKM hook ${path} is not a regular file; point EDGEX_IKM_HOOK at the executable`);
  }
  try {
    accessSync(path, fsConstants.X_OK);
  } catch (err) {
    throw new SecretStoreError('HOOK_INVALID_PATH', `the IKM hook ${path} is not executable; chmod +x it (${describeCause(err)})`, {
      cause: err,
    });
  }
}

/** Printable, single-line, bounded view of the hook's stderr (its diagnostics), for messages. */
function stderrSummary(tail: Buffer): string {
  let text = '';
  for (const ch of tail.toString('utf8')) {
    const c = ch.codePointAt(0) ?? 0;
    // Control characters (C0, DEL, C1, line/paragraph separators) could forge log lines or move the cursor.
    const control = c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
    text += control ? ' ' : ch;
  }
  // A hook that echoes its IKM in a debug line would put the secret into our error message and the logs: long runs
  // of hex digits (16+, so that a run cut by the tail boundary is caught too) are never quoted.
  text = text.replace(/[0-9a-fA-F]{16,}/g, '[hex redacted]');
  text = text.replace(/ {2,}/g, ' ').trim();
  if (text === '') return '';
  const quoted = text.length > STDERR_QUOTE_CHARS ? '…' + text.slice(text.length - STDERR_QUOTE_CHARS) : text;
  return `; hook stderr: "${quoted}"`;
}

const PROBLEM_TEXT: Record<HexProblem, string> = {
  empty: 'printed nothing (an empty IKM)',
  'odd-length': 'printed an odd number of hex digits',
  'not-hex': 'printed something other than hex digits',
  cr: 'printed a carriage return (CRLF line ending); print hex followed by at most one \\n',
  whitespace: 'printed whitespace or more than one line; print hex followed by at most one \\n',
  'prefix-0x': 'printed a 0x prefix; print bare hex digits',
};

/** Validates and decodes the captured stdout (without the buffer's slack). */
function decodeOutput(path: string, out: Buffer, minBytes: number): Buffer {
  let end = out.length;
  if (end > 0 && out[end - 1] === 0x0a) end--; // at most one trailing newline, as EdgeX trims
  const digits = out.subarray(0, end);
  const problem = hexProblem(digits);
  if (problem !== undefined) {
    throw new SecretStoreError('HOOK_BAD_OUTPUT', `the IKM hook ${path} ${PROBLEM_TEXT[problem]}; fix the hook, nothing was changed`);
  }
  const length = digits.length / 2;
  if (length < minBytes) {
    throw new SecretStoreError(
      'HOOK_BAD_OUTPUT',
      `the IKM hook ${path} printed ${length} bytes of IKM, fewer than the required ${minBytes}; the hook must print at least ${minBytes * 2} hex digits`,
    );
  }
  if (length > MAX_IKM_BYTES) {
    throw new SecretStoreError('HOOK_BAD_OUTPUT', `the IKM hook ${path} printed ${length} bytes of IKM, more than the ${MAX_IKM_BYTES} allowed`);
  }
  const ikm = decodeHexBytes(digits);
  if (ikm === undefined) throw new SecretStoreError('INTERNAL', 'hex decoding failed after validation');
  return ikm;
}

/**
 * Runs the hook once and returns the decoded IKM: a fresh Buffer the caller owns and must wipe.
 * Throws HOOK_INVALID_PATH, HOOK_TIMEOUT, HOOK_OUTPUT_TOO_LARGE, HOOK_FAILED or HOOK_BAD_OUTPUT.
 */
export async function runIkmHook(options: HookOptions): Promise<Buffer> {
  const path = options.path;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const minBytes = options.minIkmBytes ?? DEFAULT_MIN_IKM_BYTES;
  if (!Number.isSafeInteger(minBytes) || minBytes < FLOOR_MIN_IKM_BYTES || minBytes > MAX_IKM_BYTES) {
    throw new SecretStoreError('CONFIG', `the minimum IKM length must be between ${FLOOR_MIN_IKM_BYTES} and ${MAX_IKM_BYTES} bytes, got ${minBytes}`);
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new SecretStoreError('CONFIG', 'the hook timeout must be a positive number of milliseconds');
  if (!Number.isSafeInteger(maxOutput) || maxOutput <= 0) throw new SecretStoreError('CONFIG', 'the hook output cap must be a positive number of bytes');
  checkHookPath(path);

  // One buffer for all of stdout, so the secret is never spread over chunks we cannot find again; +1 to see overflow.
  const out = Buffer.alloc(maxOutput + 1);
  let outLength = 0;
  let errTail = Buffer.alloc(0);
  try {
    const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; failure?: SecretStoreError }>(
      (resolve) => {
        let failure: SecretStoreError | undefined;
        let settled = false;
        let graceTimer: NodeJS.Timeout | undefined;
        const child = spawn(path, [], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: options.env ?? process.env,
          detached: true, // its own process group, so a timeout can kill everything it started
          shell: false,
          windowsHide: true,
        });
        const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          clearTimeout(graceTimer);
          resolve(failure === undefined ? { code, signal } : { code, signal, failure });
        };
        const killGroup = (): void => {
          if (child.pid === undefined) return;
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // the group is already gone
          }
        };
        const fail = (err: SecretStoreError): void => {
          failure ??= err;
          killGroup();
          // A process that left the group (setsid) could keep the pipes open forever: stop waiting after a grace time.
          graceTimer ??= setTimeout(() => {
            child.stdout.destroy();
            child.stderr.destroy();
            settle(null, null);
          }, 1000);
        };
        const timer = setTimeout(() => {
          fail(new SecretStoreError('HOOK_TIMEOUT', `the IKM hook ${path} did not finish within ${timeoutMs} ms and was killed; check the hook or raise EDGEX_IKM_HOOK_TIMEOUT`));
        }, timeoutMs);
        child.stdout.on('data', (chunk: Buffer) => {
          if (failure === undefined) {
            const room = out.length - outLength;
            chunk.copy(out, outLength, 0, Math.min(room, chunk.length));
            outLength += Math.min(room, chunk.length);
            if (outLength > maxOutput) {
              fail(new SecretStoreError('HOOK_OUTPUT_TOO_LARGE', `the IKM hook ${path} printed more than ${maxOutput} bytes and was killed; it must print one line of hex`));
            }
          }
          chunk.fill(0);
        });
        child.stderr.on('data', (chunk: Buffer) => {
          errTail = Buffer.concat([errTail, chunk]);
          if (errTail.length > STDERR_TAIL_BYTES) errTail = errTail.subarray(errTail.length - STDERR_TAIL_BYTES);
        });
        child.on('error', (err) => {
          failure ??= new SecretStoreError('HOOK_FAILED', `the IKM hook ${path} could not be started (${describeCause(err)}); check that it is a valid executable`, { cause: err });
          killGroup();
          settle(null, null);
        });
        child.on('close', (code, signal) => {
          settle(code, signal);
        });
      },
    );
    if (outcome.failure !== undefined) throw outcome.failure;
    if (outcome.signal !== null) {
      throw new SecretStoreError('HOOK_FAILED', `the IKM hook ${path} was killed by ${outcome.signal}${stderrSummary(errTail)}`);
    }
    if (outcome.code !== 0) {
      throw new SecretStoreError('HOOK_FAILED', `the IKM hook ${path} exited with status ${String(outcome.code)}${stderrSummary(errTail)}; its output was not used`);
    }
    return decodeOutput(path, out.subarray(0, outLength), minBytes);
  } finally {
    wipe(out);
  }
}

/** A source of input keying material: one method, so hardware, tests and key rotation can plug in their own. */
export interface IkmSource {
  /** Human-readable, secret-free name (for messages). */
  readonly description: string;
  /** Returns the IKM as a fresh Buffer that the caller owns and wipes. */
  getIkm(): Promise<Buffer>;
}

/**
 * The hook as an {@link IkmSource}. Runs the hook at most once per instance (hardware may release the IKM only a
 * limited number of times per boot) and hands out copies; {@link HookIkmSource.wipe} erases the cached IKM, after
 * which `getIkm` throws HOOK_ALREADY_USED. A failure is cached too: the hook is not retried.
 */
export class HookIkmSource implements IkmSource {
  readonly description: string;
  private readonly options: HookOptions;
  private pending: Promise<Buffer> | undefined;
  private wiped = false;

  constructor(options: HookOptions) {
    this.options = options;
    this.description = `IKM hook ${options.path}`;
  }

  /** Runs the hook on first call; later calls get a copy of the same IKM. */
  async getIkm(): Promise<Buffer> {
    this.assertNotWiped();
    this.pending ??= runIkmHook(this.options);
    const cached = await this.pending;
    this.assertNotWiped(); // wipe() may have run while the hook was running
    return Buffer.from(cached);
  }

  private assertNotWiped(): void {
    if (this.wiped) {
      throw new SecretStoreError('HOOK_ALREADY_USED', `the IKM from ${this.options.path} was already used and erased; it is not fetched twice`);
    }
  }

  /** Erases the cached IKM; later `getIkm` calls fail. Safe to call more than once. */
  wipe(): void {
    this.wiped = true;
    const pending = this.pending;
    if (pending !== undefined) {
      pending.then(
        (b) => {
          b.fill(0);
        },
        () => undefined,
      );
    }
  }
}
