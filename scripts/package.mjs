#!/usr/bin/env node
// `npm run package`: builds secretstore-setup as ONE executable file for this machine's platform (linux-x64 or
// linux-arm64), a Node.js Single Executable Application (SEA) made from Node 24. See docs/packaging.md.
//
//   1. bundle src/cli/main.ts and its dependencies with esbuild into one CommonJS file (a Node 24 SEA runs a CJS main);
//   2. write the SEA blob with the Node 24 binary itself (`node --experimental-sea-config`), embedding the sample hooks
//      (src/assets.ts ASSET_FILES) as SEA assets and V8's code cache;
//   3. copy that Node 24 binary, strip its symbols (when `strip` exists), inject the blob with postject;
//   4. run the result with an empty environment (`--version`) and print its path as the last line.
//
// The Node 24 binary: --node PATH or SEA_NODE=PATH, else the npm registry's `node@24` (SEA_NODE_VERSION to pin, e.g.
// 24.21.0) through `npx -y -p node@24`, which installs the official binary (package node-linux-<arch>) in npm's cache.
//
// Options: --out DIR (default build/<platform>-<arch>; the executable is DIR/secretstore-setup), --node PATH,
//          --no-strip, --keep-work, --bundle-only (instead: DIR/secretstore-setup.cjs for a system Node >= 20 and the
//          sample hooks in DIR/hooks/; default DIR build/bundle).
// Exit status: 0 built, 1 failed, 2 usage error, 3 the Node 24 binary could not be obtained (offline, no npx).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const NODE_MAJOR = 24;
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const NAME = 'secretstore-setup';

class Failure extends Error {
  constructor(message, status = 1) {
    super(message);
    this.status = status;
  }
}

function parseOptions(argv) {
  const o = { out: undefined, node: process.env.SEA_NODE || undefined, strip: true, bundleOnly: false, keepWork: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v === '') throw new Failure(`${a} needs a value`, 2);
      return v;
    };
    if (a === '--out') o.out = resolve(value());
    else if (a === '--node') o.node = resolve(value());
    else if (a === '--no-strip') o.strip = false;
    else if (a === '--bundle-only') o.bundleOnly = true;
    else if (a === '--keep-work') o.keepWork = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
      process.exit(0);
    } else throw new Failure(`unknown option ${a}; see --help`, 2);
  }
  return o;
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const say = (line) => process.stdout.write(`package: ${line}\n`);

function run(file, args, options = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error !== undefined) throw new Failure(`cannot run ${file} (${r.error.code ?? r.error.message})`);
  return r;
}

/** The Node 24 binary to build from: --node/SEA_NODE, else node@24 from the npm registry through npx. */
function nodeBinary(explicit) {
  let path = explicit;
  if (path === undefined) {
    const spec = `node@${process.env.SEA_NODE_VERSION || String(NODE_MAJOR)}`;
    say(`fetching ${spec} from the npm registry (npx -y -p ${spec})`);
    const r = spawnSync('npx', ['-y', '-p', spec, 'node', '-p', 'process.execPath'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    if (r.error !== undefined || r.status !== 0 || !line.startsWith('/')) {
      const lines = (r.stderr ?? '').trim().split('\n').filter((l) => l !== '' && !l.includes('complete log'));
      const why = r.error !== undefined ? (r.error.code ?? r.error.message) : lines.slice(-2).join(' | ') || `exit ${r.status}`;
      throw new Failure(`cannot obtain the Node ${NODE_MAJOR} binary through npx (${why}); pass --node PATH or set SEA_NODE to a Node ${NODE_MAJOR} binary`, 3);
    }
    path = line;
  }
  const r = run(path, ['-p', 'JSON.stringify([process.version, process.platform, process.arch])'], { env: {} });
  if (r.status !== 0) throw new Failure(`${path} does not run (exit ${r.status}): ${r.stderr.trim().slice(0, 200)}`, 3);
  const [version, platform, arch] = JSON.parse(r.stdout);
  if (platform !== process.platform || arch !== process.arch) throw new Failure(`${path} is node for ${platform}-${arch}, this machine is ${process.platform}-${process.arch}`);
  if (!version.startsWith(`v${NODE_MAJOR}.`)) throw new Failure(`${path} is node ${version}; the executable is built from Node ${NODE_MAJOR}`);
  if (!readFileSync(path).includes(SEA_FUSE)) throw new Failure(`${path} has no SEA fuse (${SEA_FUSE}); use an official Node build`);
  return { path, version };
}

async function bundle(outfile, target, shebang) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs', // a Node 24 SEA runs its main script as CommonJS
    target,
    keepNames: true, // error and class names survive bundling (messages report err.name)
    legalComments: 'eof',
    logLevel: 'warning',
    // src/self-exec.ts: "this is the bundle"; import.meta.url is the bundle's own file (the executable in a SEA).
    define: { SECRETSTORE_SETUP_BUNDLE: 'true', 'import.meta.url': '__secretstore_import_meta_url' },
    banner: { js: `${shebang ? '#!/usr/bin/env node\n' : ''}'use strict';\nvar __secretstore_import_meta_url = require('node:url').pathToFileURL(__filename).href;` },
  });
  if (result.errors.length > 0) throw new Failure('esbuild failed');
  return statSync(outfile).size;
}

