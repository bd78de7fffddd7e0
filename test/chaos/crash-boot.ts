/**
 * Chaos part `crash-boot`: SIGKILL at random moments of the boot-time operations, then recover as an operator
 * would (a plain `bootstrap`), and classify each outcome.
 *
 * Operations (each on a fresh device: its own folder, hooks/ikm-dev with a random IKM, its own `serve`):
 *   first-boot         `bootstrap` on an uninitialized store, killed at U(0, D) ms after spawn
 *   migration          plaintext key file (a boot without hook) + a secret, store restarted; `bootstrap` with the
 *                      hook (migrates the file to encrypted in place) killed at U(0, D)
 *   rewrap-v2/-edgex   `keys rewrap --new-hook` of a v2 / edgex key file, killed at U(0, D); recovery: `bootstrap`
 *                      with the old hook, and with the new one if the old one no longer decrypts
 *   protect            `protect tls.key --purpose tls-key`, killed at U(0, D); the file must be the original or a
 *                      whole protected document; then `bootstrap`
 *   serve-kill-init    first boot; `serve` is SIGKILLed U(0, W) ms after "initializing the secret store" (W: the
 *                      measured time to "key file saved") and restarted on the same port
 *   serve-kill-unseal  reboot (sealed store + secret); `serve` is SIGKILLed U(0, W) ms after "key file loaded" (W: the
 *                      measured time to "node unsealed") and restarted
 * D and W are medians measured by un-killed calibration runs of the same operation at the start of the part.
 * Besides these random kills, CHAOS_CRASH_BOOT_TARGETED (50) kills land the moment a temporary file appears (inotify
 * on the key folder, or beside the protected file), where the crash-safety code has the most to do.
 *
 * After each kill: a plain `bootstrap` must finish (exit 0), the store must be unsealed, the secret written before
 * the kill (when there was one) must read back, and no temporary file may be left in the key folder. Outcomes:
 * clean / operator action needed (the recovery failed, the message is recorded, but a key file still unseals the
 * store) / shares lost (nothing unseals it). Shares may be lost only inside the first-boot window: from the moment
 * the init request leaves ("initializing the secret store", printed just before it) to the key file reaching the
 * disk — whether the store's answer was already in the killed process or still in flight — and, for a store killed
 * mid-init, when it committed init but died before its answer reached bootstrap. Every loss records where.
 *
 * Knobs: CHAOS_CRASH_BOOT_KILLS (500), CHAOS_LANES (2 devices at a time), CHAOS_CRASH_BOOT_CALIBRATION (2 runs per
 * operation), CHAOS_CRASH_BOOT_TARGETED (50), CHAOS_CRASH_BOOT_MAX_SECONDS (900), CHAOS_CRASH_BOOT_OPS (comma list, default all), CHAOS_SEED,
 * CHAOS_PROC_SAMPLER (1: sample /proc argv/environ for the leak scan).
 */
import { watch } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { unprotectBlob, isProtectedBlob } from '../../src/vmk/protected-blob.js';
import { Device, errorLine, maskMessage, maskName, writeFakeKey } from './lib/device.js';
import { LeakScan, checkLeaks } from './lib/leaks.js';
import { runCliTo, spawnCli, type CliOutcome } from './lib/procs.js';
import { healthStatus } from './lib/store.js';
import { Report, Rng, envInt, envStr, excerpt, median, runAsMain, seedFromEnv, sleep, type PartResult } from './lib/util.js';

export const OPS = ['first-boot', 'migration', 'rewrap-v2', 'rewrap-edgex', 'protect', 'serve-kill-init', 'serve-kill-unseal'] as const;
export type Op = (typeof OPS)[number];

/** Share of the kills per operation (sums to 500). */
const WEIGHTS: Record<Op, number> = {
  'first-boot': 150,
  migration: 80,
  'rewrap-v2': 50,
  'rewrap-edgex': 60,
  protect: 60,
  'serve-kill-init': 50,
  'serve-kill-unseal': 50,
};

/** Options of the part. */
export interface CrashBootOptions {
  kills: number;
  /** Extra kills at the moment a temporary file appears (first boot, migration, rewraps, protect). */
  targetedKills: number;
  lanes: number;
  calibrationRuns: number;
  maxSeconds: number;
  ops: Op[];
  seed: number;
  procSampler: boolean;
}

