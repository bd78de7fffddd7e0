/**
 * One line per event on stderr, human-readable by default or JSON (`--log-format json`). Callers pass only
 * non-secret fields: the logger cannot know what is secret, so nothing secret may ever be handed to it.
 *
 * The store logs one line per request, so a line must be cheap: it is built once by string concatenation (the
 * logger's own fields pre-formatted, values checked for quoting by a character scan, the timestamp formatted once
 * per millisecond), and lines for stderr are buffered and written together at most {@link LOG_FLUSH_DELAY_MS} ms
 * after the first of them instead of one synchronous write(2) each (a flush per event-loop turn, tried first, kept
 * the loop from blocking in its poll and cost a busy server ≈ 10 µs per request). Buffered lines are written before
 * the process exits (the `exit` event), before any warning or error line (written at once), and when
 * {@link flushLogs} is called; only a process killed outright (SIGKILL, power loss) loses the last few ms of lines.
 */

/** Severity levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Output formats. */
export type LogFormat = 'text' | 'json';
/** Structured, non-secret fields attached to an event. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** The level column of the text format, padded to a fixed width. */
const LEVEL_TEXT: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };
/** Keys the JSON format writes itself; a field with one of these names takes the slow (object) path. */
const JSON_RESERVED = new Set(['time', 'level', 'msg']);

/** Where log lines go; a function so tests can capture them. */
export type LogSink = (line: string) => void;

/** Settings of a {@link Logger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Called synchronously with each line (no newline). Default: stderr, buffered per event-loop turn. */
  sink?: LogSink;
  /** Fields added to every line (e.g. the component). */
  base?: LogFields;
}

/** How long buffered stderr lines may wait before they are written. */
export const LOG_FLUSH_DELAY_MS = 10;

/** Arranges for `flush` to be called once, `delayMs` ms from now; {@link LineBuffer}'s timer, replaceable in tests. */
export type ScheduleFlush = (flush: () => void, delayMs: number) => void;

/** The default {@link ScheduleFlush}: an unref'd `setTimeout`, so a waiting flush never keeps a process alive. */
export const unrefTimeout: ScheduleFlush = (flush, delayMs) => {
  setTimeout(flush, delayMs).unref();
};

/**
 * Collects lines and hands them to `write` as one chunk (lines joined, each ending in a newline) `delayMs` after the
 * first waiting line (an unref'd timer: it never keeps a process alive), or at once when more than `maxChars`
 * characters are waiting, so a burst cannot grow it without bound. Exported so the batching can be tested with a
 * fake writer and a fake timer (`schedule`); the loggers share one for stderr.
 */
export class LineBuffer {
  private pending = '';
  private scheduled = false;
  private readonly write: (chunk: string) => void;
  private readonly maxChars: number;
  private readonly delayMs: number;
  private readonly schedule: ScheduleFlush;

  constructor(write: (chunk: string) => void, maxChars = 64 * 1024, delayMs = LOG_FLUSH_DELAY_MS, schedule: ScheduleFlush = unrefTimeout) {
    this.write = write;
    this.maxChars = maxChars;
    this.delayMs = delayMs;
    this.schedule = schedule;
  }

  /** Queues one line (without its newline). */
  push(line: string): void {
    this.pending += line + '\n';
    if (this.pending.length > this.maxChars) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flushScheduled, this.delayMs);
    }
  }

  /** Writes a line at once, after every line queued before it. */
  pushNow(line: string): void {
    this.pending += line + '\n';
    this.flush();
  }

  /** Writes whatever is queued, synchronously. */
  flush(): void {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.write(chunk);
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };
}

// process.stderr writes synchronously on Linux for files, pipes and terminals, so a flush from the `exit` event
// still reaches the file descriptor.
const stderrLines = new LineBuffer((chunk) => process.stderr.write(chunk));
let exitHookInstalled = false;
function bufferStderr(line: string, now: boolean): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', flushLogs);
  }
  if (now) stderrLines.pushNow(line);
  else stderrLines.push(line);
}

/** Writes the lines buffered for stderr now (also done on process exit and before every warning or error line). */
export function flushLogs(): void {
  stderrLines.flush();
}

