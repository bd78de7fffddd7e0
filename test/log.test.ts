import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import {
  LineBuffer,
  LOG_FLUSH_DELAY_MS,
  Logger,
  needsQuoting,
  type LogFields,
  type LogFormat,
  type LogLevel,
  type ScheduleFlush,
} from '../src/log.js';

const LOG_MODULE = new URL('../src/log.js', import.meta.url).href;

/** The old quoting rule (empty, white space, quote, equals sign), extended to control characters. */
function referenceQuotes(text: string): boolean {
  return text === '' || /[\s"=]/.test(text) || Array.from({ length: text.length }, (_, i) => text.charCodeAt(i)).some((c) => c < 0x20 || c === 0x7f);
}

/** The logger's formatting as it was before the fast path (object spread, a regex per field): the reference. */
function reference(time: string, format: LogFormat, level: LogLevel, msg: string, base: LogFields, fields: LogFields): string {
  const all: LogFields = { ...base, ...fields };
  if (format === 'json') {
    const record: Record<string, unknown> = { time, level, msg };
    for (const [k, v] of Object.entries(all)) if (v !== undefined) record[k] = v;
    return JSON.stringify(record);
  }
  const parts = [time, level.toUpperCase().padEnd(5), msg];
  for (const [k, v] of Object.entries(all)) {
    if (v === undefined) continue;
    const text = String(v);
    parts.push(`${k}=${referenceQuotes(text) ? JSON.stringify(text) : text}`);
  }
  return parts.join(' ');
}

function capture(options: { level?: LogLevel; format?: LogFormat; base?: LogFields } = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ ...options, sink: (l) => lines.push(l) }), lines };
}

/** The timestamp a line carries (text: first word; JSON: the "time" member, always first). */
function timeOf(line: string): string {
  const m = /^(?:\{"time":")?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)/.exec(line);
  assert.ok(m?.[1] !== undefined, `no timestamp in ${line}`);
  return m[1];
}

test('text format: fixed columns, base fields first, quoting of empty, spaced, "=" and quote values', () => {
  const { log, lines } = capture({ base: { component: 'store' } });
  log.info('request', { method: 'GET', path: '/v1/secret/data/a b', status: 200, ok: true, none: null, skip: undefined, e: '', eq: 'a=b', q: 'say "hi"' });
  log.warn('w');
  assert.equal(lines.length, 2);
  const [first = '', second = ''] = lines;
  assert.equal(
    first.slice(25),
    'INFO  request component=store method=GET path="/v1/secret/data/a b" status=200 ok=true none=null e="" eq="a=b" q="say \\"hi\\""',
  );
  assert.equal(second.slice(25), 'WARN  w component=store');
  assert.ok(!Number.isNaN(Date.parse(timeOf(first))));
});

test('text format: control characters and Unicode spaces are quoted, so a value cannot break the line', () => {
  const { log, lines } = capture();
  log.error('x', { a: 'one\ntwo', b: 'tab\there', c: 'nb\u00a0sp', d: 'bell\u0007', e: 'del\u007f', f: 'plain/é' });
  const [line = ''] = lines;
  assert.equal(line.slice(25), 'ERROR x a="one\\ntwo" b="tab\\there" c="nb\u00a0sp" d="bell\\u0007" e="del\u007f" f=plain/é');
  assert.equal(line.includes('\n'), false);
});

test('json format: one object per line, undefined dropped, reserved and base keys keep object semantics', () => {
  const { log, lines } = capture({ format: 'json', base: { component: 'store', status: 0 } });
  log.info('request', { method: 'GET', status: 404, n: NaN, skip: undefined });
  log.debug('hidden');
  log.error('boom', { msg: 'overrides', level: 'x' });
  assert.equal(lines.length, 2);
  const [a = '', b = ''] = lines;
  assert.deepEqual(JSON.parse(a), { time: timeOf(a), level: 'info', msg: 'request', component: 'store', status: 404, method: 'GET', n: null });
  assert.equal(a, JSON.stringify({ time: timeOf(a), level: 'info', msg: 'request', component: 'store', status: 404, method: 'GET', n: null }));
  assert.equal(b, JSON.stringify({ time: timeOf(b), level: 'x', msg: 'overrides', component: 'store', status: 0 }));
});

test('levels: lines below the logger level are dropped; child keeps level, format and sink, and adds fields', () => {
  const { log, lines } = capture({ level: 'warn' });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.log('error', 'e');
  const child = log.child({ component: 'kv' });
  child.info('ci');
  child.error('ce', { component: 'override' });
  assert.deepEqual(
    lines.map((l) => l.slice(25)),
    ['WARN  w', 'ERROR e', 'ERROR ce component=override'],
  );
  assert.equal(child.level, 'warn');
  assert.equal(child.format, 'text');
});

test('property: lines equal the reference formatting for any message, base and fields, in both formats', () => {
  const value = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined));
  const key = fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.constantFrom('time', 'level', 'msg', 'a', 'b', '0', '12'));
  const fields = fc.dictionary(key, value, { maxKeys: 5 });
  fc.assert(
    fc.property(
      fc.constantFrom<LogFormat>('text', 'json'),
      fc.constantFrom<LogLevel>('debug', 'info', 'warn', 'error'),
      fc.string(),
      fields,
      fields,
      fields,
      (format, level, msg, base, childFields, event) => {
        const lines: string[] = [];
        const log = new Logger({ level: 'debug', format, base, sink: (l) => lines.push(l) }).child(childFields);
        log.log(level, msg, event);
        assert.equal(lines.length, 1);
        const line = lines[0] ?? '';
        // JSON: a field named "time" replaces the timestamp (and overwrites the reference's too), and array-index
        // keys come first, so take the member rather than the prefix.
        const time = format === 'json' ? String((JSON.parse(line) as { time: unknown }).time) : timeOf(line);
        assert.equal(line, reference(time, format, level, msg, { ...base, ...childFields }, event));
      },
    ),
    { numRuns: 500 },
  );
});

