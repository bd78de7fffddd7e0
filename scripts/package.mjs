#!/usr/bin/env node
// `npm run package`: builds secretstore-setup as ONE executable file for this machine's platform (linux-x64 or
// linux-arm64), a Node.js Single Executable Application (SEA) made from Node 24. See docs/packaging.md.
//
//   1. bundle src/cli/main.ts and its dependencies with esbuild twice (minified whitespace and syntax, ASCII only):
//      `boot` holds the boot path only (the commands in BOOT_COMMANDS: bootstrap, version), `full` every command;
//   2. train V8 code caches for both: run `serve` (full) and a first and a sealed `bootstrap` (boot) on a throw-away
//      store with the Node 24 binary, and keep the code each compiled (compile-only caches if that run fails);
//   3. write the SEA blob with the Node 24 binary itself (`node --experimental-sea-config`): a small main script that
//      runs the boot or the full bundle for the command (SEA assets, with their code caches), and the sample hooks
//      (src/assets.ts ASSET_FILES) as SEA assets; see docs/packaging.md, "Start-up";
//   4. copy that Node 24 binary, strip its symbols (when `strip` exists), inject the blob with postject;
//   5. run the result with an empty environment (`--version`) and print its path as the last line.
//
// The Node 24 binary: --node PATH or SEA_NODE=PATH, else the npm registry's `node@24` (SEA_NODE_VERSION to pin, e.g.
// 24.21.0) through `npx -y -p node@24`, which installs the official binary (package node-linux-<arch>) in npm's cache.
//
// Options: --out DIR (default build/<platform>-<arch>; the executable is DIR/secretstore-setup), --node PATH,
//          --no-strip, --keep-work, --bundle-only (instead: DIR/secretstore-setup.cjs for a system Node >= 20 and the
//          sample hooks in DIR/hooks/; default DIR build/bundle).
// Exit status: 0 built, 1 failed, 2 usage error, 3 the Node 24 binary could not be obtained (offline, no npx).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const NODE_MAJOR = 24;
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const NAME = 'secretstore-setup';
/** The commands of the boot bundle: what a device runs at every boot. Everything else runs from the full bundle. */
const BOOT_COMMANDS = ['bootstrap', 'version'];
/** The wrapper around each SEA bundle (a CommonJS module function; the 6th parameter runs another bundle). */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname, __secretstore_run_bundle) {';
const WRAP_TAIL = '\n})';

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

/** esbuild's options for a bundle of the CLI (src/cli/main.ts and everything it imports). */
function bundleOptions(outfile, target, shebang, extra = {}) {
  return {
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
    ...extra,
  };
}

async function bundle(outfile, target, shebang) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build(bundleOptions(outfile, target, shebang));
  if (result.errors.length > 0) throw new Failure('esbuild failed');
  return statSync(outfile).size;
}

/**
 * For the boot bundle: a command module that is not in BOOT_COMMANDS (as src/cli/commands/index.ts imports it) is
 * replaced by one that hands the whole run to the full bundle. Its namespace is a thenable: `await import()` of it
 * (the command table's `load`) starts the full bundle's own main on the same command line and never settles, so the
 * boot bundle's main just waits while the full one runs the command, sets the exit status and ends the process.
 */
const handOverPlugin = {
  name: 'secretstore-handover',
  setup(build) {
    const index = join(ROOT, 'src', 'cli', 'commands', 'index.ts');
    build.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) => {
      if (args.importer !== index || BOOT_COMMANDS.includes(basename(args.path, '.js'))) return undefined;
      return { path: basename(args.path, '.js'), namespace: 'secretstore-handover' };
    });
    build.onLoad({ filter: /.*/, namespace: 'secretstore-handover' }, () => ({
      loader: 'js',
      contents: 'let started = false;\nexport function then() {\n  if (!started) { started = true; __secretstore_run_bundle("full"); }\n}\n',
    }));
  },
};

/**
 * The two bundles of the executable, each wrapped as a CommonJS module function ({@link WRAP_HEAD}) and written as
 * plain ASCII (esbuild keeps a few non-ASCII characters, e.g. in a regular expression literal; one of them would make
 * V8 hold the whole source as two bytes per character): `<work>/boot.js` and `<work>/full.js`.
 */
