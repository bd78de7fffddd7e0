/**
 * Running the Python hvac client scripts of the end-to-end tests (test/store/hvac_*.py) with Debian's python3-hvac:
 * always /usr/bin/python3 — not whatever python is first on PATH — with the user site and PYTHONPATH cleared, so
 * the Debian hvac is the one imported. Each script prints one JSON summary
 * `{"hvac_version": ..., "steps": {name: {"ok": bool, ...facts}}}` that the test asserts.
 *
 * Under CI (`CI=true`, where `.ci/run` installs python3-hvac) a missing interpreter or hvac fails the test;
 * elsewhere the test is skipped with a loud reason.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runProgram } from './run-hook.js';
import { sourceFile } from './paths.js';

/** The interpreter Debian's python3-hvac belongs to. */
export const HVAC_PYTHON = '/usr/bin/python3';

/** One step of a script's summary: `ok`, then the facts it recorded (or `exception`, `message`, `where`). */
export type HvacStep = Record<string, unknown>;

/** A script's parsed summary. */
export interface HvacSummary {
  hvac_version: unknown;
  steps: Record<string, HvacStep>;
}

/** True when /usr/bin/python3 can import hvac; otherwise fails under CI, else skips loudly and returns false. */
export function requireHvac(t: TestContext): boolean {
  const probe = existsSync(HVAC_PYTHON) ? spawnSync(HVAC_PYTHON, ['-c', 'import hvac'], { encoding: 'utf8', timeout: 20_000 }) : undefined;
  if (probe?.status === 0) return true;
  const reason =
    probe === undefined
      ? `${HVAC_PYTHON} is missing — install the Debian package python3-hvac (it pulls in python3)`
      : `${HVAC_PYTHON} cannot import hvac (${probe.stderr.trim().split('\n').pop() ?? 'no output'}) — install the Debian package python3-hvac`;
  if (process.env.CI === 'true') throw new Error(`required under CI: ${reason}`);
  process.stderr.write(`\n*** SKIPPED ${t.name}: ${reason} ***\n`);
  t.skip(reason);
  return false;
}

/**
 * Runs the source tree's `script` (e.g. `test/store/hvac_client.py`, found from the compiled test at any outDir
 * depth) against `url` through the shared program runner, and parses its one-line JSON summary.
 */
export async function runHvacScript(script: string, url: string): Promise<{ summary: HvacSummary; stderr: string }> {
  // PYTHONNOUSERSITE and a clean PYTHONPATH: the Debian hvac must be the one imported, not a user-site copy.
  const env = { ...process.env, PYTHONNOUSERSITE: '1', PYTHONPATH: '', PYTHONDONTWRITEBYTECODE: '1' };
  const r = await runProgram(HVAC_PYTHON, [sourceFile(script), url], env);
  assert.equal(r.code, 0, `${script} exited ${String(r.code)}: ${r.stderr}`);
  return { summary: JSON.parse(r.stdout) as HvacSummary, stderr: r.stderr };
}

/** Asserts that every step succeeded (showing every failed step, with hvac's exception and message, at once). */
export function assertStepsOk(summary: HvacSummary): void {
  const failed = Object.entries(summary.steps).filter(([, s]) => s.ok !== true);
  assert.deepEqual(failed, [], `steps failed: ${JSON.stringify(failed)}`);
}
