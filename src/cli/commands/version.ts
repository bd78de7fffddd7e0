/** `secretstore-setup version`: prints the package version. */
import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { VERSION } from '../../version.js';

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the version',
  usage: 'Usage: secretstore-setup version\n\nPrints the version of secretstore-setup.',
  run(ctx) {
    parseCommandArgs(ctx.argv, {});
    ctx.out(`secretstore-setup ${VERSION}\n`);
    return Promise.resolve(0);
  },
};