async function seaBundles(work) {
  const esbuild = await import('esbuild');
  const out = {};
  for (const name of ['boot', 'full']) {
    const file = join(work, `${name}.js`);
    const result = await esbuild.build(
      bundleOptions(file, `node${NODE_MAJOR}`, false, {
        minifyWhitespace: true, // no comments or indentation: a smaller source to keep in memory and to cache
        minifySyntax: true,
        ...(name === 'boot' ? { plugins: [handOverPlugin] } : {}),
      }),
    );
    if (result.errors.length > 0) throw new Failure('esbuild failed');
    let code = readFileSync(file, 'utf8');
    let escaped = 0;
    code = code.replace(/[^\x00-\x7f]/g, (c) => {
      escaped++;
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    });
    // esbuild turns import() of bundled code into require(); one left (e.g. of a built-in module) would fail at run
    // time: the bundles run without an ES module loader (vm.Script, like a SEA main script with a code cache).
    const dynamicImport = /(?<![\w$.])import\(/.exec(code);
    if (dynamicImport !== null) {
      throw new Failure(`the ${name} bundle calls import() (…${code.slice(Math.max(0, dynamicImport.index - 80), dynamicImport.index + 40)}…): use a static import or process.getBuiltinModule`);
    }
    writeFileSync(file, WRAP_HEAD + code + WRAP_TAIL);
    out[name] = { file, size: statSync(file).size, escaped };
  }
  return out;
}

/**
 * The helper that runs a bundle the way the executable does and writes V8's code cache for it
 * (`script.createCachedData()`: the code compiled so far, top level and every function that ran). Modes:
 * `compile FILE OUT` (compile only), `run FILE OUT ARGS...` (run the CLI with ARGS, write the cache at exit),
 * `check FILE CACHE` (prints whether V8 accepts CACHE for FILE).
 */
const TRAINER = `'use strict';
const { Script } = require('node:vm');
const { readFileSync, writeFileSync } = require('node:fs');
const [mode, file, out] = process.argv.splice(2, 3);
const name = require('node:path').basename(file, '.js');
const load = (cachedData) => new Script(readFileSync(file, 'latin1'), { filename: 'secretstore-setup/' + name + '.js', ...(cachedData ? { cachedData } : {}) });
if (mode === 'check') {
  const script = load(readFileSync(out));
  process.stdout.write(script.cachedDataRejected ? 'rejected\\n' : 'accepted\\n');
} else {
  const script = load();
  if (mode === 'compile') writeFileSync(out, script.createCachedData());
  else {
    process.on('exit', () => writeFileSync(out, script.createCachedData()));
    const module = { exports: {} };
    script.runInThisContext().call(module.exports, module.exports, require, module, file, require('node:path').dirname(file), () => {
      throw new Error('hand-over during training');
    });
  }
}
`;

/** The executable's main script: runs the boot or the full bundle (SEA assets `<name>.js`, `<name>.cache`). */
function dispatcher() {
  return `'use strict';
// secretstore-setup, single executable: generated by scripts/package.mjs (docs/packaging.md, "Start-up").
const sea = require('node:sea');
const { Script } = require('node:vm');
const asset = (key) => Buffer.from(typeof sea.getRawAsset === 'function' ? sea.getRawAsset(key) : sea.getAsset(key));
function runBundle(name) {
  const script = new Script(asset(name + '.js').toString('latin1'), { filename: 'secretstore-setup/' + name + '.js', cachedData: asset(name + '.cache') });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, require, module, __filename, __dirname, runBundle);
}
// src/cli/main.ts's choice of the command. A wrong guess costs time only: the boot bundle hands a command it does not
// hold to the full bundle.
const first = process.argv[2];
const command = first === '--version' || first === '-V' ? 'version' : first === undefined || first.startsWith('-') ? 'bootstrap' : first;
runBundle(${JSON.stringify(BOOT_COMMANDS)}.includes(command) || first === '--help' || first === '-h' || first === 'help' ? 'boot' : 'full');
`;
}

/** Runs `file args` to its exit; resolves to its status and output (fails after `timeoutMs`). */
function runAsync(file, args, options, timeoutMs) {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolvePromise({ status: null, output: output + String(err) });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolvePromise({ status: status ?? signal, output });
    });
  });
}