export function optionsFromEnv(): CrashBootOptions {
  const ops = envStr('CHAOS_CRASH_BOOT_OPS', OPS.join(','))
    .split(',')
    .filter((o): o is Op => (OPS as readonly string[]).includes(o));
  return {
    kills: envInt('CHAOS_CRASH_BOOT_KILLS', 500),
    targetedKills: envInt('CHAOS_CRASH_BOOT_TARGETED', 50),
    lanes: Math.max(1, envInt('CHAOS_LANES', 2)),
    calibrationRuns: Math.max(1, envInt('CHAOS_CRASH_BOOT_CALIBRATION', 2)),
    maxSeconds: envInt('CHAOS_CRASH_BOOT_MAX_SECONDS', 900),
    ops,
    seed: seedFromEnv(),
    procSampler: envInt('CHAOS_PROC_SAMPLER', 1) === 1,
  };
}

type Outcome = 'clean' | 'operator' | 'lost';

/** What one killed cycle gave. */
interface Cycle {
  op: Op;
  killed: boolean;
  /** Killed the moment a temporary file appeared (a targeted kill), not after a random delay. */
  targeted?: boolean;
  outcome?: Outcome;
  message?: string;
  location?: string;
  inWindow?: boolean;
  secretLost?: string;
  leftovers: string[];
  protectLeftovers: string[];
  recoveryMs?: number;
  /** serve-kill ops: how the bootstrap that was running when the store died ended. */
  underRestart?: string;
  /** The recovery found an initialized store whose shares never reached the disk and started it over. */
  startedOver?: boolean;
  repro: string;
}

/** Timings measured by the calibration runs. */
interface Calibration {
  durationMs: number;
  windowMs: number;
}

/** Operations that write temporary files (in the key folder, or beside the protected file): targeted kills. */
const TEMP_WRITERS: readonly Op[] = ['first-boot', 'migration', 'rewrap-v2', 'rewrap-edgex', 'protect'];

const SERVE_TRIGGER: Partial<Record<Op, { trigger: string; end: string }>> = {
  'serve-kill-init': { trigger: 'initializing the secret store', end: 'key file saved' },
  'serve-kill-unseal': { trigger: 'key file loaded', end: 'node unsealed' },
};

/** Per-cycle state besides the device. */
interface Prepared {
  dev: Device;
  newHook?: string;
  tlsPath?: string;
  tlsOriginal?: Buffer;
  outputs: string[];
}

