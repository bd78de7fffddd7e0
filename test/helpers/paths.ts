/** Paths that tests need, computed from the compiled test's own location so any outDir works. */
import { fileURLToPath } from 'node:url';

/** The compiled CLI entry point (`<outDir>/src/cli/main.js`). */
export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** The repository root (source tree), for test data under `test/` and the `hooks/` folder. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
