/**
 * Chaos part `concurrency`:
 *
 * 1. Fresh bootstraps at once: CHAOS_CONCURRENCY_ROUNDS (20) rounds, each a fresh device and store with
 *    CHAOS_CONCURRENCY_PARALLEL (8) `bootstrap` processes started together on the same key folder. Every round:
 *    exactly one "initializing the secret store", exactly one `PUT sys/init` reaching the store, every process
 *    exits 0, the store is unsealed, the key folder holds only the key file, and after a store restart one more
 *    bootstrap unseals it with that file (the shares are right).
 * 2. A key-file lock left by a dead process, three waiters racing for it (CHAOS_LOCK_ROUNDS, 10, per kind; three
 *    times that for `dead`, half for `bootstrap`):
 *      dead         the owner (a process that took the lock with acquireFileLock) was SIGKILLed
 *      pid-reused   the lock names a live process whose start time differs (its pid was reused)
 *      other-boot   the lock names a live process but another boot id (a lock from before a reboot)
 *      bootstrap    a first-boot `bootstrap` SIGKILLed while holding the lock, then three bootstraps at once
 *    Oracle: all three get the lock, one at a time (no two hold intervals overlap), each exactly once; nothing but
 *    the key file is left in the folder; for `bootstrap`, exactly one init and all exit 0.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Device, errorLine, maskName } from './lib/device.js';
import { LeakScan, checkLeaks } from './lib/leaks.js';
import { runCliTo, spawnCli } from './lib/procs.js';
import { healthStatus } from './lib/store.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { Report, envInt, excerpt, median, onCleanup, runAsMain, sleep, type PartResult } from './lib/util.js';

const WAITER = fileURLToPath(new URL('./lib/lock-waiter.js', import.meta.url));

export interface ConcurrencyOptions {
  rounds: number;
  parallel: number;
  lockRounds: number;
  procSampler: boolean;
}

export function optionsFromEnv(): ConcurrencyOptions {
  return {
    rounds: envInt('CHAOS_CONCURRENCY_ROUNDS', 20),
    parallel: Math.max(2, envInt('CHAOS_CONCURRENCY_PARALLEL', 8)),
    lockRounds: envInt('CHAOS_LOCK_ROUNDS', 10),
    procSampler: envInt('CHAOS_PROC_SAMPLER', 1) === 1,
  };
}

function countMatches(text: string, re: RegExp): number {
  return [...text.matchAll(re)].length;
}

async function freshBootstraps(o: ConcurrencyOptions, report: Report, scan: LeakScan): Promise<void> {
  const roundMs: number[] = [];
  let ok = 0;
  for (let round = 0; round < o.rounds; round++) {
    const t = performance.now();
    const dev = await Device.create();
    try {
      const outs = await Promise.all(Array.from({ length: o.parallel }, () => runCliTo(dev.bootstrapArgs(), { cwd: dev.be.dir, env: dev.envWith(undefined), timeoutMs: 120_000 })));
      const problems: string[] = [];
      const inits = outs.filter((r) => r.stderr.includes('initializing the secret store')).length;
      if (inits !== 1) problems.push(`${inits} processes initialized`);
      const served = dev.serve.output();
      const initRequests = countMatches(served, /\brequest\b[^\n]*\bmethod=PUT path=sys\/init\b/g);
      const initOk = countMatches(served, /\brequest\b[^\n]*\bmethod=PUT path=sys\/init status=200\b/g);
      if (initRequests !== 1 || initOk !== 1) problems.push(`the store saw ${initRequests} PUT sys/init (${initOk} answered 200)`);
      const failed = outs.filter((r) => r.code !== 0);
      for (const f of failed) problems.push(`a bootstrap exited ${String(f.code ?? f.signal)}: ${errorLine(f.stderr)}`);
      const health = await healthStatus(dev.client);
      if (health !== 200) problems.push(`sys/health answers ${health}`);
      const left = await dev.keyFolderLeftovers();
      if (left.length > 0) problems.push(`left in the key folder: ${left.join(', ')}`);
      await dev.serve.restart();
      const reboot = await runCliTo(dev.bootstrapArgs(), { cwd: dev.be.dir, env: dev.envWith(undefined) });
      if (reboot.code !== 0) problems.push(`after a restart the key file does not unseal the store: ${errorLine(reboot.stderr)}`);
      const admin = await dev.adminToken();
      if (admin === undefined || (await dev.client.api('GET', 'auth/token/lookup-self', { token: admin })).status !== 200) problems.push('the token-issuing token file holds no valid token');
      for (const p of problems) report.fail(`${o.parallel} fresh bootstraps at once: one init, all succeed, store unsealed`, p, `round ${round}: ${o.parallel} × \`bootstrap --addr URL\` started together on one fresh device`);
      if (problems.length === 0) ok++;
      await dev.collectLeaks(scan, [...outs.flatMap((r) => [r.stdout, r.stderr]), reboot.stdout, reboot.stderr]);
    } finally {
      await dev.close();
    }
    roundMs.push(performance.now() - t);
  }
  report.check(`rounds of ${o.parallel} fresh bootstraps at once with exactly one init and all unsealed`, `${ok} of ${o.rounds}`, `= ${o.rounds}`, ok === o.rounds);
  report.info('seconds per round (median)', (median(roundMs) / 1000).toFixed(1));
}

interface Interval {
  acquired: number;
  releasing: number;
  released: number;
}

function runWaiter(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WAITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onCleanup(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      unregister();
      resolve(out);
    });
  });
}

/** Starts a process that takes the lock and reports it; resolves once it holds it. */
function holder(lockPath: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WAITER, 'hold', lockPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onCleanup(() => {
      child.kill('SIGKILL');
    });
    const gone = new Promise<void>((r) => {
      child.once('exit', () => {
        r();
      });
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('held')) {
        resolve({
          pid: child.pid ?? -1,
          kill: async () => {
            child.kill('SIGKILL');
            await gone;
            unregister();
          },
        });
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      reject(new Error(`lock holder exited ${String(code)} before holding`));
    });
  });
}