/** ASSET_FILES from src/assets.ts (bundled on the fly, so the list has one home and no tsc build is needed first). */
async function assetFiles(work) {
  const esbuild = await import('esbuild');
  const outfile = join(work, 'assets-list.mjs');
  await esbuild.build({ entryPoints: [join(ROOT, 'src/assets.ts')], outfile, bundle: true, platform: 'node', format: 'esm', logLevel: 'warning' });
  const { ASSET_FILES } = await import(pathToFileURL(outfile).href);
  return ASSET_FILES.map((a) => a.key);
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const version = /VERSION = '([^']+)'/.exec(readFileSync(join(ROOT, 'src/version.ts'), 'utf8'))?.[1];
  if (version === undefined) throw new Failure('cannot read the version from src/version.ts');

  if (o.bundleOnly) {
    // The alternative: one JavaScript file for a system Node >= 20, with the sample hooks beside it in hooks/ (outside
    // a SEA the program reads them from the nearest hooks/ above itself).
    const out = o.out ?? join(ROOT, 'build', 'bundle');
    const work = mkdtempSync(join(tmpdir(), 'secretstore-package-'));
    try {
      mkdirSync(out, { recursive: true });
      const file = join(out, `${NAME}.cjs`);
      const size = await bundle(file, 'node20', true);
      chmodSync(file, 0o755);
      for (const key of await assetFiles(work)) {
        const to = join(out, ...key.split('/'));
        mkdirSync(dirname(to), { recursive: true });
        copyFileSync(join(ROOT, ...key.split('/')), to);
        chmodSync(to, statSync(join(ROOT, ...key.split('/'))).mode & 0o777);
      }
      say(`bundle for a system Node >= 20: ${mb(size)}, with the sample hooks in ${join(out, 'hooks')}`);
      process.stdout.write(`${file}\n`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return;
  }

  if (process.platform !== 'linux') throw new Failure(`only linux is supported (this is ${process.platform})`);
  const target = `${process.platform}-${process.arch}`;
  const out = o.out ?? join(ROOT, 'build', target);
  const node = nodeBinary(o.node);
  say(`node ${node.version} ${target}: ${node.path}`);

  const work = mkdtempSync(join(tmpdir(), 'secretstore-package-'));
  try {
    const main = join(work, `${NAME}.cjs`);
    const bundleSize = await bundle(main, `node${NODE_MAJOR}`, false);
    say(`bundle ${mb(bundleSize)}`);

    const assets = {};
    for (const key of await assetFiles(work)) assets[key] = join(ROOT, ...key.split('/'));
    say(`assets: ${Object.keys(assets).join(', ')}`);
    const seaConfig = join(work, 'sea-config.json');
    const blob = join(work, 'sea-prep.blob');
    writeFileSync(
      seaConfig,
      JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets }, null, 2),
    );
    const g = run(node.path, ['--experimental-sea-config', seaConfig], { cwd: work, env: {} });
    if (g.status !== 0) throw new Failure(`node --experimental-sea-config failed (exit ${g.status}): ${(g.stderr + g.stdout).trim().slice(0, 500)}`);
    say(`SEA blob ${mb(statSync(blob).size)} (bundle, code cache, assets)`);

    const exe = join(work, NAME);
    copyFileSync(node.path, exe);
    chmodSync(exe, 0o755);
    if (o.strip) {
      const s = spawnSync('strip', [exe], { encoding: 'utf8' });
      if (s.error !== undefined) say(`strip not found (binutils): keeping the symbols (${mb(statSync(exe).size)})`);
      else if (s.status !== 0) throw new Failure(`strip failed: ${s.stderr.trim().slice(0, 300)}`);
      else say(`stripped node: ${mb(statSync(node.path).size)} -> ${mb(statSync(exe).size)}`);
    }
    const postject = join(dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
    const p = run(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
    if (p.status !== 0) throw new Failure(`postject failed (exit ${p.status}): ${(p.stderr + p.stdout).trim().slice(-500)}`);

    // It must run alone: no environment, no Node, no node_modules.
    const v = run(exe, ['--version'], { env: {}, cwd: work });
    if (v.status !== 0 || v.stdout !== `${NAME} ${version}\n`) {
      throw new Failure(`the executable does not run: --version gave exit ${v.status}, ${JSON.stringify((v.stdout + v.stderr).slice(0, 300))}`);
    }

    mkdirSync(out, { recursive: true });
    const final = join(out, NAME);
    const staged = join(out, `.${NAME}.tmp`);
    copyFileSync(exe, staged);
    chmodSync(staged, 0o755);
    renameSync(staged, final);
    say(`${NAME} ${version} for ${target} from node ${node.version}: ${mb(statSync(final).size)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    say(`run: ${relative(process.cwd(), final) || final} demo`);
    process.stdout.write(`${final}\n`);
  } finally {
    if (o.keepWork) say(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`package: ${err instanceof Failure ? err.message : (err?.stack ?? String(err))}\n`);
  process.exitCode = err instanceof Failure ? err.status : 1;
});
