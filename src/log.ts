/**
 * One line per event on stderr, human-readable by default or JSON (`--log-format json`). Callers pass only
 * non-secret fields: the logger cannot know what is secret, so nothing secret may ever be handed to it.
 */

/** Severity levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Output formats. */
export type LogFormat = 'text' | 'json';
/** Structured, non-secret fields attached to an event. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where log lines go; a function so tests can capture them. */
export type LogSink = (line: string) => void;

/** Settings of a {@link Logger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  sink?: LogSink;
  /** Fields added to every line (e.g. the component). */
  base?: LogFields;
}

/** A small leveled logger. */
export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  private readonly sink: LogSink;
  private readonly base: LogFields;

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? 'info';
    this.format = options.format ?? 'text';
    this.sink = options.sink ?? ((line) => process.stderr.write(line + '\n'));
    this.base = options.base ?? {};
  }

  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger {
    return new Logger({ level: this.level, format: this.format, sink: this.sink, base: { ...this.base, ...fields } });
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  /** Writes one event if `level` is enabled. */
  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (LEVEL_ORDER[level] < LEVEL_ORDER[this.level]) return;
    const all: LogFields = { ...this.base, ...fields };
    const time = new Date().toISOString();
    if (this.format === 'json') {
      const record: Record<string, unknown> = { time, level, msg };
      for (const [k, v] of Object.entries(all)) if (v !== undefined) record[k] = v;
      this.sink(JSON.stringify(record));
      return;
    }
    const parts = [time, level.toUpperCase().padEnd(5), msg];
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      const text = String(v);
      parts.push(`${k}=${/[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text}`);
    }
    this.sink(parts.join(' '));
  }
}

/** Parses a `--log-level` value. */
export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  return value === 'debug' || value === 'info' || value === 'warn' || value === 'error' ? value : undefined;
}

/** Parses a `--log-format` value. */
export function parseLogFormat(value: string | undefined): LogFormat | undefined {
  return value === 'text' || value === 'json' ? value : undefined;
}
