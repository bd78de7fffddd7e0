/**
 * Argument parsing on top of `node:util` parseArgs: unknown options and bad values become USAGE errors (exit 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SecretStoreError } from '../errors.js';

/** Options accepted by every command. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` strictly against `options` (plus the common ones); throws a USAGE error on anything unknown. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] ?? 'invalid arguments' : 'invalid arguments';
    throw new SecretStoreError('USAGE', `${msg}; see --help`);
  }
}

/** Parses a whole decimal number within [min, max]; anything else is a USAGE error naming the option. */
export function parseIntegerOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new SecretStoreError('USAGE', `--${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new SecretStoreError('USAGE', `--${name} must be between ${min} and ${max}, got ${value}`);
  }
  return n;
}
