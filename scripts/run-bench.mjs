#!/usr/bin/env node
// Runs every compiled benchmark (dist/bench/*.js) one after another; each prints its own table.
// Arguments, if any, are substrings selecting benchmarks by file name (e.g. `npm run bench -- store`).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = new URL('../dist/bench/', import.meta.url).pathname;
const filters = process.argv.slice(2);
let files = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.bench.js')).sort();
} catch {
  // no benchmarks compiled yet
}
files = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-bench: no benchmarks matched');
  process.exit(1);
}
let failed = 0;
for (const f of files) {
  console.log(`\n## ${f.replace(/\.bench\.js$/, '')}\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
