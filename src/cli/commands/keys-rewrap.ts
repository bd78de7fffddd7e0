/**
 * `keys rewrap --new-hook PATH [--to v2|edgex]`: decrypts with the current hook (EDGEX_IKM_HOOK) and re-encrypts
 * under the new hook's IKM with a fresh salt — key rollover after a TPM re-enrolment or a firmware update.
 */
import type { CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';
import { constantTimeEqual } from '../../crypto.js';
import { HookIkmSource } from '../../vmk/ikm-hook.js';
import { type KeyFileSummary, writeKeyFile } from '../../keyfile/keyfile.js';
import { describeSummary, locationFrom, otherHookOptions, parseEncryptedFormat, parseKeysArgs, requireHook, rewriteKeyFile, withIkm } from './keys-common.js';
import { checkRootTokenFor, dropRootTokenFor } from './keys-root-token.js';

/** Runs `keys rewrap`. */
export async function keysRewrap(ctx: CommandContext): Promise<number> {
  const { values } = parseKeysArgs(ctx.argv, { 'new-hook': { type: 'string' }, to: { type: 'string' }, 'drop-root-token': { type: 'boolean' } });
  const newHook = values['new-hook'];
  if (newHook === undefined || newHook === '') throw new SecretStoreError('USAGE', '--new-hook PATH is required; see --help');
  const loc = locationFrom(ctx, values);
  const oldSource = requireHook(ctx, 'rewrapping the key file');
  const newSource = new HookIkmSource(otherHookOptions(ctx, newHook));
  const check = (before: KeyFileSummary): void => {
    if (!before.encrypted) throw new SecretStoreError('KEYFILE_FORMAT_MISMATCH', `${before.path} is not encrypted; use "keys encrypt" with the new hook`);
    // A bad --to or a root token edgex cannot keep fails before any hook runs.
    checkRootTokenFor(parseEncryptedFormat('to', values.to, before.format === 'edgex' ? 'edgex' : 'v2'), before, values['drop-root-token'] === true);
  };
  return rewriteKeyFile(loc, oldSource, check, async (secrets, oldIkm, before) => {
    const format = parseEncryptedFormat('to', values.to, before.format === 'edgex' ? 'edgex' : 'v2');
    const toWrite = dropRootTokenFor(format, secrets, values['drop-root-token'] === true);
    return withIkm(newSource, async (newIkm) => {
      if (constantTimeEqual(newIkm, oldIkm)) {
        ctx.log.warn('the new hook returned the same IKM as the current one; the file gets a fresh salt and nonces only');
      }
      const summary = await writeKeyFile(loc, toWrite, { format, ikm: newIkm, newSalt: true });
      ctx.out(`rewrapped: ${summary.path}: ${describeSummary(summary)}; set EDGEX_IKM_HOOK=${newHook} from now on\n`);
      return 0;
    });
  });
}
