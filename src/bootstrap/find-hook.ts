/** Locating the sample hooks shipped in `hooks/` beside the compiled program (for the demo, tests and bench). */
import { access, constants } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SecretStoreError } from '../errors.js';

/** Finds `hooks/<name>` walking up from `start` (works from dist/ and from any build folder). */
export async function findHook(start: string, name: string): Promise<string> {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'hooks', name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new SecretStoreError('CONFIG', `cannot find hooks/${name} near the program; run the demo from the installed package`);
}