async function processStart(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** One stale-lock round: the stale lock of `kind`, then three waiters released at the same instant. */
async function staleLockRound(kind: 'dead' | 'pid-reused' | 'other-boot', dir: string): Promise<string[]> {
  const keys = join(dir, 'keys');
  await mkdir(keys, { recursive: true, mode: 0o700 });
  const lockPath = join(keys, '.resp-init.json.lock');
  let sleeper: { kill: () => void } | undefined;
  if (kind === 'dead') {
    const h = await holder(lockPath);
    await h.kill();
  } else {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    const unregister = onCleanup(() => {
      child.kill('SIGKILL');
    });
    sleeper = {
      kill: () => {
        child.kill('SIGKILL');
        unregister();
      },
    };
    const pid = child.pid ?? 1;
    await sleep(50);
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    const owner = kind === 'pid-reused' ? { pid, start: String(Number(await processStart(pid)) + 12345), boot } : { pid, start: await processStart(pid), boot: 'a-previous-boot-0000' };
    await writeFile(lockPath, JSON.stringify(owner), { mode: 0o600 });
  }
  const problems: string[] = [];
  try {
    const start = Date.now() + 700;
    const outs = await Promise.all([0, 1, 2].map(() => runWaiter(['wait', lockPath, String(start), '120'])));
    const intervals: Interval[] = [];
    for (const out of outs) {
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        const v = JSON.parse(line) as Partial<Interval> & { error?: string };
        if (v.error !== undefined) problems.push(`a waiter failed: ${excerpt(v.error, 160)}`);
        else if (v.acquired !== undefined && v.releasing !== undefined && v.released !== undefined) intervals.push(v as Interval);
      } catch {
        problems.push(`a waiter printed: ${excerpt(out, 160)}`);
      }
    }
    if (intervals.length !== 3) problems.push(`${intervals.length} of 3 waiters got the lock`);
    intervals.sort((a, b) => a.acquired - b.acquired);
    for (let i = 1; i < intervals.length; i++) {
      const prev = intervals[i - 1] as Interval;
      const cur = intervals[i] as Interval;
      if (cur.acquired < prev.releasing) problems.push(`two waiters held the lock at once (${(prev.releasing - cur.acquired).toFixed(2)} ms overlap)`);
    }
    const left = (await readdir(keys)).map(maskName);
    if (left.length > 0) problems.push(`left in the folder: ${left.join(', ')}`);
  } finally {
    sleeper?.kill();
  }
  return problems;
}

