/** Paths that tests need, computed from the compiled test's own location so any outDir works. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI entry point (`<outDir>/src/cli/main.js`). */
export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The repository root (source tree): the nearest folder above the compiled test that holds package.json. */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('test helpers: cannot find the repository root (no package.json above)');
    dir = parent;
  }
})();

/**
 * Absolute path of a file of the source tree (e.g. `test/store/hvac_client.py`), found by walking up from this
 * compiled helper until `relative` exists there — works for dist/ and any .build/<name>/ depth, and needs no
 * package.json marker (tsc copies no data files, so these stay in the source tree).
 */
export function sourceFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${relative} not found above the compiled test`);
    dir = parent;
  }
}

/** The source folder of the TLS fixtures (test certificate and key) shared by the HTTP server and `serve` tests. */
export function httpFixturesDir(): string {
  return dirname(sourceFile('test/store/http/fixtures/test-server.crt'));
}
