/**
 * The shape of a CLI command. Each command is a plain async function over typed context: it reads no globals,
 * never calls `process.exit`, and throws {@link SecretStoreError} for expected failures.
 */
import type { Logger } from '../log.js';

/** What a command gets from the entry point. */
export interface CommandContext {
  /** Arguments after the command name. */
  argv: string[];
  /** Environment (a copy of `process.env`, so tests can pass their own). */
  env: NodeJS.ProcessEnv;
  /** Working directory for relative paths. */
  cwd: string;
  /** Writes normal output (stdout). */
  out: (text: string) => void;
  /** Logger for events (stderr). */
  log: Logger;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop cleanly when it fires. */
  signal: AbortSignal;
}

/** A CLI command: name, one-line summary, full usage text, and the function that runs it. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text shown by `--help` (usage line, options, examples). */
  usage: string;
  /** Runs the command; resolves to the exit status (0 success, 1 failure). */
  run(ctx: CommandContext): Promise<number>;
}
