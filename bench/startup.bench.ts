/**
 * Start-up benchmark: how much slower than a bare Node start is the program, as the single executable (the product,
 * `npm run package`) and as the compiled tree run by node (`node bin/secretstore-setup`, script mode)?
 *
 * In the same run, interleaved (the order rotates each round, so drift in machine load favours no one), medians of:
 *   - `node -e 0` with the Node 24 binary the executable is built from (the floor);
 *   - `--version` by the executable and by script mode (run by that same Node);
 *   - a whole sealed → unsealed `bootstrap` by each (process start → exit): every round starts a fresh embedded
 *     store (`serve`, run by the executable) and initializes it once (untimed); then each sample restarts the store
 *     (it comes back sealed, as at boot), waits for its listening line, and runs the program until it exits. The key
 *     file is encrypted (v2) under the ikm-dev hook; the hook's own time (from the flow's `bootstrap complete` line)
 *     is reported apart, and so is the time from spawn to the `node unsealed` event (when the store becomes usable;
 *     the flow then regenerates a root token, revokes, issues the token-issuing token). No configuration file (the
 *     boot flow's settings come from SECRETSTORE_* variables, so `yaml` is not loaded).
 * Wall time is spawn → exit as seen by this process. Peak RSS: `/usr/bin/time -f %M` around every measured process
 * (bare node included, so its few hundred microseconds are on both sides of each ratio), else VmHWM sampled from
 * /proc/<pid>/status every 2 ms (which can miss a last peak). On a loaded machine wall time mostly measures the load:
 * compare CPU time there (docs/packaging.md, "Start-up", says how the figures there were taken).
 *
 * Also in each round: the boot floor (scripts/boot-floor.cjs, run by the same Node): the built-in modules a boot loads,
 * the IKM hook and as many requests as the executable's last sealed boot made (counted in the store's request log),
 * all cheap `GET sys/health` on one kept-alive connection — what any Node program doing this boot's I/O pays.
 *
 * Goals (the executable): bootstrap wall ≤ 2× bare node, `--version` ≤ 1.3×, peak RSS ≤ 1.3×.
 *
 * Run: `npm run bench -- startup` (or `node dist/bench/startup.bench.js` after `npx tsc`). Environment:
 *   STARTUP_ROUNDS   rounds (default 5); STARTUP_SAMPLES  samples per round of each program and command (default 2)
 *   SEA_NODE         the Node 24 binary (as scripts/package.mjs); else `npx -y -p node@${SEA_NODE_VERSION:-24}`
 *   STARTUP_EXE      the executable (default build/<platform>-<arch>/secretstore-setup; built with
 *                    `node scripts/package.mjs --node <that Node>` when missing, or always with STARTUP_REBUILD=1)
 *   STARTUP_EXE_BEFORE another executable (e.g. a build of the previous commit, copied aside) measured in the same
 *                    run as one more program, "executable (before)", with its ratios: a before/after in one run
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from '../src/crypto.js';
import { startStoreProcess, type StoreProcess } from '../src/bootstrap/store-process.js';
import { findHook } from '../src/bootstrap/find-hook.js';

const ROUNDS = positive('STARTUP_ROUNDS', 5);
const SAMPLES = positive('STARTUP_SAMPLES', 2);
const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/bench/ → the repository
const TIME = '/usr/bin/time';
/** The boot floor (scripts/boot-floor.cjs): Node, the built-ins a boot loads, the hook, as many cheap requests. */
const FLOOR_SCRIPT = join(ROOT, 'scripts', 'boot-floor.cjs');
/** One line per request in the store's log (`serve` logs each request it answers). */
const REQUEST_LINE = / request component=http /;
const HAS_TIME = existsSync(TIME) && spawnSync(TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return n;
}

