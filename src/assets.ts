/**
 * The files the program ships beside its code: the sample IKM hooks (`hooks/ikm-*` and the shell library they
 * source, `hooks/lib/ikm-common.sh`). Hooks run as files, so the program writes them out where they are needed
 * (`secretstore-setup hooks install DIR`, and the demo into its temp folder).
 *
 * Where they come from:
 * - in the Single Executable Application: SEA assets (`sea.getAsset(key)`), embedded by packaging/build.mjs from
 *   {@link ASSET_FILES} (the key is the path in the source tree);
 * - otherwise (the compiled tree, or a bundle run by node): the file system, from the nearest folder above the program
 *   that holds `hooks/` (the package root: `dist/src/..` → the repository or the installed package).
 *
 * Everything else the program needs is code: the version (src/version.ts) and the default configuration (the
 * built-in defaults of src/config/config.ts; the program never reads a configuration file from its own folder).
 */
import { existsSync } from 'node:fs';
import { chmod, link, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretStoreError, describeCause } from './errors.js';
import { isSea, nodeSea } from './self-exec.js';

/** One shipped file. */
export interface AssetFile {
  /** The SEA asset key: the file's path in the source tree, with `/`. */
  key: string;
  /** Mode it is written with. */
  mode: number;
  /** A hook (an executable that `EDGEX_IKM_HOOK` may name), as opposed to a file the hooks use. */
  hook: boolean;
}

/** The names of the sample hooks, as `hooks install` and `EDGEX_IKM_HOOK` use them. */
export const SAMPLE_HOOKS = ['ikm-dev', 'ikm-tpm2', 'ikm-tang', 'ikm-pkcs11'] as const;

/** A sample hook's name. */
export type SampleHook = (typeof SAMPLE_HOOKS)[number];

/** The shell library every sample hook sources (from `lib/` beside the hook). */
export const HOOK_LIBRARY = 'hooks/lib/ikm-common.sh';

/** Every shipped file; packaging/build.mjs embeds exactly these as SEA assets. */
export const ASSET_FILES: readonly AssetFile[] = [
  ...SAMPLE_HOOKS.map((name) => ({ key: `hooks/${name}`, mode: 0o755, hook: true })),
  { key: HOOK_LIBRARY, mode: 0o644, hook: false },
];

/** True when `name` names a sample hook. */
export function isSampleHook(name: string): name is SampleHook {
  return (SAMPLE_HOOKS as readonly string[]).includes(name);
}

/**
 * The folder that holds `hooks/` for the file-system fallback: the nearest one above `start` (default: this module's
 * folder) where `hooks/ikm-dev` exists; undefined when there is none.
 */
export function findAssetRoot(start: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'hooks', 'ikm-dev'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** Where the assets are read from: embedded in the executable, or the folder that holds `hooks/`. */
export type AssetSource = { kind: 'sea' } | { kind: 'files'; root: string };

/** Where this process reads its assets from. Throws CONFIG outside a SEA when no `hooks/` is above the program. */
export function assetSource(): AssetSource {
  if (isSea()) return { kind: 'sea' };
  const root = findAssetRoot();
  if (root === undefined) {
    throw new SecretStoreError('CONFIG', 'cannot find the sample hooks (hooks/ above the program); run the program from its package or the single executable');
  }
  return { kind: 'files', root };
}

/** The content of a shipped file (a fresh Buffer). Throws CONFIG when it is not shipped or cannot be read. */
export async function readAsset(key: string, source: AssetSource = assetSource()): Promise<Buffer> {
  if (!ASSET_FILES.some((a) => a.key === key)) throw new SecretStoreError('CONFIG', `"${key}" is not a file this program ships`);
  if (source.kind === 'sea') {
    const sea = nodeSea();
    try {
      if (sea === null) throw new Error('node:sea is not available');
      return Buffer.from(sea.getAsset(key));
    } catch (err) {
      throw new SecretStoreError('CONFIG', `the executable holds no asset "${key}" (${describeCause(err)}); rebuild it with npm run package`, { cause: err });
    }
  }
  const path = join(source.root, ...key.split('/'));
  try {
    return await readFile(path);
  } catch (err) {
    throw new SecretStoreError('CONFIG', `cannot read ${path} (${describeCause(err)}); the package is incomplete`, { cause: err });
  }
}

/** Options of {@link installHooks}. */
export interface InstallHooksOptions {
  /** Which hooks (default: all of {@link SAMPLE_HOOKS}); the shell library they source is always written too. */
  hooks?: readonly SampleHook[];
  /** Replace files that exist (default: refuse, and write nothing). */
  force?: boolean;
  /** Where to read from (default {@link assetSource}). */
  source?: AssetSource;
}

/** One file {@link installHooks} wrote. */
export interface InstalledFile {
  path: string;
  mode: number;
  /** It replaced an existing file (only with `force`). */
  replaced: boolean;
}

async function existing(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    throw new SecretStoreError('IO', `cannot examine ${path} (${describeCause(err)})`, { cause: err });
  }
}

/**
 * Writes the sample hooks into `dir` as `dir/<hook>` (mode 0755) and `dir/lib/ikm-common.sh` (0644), the layout the
 * hooks expect (they source `lib/` beside their own resolved path). Creates `dir` when missing. Without `force`, it
 * refuses (IO error, nothing written) when any of the files exists; each file is written whole under a temporary name
 * and then linked (no overwrite, even under a race) or, with `force`, renamed into place.
 */
export async function installHooks(dir: string, options: InstallHooksOptions = {}): Promise<InstalledFile[]> {
  const hooks = options.hooks ?? SAMPLE_HOOKS;
  const force = options.force === true;
  const files = ASSET_FILES.filter((a) => !a.hook || (hooks as readonly string[]).includes(a.key.slice('hooks/'.length)));
  const target = (a: AssetFile): string => join(dir, ...a.key.slice('hooks/'.length).split('/'));
  const source = options.source ?? assetSource();
  const contents = await Promise.all(files.map(async (a) => ({ asset: a, path: target(a), data: await readAsset(a.key, source) })));

  const present = new Set<string>();
  for (const { path } of contents) if (await existing(path)) present.add(path);
  if (present.size > 0 && !force) {
    throw new SecretStoreError('IO', `refusing to overwrite ${[...present].join(', ')}; pass --force to replace them`);
  }

  const written: InstalledFile[] = [];
  for (const { asset, path, data } of contents) {
    const folder = dirname(path);
    try {
      await mkdir(folder, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new SecretStoreError('IO', `cannot create ${folder} (${describeCause(err)})`, { cause: err });
    }
    const temp = `${folder}${sep}.${asset.key.split('/').pop() ?? 'hook'}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, data, { mode: asset.mode, flag: 'wx' });
      await chmod(temp, asset.mode); // the umask may have taken bits away
      if (force) {
        await rename(temp, path);
      } else {
        await link(temp, path); // EEXIST if a file appeared since the check: never overwritten
        await rm(temp, { force: true });
      }
    } catch (err) {
      await rm(temp, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new SecretStoreError('IO', `refusing to overwrite ${path}; pass --force to replace it`, { cause: err });
      throw new SecretStoreError('IO', `cannot write ${path} (${describeCause(err)})`, { cause: err });
    }
    written.push({ path, mode: asset.mode, replaced: present.has(path) });
  }
  return written;
}