let clockMs = -1;
let clockText = '';
/** `new Date().toISOString()`, formatted once per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== clockMs) {
    clockMs = ms;
    clockText = new Date(ms).toISOString();
  }
  return clockText;
}

/** Unicode white space above U+007F, as matched by the regular expression class `\s`. */
function isWideSpace(c: number): boolean {
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/**
 * True when a text-format value must be written as a JSON string: empty, or holding white space, `"`, `=` or a
 * control character (quoted so a value can never break the line or forge a field).
 */
export function needsQuoting(text: string): boolean {
  if (text.length === 0) return true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x22 || c === 0x3d || c === 0x7f) return true;
    if (c >= 0x80 && isWideSpace(c)) return true;
  }
  return false;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function textPair(key: string, value: string | number | boolean | null): string {
  const text = String(value);
  return ' ' + key + '=' + (needsQuoting(text) ? JSON.stringify(text) : text);
}

function jsonPair(key: string, value: string | number | boolean | null): string {
  return ',' + JSON.stringify(key) + ':' + JSON.stringify(value);
}

/** A small leveled logger. */
export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  private readonly sink: LogSink | undefined;
  private readonly base: LogFields;
  private readonly threshold: number;
  /** The base fields, formatted once for this logger's format. */
  private readonly baseText: string;
  /** True when a base field is named like a JSON-format key or an array index, so every JSON line takes the object path. */
  private readonly baseReserved: boolean;
  private readonly hasBase: boolean;

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? 'info';
    this.format = options.format ?? 'text';
    this.sink = options.sink;
    this.base = options.base ?? {};
    this.threshold = LEVEL_ORDER[this.level];
    const pair = this.format === 'json' ? jsonPair : textPair;
    let baseText = '';
    let baseReserved = false;
    for (const key of Object.keys(this.base)) {
      const value = this.base[key];
      // JSON objects list array-index keys before "time", so such a key takes the object path too.
      if (JSON_RESERVED.has(key) || isDigit(key.charCodeAt(0))) baseReserved = true;
      if (value !== undefined) baseText += pair(key, value);
    }
    this.baseText = baseText;
    this.baseReserved = baseReserved;
    this.hasBase = Object.keys(this.base).length > 0;
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
  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_ORDER[level] < this.threshold) return;
    const line = this.format === 'json' ? this.jsonLine(level, msg, fields) : this.textLine(level, msg, fields);
    if (this.sink !== undefined) this.sink(line);
    // Warnings and errors go out at once (after the buffered lines): they often come just before a failure, whose
    // message the CLI writes straight to stderr, and must not appear after it.
    else bufferStderr(line, LEVEL_ORDER[level] >= LEVEL_ORDER.warn);
  }

  /** Flushes the lines buffered for stderr (see {@link flushLogs}); a no-op for a logger with its own sink. */
  flush(): void {
    if (this.sink === undefined) flushLogs();
  }

  /**
   * True when simple concatenation would not give the line `{...base, ...fields}` gives: a field replacing a base
   * field in place, an array-index key (objects list those first) after base fields or in JSON, or a reserved JSON key.
   */
  private overlaps(fields: LogFields): boolean {
    for (const key in fields) {
      if (Object.hasOwn(this.base, key) || (this.format === 'json' && JSON_RESERVED.has(key))) return true;
      if ((this.hasBase || this.format === 'json') && isDigit(key.charCodeAt(0))) return true;
    }
    return false;
  }

  private textLine(level: LogLevel, msg: string, fields: LogFields | undefined): string {
    let line = isoNow() + ' ' + LEVEL_TEXT[level] + ' ' + msg;
    if (fields === undefined) return line + this.baseText;
    if (this.overlaps(fields)) {
      for (const [key, value] of Object.entries({ ...this.base, ...fields })) if (value !== undefined) line += textPair(key, value);
      return line;
    }
    line += this.baseText;
    for (const key in fields) {
      const value = fields[key];
      if (value !== undefined) line += textPair(key, value);
    }
    return line;
  }

  private jsonLine(level: LogLevel, msg: string, fields: LogFields | undefined): string {
    if (this.baseReserved || (fields !== undefined && this.overlaps(fields))) {
      // Rare: a field named time/level/msg or overriding a base field keeps the exact object semantics.
      const record: Record<string, unknown> = { time: isoNow(), level, msg };
      for (const [key, value] of Object.entries({ ...this.base, ...fields })) if (value !== undefined) record[key] = value;
      return JSON.stringify(record);
    }
    let line = '{"time":"' + isoNow() + '","level":"' + level + '","msg":' + JSON.stringify(msg) + this.baseText;
    if (fields !== undefined) {
      for (const key in fields) {
        const value = fields[key];
        if (value !== undefined) line += jsonPair(key, value);
      }
    }
    return line + '}';
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
