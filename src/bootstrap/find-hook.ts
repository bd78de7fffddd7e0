/**
 * Locating the sample hooks shipped in `hooks/` beside the compiled program (for the tests and bench). The program
 * itself does not look for them: it writes them out from its assets (src/assets.ts; `hooks install`, the demo),
 * which also works from the single executable, where no `hooks/` folder exists.
 */
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { SecretStoreError } from '../errors.js';

/** Finds `hooks/<name>` walking up from `start` (works from dist/ and from any build folder). */
export function findHook(start: string, name: string): string {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'hooks', name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new SecretStoreError(
    'CONFIG',
    `cannot find hooks/${name} near the program; write the sample hooks out with "secretstore-setup hooks install DIR"`,
  );
}
