/** `secretstore-setup unprotect FILE`: restore a file protected with `protect`. */
import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { SecretStoreError } from '../../errors.js';
import { unprotectFile } from '../../protect/protect.js';
import { ikmSourceFromEnv } from './bootstrap.js';

export const unprotectCommand: Command = {
  name: 'unprotect',
  summary: 'decrypt a file protected with "protect"',
  usage: `Usage: secretstore-setup unprotect FILE [--purpose LABEL] [--out FILE]

Decrypts a protected document with the IKM from EDGEX_IKM_HOOK and replaces FILE (or writes --out) with the
plaintext, atomically, mode 0600. The purpose (default: the file name, lower-cased) must be the one it was
protected for. A wrong IKM or an altered file fails with nothing changed.`,
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(ctx.argv, { purpose: { type: 'string' }, out: { type: 'string' } }, true);
    const file = positionals[0];
    if (file === undefined || positionals.length !== 1) throw new SecretStoreError('USAGE', 'unprotect takes exactly one FILE; see --help');
    const ikmSource = ikmSourceFromEnv(ctx.env);
    if (ikmSource === undefined) {
      throw new SecretStoreError('HOOK_NOT_CONFIGURED', 'unprotect needs the IKM hook: set EDGEX_IKM_HOOK to its absolute path');
    }
    const r = await unprotectFile({
      file,
      ikmSource,
      ...(values.purpose === undefined ? {} : { purpose: values.purpose }),
      ...(values.out === undefined ? {} : { out: values.out }),
    });
    ctx.log.warn('file written in PLAINTEXT', { out: r.out, purpose: r.purpose });
    ctx.out(`unprotected ${r.out} (purpose ${r.purpose})\n`);
    return 0;
  },
};
