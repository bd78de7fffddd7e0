/** `keys verify`: with the hook, checks that every share (and the root token) decrypts; prints a summary. */
import type { CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';
import { hookOptionsFromEnv } from '../../vmk/ikm-hook.js';
import { readKeyFile, wipeInitSecrets } from '../../keyfile/keyfile.js';
import { describeSummary, locationFrom, parseKeysArgs, requireHook, requireKeyFile, withIkm } from './keys-common.js';

/** Runs `keys verify`. */
export async function keysVerify(ctx: CommandContext): Promise<number> {
  const { values } = parseKeysArgs(ctx.argv, {});
  const loc = locationFrom(ctx, values);
  const before = await requireKeyFile(loc);
  if (!before.encrypted) {
    if (hookOptionsFromEnv(ctx.env) !== undefined) {
      throw new SecretStoreError('KEYFILE_PLAINTEXT', `${before.path} holds the key shares in plaintext although an IKM hook is configured; run "secretstore-setup keys encrypt"`);
    }
    const { secrets, summary } = await readKeyFile(loc, undefined);
    wipeInitSecrets(secrets);
    ctx.log.warn('the key shares are stored in plaintext; set EDGEX_IKM_HOOK and run "keys encrypt" to protect them');
    ctx.out(`ok: ${summary.path}: ${describeSummary(summary)}\n`);
    return 0;
  }
  const source = requireHook(ctx, `${before.path} is encrypted: verifying it`);
  return withIkm(source, async (ikm) => {
    const { secrets, summary } = await readKeyFile(loc, ikm);
    wipeInitSecrets(secrets);
    ctx.out(`ok: every share decrypts: ${summary.path}: ${describeSummary(summary)}\n`);
    return 0;
  });
}
