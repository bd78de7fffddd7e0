/** `secretstore-setup demo`: the whole boot flow on a throw-away store, step by step (the README's first command). */
import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { runDemo } from '../../bootstrap/demo.js';
import { Logger } from '../../log.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole boot flow on a throw-away store (software IKM, NOT hardware-backed)',
  usage: `Usage: secretstore-setup demo [--keep]

Starts the embedded store in a temp folder, writes the software-only hooks/ikm-dev shipped in the program into that
folder and bootstraps the store with it and a random demo IKM (NOT hardware-backed), shows that the key file holds
no plaintext share, restarts the store (sealed, as after a reboot), bootstraps again, writes and reads a secret, and
cleans up. Exit 0 only if every step passed. The store is this same program run as "serve".

Options:
  --keep        keep the temp folder for inspection
  --log-level   flow events on stderr (default warn for the demo)`,
  async run(ctx) {
    const { values } = parseCommandArgs(ctx.argv, { keep: { type: 'boolean' } });
    const explicitLevel = ctx.argv.some((a) => a.startsWith('--log-level'));
    await runDemo({
      env: ctx.env,
      out: ctx.out,
      log: explicitLevel ? ctx.log : new Logger({ level: 'warn', format: ctx.log.format }),
      signal: ctx.signal,
      keep: values.keep === true,
    });
    return 0;
  },
};
