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

/** Parses test/vectors/<name> as JSON (the files are ours; callers state the shape, and a wrong one fails the tests). */
export function loadVectors(name: string): unknown {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'vectors', name), 'utf8'));
}

/** test/vectors/edgex-golden.json. */
export function loadGolden(): GoldenFile {
  return loadVectors('edgex-golden.json') as GoldenFile;
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

/** One case of edgex-golden.json's "v2" list (our format, written by the Python script from the docs). */
export interface V2Golden {
  name: string;
  ikm: string;
  key_file: string;
  shares: string[];
  threshold: number | null;
  root_token: string | null;
}

/** edgex-golden.json. */
export interface GoldenFile {
  edgex: EdgexGolden[];
  plaintext: PlaintextGolden[];
  v2: V2Golden[];
}
