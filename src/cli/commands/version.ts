/** `secretstore-setup version` (also `--version`, `-V`): prints the package version. */
import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { VERSION } from '../../version.js';
import { runMode } from '../../self-exec.js';

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the version',
  usage: `Usage: secretstore-setup version [--verbose]
       secretstore-setup --version | -V

Prints the version of secretstore-setup.

Options:
  --verbose     also print the Node.js version, the platform and how the program runs
                (script: the compiled tree; bundle: one JavaScript file run by node; sea: the single executable)`,
  run(ctx) {
    const { values } = parseCommandArgs(ctx.argv, { verbose: { type: 'boolean' } });
    ctx.out(`secretstore-setup ${VERSION}\n`);
    if (values.verbose === true) ctx.out(`node ${process.version} ${process.platform}-${process.arch} (${runMode()})\n`);
    return Promise.resolve(0);
  },
};
