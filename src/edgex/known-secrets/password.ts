/**
 * Passwords of EdgeX's known secrets (edgex-go `internal/security/secretstore/password.go`, `passwordprovider.go`,
 * `credentialgenerator.go`): by default the standard base64 of 33 random bytes (44 characters); with
 * `SecretStore.PasswordProvider` set and found (Go's `exec.LookPath` rules), that program's standard output with one
 * trailing `\n` removed, run with `PasswordProviderArgs` once per password. A provider that cannot be found only gives
 * a warning and the built-in generator is used, as in EdgeX; a provider that fails is fatal.
 *
 * Hardened: the provider runs without a shell, with stdin from /dev/null, a cap on its output and a timeout that
 * kills its process group; an empty password or one that is not UTF-8 text is refused (EdgeX would store it). Its
 * stderr goes to ours, as in EdgeX. Passwords stay in Buffers; nothing of them is logged.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { isAbsolute, join, resolve } from 'node:path';
import { randomBytes, wipe } from '../../crypto.js';
import { SecretStoreError, describeCause } from '../../errors.js';
import type { Logger } from '../../log.js';

/** Random bytes per built-in password: 264 bits, as EdgeX's `randomBytesLength`. */
export const PASSWORD_RANDOM_BYTES = 33;
/** Default time a password provider may run (EdgeX has no limit). */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 60_000;
/** Default cap on a provider's standard output. */
export const DEFAULT_PROVIDER_MAX_OUTPUT_BYTES = 65_536;

/** Makes passwords. */
export interface PasswordGenerator {
  /** Secret-free description for logs and messages. */
  readonly description: string;
  /** A new password as UTF-8 bytes, in a Buffer the caller owns and wipes. */
  generate(): Promise<Buffer>;
}

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');

/** Standard base64 (with padding) of `bytes`, written into a Buffer without making a string. */
export function base64Bytes(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(Math.ceil(bytes.length / 3) * 4);
  let o = 0;
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const left = bytes.length - i;
    out[o++] = BASE64[(n >> 18) & 63] ?? 0;
    out[o++] = BASE64[(n >> 12) & 63] ?? 0;
    out[o++] = left > 1 ? (BASE64[(n >> 6) & 63] ?? 0) : 0x3d;
    out[o++] = left > 2 ? (BASE64[n & 63] ?? 0) : 0x3d;
  }
  return out;
}

/** A built-in password: base64 of {@link PASSWORD_RANDOM_BYTES} random bytes (44 ASCII bytes). */
export function randomPassword(): Buffer {
  const raw = randomBytes(PASSWORD_RANDOM_BYTES);
  try {
    return base64Bytes(raw);
  } finally {
    wipe(raw);
  }
}

/** The built-in generator. */
export const builtinPasswordGenerator: PasswordGenerator = {
  description: 'built-in (base64 of 33 random bytes)',
  generate: () => Promise.resolve(randomPassword()),
};

/** Go's `findExecutable`: exists, is not a folder, and is executable by us. */
async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) return false;
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Go's `exec.LookPath` on Unix (Go ≥ 1.19): a name containing `/` is used as is (resolved against the working folder
 * here); otherwise each `PATH` entry is tried in order (an empty entry means `.`), and a match in a relative entry is
 * an error (Go's `ErrDot`), not a result. Returns the absolute path, or undefined when not found (or found only
 * relative to the working folder).
 */
export async function lookPath(file: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (file === '') return undefined;
  if (file.includes('/')) return (await isExecutable(file)) ? resolve(file) : undefined;
  for (const entry of (env.PATH ?? '').split(':')) {
    const candidate = join(entry === '' ? '.' : entry, file);
    if (await isExecutable(candidate)) return isAbsolute(candidate) ? candidate : undefined;
  }
  return undefined;
}

/** How to run a password provider. */
export interface ProviderRunOptions {
  /** Environment given to the provider; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Kill it (and its process group) after this long; default {@link DEFAULT_PROVIDER_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Cap on its standard output; default {@link DEFAULT_PROVIDER_MAX_OUTPUT_BYTES}. */
  maxOutputBytes?: number;
}