test('property: needsQuoting is exactly "empty, or any white space, quote, equals sign or control character"', () => {
  const interesting = fc.constantFrom(' ', '\t', '\n', '"', '=', '\u0000', '\u007f', '\u00a0', '\u2028', '\u3000', '\ufeff', 'a', 'é', '\u200b');
  const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.array(interesting, { maxLength: 4 }).map((a) => a.join('')));
  fc.assert(
    fc.property(text, (s) => {
      assert.equal(needsQuoting(s), referenceQuotes(s), JSON.stringify(s));
    }),
    { numRuns: 2000 },
  );
});

/** A fake {@link ScheduleFlush}: records each scheduled flush and its delay; `fire` runs them, in order, when a test says. */
function fakeTimer(): { schedule: ScheduleFlush; delays: number[]; waiting: () => number; fire: () => void } {
  const queue: (() => void)[] = [];
  const delays: number[] = [];
  return {
    schedule: (flush, delayMs) => {
      queue.push(flush);
      delays.push(delayMs);
    },
    delays,
    waiting: () => queue.length,
    fire: () => {
      for (const flush of queue.splice(0)) flush();
    },
  };
}

test('LineBuffer: lines are written together, in order, after the delay; an urgent line flushes first', async () => {
  const chunks: string[] = [];
  const timer = fakeTimer();
  const buffer = new LineBuffer((c) => chunks.push(c), 64 * 1024, 5, timer.schedule);
  buffer.push('a');
  buffer.push('b');
  assert.deepEqual(timer.delays, [5], 'one flush is scheduled, the delay after the first waiting line');
  await new Promise((r) => setImmediate(r));
  buffer.push('c');
  assert.deepEqual(chunks, [], 'nothing written before the delay, even across event-loop turns');
  assert.equal(timer.waiting(), 1, 'lines arriving while a flush is scheduled share it');
  timer.fire();
  assert.deepEqual(chunks, ['a\nb\nc\n']);
  buffer.push('d');
  assert.equal(timer.waiting(), 1, 'the next line schedules a new flush');
  buffer.pushNow('E');
  assert.deepEqual(chunks, ['a\nb\nc\n', 'd\nE\n']);
  timer.fire();
  assert.equal(chunks.length, 2, 'the scheduled flush finds nothing left');
  buffer.push('f');
  buffer.flush();
  assert.equal(chunks.length, 3);
  assert.equal(chunks[2], 'f\n');
  timer.fire();
  assert.equal(chunks.length, 3, 'an explicit flush leaves the scheduled one nothing to write');
  assert.deepEqual(timer.delays, [5, 5, 5]);
});

test('LineBuffer: a burst larger than the limit is written at once, without waiting for the turn', () => {
  const chunks: string[] = [];
  const timer = fakeTimer();
  const buffer = new LineBuffer((c) => chunks.push(c), 10, LOG_FLUSH_DELAY_MS, timer.schedule);
  buffer.push('12345');
  assert.equal(chunks.length, 0);
  assert.deepEqual(timer.delays, [LOG_FLUSH_DELAY_MS], 'the default delay');
  buffer.push('67890');
  assert.deepEqual(chunks, ['12345\n67890\n']);
  timer.fire();
  assert.deepEqual(chunks, ['12345\n67890\n'], 'the scheduled flush finds nothing left');
});

