/** `keys encrypt [--format v2|edgex]`: turns a plaintext key file (Vault init response) into an encrypted one. */
import type { CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';
import { type KeyFileSummary, writeKeyFile } from '../../keyfile/keyfile.js';
import { describeSummary, locationFrom, parseEncryptedFormat, parseKeysArgs, requireHook, rewriteKeyFile } from './keys-common.js';
import { checkRootTokenFor, dropRootTokenFor } from './keys-root-token.js';

/** Runs `keys encrypt`. */
export async function keysEncrypt(ctx: CommandContext): Promise<number> {
  const { values } = parseKeysArgs(ctx.argv, { format: { type: 'string' }, 'drop-root-token': { type: 'boolean' } });
  const format = parseEncryptedFormat('format', values.format, 'v2');
  const loc = locationFrom(ctx, values);
  const source = requireHook(ctx, 'encrypting the key file');
  const check = (before: KeyFileSummary): void => {
    if (before.encrypted) {
      throw new SecretStoreError('KEYFILE_FORMAT_MISMATCH', `${before.path} is already encrypted (${before.format} format); use "keys convert" or "keys rewrap"`);
    }
    checkRootTokenFor(format, before, values['drop-root-token'] === true);
  };
  return rewriteKeyFile(loc, source, check, async (secrets, ikm) => {
    const summary = await writeKeyFile(loc, dropRootTokenFor(format, secrets, values['drop-root-token'] === true), { format, ikm });
    ctx.out(`encrypted: ${summary.path}: ${describeSummary(summary)}\n`);
    return 0;
  });
}