/** The Node 24 binary, found as scripts/package.mjs finds it: SEA_NODE, else node@24 through npx. */
function node24(): string {
  const explicit = process.env.SEA_NODE;
  if (explicit !== undefined && explicit !== '') return explicit;
  const spec = `node@${process.env.SEA_NODE_VERSION ?? '24'}`;
  const r = spawnSync('npx', ['-y', '-p', spec, 'node', '-p', 'process.execPath'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('/')) {
    throw new Error(`cannot obtain the Node 24 binary through npx (${r.stderr.trim().split('\n').pop() ?? `exit ${r.status ?? '?'}`}); set SEA_NODE`);
  }
  return line;
}

/** Newest modification time (ms) of the files under `dir`. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The executable: STARTUP_EXE, else build/<platform>-<arch>/secretstore-setup, built when missing. */
function executable(node: string): string {
  const given = process.env.STARTUP_EXE;
  if (given !== undefined && given !== '') return given;
  const exe = join(ROOT, 'build', `${process.platform}-${process.arch}`, 'secretstore-setup');
  const rebuild = process.env.STARTUP_REBUILD === '1';
  if (rebuild || !existsSync(exe)) {
    process.stdout.write(`${rebuild ? 'rebuilding' : 'building'} the executable: node scripts/package.mjs --node ${node}\n`);
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--node', node], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0 || !existsSync(exe)) throw new Error(`building the executable failed (exit ${r.status ?? '?'}); run "npm run package" and look at its output`);
  } else if (statSync(exe).mtimeMs < newestUnder(join(ROOT, 'src'))) {
    process.stdout.write(`note: ${relative(ROOT, exe)} is older than src/: run "npm run package" (or STARTUP_REBUILD=1) to measure the current code\n`);
  }
  return exe;
}

interface Sample {
  wallMs: number;
  rssKiB: number;
  /** From the `bootstrap complete` line (bootstrap only): the flow's own time and the hook's. */
  flowMs?: number;
  hookMs?: number;
  /** Spawn → the `node unsealed` event (its log line's timestamp, 1 ms resolution): when the store is usable. */
  unsealedMs?: number;
}

/** Runs one measured process to its exit. */
function measure(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const argv = HAS_TIME ? [TIME, '-f', 'STARTUP_MAXRSS_KIB %M', file, ...args] : [file, ...args];
    const t0 = performance.now();
    const epoch = Date.now();
    const child = spawn(argv[0] ?? file, argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let hwm = 0;
    const poll = HAS_TIME
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(child.pid)}/status`, 'utf8'));
            if (m?.[1] !== undefined) hwm = Math.max(hwm, Number(m[1]));
          } catch {
            // gone already
          }
        }, 2);
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', () => {
      const wallMs = performance.now() - t0;
      if (poll !== undefined) clearInterval(poll);
      child.on('close', (code) => {
        if (code !== 0) {
          reject(new Error(`${[file, ...args].join(' ')} exited ${code ?? '?'}: ${err.slice(-600)}`));
          return;
        }
        const sample: Sample = { wallMs, rssKiB: HAS_TIME ? Number(/STARTUP_MAXRSS_KIB (\d+)/.exec(err)?.[1] ?? NaN) : hwm };
        for (const line of err.split('\n')) {
          if (!line.startsWith('{')) continue;
          const rec = JSON.parse(line) as { msg?: string; time?: string; ms?: number; hookMs?: number };
          if (rec.msg === 'bootstrap complete') {
            sample.flowMs = rec.ms ?? NaN;
            sample.hookMs = rec.hookMs ?? 0;
          }
          if (rec.msg === 'node unsealed' && rec.time !== undefined) sample.unsealedMs = Date.parse(rec.time) - epoch;
        }
        resolve(sample);
      });
    });
  });
}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

interface Program {
  name: string;
  /** `[file, ...argumentPrefix]`. */
  command: [string, ...string[]];
}

async function main(): Promise<void> {
  const node = node24();
  const nodeVersion = spawnSync(node, ['-p', 'process.version'], { encoding: 'utf8', env: {} }).stdout.trim();
  const exe = executable(node);
  const exeVersion = spawnSync(exe, ['version', '--verbose'], { encoding: 'utf8', env: {} }).stdout.trim().split('\n').pop() ?? '';
  if (!exeVersion.startsWith(`node ${nodeVersion} `)) {
    process.stdout.write(`note: the executable runs ${exeVersion.split(' ')[1] ?? '?'}, bare node is ${nodeVersion}\n`);
  }
  const programs: Program[] = [
    { name: 'executable', command: [exe] },
    { name: 'script mode (node bin/secretstore-setup)', command: [node, join(ROOT, 'bin', 'secretstore-setup')] },
  ];
  const before = process.env.STARTUP_EXE_BEFORE;
  if (before !== undefined && before !== '') programs.push({ name: 'executable (before)', command: [before] });

  const root = await mkdtemp(join(tmpdir(), 'sss-startup-'));
  let store: StoreProcess | undefined;
  const bare: Sample[] = [];
  const floorRuns: Sample[] = [];
  let bootRequests = 16; // until the first sealed boot of the executable has been counted
  let countedStore: StoreProcess | undefined;
  // The floor makes as many requests as the last sealed boot of the executable did: the lines of its store's request
  // log, counted once that store has stopped (its last lines may still be in the pipe when the boot exits).
  const stopStore = async (): Promise<void> => {
    await store?.stop();
    if (store !== undefined && store === countedStore) {
      bootRequests = store.output().split('\n').filter((l) => REQUEST_LINE.test(l)).length;
      countedStore = undefined;
    }
  };
  const version = new Map<string, Sample[]>(programs.map((p) => [p.name, []]));
  const boot = new Map<string, Sample[]>(programs.map((p) => [p.name, []]));
  try {
    const hook = findHook(dirname(fileURLToPath(import.meta.url)), 'ikm-dev');
    const ikmFile = join(root, 'ikm.hex');
    await writeFile(ikmFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const work = join(root, 'cwd'); // no configuration.yaml here: settings from the environment
    await mkdir(work, { mode: 0o700 });
    const quiet: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    const storeEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH };

    for (let round = 0; round < ROUNDS; round++) {
      const dataDir = join(root, `data-${round}`);
      const assets = join(root, `assets-${round}`);
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        EDGEX_IKM_HOOK: hook,
        IKM_DEV_FILE: ikmFile,
        IKM_DEV_ALLOW_INSECURE: '1',
        SECRETSTORE_TOKENFOLDERPATH: assets,
        SECRETSTORE_TOKENPROVIDERADMINTOKENPATH: join(assets, 'admin-token.json'),
      };
      store = await startStoreProcess({ command: [exe], dataDir, env: storeEnv });
      const bootArgs = ['bootstrap', '--addr', store.url, '--log-format', 'json'];
      await measure(exe, bootArgs, env, work); // first boot: init, key file (untimed)
      const listen = store.listen;
      // Rotate which program goes first each round.
      const order = programs.map((_, i) => programs[(i + round) % programs.length] as Program);
      for (let s = 0; s < SAMPLES; s++) {
        bare.push(await measure(node, ['-e', '0'], quiet, work));
        floorRuns.push(await measure(node, [FLOOR_SCRIPT, store.url, String(bootRequests)], env, work));
        for (const p of order) {
          const [file, ...prefix] = p.command;
          version.get(p.name)?.push(await measure(file, [...prefix, '--version'], quiet, work));
          await stopStore();
          store = await startStoreProcess({ command: [exe], dataDir, env: storeEnv, listen });
          boot.get(p.name)?.push(await measure(file, [...prefix, ...bootArgs], env, work));
          if (p.name === 'executable') countedStore = store;
        }
      }
      await stopStore();
      store = undefined;
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    await store?.stop();
    await rm(root, { recursive: true, force: true });
  }

  const n = ROUNDS * SAMPLES;
  const floor = median(bare.map((x) => x.wallMs));
  const floorRss = median(bare.map((x) => x.rssKiB));
  const f = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));
  const r = (x: number): string => (Number.isNaN(x) ? '–' : `${x.toFixed(2)}×`);
  const mib = (kib: number): string => (kib / 1024).toFixed(1);
  process.stdout.write(
    `start-up, ${ROUNDS} rounds × ${SAMPLES} samples interleaved (medians of ${n}); node ${nodeVersion}; ` +
      `RSS by ${HAS_TIME ? '/usr/bin/time %M' : 'VmHWM sampling'}; store: the executable's serve, restarted sealed before each bootstrap\n\n`,
  );
  process.stdout.write(
    '| program | command | wall ms | × node | hook ms | wall − hook ms | × node | → unsealed ms | flow ms (hook incl.) | peak RSS MiB | × node |\n',
  );
  process.stdout.write('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n');
  process.stdout.write(`| bare node | \`node -e 0\` | ${f(floor)} | 1.00× | – | – | – | – | – | ${mib(floorRss)} | 1.00× |\n`);
  const lWall = median(floorRuns.map((x) => x.wallMs));
  const lRss = median(floorRuns.map((x) => x.rssKiB));
  process.stdout.write(
    `| boot floor (scripts/boot-floor.cjs) | built-ins, hook, ${bootRequests} requests | ${f(lWall)} | ${r(lWall / floor)} | – | – | – | – | – | ${mib(lRss)} | ${r(lRss / floorRss)} |\n`,
  );
  const results = new Map<string, { version: number; boot: number; bootNoHook: number; unsealed: number; rss: number }>();
  for (const p of programs) {
    const v = version.get(p.name) ?? [];
    const b = boot.get(p.name) ?? [];
    const vWall = median(v.map((x) => x.wallMs));
    const vRss = median(v.map((x) => x.rssKiB));
    const bWall = median(b.map((x) => x.wallMs));
    const hook = median(b.map((x) => x.hookMs ?? NaN));
    const noHook = median(b.map((x) => x.wallMs - (x.hookMs ?? 0)));
    const bRss = median(b.map((x) => x.rssKiB));
    process.stdout.write(`| ${p.name} | \`--version\` | ${f(vWall)} | ${r(vWall / floor)} | – | – | – | – | – | ${mib(vRss)} | ${r(vRss / floorRss)} |\n`);
    process.stdout.write(
      `| ${p.name} | \`bootstrap\` sealed → unsealed | ${f(bWall)} | ${r(bWall / floor)} | ${f(hook)} | ${f(noHook)} | ${r(noHook / floor)} | ` +
        `${f(median(b.map((x) => x.unsealedMs ?? NaN)))} | ${f(median(b.map((x) => x.flowMs ?? NaN)))} | ${mib(bRss)} | ${r(bRss / floorRss)} |\n`,
    );
    results.set(p.name, {
      version: vWall / floor,
      boot: bWall / floor,
      bootNoHook: noHook / floor,
      unsealed: median(b.map((x) => x.unsealedMs ?? NaN)) / floor,
      rss: Math.max(vRss, bRss) / floorRss,
    });
  }
  process.stdout.write(
    `\nboot floor vs bare node: ${r(lWall / floor)} wall, ${r(lRss / floorRss)} peak RSS (Node, the built-ins a boot loads, the hook and ` +
      `${bootRequests} cheap requests: what any Node program doing this boot's I/O pays)\n`,
  );
  const mark = (x: number, goal: number): string => `${x.toFixed(2)}× (goal ≤ ${goal}×: ${x <= goal ? 'met' : 'NOT met'})`;
  for (const name of ['executable', 'executable (before)']) {
    const e = results.get(name);
    if (e === undefined) continue;
    process.stdout.write(
      `\n${name} vs bare node: bootstrap ${mark(e.boot, 2)}, without the hook ${e.bootNoHook.toFixed(2)}×, spawn → unsealed ${e.unsealed.toFixed(2)}×; ` +
        `--version ${mark(e.version, 1.3)}; peak RSS ${mark(e.rss, 1.3)}; bootstrap vs the boot floor ${r((e.boot * floor) / lWall)}\n`,
    );
  }
}

await main();