/** Runs an ES module script in a fresh node; `onStdout` may act on what it prints (e.g. send a signal). */
function runScript(
  script: string,
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      onStdout?.(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const IMPORT = `import { Logger, flushLogs } from ${JSON.stringify(LOG_MODULE)};`;

test('stderr: one write for many lines; warning and error lines go out at once after them', async () => {
  const script = `${IMPORT}
let writes = 0;
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => { writes++; return write(chunk, ...rest); };
const log = new Logger();
for (let i = 0; i < 100; i++) log.info('line', { i });
const before = writes;
log.error('failed', { i: 100 });
const afterError = writes;
log.info('later', { i: 101 });
log.warn('warned', { i: 102 });
const afterWarn = writes;
log.info('last', { i: 103 });
const pending = writes;
setTimeout(() => { console.log(JSON.stringify({ before, afterError, afterWarn, pending, final: writes })); }, 100);
`;
  const { code, stdout, stderr } = await runScript(script);
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), { before: 0, afterError: 1, afterWarn: 2, pending: 2, final: 3 });
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 104);
  assert.deepEqual(lines.map((l) => /i=(\d+)/.exec(l)?.[1]), Array.from({ length: 104 }, (_, i) => String(i)));
  assert.match(lines[102] ?? '', /WARN {2}warned i=102$/);
  assert.match(lines[100] ?? '', /ERROR failed i=100$/);
});

test('stderr: buffered lines are not lost when the process exits at once (process.exit, SIGTERM handler)', async () => {
  const exitNow = await runScript(`${IMPORT}
const log = new Logger({ format: 'json' });
log.info('one'); log.info('two');
process.exit(3);
`);
  assert.equal(exitNow.code, 3);
  assert.deepEqual(exitNow.stderr.trimEnd().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg), ['one', 'two']);

  // As `serve`: a request log line per timer tick; SIGTERM logs and exits from the handler in the same turn.
  const onSignal = await runScript(
    `${IMPORT}
const log = new Logger();
let n = 0;
setInterval(() => { log.info('request', { n: n++ }); }, 1);
process.on('SIGTERM', () => { log.info('stopping', { n }); process.exit(0); });
setTimeout(() => console.log('ready'), 30);
`,
    (out, child) => {
      if (out.includes('ready')) child.kill('SIGTERM');
    },
  );
  assert.equal(onSignal.code, 0, onSignal.stderr);
  const lines = onSignal.stderr.trimEnd().split('\n');
  const last = lines.at(-1) ?? '';
  const n = Number(/stopping n=(\d+)$/.exec(last)?.[1]);
  assert.ok(n > 0, last);
  assert.deepEqual(lines.slice(0, -1).map((l) => /request n=(\d+)$/.exec(l)?.[1]), Array.from({ length: n }, (_, i) => String(i)));
});

test('stderr: flushLogs and Logger.flush write pending lines synchronously; a custom sink is called synchronously', async () => {
  const { code, stdout, stderr } = await runScript(`${IMPORT}
const log = new Logger();
log.info('a');
process.stderr.write('marker-1\\n');
flushLogs();
log.child({ c: 1 }).info('b');
log.flush();
process.stderr.write('marker-2\\n');
const seen = [];
new Logger({ sink: (l) => seen.push(l) }).info('c');
console.log(seen.length);
`);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), '1');
  assert.deepEqual(stderr.trimEnd().split('\n').map((l) => l.replace(/^\S+ /, '')), ['marker-1', 'INFO  a', 'INFO  b c=1', 'marker-2']);
});

test('LineBuffer: by default a real timer flushes after the delay, and a waiting flush never keeps the process alive', async () => {
  // The 1 ms flush expires before the 50 ms timer, so it has run when that fires (timers run in expiry order); the
  // 60 s flush scheduled then is unref'd: the process exits at once instead of waiting for it.
  const { code, stdout, stderr } = await runScript(`import { LineBuffer } from ${JSON.stringify(LOG_MODULE)};
new LineBuffer((c) => process.stdout.write('flushed ' + c), 1024, 1).push('x');
setTimeout(() => {
  process.stdout.write('tick\\n');
  new LineBuffer((c) => process.stdout.write('never ' + c), 1024, 60_000).push('y');
}, 50);
`);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, 'flushed x\ntick\n');
});