async function mustRun(p: Promise<CliOutcome>, what: string, outputs: string[]): Promise<CliOutcome> {
  const r = await p;
  outputs.push(r.stdout, r.stderr);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${String(r.code)}): ${errorLine(r.stderr)}`);
  return r;
}

/** Builds the device in the state the operation starts from. */
async function prepare(op: Op): Promise<Prepared> {
  const dev = await Device.create(op === 'rewrap-edgex' ? { KeyFileFormat: 'edgex' } : {});
  const p: Prepared = { dev, outputs: [] };
  const cwd = dev.be.dir;
  try {
    switch (op) {
      case 'first-boot':
      case 'serve-kill-init':
        break;
      case 'migration':
        await mustRun(runCliTo(dev.bootstrapArgs(), { cwd, env: dev.envWith(null) }), 'setup: bootstrap without hook', p.outputs);
        await dev.provisionSecret();
        await dev.serve.restart();
        break;
      case 'rewrap-v2':
      case 'rewrap-edgex':
        await mustRun(runCliTo(dev.bootstrapArgs(), { cwd, env: dev.envWith(undefined) }), 'setup: bootstrap', p.outputs);
        await dev.provisionSecret();
        p.newHook = (await dev.addHook()).hook;
        break;
      case 'protect':
        await mustRun(runCliTo(dev.bootstrapArgs(), { cwd, env: dev.envWith(undefined) }), 'setup: bootstrap', p.outputs);
        await dev.provisionSecret();
        p.tlsPath = join(cwd, 'tls', 'tls.key');
        p.tlsOriginal = await writeFakeKey(p.tlsPath);
        break;
      case 'serve-kill-unseal':
        await mustRun(runCliTo(dev.bootstrapArgs(), { cwd, env: dev.envWith(undefined) }), 'setup: bootstrap', p.outputs);
        await dev.provisionSecret();
        await dev.serve.restart();
        break;
    }
  } catch (err) {
    await dev.close();
    throw err;
  }
  return p;
}

/** {@link prepare}, retried twice (a serve that cannot start while another build rewrites dist/, say). */
async function prepareRetrying(op: Op): Promise<Prepared> {
  for (let i = 0; ; i++) {
    try {
      return await prepare(op);
    } catch (err) {
      if (i >= 2) throw err;
      await sleep(500);
    }
  }
}

/** The command the operation runs (the one that is killed, or under which the store is killed). */
function action(op: Op, p: Prepared): { args: string[]; env: NodeJS.ProcessEnv } {
  const dev = p.dev;
  switch (op) {
    case 'rewrap-v2':
    case 'rewrap-edgex':
      return { args: ['keys', 'rewrap', '--dir', dev.be.keysDir, '--new-hook', p.newHook ?? ''], env: dev.envWith(undefined) };
    case 'protect':
      return { args: ['protect', p.tlsPath ?? '', '--purpose', 'tls-key'], env: dev.envWith(undefined) };
    default:
      return { args: dev.bootstrapArgs(), env: dev.envWith(undefined) };
  }
}

/** Runs the operation once without a kill: its duration and, for serve kills, the trigger→end window. */
async function calibrate(op: Op, runs: number, report: Report, scan: LeakScan): Promise<Calibration> {
  const durations: number[] = [];
  const windows: number[] = [];
  for (let i = 0; i < runs; i++) {
    const p = await prepareRetrying(op);
    try {
      const { args, env } = action(op, p);
      const marks = SERVE_TRIGGER[op];
      let tTrigger = 0;
      let tEnd = 0;
      const run = spawnCli(args, {
        cwd: p.dev.be.dir,
        env,
        onStderrLine: (line) => {
          if (marks === undefined) return;
          if (tTrigger === 0 && line.includes(marks.trigger)) tTrigger = performance.now();
          if (tEnd === 0 && line.includes(marks.end)) tEnd = performance.now();
        },
      });
      const out = await run.done;
      p.outputs.push(out.stdout, out.stderr);
      if (out.code !== 0) report.fail('the operation succeeds without a kill', `${op}: exit ${String(out.code)}: ${errorLine(out.stderr)}`);
      durations.push(out.ms);
      if (marks !== undefined && tTrigger > 0 && tEnd > tTrigger) windows.push(tEnd - tTrigger);
      await p.dev.collectLeaks(scan, p.outputs);
    } finally {
      await p.dev.close();
    }
  }
  return { durationMs: median(durations), windowMs: Math.max(1, median(windows)) };
}

/** True when the store answered `sys/init` (its request log says so). */
function initAnswered(serveOutput: string): boolean {
  return /\brequest\b.*\bmethod=PUT path=sys\/init status=200\b/.test(serveOutput);
}

/** One killed cycle: prepare, kill, recover, check, classify. */
async function cycle(op: Op, cal: Calibration, rng: Rng, seed: number, scan: LeakScan, targeted = false): Promise<Cycle> {
  const p = await prepare(op);
  const dev = p.dev;
  const cwd = dev.be.dir;
  const c: Cycle = { op, killed: false, leftovers: [], protectLeftovers: [], repro: '', ...(targeted ? { targeted } : {}) };
  try {
    const { args, env } = action(op, p);
    const marks = SERVE_TRIGGER[op];
    let killAt = 0;
    let serveKilled: Promise<void> | undefined;
    let restartDelay = 0;
    let running: ReturnType<typeof spawnCli>;
    let trigger = '';
    if (targeted) {
      // Killed as soon as a temporary file of the operation appears in the folder it writes (inotify).
      const folder = op === 'protect' ? join(cwd, 'tls') : dev.be.keysDir;
      await mkdir(folder, { recursive: true, mode: 0o700 });
      const started = performance.now();
      running = spawnCli(args, { cwd, env });
      const watcher = watch(folder, (_event, name) => {
        if (trigger !== '' || name === null || !name.includes('.tmp-')) return;
        trigger = name;
        killAt = performance.now() - started;
        running.kill();
      });
      void running.done.finally(() => {
        watcher.close();
      });
    } else if (marks === undefined) {
      killAt = rng.float(0, cal.durationMs);
      running = spawnCli(args, { cwd, env });
      const timer = setTimeout(() => {
        running.kill();
      }, killAt);
      void running.done.finally(() => {
        clearTimeout(timer);
      });
    } else {
      killAt = rng.float(0, cal.windowMs);
      restartDelay = rng.float(0, 500);
      running = spawnCli(args, {
        cwd,
        env,
        timeoutMs: 90_000,
        onStderrLine: (line) => {
          if (serveKilled !== undefined || !line.includes(marks.trigger)) return;
          serveKilled = (async () => {
            await sleep(killAt);
            await dev.serve.kill();
            await sleep(restartDelay);
            await dev.serve.restart();
          })();
        },
      });
    }
    const out = await running.done;
    p.outputs.push(out.stdout, out.stderr);
    const lastLine = out.stderr.trim().split('\n').at(-1) ?? '';
    if (marks === undefined || targeted) {
      c.killed = out.killed;
      c.repro = targeted
        ? `CHAOS_SEED=${seed} ${op}: ${args[0] ?? ''} ${args[1] ?? ''} SIGKILLed when ${maskMessage(trigger)} appeared (${killAt.toFixed(1)} ms after spawn)`
        : `CHAOS_SEED=${seed} ${op}: ${args[0] ?? ''} ${args[1] ?? ''} SIGKILLed ${killAt.toFixed(1)} ms after spawn (D=${cal.durationMs.toFixed(0)} ms); last log line that reached stderr: "${excerpt(maskMessage(lastLine), 140)}"`;
      if (!c.killed) {
        if (out.code !== 0) c.underRestart = `finished before the kill with exit ${String(out.code)}: ${errorLine(out.stderr)}`;
        return c;
      }
    } else {
      c.killed = serveKilled !== undefined;
      if (serveKilled !== undefined) await serveKilled;
      c.repro = `CHAOS_SEED=${seed} ${op}: serve SIGKILLed ${killAt.toFixed(1)} ms after "${marks.trigger}" (W=${cal.windowMs.toFixed(1)} ms), restarted ${restartDelay.toFixed(0)} ms later, while bootstrap ran`;
      if (!c.killed) return c;
      c.underRestart = out.code === 0 ? 'exit 0' : `exit ${String(out.code)}: ${errorLine(out.stderr)}`;
    }
    // The state the kill left.
    await sleep(30);
    const keyFilePresent = (await dev.keyFolder()).includes('resp-init.json');
    const folderAtKill = await dev.keyFolder();
    const answered = initAnswered(dev.serve.output());
    c.repro += `; key folder after the kill: [${folderAtKill.join(', ')}]`;

    // Recovery, as an operator would do it.
    const started = performance.now();
    let rec: CliOutcome;
    if (op === 'rewrap-v2' || op === 'rewrap-edgex') {
      await dev.serve.restart(); // sealed: the recovery really unseals with whatever the file holds
      rec = await runCliTo(dev.bootstrapArgs(), { cwd, env: dev.envWith(undefined) });
      p.outputs.push(rec.stdout, rec.stderr);
      if (rec.code !== 0 && /IKM does not decrypt/.test(rec.stderr)) {
        rec = await runCliTo(dev.bootstrapArgs(), { cwd, env: dev.envWith(p.newHook) });
        p.outputs.push(rec.stdout, rec.stderr);
      }
    } else {
      if (op === 'protect' && p.tlsPath !== undefined && p.tlsOriginal !== undefined) {
        const now = await readFile(p.tlsPath).catch(() => Buffer.alloc(0));
        if (now.equals(p.tlsOriginal)) {
          const again = await runCliTo(action(op, p).args, { cwd, env: dev.envWith(undefined) });
          p.outputs.push(again.stdout, again.stderr);
          if (again.code !== 0) c.message = `protect rerun: ${errorLine(again.stderr)}`;
        } else if (isProtectedBlob(now)) {
          try {
            const plain = unprotectBlob(Buffer.from(dev.be.ikmHex, 'hex'), 'tls-key', now);
            if (!plain.equals(p.tlsOriginal)) c.message = 'the protected file decrypts to other bytes';
          } catch (err) {
            c.message = `the protected file does not decrypt: ${(err as Error).message}`;
          }
        } else {
          c.message = `tls.key is neither the original nor a protected document (${now.length} bytes)`;
        }
        c.protectLeftovers = (await listNames(join(cwd, 'tls'))).filter((n) => n !== 'tls.key').map(maskName);
      }
      rec = await runCliTo(dev.bootstrapArgs(), { cwd, env: dev.envWith(undefined) });
      p.outputs.push(rec.stdout, rec.stderr);
    }
    c.recoveryMs = performance.now() - started;
    c.startedOver = /started over/.test(rec.stderr) || /started over/.test(out.stderr);

    if (rec.code === 0) {
      const health = await healthStatus(dev.client);
      const secret = await dev.secretReadsBack();
      if (health !== 200) c.message = `bootstrap exited 0 but sys/health answers ${health}`;
      if (!secret.ok) c.secretLost = secret.detail;
      c.outcome = c.message === undefined ? 'clean' : 'operator';
    } else {
      c.message = errorLine(rec.stderr);
      const shares = await dev.sharesUnseal();
      c.outcome = shares.ok ? 'operator' : 'lost';
      if (!shares.ok) {
        const initialized = (await healthStatus(dev.client)) !== 501;
        if (op === 'first-boot' || op === 'serve-kill-init') {
          if (op === 'first-boot' && !keyFilePresent && initialized) {
            // The store is initialized, so the one init request bootstrap sends had left; no key file had reached the
            // disk: the shares existed only in the store's answer, in the killed process. (Not decided from the log
            // lines: they are buffered a few milliseconds and the last ones die with the process.)
            c.location = answered
              ? 'first-boot window: the store had answered sys/init, the key file was not yet durable'
              : 'first-boot window: sys/init in flight (committed by the store, its answer lost with the process)';
            c.inWindow = true;
          } else if (op === 'serve-kill-init' && initialized && !out.stderr.includes('key file saved')) {
            c.location = 'first-boot window: the store committed init and died before its answer reached bootstrap';
            c.inWindow = true;
          } else {
            c.location = `outside the window: last log line "${excerpt(maskMessage(lastLine), 100)}", init answered: ${String(answered)}, key file present: ${String(keyFilePresent)}, store initialized: ${String(initialized)}`;
            c.inWindow = false;
          }
        } else {
          c.location = `${op}: ${shares.detail}`;
          c.inWindow = false;
        }
      }
    }
    // The init marker is meant to stay while the recovery fails (it names the interrupted init); its temp files never.
    c.leftovers = (await dev.keyFolderLeftovers()).filter((n) => rec.code === 0 || n !== '.secretstore-init-pending');
    await dev.collectLeaks(scan, p.outputs);
    return c;
  } finally {
    await dev.close();
  }
}

async function listNames(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Runs the part. */
export async function run(options: Partial<CrashBootOptions> = {}): Promise<PartResult> {
  const o: CrashBootOptions = { ...optionsFromEnv(), ...options };
  const report = new Report('crash-boot');
  const rng = new Rng(o.seed);
  report.note(`seed ${o.seed}; ${o.lanes} devices at a time; kills drawn uniformly from [0, D] after spawn (D = median duration of ${o.calibrationRuns} un-killed runs), serve kills from [0, W] after the trigger line`);
  const scan = new LeakScan();
  if (o.procSampler) scan.startProcSampler(4);
  const deadline = Date.now() + o.maxSeconds * 1000;
  try {
    // Calibration.
    const cal = new Map<Op, Calibration>();
    for (const op of o.ops) cal.set(op, await calibrate(op, o.calibrationRuns, report, scan));

    // The schedule: kills per operation in proportion to the weights (at least one each).
    const weightSum = o.ops.reduce((s, op) => s + WEIGHTS[op], 0);
    const target = new Map<Op, number>(o.ops.map((op) => [op, Math.max(1, Math.round((o.kills * WEIGHTS[op]) / weightSum))]));
    const queue: Op[] = [];
    for (const [op, n] of target) for (let i = 0; i < n; i++) queue.push(op);
    // Targeted kills, besides the random ones: at the moment a temporary file appears.
    const targetedOps = o.ops.filter((op) => TEMP_WRITERS.includes(op));
    const targetedQueue: Op[] = [];
    for (let i = 0; i < o.targetedKills && targetedOps.length > 0; i++) targetedQueue.push(targetedOps[i % targetedOps.length] as Op);
    let targetedMisses = 0;
    for (let i = queue.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [queue[i], queue[j]] = [queue[j] as Op, queue[i] as Op];
    }
    const cycles: Cycle[] = [];
    const notKilled = new Map<Op, number>();
    const setupFailures = new Map<Op, number>();
    const harnessErrors: string[] = [];
    let attempts = 0;
    const maxAttempts = queue.length * 4;
    const lane = async (laneNo: number): Promise<void> => {
      const laneRng = rng.fork(laneNo + 1);
      for (;;) {
        const targetedOp = queue.length === 0 ? targetedQueue.shift() : undefined;
        const op = targetedOp ?? queue.shift();
        if (op === undefined || Date.now() > deadline || attempts >= maxAttempts) return;
        attempts++;
        let c: Cycle;
        try {
          c = await cycle(op, cal.get(op) ?? { durationMs: 300, windowMs: 20 }, laneRng, o.seed, scan, targetedOp !== undefined);
          if (targetedOp !== undefined && !c.killed) {
            targetedMisses++; // no temporary file seen before the end, or the kill came after the rename
            continue;
          }
          setupFailures.set(op, 0);
        } catch (err) {
          // A cycle that could not be set up or checked (a setup bootstrap failing, serve not starting: e.g. while
          // another build rewrites dist/) is retried; the same operation failing 3 times in a row is a failure.
          const n = (setupFailures.get(op) ?? 0) + 1;
          setupFailures.set(op, n);
          harnessErrors.push(`${op}: ${maskMessage((err as Error).message)}`);
          if (n >= 3) report.fail('the operation can be set up and checked', `${op}: ${maskMessage((err as Error).message)}`);
          else queue.push(op);
          continue;
        }
        if (!c.killed) {
          notKilled.set(op, (notKilled.get(op) ?? 0) + 1);
          if (c.underRestart !== undefined) report.fail('the operation succeeds without a kill', `${op} ${c.underRestart}`, c.repro);
          queue.push(op); // the kill came after the end: try again
          continue;
        }
        cycles.push(c);
      }
    };
    await Promise.all(Array.from({ length: o.lanes }, (_, i) => lane(i)));

    // Oracles.
    for (const c of cycles) {
      if (c.outcome === 'operator') report.fail('a plain bootstrap finishes after the kill', `${c.op}: ${c.message ?? ''}`, c.repro);
      if (c.outcome === 'lost' && c.inWindow !== true) report.fail('shares are lost only inside the first-boot window', `${c.op}: ${c.location ?? ''}; message: ${c.message ?? ''}`, c.repro);
      if (c.secretLost !== undefined) report.fail('the secret written before the kill reads back', `${c.op}: ${c.secretLost}`, c.repro);
      if (c.leftovers.length > 0) report.fail('no temporary file is left in the key folder', `${c.op}: ${c.leftovers.join(', ')}`, c.repro);
      if (c.protectLeftovers.length > 0) report.fail('no temporary file is left beside the protected file', `${c.op}: ${c.protectLeftovers.join(', ')}`, c.repro);
      // A bootstrap whose store died after committing init cannot succeed (its shares are gone): not counted here.
      if (c.underRestart !== undefined && c.underRestart !== 'exit 0' && c.outcome !== 'lost') {
        report.fail('bootstrap survives the store restarting under it', `${c.op}: ${c.underRestart}`, c.repro);
      }
    }

    // Tables.
    const rows = o.ops.map((op) => {
      const cs = cycles.filter((c) => c.op === op);
      const n = (f: (c: Cycle) => boolean): number => cs.filter(f).length;
      return [
        op,
        `${n((c) => c.targeted !== true)} + ${n((c) => c.targeted === true)}`,
        n((c) => c.outcome === 'clean'),
        n((c) => c.outcome === 'operator'),
        n((c) => c.outcome === 'lost' && c.inWindow === true),
        n((c) => c.outcome === 'lost' && c.inWindow !== true),
        n((c) => c.startedOver === true),
        n((c) => c.secretLost !== undefined),
        n((c) => c.leftovers.length > 0 || c.protectLeftovers.length > 0),
        notKilled.get(op) ?? 0,
        (cal.get(op)?.durationMs ?? 0).toFixed(0) + (SERVE_TRIGGER[op] === undefined ? '' : ` (W ${(cal.get(op)?.windowMs ?? 0).toFixed(1)})`),
        median(cs.map((c) => c.recoveryMs ?? 0)).toFixed(0),
      ];
    });
    report.table({
      title: 'outcome per operation',
      header: ['operation', 'kills (random + at a temp file)', 'clean', 'operator action', 'shares lost (window)', 'shares lost (outside)', 'store started over (window)', 'secret lost', 'temp files left', 'finished before kill', 'D ms', 'recovery median ms'],
      rows,
    });
    const messages = new Map<string, number>();
    for (const c of cycles) {
      if (c.message !== undefined) {
        const k = `${c.op}\u0000${c.outcome ?? ''}\u0000${c.message}`;
        messages.set(k, (messages.get(k) ?? 0) + 1);
      }
      if (c.underRestart !== undefined && c.underRestart !== 'exit 0') {
        const k = `${c.op}\u0000bootstrap under the restart\u0000${c.underRestart}`;
        messages.set(k, (messages.get(k) ?? 0) + 1);
      }
    }
    if (messages.size > 0) {
      report.table({
        title: 'messages printed (operator action, losses, bootstrap under a store restart)',
        header: ['operation', 'outcome', 'message', 'count'],
        rows: [...messages].map(([k, n]) => [...k.split('\u0000').map((s) => excerpt(s, 200)), n]),
      });
    }
    const locations = new Map<string, number>();
    for (const c of cycles) if (c.location !== undefined) locations.set(`${c.op}\u0000${c.location}`, (locations.get(`${c.op}\u0000${c.location}`) ?? 0) + 1);
    if (locations.size > 0) {
      report.table({ title: 'where shares were lost', header: ['operation', 'location', 'count'], rows: [...locations].map(([k, n]) => [...k.split('\u0000'), n]) });
    }
    const leftoverNames = new Map<string, number>();
    for (const c of cycles) for (const n of [...c.leftovers, ...c.protectLeftovers.map((x) => `tls/${x}`)]) leftoverNames.set(`${c.op}\u0000${n}`, (leftoverNames.get(`${c.op}\u0000${n}`) ?? 0) + 1);
    if (leftoverNames.size > 0) {
      report.table({ title: 'files left after recovery', header: ['operation', 'file', 'count'], rows: [...leftoverNames].map(([k, n]) => [...k.split('\u0000'), n]) });
    }

    report.info('cycles retried after a setup/check error', harnessErrors.length);
    for (const e of [...new Set(harnessErrors)].slice(0, 5)) report.note(`setup/check error (retried): ${excerpt(e, 300)}`);
    const kills = cycles.filter((c) => c.targeted !== true).length;
    report.info('targeted SIGKILLs (when a temporary file appeared)', `${cycles.length - kills} (${targetedMisses} runs ended before any temporary file was seen)`);
    report.check('SIGKILLs delivered at random moments', kills, `≥ ${Math.min(o.kills, [...target.values()].reduce((a, b) => a + b, 0))}`, kills >= Math.min(o.kills, [...target.values()].reduce((a, b) => a + b, 0)));
    report.info('clean', cycles.filter((c) => c.outcome === 'clean').length);
    report.check('operator action needed (recovery failed, shares intact)', cycles.filter((c) => c.outcome === 'operator').length, '= 0', cycles.every((c) => c.outcome !== 'operator'));
    report.info('shares lost inside the first-boot window', cycles.filter((c) => c.outcome === 'lost' && c.inWindow === true).length);
    report.info('kills in the first-boot window recovered by starting the store over', cycles.filter((c) => c.startedOver === true).length);
    report.check('shares lost outside the first-boot window', cycles.filter((c) => c.outcome === 'lost' && c.inWindow !== true).length, '= 0', cycles.every((c) => c.outcome !== 'lost' || c.inWindow === true));
    report.check('secrets lost', cycles.filter((c) => c.secretLost !== undefined).length, '= 0', cycles.every((c) => c.secretLost === undefined));
    report.check(
      'recoveries leaving temporary files',
      cycles.filter((c) => c.leftovers.length > 0 || c.protectLeftovers.length > 0).length,
      '= 0',
      cycles.every((c) => c.leftovers.length === 0 && c.protectLeftovers.length === 0),
    );
    const under = cycles.filter((c) => c.underRestart !== undefined && c.outcome !== 'lost');
    report.check('bootstraps failing when the store restarted under them', `${under.filter((c) => c.underRestart !== 'exit 0').length} of ${under.length}`, '= 0', under.every((c) => c.underRestart === 'exit 0'));
  } finally {
    await scan.stopProcSampler();
  }
  const leaks = checkLeaks(report, scan, 'IKM, shares, tokens in outputs, files, argv, environ', maskMessage);
  report.info('leak scan coverage', `${leaks.secrets} secrets, ${leaks.sources} sources, ${(leaks.bytes / 2 ** 20).toFixed(1)} MiB, ${leaks.processes} processes sampled`);
  return report.result();
}

runAsMain(import.meta.url, () => run());
