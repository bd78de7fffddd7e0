/**
 * Shared pieces of the chaos parts (test/chaos/*.ts): knobs from the environment, a seeded random source, figures
 * and failures, the table every part prints, and the entry point that runs a part as a program. A part exports
 * `run(options)` returning a {@link PartResult}; `npm run chaos` runs it as a program (full sizes), the short tests
 * in test/chaos/*.test.ts call it with tiny sizes and assert that it found nothing.
 */
import { fileURLToPath } from 'node:url';
import { cpus, hostname, totalmem } from 'node:os';

/** An integer knob: `CHAOS_<NAME>` from the environment, else `fallback`. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return Math.floor(n);
}

/** A string knob. */
export function envStr(name: string, fallback: string): string {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A small seeded PRNG (mulberry32), so a run's choices can be replayed with CHAOS_SEED. */
export class Rng {
  private state: number;
  readonly seed: number;
  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = this.seed;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Uniform float in [lo, hi). */
  float(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** A derived generator (for a lane or a round), deterministic given this one's seed. */
  fork(salt: number): Rng {
    return new Rng((this.seed ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  }
}

/** The run's seed: CHAOS_SEED, else a fresh one (printed, so a run can be replayed as far as timing allows). */
export function seedFromEnv(): number {
  const raw = process.env.CHAOS_SEED;
  if (raw !== undefined && raw !== '') return Number(raw) >>> 0;
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

/** One figure of a part: a measured value, and when it is checked, the bound and whether it held. */
export interface Figure {
  name: string;
  value: string | number;
  /** The bound, as text (e.g. "= 0", "≤ 1.2 × start + 10 MiB"); absent for an informational figure. */
  bound?: string;
  /** Whether the bound held; undefined for an informational figure. */
  ok?: boolean;
}

/** One failed oracle: what was promised, what happened, how to reproduce it. */
export interface Failure {
  oracle: string;
  detail: string;
  repro?: string;
}

/** A table a part prints besides its figures (e.g. outcomes per operation). */
export interface Table {
  title: string;
  header: string[];
  rows: (string | number)[][];
}

/** What a part returns. */
export interface PartResult {
  part: string;
  seconds: number;
  figures: Figure[];
  tables: Table[];
  failures: Failure[];
  notes: string[];
}

/** Collects a part's figures, tables, failures and notes while it runs. */
export class Report {
  readonly part: string;
  readonly figures: Figure[] = [];
  readonly tables: Table[] = [];
  readonly failures: Failure[] = [];
  readonly notes: string[] = [];
  private readonly started = performance.now();

  constructor(part: string) {
    this.part = part;
  }

  /** An informational figure. */
  info(name: string, value: string | number): void {
    this.figures.push({ name, value });
  }

  /** A checked figure; a failed check also records a failure. */
  check(name: string, value: string | number, bound: string, ok: boolean, detail?: string): void {
    this.figures.push({ name, value, bound, ok });
    if (!ok) this.fail(name, detail ?? `${String(value)} (bound ${bound})`);
  }

  /** Records a failed oracle. */
  fail(oracle: string, detail: string, repro?: string): void {
    this.failures.push(repro === undefined ? { oracle, detail } : { oracle, detail, repro });
  }

  note(text: string): void {
    this.notes.push(text);
  }

  table(t: Table): void {
    this.tables.push(t);
  }

  result(): PartResult {
    return {
      part: this.part,
      seconds: (performance.now() - this.started) / 1000,
      figures: this.figures,
      tables: this.tables,
      failures: this.failures,
      notes: this.notes,
    };
  }
}

/** Renders a Markdown table (the same text reads well in a terminal and pastes into docs). */
export function renderTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header.map(String), ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length), 3));
  const line = (r: readonly string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 3)).join(' | ')} |`;
  return [line(cells[0] ?? []), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}

/** Groups failures by oracle and detail (a defect met 200 times is listed once, with its count and first repro). */
export function groupFailures(failures: readonly Failure[]): { failure: Failure; count: number }[] {
  const groups = new Map<string, { failure: Failure; count: number }>();
  for (const f of failures) {
    const key = `${f.oracle}\u0000${f.detail}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, { failure: f, count: 1 });
    else g.count++;
  }
  return [...groups.values()];
}

/** Prints a part's result: its tables, its figures (with bound and verdict), its notes and its failures. */
export function printResult(r: PartResult): void {
  const out: string[] = [];
  out.push(`\n## chaos: ${r.part} (${r.seconds.toFixed(1)} s)\n`);
  for (const t of r.tables) out.push(`### ${t.title}\n`, renderTable(t.header, t.rows), '');
  out.push(
    renderTable(
      ['figure', 'value', 'bound', 'verdict'],
      r.figures.map((f) => [f.name, f.value, f.bound ?? '', f.ok === undefined ? '' : f.ok ? 'ok' : 'FAIL']),
    ),
  );
  for (const n of r.notes) out.push(`- ${n}`);
  const groups = groupFailures(r.failures);
  if (groups.length > 0) {
    out.push(`\n### failed oracles (${r.failures.length} failures, ${groups.length} distinct)\n`);
    for (const { failure, count } of groups) {
      out.push(`- [${failure.oracle}] ×${count}: ${failure.detail}`);
      if (failure.repro !== undefined) out.push(`  repro: ${failure.repro.split('\n').join('\n  ')}`);
    }
  } else {
    out.push('\nall oracles held');
  }
  console.log(out.join('\n'));
}

/** One line describing the machine, for the figures' provenance. */
export function machineLine(): string {
  const c = cpus();
  return `${hostname()}: ${c.length} × ${c[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Cleanups run when the part ends (normally or on a signal): kill children, remove folders. */
const cleanups = new Set<() => void | Promise<void>>();

/** Registers a cleanup; returns a function that unregisters it. */
export function onCleanup(fn: () => void | Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

async function runCleanups(): Promise<void> {
  for (const fn of [...cleanups].reverse()) {
    try {
      await fn();
    } catch {
      // best effort
    }
  }
  cleanups.clear();
}

/**
 * Runs `run` when the module is the program being executed (`node dist/test/chaos/<part>.js`): prints the result
 * and exits 1 when an oracle failed. SIGINT/SIGTERM run the cleanups first.
 */
export function runAsMain(moduleUrl: string, run: () => Promise<PartResult>): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  const onSignal = (sig: NodeJS.Signals): void => {
    void runCleanups().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  console.log(`seed ${process.env.CHAOS_SEED ?? '(random, printed by the part)'}; ${machineLine()}; ${new Date().toISOString()}`);
  run()
    .then(async (r) => {
      await runCleanups();
      printResult(r);
      process.exit(r.failures.length === 0 ? 0 : 1);
    })
    .catch(async (err: unknown) => {
      await runCleanups();
      console.error(`chaos part aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(2);
    });
}

/** Median of numbers (0 for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** A percentile (0..100) of numbers (0 for none). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
  return out;
}

/** Short one-line excerpt of a text (for failure details). */
export function excerpt(text: string, max = 240): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
