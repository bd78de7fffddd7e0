/**
 * Tests that drive real security components (swtpm, tangd, SoftHSM, clevis, age…) need their programs. When one is
 * missing, the test FAILS under CI (`CI=true`, where `.ci/run` installs them) and is skipped elsewhere with a loud
 * reason, so a developer without the packages still gets a clear signal instead of a silent pass.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * True when `name` is present: a bare program name must be an executable on PATH; an absolute path must exist and
 * be readable (it may be a library such as a PKCS#11 module).
 */
export function hasTool(name: string): boolean {
  const absolute = isAbsolute(name);
  const candidates = absolute ? [name] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name));
  return candidates.some((p) => {
    try {
      accessSync(p, absolute ? constants.R_OK : constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The programs (or absolute paths) out of `tools` that are missing. */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((t) => !hasTool(t));
}

/**
 * Returns true when every tool is present. Otherwise: under CI throws (the test fails); elsewhere marks the test
 * skipped with a loud reason (also printed on stderr) and returns false — the caller returns at once.
 */
export function requireTools(t: TestContext, tools: readonly string[], packages: string): boolean {
  const missing = missingTools(tools);
  if (missing.length === 0) return true;
  const reason = `missing ${missing.join(', ')} — install the Debian packages: ${packages}`;
  if (process.env.CI === 'true') throw new Error(`required tool(s) missing under CI: ${reason}`);
  process.stderr.write(`\n*** SKIPPED ${t.name}: ${reason} ***\n`);
  t.skip(reason);
  return false;
}
