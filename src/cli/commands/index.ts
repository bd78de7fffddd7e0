/**
 * The command table. Modules load lazily so that, say, `serve` never loads the boot flow and starts fast.
 * Add one line per command.
 */
import type { Command } from '../command.js';

/** An entry of the command table. */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'version', summary: 'print the version', load: async () => (await import('./version.js')).versionCommand },
];
