/** Loads the JSON vector files under test/vectors/ (read from the source tree, so every outDir sees the same data). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The source tree's root: the nearest ancestor of this compiled file holding test/vectors/ (works for dist/ and for
 * deeper outDirs such as .build/<name>/).
 */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'test', 'vectors', 'edgex-golden.json')) && existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('test/vectors not found above the compiled tests');
    dir = parent;
  }
}
const REPO_ROOT = findRepoRoot();

/** Parses test/vectors/<name> as JSON of the given shape (the files are ours; a wrong shape fails the tests). */
export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'vectors', name), 'utf8')) as T;
}

/** One case of edgex-golden.json's "edgex" list. */
export interface EdgexGolden {
  name: string;
  label: 'secretstore' | 'vault';
  ikm: string;
  salt: string;
  key_file: string;
  shares: string[];
  root_token: string | null;
}

/** One case of edgex-golden.json's "plaintext" list. */
export interface PlaintextGolden {
  name: string;
  key_file: string;
  shares: string[];
  root_token: string;
}

/** edgex-golden.json. */
export interface GoldenFile {
  edgex: EdgexGolden[];
  plaintext: PlaintextGolden[];
}
