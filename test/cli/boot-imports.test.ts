/**
 * What a boot loads (docs/packaging.md, "Start-up"): the modules a plain `bootstrap` reaches through static imports
 * from the CLI, the command and the flow — the ones the boot bundle evaluates at every boot — stay off `node:fs/promises` (on Node 24 it loads readline, fs
 * watchers and REPL history) and off the global `performance` (perf_hooks), which together cost a boot ~3 ms and
 * ~1 MiB. Lazily imported modules (`await import()`: EdgeX's duties, YAML, the other commands) are not followed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

/** The static value imports of a TypeScript file (`import type` and `import()` left out). */
function staticImports(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+'([^']+)';/gms)) specs.push(m[1] ?? '');
  for (const m of source.matchAll(/^import\s+'([^']+)';/gm)) specs.push(m[1] ?? '');
  return specs;
}

/** Every src file reachable from `entries` by static imports, with the built-in modules each imports. */
function bootGraph(entries: string[]): Map<string, { source: string; builtins: string[] }> {
  const graph = new Map<string, { source: string; builtins: string[] }>();
  const visit = (file: string): void => {
    if (graph.has(file)) return;
    const source = readFileSync(file, 'utf8');
    const builtins: string[] = [];
    graph.set(file, { source, builtins });
    for (const spec of staticImports(source)) {
      if (spec.startsWith('node:')) builtins.push(spec);
      else if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  };
  for (const entry of entries) visit(entry);
  return graph;
}

// The command imports the flow when it runs it (every boot does); the flow imports EdgeX's duties only in EdgeX mode.
const graph = bootGraph(['src/cli/main.ts', 'src/cli/commands/bootstrap.ts', 'src/bootstrap/flow.ts'].map((f) => join(REPO_ROOT, f)));
const name = (file: string): string => relative(REPO_ROOT, file);

test('the boot path is found: the flow, the key file, the client and the hook runner are in it', () => {
  const files = [...graph.keys()].map(name);
  for (const f of ['src/bootstrap/flow.ts', 'src/keyfile/keyfile.ts', 'src/keyfile/lock.ts', 'src/vault/client.ts', 'src/vmk/ikm-hook.ts']) {
    assert.ok(files.includes(f), `${f} is not reached from the CLI's bootstrap command: ${files.join(', ')}`);
  }
  assert.ok(!files.includes('src/store/server.ts'), 'the store is not on the boot path');
});

test('no module on the boot path imports node:fs/promises', () => {
  const offenders = [...graph].filter(([, m]) => m.builtins.includes('node:fs/promises')).map(([f]) => name(f));
  assert.deepEqual(offenders, [], 'use node:fs (synchronous calls, or callbacks) on the boot path');
});

test('no module on the boot path uses the global performance (perf_hooks)', () => {
  const offenders = [...graph].filter(([, m]) => /\bperformance\.\w/.test(m.source.replace(/^\s*(\*|\/\/).*$/gm, ''))).map(([f]) => name(f));
  assert.deepEqual(offenders, [], 'use monotonicMs() from src/clock.ts on the boot path');
});
