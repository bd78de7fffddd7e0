/** `keys decrypt`: turns an encrypted key file back into a plaintext Vault init response (with a loud warning). */
import type { CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';
import { type KeyFileSummary, writeKeyFile } from '../../keyfile/keyfile.js';
import { describeSummary, locationFrom, parseKeysArgs, requireHook, rewriteKeyFile } from './keys-common.js';

/** Runs `keys decrypt`. */
export async function keysDecrypt(ctx: CommandContext): Promise<number> {
  const { values } = parseKeysArgs(ctx.argv, {});
  const loc = locationFrom(ctx, values);
  const source = requireHook(ctx, 'decrypting the key file');
  const check = (before: KeyFileSummary): void => {
    if (!before.encrypted) throw new SecretStoreError('KEYFILE_FORMAT_MISMATCH', `${before.path} is not encrypted; nothing to decrypt`);
  };
  return rewriteKeyFile(loc, source, check, async (secrets, ikm) => {
    const summary = await writeKeyFile(loc, secrets, { format: 'plaintext', ikm, allowPlaintext: true });
    ctx.log.warn(
      `WARNING: the unseal key shares${secrets.rootToken === undefined ? '' : ' and the root token'} are now stored in PLAINTEXT in ${summary.path}: anyone who can read it can unseal the store. Run "keys encrypt" as soon as possible.`,
    );
    if (secrets.threshold !== undefined) ctx.log.warn(`the threshold (${secrets.threshold}) is not part of a Vault init response and was not kept`);
    ctx.out(`decrypted: ${summary.path}: ${describeSummary(summary)}\n`);
    return 0;
  });
}
