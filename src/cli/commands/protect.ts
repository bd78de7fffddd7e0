/** `secretstore-setup protect FILE`: encrypt a secret file at rest with the IKM (purpose-bound, atomic, 0600). */
import type { Command, CommandContext } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { SecretStoreError } from '../../errors.js';
import { protectFile, type ProtectOptions } from '../../protect/protect.js';
import { ikmSourceFromEnv } from './bootstrap.js';

/** Parses `FILE [--purpose LABEL] [--out FILE]` and the hook of `protect`/`unprotect` (shared by both commands). */
export function protectOptionsFromArgs(ctx: CommandContext, verb: 'protect' | 'unprotect'): ProtectOptions {
  const { values, positionals } = parseCommandArgs(ctx.argv, { purpose: { type: 'string' }, out: { type: 'string' } }, true);
  const file = positionals[0];
  if (file === undefined || positionals.length !== 1) throw new SecretStoreError('USAGE', `${verb} takes exactly one FILE; see --help`);
  const ikmSource = ikmSourceFromEnv(ctx.env);
  if (ikmSource === undefined) {
    throw new SecretStoreError('HOOK_NOT_CONFIGURED', `${verb} needs the IKM hook: set EDGEX_IKM_HOOK to its absolute path`);
  }
  return {
    file,
    ikmSource,
    ...(values.purpose === undefined ? {} : { purpose: values.purpose }),
    ...(values.out === undefined ? {} : { out: values.out }),
  };
}

export const protectCommand: Command = {
  name: 'protect',
  summary: 'encrypt a secret file (e.g. a TLS key) at rest with the IKM hook',
  usage: `Usage: secretstore-setup protect FILE [--purpose LABEL] [--out FILE]

Replaces FILE (or writes --out) with a protected document encrypted under the IKM from EDGEX_IKM_HOOK, bound to a
purpose label (default: the file name, lower-cased). The store's "serve --tls-key" expects purpose tls-key:
  secretstore-setup protect /etc/secretstore/tls.key --purpose tls-key
Atomic, mode 0600; the file is unchanged on any failure.`,
  async run(ctx) {
    const r = await protectFile(protectOptionsFromArgs(ctx, 'protect'));
    ctx.log.info('file protected', { out: r.out, purpose: r.purpose, bytes: r.bytes });
    ctx.out(`protected ${r.out} (purpose ${r.purpose})\n`);
    return 0;
  },
};
