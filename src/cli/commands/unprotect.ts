/** `secretstore-setup unprotect FILE`: restore a file protected with `protect`. */
import type { Command } from '../command.js';
import { unprotectFile } from '../../protect/protect.js';
import { protectOptionsFromArgs } from './protect.js';

export const unprotectCommand: Command = {
  name: 'unprotect',
  summary: 'decrypt a file protected with "protect"',
  usage: `Usage: secretstore-setup unprotect FILE [--purpose LABEL] [--out FILE]

Decrypts a protected document with the IKM from EDGEX_IKM_HOOK and replaces FILE (or writes --out) with the
plaintext, atomically, mode 0600. The purpose (default: the file name, lower-cased) must be the one it was
protected for. A wrong IKM or an altered file fails with nothing changed.`,
  async run(ctx) {
    const r = await unprotectFile(protectOptionsFromArgs(ctx, 'unprotect'));
    ctx.log.warn('file written in PLAINTEXT', { out: r.out, purpose: r.purpose });
    ctx.out(`unprotected ${r.out} (purpose ${r.purpose})\n`);
    return 0;
  },
};
