#!/usr/bin/env node
// Runs the chaos campaign: the compiled parts in dist/test/chaos/<part>.js, one after another; each prints its own
// figures and failed oracles and exits non-zero when an oracle failed. Arguments, if any, select parts by name
// (`npm run chaos -- fuzz soak`); `--list` prints the parts and their knobs. Docs: docs/reliability.md.
//
// The parts run from a snapshot of dist/ (and hooks/, package.json; node_modules linked) taken at the start, so that
// a build running meanwhile in the same checkout cannot change or break the code under test half-way
// (CHAOS_SNAPSHOT=0 runs dist/ in place). CHAOS_SEED is drawn once and shared by every part unless given.
// CHAOS_LOG=FILE also appends everything printed to FILE. fuzz-http spends most of its time waiting for the server to
// cut its slow clients, so fuzz-properties runs beside it (CHAOS_PARALLEL_FUZZ=0 runs them one after the other);
// every other part runs alone, so that its timings are its own.
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const PARTS = ['crash-boot', 'crash-store', 'fuzz-http', 'fuzz-properties', 'concurrency', 'leaks', 'soak'];
const ALIASES = { fuzz: ['fuzz-http', 'fuzz-properties'] };
const KNOBS = {
  'crash-boot': 'CHAOS_CRASH_BOOT_KILLS=500 CHAOS_CRASH_BOOT_TARGETED=50 CHAOS_LANES=2 CHAOS_CRASH_BOOT_CALIBRATION=2 CHAOS_CRASH_BOOT_MAX_SECONDS=900 CHAOS_CRASH_BOOT_OPS=<all>',
  'crash-store': 'CHAOS_STORE_KILLS=100 CHAOS_STORE_WRITERS=8 CHAOS_STORE_MIN_WINDOW_MS=100 CHAOS_STORE_MAX_WINDOW_MS=1000 CHAOS_STORE_FULL_DISK=1',
  'fuzz-http': 'CHAOS_FUZZ_REQUESTS=10000 CHAOS_FUZZ_CONCURRENCY=8 CHAOS_FUZZ_SLOW_CLIENTS=24 CHAOS_FUZZ_SLOW_SECONDS=100 CHAOS_FUZZ_MEMORY_PROBE=1 CHAOS_FUZZ_PIPELINE_TRIPLES=60',
  'fuzz-properties': 'CHAOS_PROPERTY_RUNS=10000 CHAOS_PROPERTY_HOOK_RUNS=<runs> CHAOS_PROPERTY_LANES=4 CHAOS_PROPERTY_ONLY=<all>',
  concurrency: 'CHAOS_CONCURRENCY_ROUNDS=20 CHAOS_CONCURRENCY_PARALLEL=8 CHAOS_LOCK_ROUNDS=10',
  leaks: 'CHAOS_LEAKS_REPEAT=1',
  soak: 'CHAOS_SOAK_SECONDS=600 CHAOS_SOAK_WARMUP_SECONDS=<15 %> CHAOS_SOAK_CLIENTS=8',
};

const args = process.argv.slice(2);
if (args.includes('--list') || args.includes('--help')) {
  console.log('parts (in run order) and their knobs (defaults); common: CHAOS_SEED, CHAOS_PROC_SAMPLER=1, CHAOS_SNAPSHOT=1, CHAOS_PARALLEL_FUZZ=1, CHAOS_LOG');
  for (const p of PARTS) console.log(`  ${p.padEnd(16)} ${KNOBS[p]}`);
  console.log('  fuzz             = fuzz-http + fuzz-properties');
  process.exit(0);
}
const unknown = args.filter((a) => !PARTS.includes(a) && !(a in ALIASES));
if (unknown.length > 0) {
  console.error(`run-chaos: unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}, fuzz`);
  process.exit(2);
}
const selected = args.length === 0 ? PARTS : PARTS.filter((p) => args.includes(p) || Object.entries(ALIASES).some(([a, ps]) => args.includes(a) && ps.includes(p)));

const root = new URL('..', import.meta.url).pathname;
if (!existsSync(join(root, 'dist', 'test', 'chaos'))) {
  console.error('run-chaos: dist/test/chaos is missing; run `npm run build` first (npm run chaos does)');
  process.exit(2);
}

let base = root;
let snapshot;
if (process.env.CHAOS_SNAPSHOT !== '0') {
  snapshot = mkdtempSync(join(tmpdir(), 'sss-chaos-snap-'));
  cpSync(join(root, 'dist'), join(snapshot, 'dist'), { recursive: true });
  cpSync(join(root, 'hooks'), join(snapshot, 'hooks'), { recursive: true });
  cpSync(join(root, 'package.json'), join(snapshot, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(snapshot, 'node_modules'), 'dir');
  base = snapshot;
}
const cleanup = () => {
  if (snapshot !== undefined) rmSync(snapshot, { recursive: true, force: true });
  snapshot = undefined;
};

const env = { ...process.env, CHAOS_SEED: process.env.CHAOS_SEED ?? String(Math.floor(Math.random() * 2 ** 32)) };
const log = (text) => {
  process.stdout.write(text);
  if (process.env.CHAOS_LOG) appendFileSync(process.env.CHAOS_LOG, text);
};

const running = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const child of running) child.kill(sig);
    setTimeout(() => {
      cleanup();
      process.exit(130);
    }, 3000).unref();
  });
}

/** Runs one part; its output goes straight through, or is kept and returned when `buffered`. */
function runPart(part, buffered) {
  const file = join(base, 'dist', 'test', 'chaos', `${part}.js`);
  const t = Date.now();
  let output = '';
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const take = (d) => {
      if (buffered) output += d.toString();
      else log(d.toString());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (c, s) => {
      running.delete(child);
      resolve({ part, seconds: (Date.now() - t) / 1000, code: c ?? (s === null ? 1 : 128), output });
    });
  });
}

const results = [];
const started = Date.now();
log(`chaos: parts ${selected.join(', ')}; CHAOS_SEED=${env.CHAOS_SEED}; ${new Date().toISOString()}${snapshot === undefined ? '' : '; running a snapshot of dist/'}\n`);
const together = process.env.CHAOS_PARALLEL_FUZZ !== '0' && selected.includes('fuzz-http') && selected.includes('fuzz-properties');
for (const part of selected) {
  if (together && part === 'fuzz-properties') continue;
  if (together && part === 'fuzz-http') {
    log('(fuzz-http and fuzz-properties run side by side; their outputs follow when both are done)\n');
    const both = await Promise.all([runPart('fuzz-http', true), runPart('fuzz-properties', true)]);
    for (const r of both) {
      log(r.output);
      results.push(r);
    }
    continue;
  }
  results.push(await runPart(part, false));
}
cleanup();

const total = (Date.now() - started) / 1000;
const rows = results.map((r) => `| ${r.part.padEnd(16)} | ${r.seconds.toFixed(1).padStart(8)} | ${r.code === 0 ? 'all oracles held' : r.code === 1 ? 'FAILED (oracles above)' : `ABORTED (exit ${r.code})`} |`);
log(
  [
    '',
    '## chaos: summary',
    '',
    '| part             | seconds  | result |',
    '| ---------------- | -------- | ------ |',
    ...rows,
    `| total            | ${total.toFixed(1).padStart(8)} | ${(total / 60).toFixed(1)} min |`,
    '',
  ].join('\n') + '\n',
);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
