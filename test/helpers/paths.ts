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
