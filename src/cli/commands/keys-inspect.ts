/** `keys inspect`: describes the key file without the hook (nothing is decrypted). */
import type { CommandContext } from '../command.js';
import { describeSummaryLines, locationFrom, parseKeysArgs, requireKeyFile } from './keys-common.js';

/** Runs `keys inspect [--json]`. */
export async function keysInspect(ctx: CommandContext): Promise<number> {
  const { values } = parseKeysArgs(ctx.argv, { json: { type: 'boolean' } });
  const summary = await requireKeyFile(locationFrom(ctx, values));
  ctx.out(values.json === true ? JSON.stringify(summary) + '\n' : describeSummaryLines(summary));
  return 0;
}
