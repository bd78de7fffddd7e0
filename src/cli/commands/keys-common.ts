/**
 * Shared pieces of the `keys` subcommands: the common options (--dir, --file, --salt-file), the hook from
 * EDGEX_IKM_HOOK, and the secret-free summary text.
 */
import { isAbsolute, resolve } from 'node:path';
import type { CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';
import { HookIkmSource, type HookOptions, hookOptionsFromEnv } from '../../vmk/ikm-hook.js';
import {
  type InitSecrets,
  type KeyFileFormat,
  type KeyFileLocation,
  type KeyFileSummary,
  inspectKeyFile,
  readKeyFile,
  wipeInitSecrets,
  withKeyFileLock,
} from '../../keyfile/keyfile.js';

/** Options every `keys` subcommand takes. */
export const LOCATION_OPTIONS = {
  dir: { type: 'string' },
  file: { type: 'string' },
  'salt-file': { type: 'string' },
} as const;

/** Parsed values of {@link LOCATION_OPTIONS}. */
interface LocationValues {
  dir?: string | undefined;
  file?: string | undefined;
  'salt-file'?: string | undefined;
}

/** Builds the key-file location from the parsed options; --dir is required. */
export function locationFrom(ctx: CommandContext, values: LocationValues): KeyFileLocation {
  if (values.dir === undefined || values.dir === '') throw new SecretStoreError('USAGE', '--dir is required (the folder holding resp-init.json); see --help');
  const loc: KeyFileLocation = { dir: isAbsolute(values.dir) ? values.dir : resolve(ctx.cwd, values.dir) };
  if (values.file !== undefined) loc.file = values.file;
  if (values['salt-file'] !== undefined) loc.saltFile = values['salt-file'];
  return loc;
}

/** Parses a subcommand's argv with the location options plus `extra`. */
export function parseKeysArgs<T extends NonNullable<Parameters<typeof parseCommandArgs>[1]>>(argv: string[], extra: T) {
  return parseCommandArgs(argv, { ...LOCATION_OPTIONS, ...extra });
}

/** The configured hook, or HOOK_NOT_CONFIGURED saying what needs it. */
export function requireHook(ctx: CommandContext, why: string): HookIkmSource {
  const options = hookOptionsFromEnv(ctx.env);
  if (options === undefined) {
    throw new SecretStoreError('HOOK_NOT_CONFIGURED', `${why} needs the IKM: set EDGEX_IKM_HOOK to the hook's absolute path`);
  }
  return new HookIkmSource(options);
}

/** Hook options for another hook path, with the timeout and minimum length settings of the environment. */
export function otherHookOptions(ctx: CommandContext, path: string): HookOptions {
  const base = hookOptionsFromEnv({ ...ctx.env, EDGEX_IKM_HOOK: path });
  if (base === undefined) throw new SecretStoreError('USAGE', 'the new hook path must not be empty');
  return base;
}

/** Runs `fn` with the IKM from `source`, wiping both the copy and the source's cache afterwards. */
export async function withIkm<T>(source: HookIkmSource, fn: (ikm: Buffer) => Promise<T>): Promise<T> {
  let ikm: Buffer | undefined;
  try {
    ikm = await source.getIkm();
    return await fn(ikm);
  } finally {
    ikm?.fill(0);
    source.wipe();
  }
}

/** The existing key file's summary, or KEYFILE_NOT_FOUND. */
export async function requireKeyFile(loc: KeyFileLocation): Promise<KeyFileSummary> {
  const summary = await inspectKeyFile(loc);
  if (summary === undefined) {
    throw new SecretStoreError('KEYFILE_NOT_FOUND', `no key file at ${loc.dir}/${loc.file ?? 'resp-init.json'}; check --dir and --file`);
  }
  return summary;
}

/**
 * The shape of every subcommand that rewrites the key file (encrypt, decrypt, convert, rewrap): the file must exist
 * (checked before the lock, which would create a missing folder); under the lock it is described again and
 * `check` may refuse (nothing has run yet); then the hook runs once, the file is read and decrypted, and `rewrite`
 * writes the new one. Secrets and the IKM are wiped whatever happens.
 */
export async function rewriteKeyFile(
  loc: KeyFileLocation,
  source: HookIkmSource,
  check: (before: KeyFileSummary) => void,
  rewrite: (secrets: InitSecrets, ikm: Buffer, before: KeyFileSummary) => Promise<number>,
): Promise<number> {
  await requireKeyFile(loc);
  return withKeyFileLock(loc, async () => {
    const before = await requireKeyFile(loc);
    check(before);
    return withIkm(source, async (ikm) => {
      const { secrets } = await readKeyFile(loc, ikm);
      try {
        return await rewrite(secrets, ikm, before);
      } finally {
        wipeInitSecrets(secrets);
      }
    });
  });
}

/** Parses an encrypted format name. */
export function parseEncryptedFormat(option: string, value: string | undefined, fallback: 'v2' | 'edgex'): 'v2' | 'edgex' {
  if (value === undefined) return fallback;
  if (value === 'v2' || value === 'edgex') return value;
  throw new SecretStoreError('USAGE', `--${option} must be v2 or edgex, got "${value}"`);
}

/** One-line, secret-free description of a key file. */
export function describeSummary(s: KeyFileSummary): string {
  const parts = [`${s.format} format`, s.encrypted ? 'encrypted' : 'NOT encrypted', `${s.shareCount} share${s.shareCount === 1 ? '' : 's'}`];
  if (s.threshold !== undefined) parts.push(`threshold ${s.threshold}`);
  parts.push(s.hasRootToken ? (s.rootTokenEncrypted ? 'root token encrypted' : 'root token in PLAINTEXT') : 'no root token');
  if (s.edgexLabel !== undefined) parts.push(`labels ${s.edgexLabel}<i>${s.edgexLabel === 'vault' ? ' (EdgeX v2/v3)' : ''}`);
  return parts.join(', ');
}

/** Long description for `keys inspect`. */
export function describeSummaryLines(s: KeyFileSummary): string {
  const salt = s.format === 'v2' ? 'embedded' : s.format === 'plaintext' ? 'not needed' : s.saltPresent ? 'present' : 'MISSING';
  const lines = [
    `file:       ${s.path}`,
    `format:     ${s.format} (${s.encrypted ? 'encrypted' : 'NOT encrypted'})`,
    `shares:     ${s.shareCount}`,
    `threshold:  ${s.threshold === undefined ? 'not recorded' : String(s.threshold)}`,
    `root token: ${s.hasRootToken ? (s.rootTokenEncrypted ? 'kept, encrypted' : 'kept, in PLAINTEXT') : 'none'}`,
    `salt:       ${salt}${s.saltPending === true ? ' (a salt replacement is pending; run keys verify with the hook)' : ''}`,
  ];
  return lines.join('\n') + '\n';
}

/** Formats that a summary can be converted to. */
export type TargetFormat = Exclude<KeyFileFormat, 'plaintext'>;
