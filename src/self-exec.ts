/**
 * How this program is running, and the command that starts it again (a command that runs another command, e.g.
 * `demo` starting `serve`, must re-run its OWN program, whatever form it has):
 *
 * - `script`: the compiled tree (`node dist/src/cli/main.js`, or `bin/secretstore-setup`): node + `dist/src/cli/main.js`;
 * - `bundle`: the esbuild bundle run by a Node (`node secretstore-setup.cjs`): node + the bundle file;
 * - `sea`: the Single Executable Application (one file, Node inside): the executable alone. There is no script
 *   argument: `process.execPath` IS the program, and anything after it is the command line.
 *
 * The packaging build (packaging/build.mjs) bundles with `--define:SECRETSTORE_SETUP_BUNDLE=true` and maps
 * `import.meta.url` to the bundle file's URL (in a SEA, the executable's).
 */
import { fileURLToPath } from 'node:url';

/** How the program runs. */
export type RunMode = 'script' | 'bundle' | 'sea';

/** Replaced by `true` in the packaging bundle (esbuild `define`); never declared anywhere else. */
declare const SECRETSTORE_SETUP_BUNDLE: boolean | undefined;

/** The facts {@link selfCommandFor} decides from. */
export interface SelfExecFacts {
  mode: RunMode;
  /** `process.execPath`: node for script and bundle, the executable itself in a SEA. */
  execPath: string;
  /** The JavaScript file to run with `execPath`: `dist/src/cli/main.js` (script) or the bundle (bundle); unused in a SEA. */
  entry: string;
}

/** The command line that starts this program again, as `[file, ...argumentPrefix]`; append the command's arguments. */
export function selfCommandFor(facts: SelfExecFacts): [string, ...string[]] {
  switch (facts.mode) {
    case 'sea':
      return [facts.execPath];
    case 'bundle':
    case 'script':
      return [facts.execPath, facts.entry];
  }
}

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}

let seaModule: SeaModule | null | undefined;

/**
 * `node:sea` when this Node has it, else null. Looked up at run time (never imported statically) so the plain script
 * still loads on a Node 20 older than 20.16, which has neither `node:sea` nor `process.getBuiltinModule`.
 */
export function nodeSea(): SeaModule | null {
  if (seaModule === undefined) {
    const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    let mod: unknown;
    try {
      mod = typeof get === 'function' ? get.call(process, 'node:sea') : null;
    } catch {
      mod = null;
    }
    seaModule = typeof mod === 'object' && mod !== null && typeof (mod as Partial<SeaModule>).isSea === 'function' ? (mod as SeaModule) : null;
  }
  return seaModule;
}

/** True inside the Single Executable Application. */
export function isSea(): boolean {
  return nodeSea()?.isSea() === true;
}

/** How this process runs. */
export function runMode(): RunMode {
  if (isSea()) return 'sea';
  return typeof SECRETSTORE_SETUP_BUNDLE !== 'undefined' && SECRETSTORE_SETUP_BUNDLE ? 'bundle' : 'script';
}

/** The facts of this process. */
export function currentSelfExecFacts(): SelfExecFacts {
  const mode = runMode();
  // Script: this module is <outDir>/src/self-exec.js, the CLI entry <outDir>/src/cli/main.js. Bundle and SEA: every
  // module is the one bundle file (the executable in a SEA), so import.meta.url names that file.
  const entry = mode === 'script' ? fileURLToPath(new URL('./cli/main.js', import.meta.url)) : fileURLToPath(import.meta.url);
  return { mode, execPath: process.execPath, entry };
}

/** The command line that starts this same program again (see the module comment). */
export function selfCommand(): [string, ...string[]] {
  return selfCommandFor(currentSelfExecFacts());
}
