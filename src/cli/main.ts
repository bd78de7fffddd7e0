/**
 * The CLI entry point: finds the command, runs it, maps errors to exit status. The only place that calls
 * `process.exit`. Exit status: 0 success, 1 failure, 2 usage error.
 */
import { COMMANDS } from './commands/index.js';
import type { CommandContext } from './command.js';
import { Logger, flushLogs, parseLogFormat, parseLogLevel } from '../log.js';
import { SecretStoreError, isSecretStoreError } from '../errors.js';

/** The command run when none is named (EdgeX runs its setup with no arguments). */
const DEFAULT_COMMAND = 'bootstrap';

function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: secretstore-setup <command> [options]',
    '',
    'Initializes and unseals a Vault/OpenBao secret store at boot, with the unseal key shares encrypted at rest',
    'under input keying material from a hardware-bound hook (EDGEX_IKM_HOOK).',
    '',
    'Commands:',
    ...lines,
    '',
    `With no command, runs "${DEFAULT_COMMAND}". Every command takes --help, --log-level debug|info|warn|error`,
    'and --log-format text|json. --version (or -V) prints the version.',
    '',
  ].join('\n');
}

/** Pulls --log-level/--log-format out of argv (wherever they stand) so the logger exists before the command parses. */
function loggerFor(argv: string[]): Logger {
  let level: string | undefined;
  let format: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--log-level') level = argv[i + 1];
    else if (a.startsWith('--log-level=')) level = a.slice('--log-level='.length);
    else if (a === '--log-format') format = argv[i + 1];
    else if (a.startsWith('--log-format=')) format = a.slice('--log-format='.length);
  }
  const parsedLevel = parseLogLevel(level);
  const parsedFormat = parseLogFormat(format);
  if (level !== undefined && parsedLevel === undefined) {
    throw new SecretStoreError('USAGE', `--log-level must be debug, info, warn or error, got "${level}"`);
  }
  if (format !== undefined && parsedFormat === undefined) {
    throw new SecretStoreError('USAGE', `--log-format must be text or json, got "${format}"`);
  }
  return new Logger({ level: parsedLevel ?? 'info', format: parsedFormat ?? 'text' });
}

/** Runs the CLI with `argv` (without node and script) and resolves to the exit status. */
export async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const first = argv[0];
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(topLevelHelp());
    return 0;
  }
  // `--version` and `-V` are spellings of the `version` command (`secretstore-setup --version` exits 0).
  if (first === '--version' || first === '-V') return main(['version', ...argv.slice(1)], signal);
  const named = first !== undefined && !first.startsWith('-');
  const name = named ? first : DEFAULT_COMMAND;
  const rest = named ? argv.slice(1) : argv;
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    process.stderr.write(`secretstore-setup: unknown command "${name}"; run "secretstore-setup --help" for the list\n`);
    return 2;
  }
  let log: Logger | undefined;
  try {
    log = loggerFor(rest);
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(command.usage.endsWith('\n') ? command.usage : command.usage + '\n');
      return 0;
    }
    const ctx: CommandContext = {
      argv: rest,
      env: { ...process.env },
      cwd: process.cwd(),
      out: (text) => process.stdout.write(text),
      log,
      signal,
    };
    return await command.run(ctx);
  } catch (err) {
    // Buffered event lines first, so the final message stays the last line the user sees.
    flushLogs();
    if (isSecretStoreError(err)) {
      process.stderr.write(`secretstore-setup ${name}: ${err.message}\n`);
      return err.code === 'USAGE' ? 2 : 1;
    }
    // An unexpected error: report its class only; its text or stack could carry data we cannot vet.
    const kind = err instanceof Error ? err.name : typeof err;
    process.stderr.write(`secretstore-setup ${name}: internal error (${kind}); rerun with --log-level debug and report it\n`);
    if (log?.level === 'debug' && err instanceof Error && err.stack !== undefined) {
      log.debug('internal error', { stack: err.stack });
    }
    return 1;
  }
}

const controller = new AbortController();
const onSignal = (): void => {
  controller.abort();
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

main(process.argv.slice(2), controller.signal).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