/** Starts `serve` from the full bundle (writing its code cache to `cache` when it exits); resolves once it listens. */
function startTrainingStore(node, trainer, work, cache, data, listen) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(node, [trainer, 'run', join(work, 'full.js'), cache, 'serve', '--data', data, '--listen', listen], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise((r) => child.once('exit', r));
    const stop = async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    };
    const timer = setTimeout(() => {
      void stop().then(() => reject(new Error(`serve did not start: ${output.trim().split('\n').pop() ?? ''}`)));
    }, 30_000);
    child.stderr.setEncoding('utf8').on('data', (d) => (output += d));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      output += d;
      const m = /listening on (https?:\/\/\S+)/.exec(output);
      if (m !== null) {
        clearTimeout(timer);
        resolvePromise({ url: m[1], listen: new URL(m[1]).host, stop, exited });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening: ${output.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/**
 * Writes `<work>/boot.cache` and `<work>/full.cache`, V8 code caches of the two bundles, with the Node 24 binary the
 * executable is made of (a cache is only accepted by the same V8 with the same flags). Trained: `serve` (full) on a
 * throw-away store, a first `bootstrap` (init) and a `bootstrap` of the restarted, sealed store (boot) with the ikm-dev
 * hook, so the caches hold the code a device's boot runs, not just the top level. If that fails: compile-only caches.
 * A cache holds compiled code only (bytecode of our own source), nothing of the run's data.
 */
async function codeCaches(node, work) {
  const trainer = join(work, 'trainer.cjs');
  writeFileSync(trainer, TRAINER);
  const env0 = { PATH: process.env.PATH ?? '/usr/bin:/bin' }; // no NODE_OPTIONS: V8's flags must be the executable's
  const dir = join(work, 'train');
  let trained = false;
  let store;
  try {
    const hook = join(ROOT, 'hooks', 'ikm-dev');
    if (!existsSync(hook)) throw new Error(`${hook} is missing`);
    mkdirSync(join(dir, 'cwd'), { recursive: true, mode: 0o700 });
    const ikm = join(dir, 'ikm.hex');
    writeFileSync(ikm, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const env = {
      ...env0,
      EDGEX_IKM_HOOK: hook,
      IKM_DEV_FILE: ikm,
      IKM_DEV_ALLOW_INSECURE: '1',
      SECRETSTORE_TOKENFOLDERPATH: join(dir, 'assets'),
      SECRETSTORE_TOKENPROVIDERADMINTOKENPATH: join(dir, 'assets', 'token.json'),
    };
    const data = join(dir, 'data');
    const bootstrap = async (cache) => {
      const r = await runAsync(node, [trainer, 'run', join(work, 'boot.js'), cache, 'bootstrap', '--addr', store.url], { env, cwd: join(dir, 'cwd') }, 60_000);
      if (r.status !== 0) throw new Error(`bootstrap exited ${r.status}: ${r.output.trim().split('\n').pop() ?? ''}`);
    };
    store = await startTrainingStore(node, trainer, work, join(dir, 'first.cache'), data, '127.0.0.1:0');
    await bootstrap(join(dir, 'first.cache')); // first boot: init, key file
    await store.stop();
    store = await startTrainingStore(node, trainer, work, join(work, 'full.cache'), data, store.listen); // sealed
    await bootstrap(join(work, 'boot.cache')); // what every later boot runs
    await store.stop();
    store = undefined;
    trained = existsSync(join(work, 'boot.cache')) && existsSync(join(work, 'full.cache'));
    if (!trained) throw new Error('no cache written');
  } catch (err) {
    say(`code caches: the training run failed (${err instanceof Error ? err.message : String(err)}); using compile-only caches`);
    await store?.stop();
    for (const name of ['boot', 'full']) {
      const r = run(node, [trainer, 'compile', join(work, `${name}.js`), join(work, `${name}.cache`)], { env: env0 });
      if (r.status !== 0) throw new Failure(`cannot compile the ${name} bundle's code cache: ${(r.stderr + r.stdout).trim().slice(0, 300)}`);
    }
  }
  for (const name of ['boot', 'full']) {
    const r = run(node, [trainer, 'check', join(work, `${name}.js`), join(work, `${name}.cache`)], { env: env0 });
    if (r.stdout.trim() !== 'accepted') throw new Failure(`V8 does not accept the ${name} bundle's code cache (${(r.stdout + r.stderr).trim().slice(0, 300)})`);
  }
  rmSync(dir, { recursive: true, force: true });
  return { trained, boot: statSync(join(work, 'boot.cache')).size, full: statSync(join(work, 'full.cache')).size };
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
    const bundles = await seaBundles(work);
    const escaped = bundles.boot.escaped + bundles.full.escaped;
    say(`bundles: boot ${mb(bundles.boot.size)} (${BOOT_COMMANDS.join(', ')}), full ${mb(bundles.full.size)}${escaped > 0 ? ` (${escaped} non-ASCII characters escaped)` : ''}`);
    const caches = await codeCaches(node.path, work);
    say(`code caches (${caches.trained ? 'trained on a serve + bootstrap run' : 'compile only'}): boot ${mb(caches.boot)}, full ${mb(caches.full)}`);
    const main = join(work, 'main.cjs');
    writeFileSync(main, dispatcher());

    const assets = {};
    for (const key of await assetFiles(work)) assets[key] = join(ROOT, ...key.split('/'));
    say(`assets: ${Object.keys(assets).join(', ')}`);
    for (const name of ['boot', 'full']) {
      assets[`${name}.js`] = join(work, `${name}.js`);
      assets[`${name}.cache`] = join(work, `${name}.cache`);
    }
    const seaConfig = join(work, 'sea-config.json');
    const blob = join(work, 'sea-prep.blob');
    writeFileSync(
      seaConfig,
      // useSnapshot stays off: a start-up snapshot cannot hold node:http or node:child_process (the build aborts), and
      // an empty one starts slower and bigger than a code cache (docs/packaging.md, "Start-up").
      JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets }, null, 2),
    );
    const g = run(node.path, ['--experimental-sea-config', seaConfig], { cwd: work, env: {} });
    if (g.status !== 0) throw new Failure(`node --experimental-sea-config failed (exit ${g.status}): ${(g.stderr + g.stdout).trim().slice(0, 500)}`);
    say(`SEA blob ${mb(statSync(blob).size)} (main script, bundles, code caches, assets)`);

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
    // And a command of the full bundle (`--version` ran the boot bundle).
    const h = run(exe, ['hooks', 'list'], { env: {}, cwd: work });
    if (h.status !== 0 || !h.stdout.includes('hooks/ikm-dev\t')) {
      throw new Failure(`the executable does not run: hooks list gave exit ${h.status}, ${JSON.stringify((h.stdout + h.stderr).slice(0, 300))}`);
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