/**
 * Runs the provider at `path` (absolute) with `args` once and returns its output less one trailing `\n`, in a fresh
 * Buffer the caller wipes. Throws CONFIG when it cannot start, times out, prints too much, exits non-zero, or prints
 * an empty password or one that is not UTF-8 text.
 */
export async function runPasswordProvider(path: string, args: readonly string[], options: ProviderRunOptions = {}): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
  const maxOutput = options.maxOutputBytes ?? DEFAULT_PROVIDER_MAX_OUTPUT_BYTES;
  const out = Buffer.alloc(maxOutput + 1); // one buffer for all of stdout, so no copy of the password is left behind
  let length = 0;
  try {
    const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; failure?: SecretStoreError }>((done) => {
      let failure: SecretStoreError | undefined;
      let settled = false;
      let graceTimer: NodeJS.Timeout | undefined;
      const child = spawn(path, [...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: options.env ?? process.env,
        detached: true, // its own process group, so a timeout kills everything it started
        shell: false,
        windowsHide: true,
      });
      const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        done(failure === undefined ? { code, signal } : { code, signal, failure });
      };
      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const fail = (err: SecretStoreError): void => {
        failure ??= err;
        killGroup();
        graceTimer ??= setTimeout(() => {
          child.stdout.destroy();
          settle(null, null);
        }, 1000);
      };
      const timer = setTimeout(() => {
        fail(new SecretStoreError('CONFIG', `the password provider ${path} did not finish within ${timeoutMs} ms and was killed; check PasswordProvider`));
      }, timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        if (failure === undefined) {
          const n = Math.min(out.length - length, chunk.length);
          chunk.copy(out, length, 0, n);
          length += n;
          if (length > maxOutput) {
            fail(new SecretStoreError('CONFIG', `the password provider ${path} printed more than ${maxOutput} bytes and was killed; it must print one password`));
          }
        }
        chunk.fill(0);
      });
      child.on('error', (err) => {
        failure ??= new SecretStoreError('CONFIG', `the password provider ${path} could not be started (${describeCause(err)}); check PasswordProvider`, { cause: err });
        settle(null, null);
      });
      child.on('close', (code, signal) => {
        settle(code, signal);
      });
    });
    if (outcome.failure !== undefined) throw outcome.failure;
    if (outcome.signal !== null) throw new SecretStoreError('CONFIG', `the password provider ${path} was killed by ${outcome.signal}; no password was made`);
    if (outcome.code !== 0) {
      throw new SecretStoreError('CONFIG', `the password provider ${path} exited with status ${String(outcome.code)}; no password was made, nothing was stored`);
    }
    let end = length;
    if (end > 0 && out[end - 1] === 0x0a) end--; // exactly one trailing newline, as EdgeX's strings.TrimSuffix
    const password = out.subarray(0, end);
    if (password.length === 0) throw new SecretStoreError('CONFIG', `the password provider ${path} printed an empty password`);
    if (!isUtf8(password)) throw new SecretStoreError('CONFIG', `the password provider ${path} printed a password that is not UTF-8 text`);
    return Buffer.from(password);
  } finally {
    wipe(out);
  }
}

/** `PasswordProvider` settings (`SecretStore` section). */
export interface PasswordProviderSettings extends ProviderRunOptions {
  /** `PasswordProvider`: empty for the built-in generator. */
  provider: string;
  /** `PasswordProviderArgs`. */
  args?: readonly string[];
}

/**
 * The generator EdgeX would use: the provider when it is set and found (run once per password), else the built-in
 * one — with a warning when a provider was set but not found, as EdgeX does.
 */
export async function passwordGenerator(settings: PasswordProviderSettings, log: Logger): Promise<PasswordGenerator> {
  if (settings.provider === '') return builtinPasswordGenerator;
  const path = await lookPath(settings.provider, settings.env ?? process.env);
  if (path === undefined) {
    log.warn('password provider not found on PATH or not executable; using the built-in password generator', { provider: settings.provider });
    return builtinPasswordGenerator;
  }
  const args = [...(settings.args ?? [])];
  return {
    description: `password provider ${path}`,
    generate: () => {
      log.debug('running the password provider', { path, args: args.length });
      return runPasswordProvider(path, args, settings);
    },
  };
}