/** A first-boot bootstrap killed while it holds the lock, then three bootstraps at once. */
async function bootstrapLockRound(scan: LeakScan): Promise<string[]> {
  const dev = await Device.create();
  const problems: string[] = [];
  try {
    const outputs: string[] = [];
    let killedAt = '';
    const first = spawnCli(dev.bootstrapArgs(), {
      cwd: dev.be.dir,
      env: dev.envWith(undefined),
      onStderrLine: (line) => {
        if (killedAt === '' && line.includes('secret store state')) {
          killedAt = line;
          first.kill();
        }
      },
    });
    const r0 = await first.done;
    outputs.push(r0.stdout, r0.stderr);
    const lockLeft = (await dev.keyFolder()).some((n) => n.endsWith('.lock'));
    if (!r0.killed || !lockLeft) problems.push(`setup: the first bootstrap was ${r0.killed ? '' : 'not '}killed while holding the lock (lock left: ${String(lockLeft)})`);
    const outs = await Promise.all([0, 1, 2].map(() => runCliTo(dev.bootstrapArgs(), { cwd: dev.be.dir, env: dev.envWith(undefined), timeoutMs: 120_000 })));
    for (const r of outs) {
      outputs.push(r.stdout, r.stderr);
      if (r.code !== 0) problems.push(`a bootstrap exited ${String(r.code)}: ${errorLine(r.stderr)}`);
    }
    const inits = outs.filter((r) => r.stderr.includes('initializing the secret store')).length;
    if (inits !== 1) problems.push(`${inits} of the three initialized`);
    const left = await dev.keyFolderLeftovers();
    if (left.length > 0) problems.push(`left in the key folder: ${left.join(', ')}`);
    if ((await healthStatus(dev.client)) !== 200) problems.push('the store is not unsealed');
    await dev.collectLeaks(scan, outputs);
  } finally {
    await dev.close();
  }
  return problems;
}

async function staleLocks(o: ConcurrencyOptions, report: Report, scan: LeakScan): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const kind of ['dead', 'pid-reused', 'other-boot', 'bootstrap'] as const) {
    let ok = 0;
    // The dead owner is the common case (a crash) and its race is rare: three times the rounds.
    const rounds = kind === 'bootstrap' ? Math.max(1, Math.ceil(o.lockRounds / 2)) : kind === 'dead' ? o.lockRounds * 3 : o.lockRounds;
    for (let i = 0; i < rounds; i++) {
      const dir = await makeTempDir('sss-chaos-lock-');
      try {
        const problems = kind === 'bootstrap' ? await bootstrapLockRound(scan) : await staleLockRound(kind, dir);
        for (const p of problems) {
          report.fail(
            'a stale key-file lock is taken over by exactly one waiter at a time',
            `${kind}: ${p}`,
            `round ${i}: stale lock (${kind}), three waiters released at the same instant; rerun the rounds alone: CHAOS_CONCURRENCY_ROUNDS=0 CHAOS_LOCK_ROUNDS=30 node dist/test/chaos/concurrency.js`,
          );
        }
        if (problems.length === 0) ok++;
      } finally {
        await removeTempDir(dir);
      }
    }
    rows.push([kind, rounds, ok]);
  }
  report.table({ title: 'stale key-file lock, three waiters', header: ['stale lock', 'rounds', 'one holder at a time, all served, nothing left'], rows });
  const total = rows.reduce((s, r) => s + Number(r[1]), 0);
  const good = rows.reduce((s, r) => s + Number(r[2]), 0);
  report.check('stale-lock rounds passing', `${good} of ${total}`, `= ${total}`, good === total);
}

export async function run(options: Partial<ConcurrencyOptions> = {}): Promise<PartResult> {
  const o: ConcurrencyOptions = { ...optionsFromEnv(), ...options };
  const report = new Report('concurrency');
  const scan = new LeakScan();
  if (o.procSampler) scan.startProcSampler(4);
  try {
    await freshBootstraps(o, report, scan);
    await staleLocks(o, report, scan);
  } finally {
    await scan.stopProcSampler();
  }
  const leaks = checkLeaks(report, scan, 'IKM, shares, tokens in outputs, files, argv, environ');
  report.info('leak scan coverage', `${leaks.secrets} secrets, ${leaks.sources} sources, ${(leaks.bytes / 2 ** 20).toFixed(1)} MiB, ${leaks.processes} processes sampled`);
  return report.result();
}

runAsMain(import.meta.url, () => run());
