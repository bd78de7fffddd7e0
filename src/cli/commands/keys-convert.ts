/** `keys convert --to v2|edgex`: re-encrypts the key file in the other format under the same IKM. */
import type { CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';
import { type KeyFileSummary, writeKeyFile } from '../../keyfile/keyfile.js';
import { describeSummary, locationFrom, parseEncryptedFormat, parseKeysArgs, requireHook, rewriteKeyFile } from './keys-common.js';
import { checkRootTokenFor, dropRootTokenFor } from './keys-root-token.js';

/** Runs `keys convert`. */
export async function keysConvert(ctx: CommandContext): Promise<number> {
  const { values } = parseKeysArgs(ctx.argv, { to: { type: 'string' }, 'drop-root-token': { type: 'boolean' } });
  if (values.to === undefined) throw new SecretStoreError('USAGE', '--to v2|edgex is required; see --help');
  const format = parseEncryptedFormat('to', values.to, 'v2');
  const loc = locationFrom(ctx, values);
  const source = requireHook(ctx, 'converting the key file');
  const check = (before: KeyFileSummary): void => {
    if (!before.encrypted) throw new SecretStoreError('KEYFILE_FORMAT_MISMATCH', `${before.path} is not encrypted; use "keys encrypt --format ${format}"`);
    if (before.format === format) throw new SecretStoreError('KEYFILE_FORMAT_MISMATCH', `${before.path} is already in the ${format} format; nothing was changed`);
    checkRootTokenFor(format, before, values['drop-root-token'] === true);
  };
  return rewriteKeyFile(loc, source, check, async (secrets, ikm) => {
    const summary = await writeKeyFile(loc, dropRootTokenFor(format, secrets, values['drop-root-token'] === true), { format, ikm });
    ctx.out(`converted: ${summary.path}: ${describeSummary(summary)}\n`);
    return 0;
  });
}
