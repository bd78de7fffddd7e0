/**
 * Chaos part `soak`: CHAOS_SOAK_CLIENTS (8) clients against one `serve` for CHAOS_SOAK_SECONDS (600), with a
 * bounded data set (so that memory may legitimately stay flat): KV v1 writes/reads/deletes over 200 keys, KV v2 writes
 * and reads over 100 keys (max_versions 5), LISTs, token create + lookup + revoke, policy write/read/delete, entity
 * write/read/delete, occasional userpass logins (scrypt), 403/404 answers, and every ~200 requests a client drops its
 * connections (new TCP connections). Every second: VmRSS and open file descriptors (/proc/<pid>/fd) of serve.
 *
 * Warm-up: the first 15 % of the run (CHAOS_SOAK_WARMUP_SECONDS). Start = median of the samples in the first 10 % after
 * it; end = median of the last 10 % (each window at least 1 s).
 * Bounds: RSS end ≤ start × 1.2 + 10 MiB (runs with less than 60 s after warm-up, as in npm test: start × 1.5 +
 * 32 MiB, the heap still growing to its working size); fds: the largest count in the last 10 % ≤ start + 16; no 5xx,
 * no transport error; serve alive.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { LeakScan, checkLeaks, scanServeAndRemove } from './lib/leaks.js';
import { StoreClient, TransportError, type HttpResult } from './lib/http.js';
import { ServeProc, fdCountOf, memoryOf } from './lib/procs.js';
import { initStore, must, unsealStore } from './lib/store.js';
import { Report, Rng, envInt, excerpt, median, onCleanup, percentile, runAsMain, seedFromEnv, sleep, type PartResult } from './lib/util.js';

export interface SoakOptions {
  seconds: number;
  /** Seconds at the start not measured (default 15 % of the run). */
  warmupSeconds: number;
  clients: number;
  seed: number;
}

export function optionsFromEnv(): SoakOptions {
  const seconds = envInt('CHAOS_SOAK_SECONDS', 600);
  return {
    seconds,
    warmupSeconds: envInt('CHAOS_SOAK_WARMUP_SECONDS', Math.round(seconds * 0.15)),
    clients: Math.max(1, envInt('CHAOS_SOAK_CLIENTS', 8)),
    seed: seedFromEnv(),
  };
}

interface Sample {
  t: number;
  rssMiB: number;
  fds: number;
  requests: number;
}

export async function run(options: Partial<SoakOptions> = {}): Promise<PartResult> {
  const o: SoakOptions = { ...optionsFromEnv(), ...options };
  if (options.seconds !== undefined && options.warmupSeconds === undefined) o.warmupSeconds = Math.round(options.seconds * 0.15);
  const report = new Report('soak');
  report.note(`seed ${o.seed}; ${o.clients} clients for ${o.seconds} s; the first ${o.warmupSeconds} s are warm-up`);
  const rng = new Rng(o.seed);
  const scan = new LeakScan();
  const dir = await makeTempDir('sss-chaos-soak-');
  const unregister = onCleanup(() => removeTempDir(dir));
  const serve = await ServeProc.start(join(dir, 'data'));
  const admin = new StoreClient(serve.url, 2);
  try {
    const keys = await initStore(admin, 3, 2);
    keys.keys.forEach((k, i) => {
      scan.addSecret(`unseal key ${i}`, Buffer.from(k, 'hex'));
    });
    scan.addSecret('root token', keys.rootToken);
    await unsealStore(admin, keys.keys);
    const root = keys.rootToken;
    const T = { token: root };
    await must(admin, 'POST', 'sys/mounts/kv1', { ...T, body: { type: 'kv', options: { version: '1' } } });
    await must(admin, 'POST', 'sys/mounts/kv2', { ...T, body: { type: 'kv', options: { version: '2' } } });
    await must(admin, 'POST', 'kv2/config', { ...T, body: { max_versions: 5 } });
    await must(admin, 'POST', 'sys/auth/userpass', { ...T, body: { type: 'userpass' } });
    const password = `pw-${randomBytes(10).toString('hex')}`;
    scan.addSecret('userpass password', password);
    await must(admin, 'POST', 'auth/userpass/users/soak', { ...T, body: { password, token_policies: ['default'] } });

    const pid = serve.pid;
    if (pid === undefined) throw new Error('serve has no pid');
    let requests = 0;
    const statuses = new Map<number, number>();
    const fiveXX = new Map<string, number>();
    let transport = 0;
    const latencies: number[] = [];
    const started = Date.now();
    const endAt = started + o.seconds * 1000;
    const samples: Sample[] = [];
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        const m = memoryOf(pid);
        const fds = fdCountOf(pid);
        if (m !== undefined && fds !== undefined) samples.push({ t: (Date.now() - started) / 1000, rssMiB: m.rssKiB / 1024, fds, requests });
        await sleep(1000);
      }
    })();

    const client = async (id: number): Promise<void> => {
      const r = rng.fork(id);
      let c = new StoreClient(serve.url, 2);
      let n = 0;
      const call = async (method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<HttpResult | undefined> => {
        const t0 = performance.now();
        try {
          const res = await c.api(method, path, opts);
          latencies.push(performance.now() - t0);
          requests++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) {
            const k = `${method} ${path.replace(/\d+/g, '<n>')} → ${res.status} ${excerpt(res.text, 80)}`;
            fiveXX.set(k, (fiveXX.get(k) ?? 0) + 1);
          }
          return res;
        } catch (err) {
          if (err instanceof TransportError) transport++;
          else throw err;
          return undefined;
        }
      };
      while (Date.now() < endAt) {
        if (++n % 200 === 0) {
          c.close();
          c = new StoreClient(serve.url, 2);
        }
        const roll = r.int(1, 1000);
        const k = r.int(0, 199);
        if (roll <= 250) await call('PUT', `kv1/k${k}`, { token: root, body: { v: randomBytes(r.int(10, 1500)).toString('base64') } });
        else if (roll <= 450) await call('GET', `kv1/k${k}`, { token: root });
        else if (roll <= 500) await call('DELETE', `kv1/k${k}`, { token: root });
        else if (roll <= 620) await call('POST', `kv2/data/k${k % 100}`, { token: root, body: { data: { v: randomBytes(r.int(10, 800)).toString('hex') } } });
        else if (roll <= 720) await call('GET', `kv2/data/k${k % 100}`, { token: root });
        else if (roll <= 750) await call('LIST', 'kv1/', { token: root });
        else if (roll <= 800) {
          const created = await call('POST', 'auth/token/create', { token: root, body: { policies: ['default'], ttl: '60s' } });
          const t = (created?.body as { auth?: { client_token?: string } } | undefined)?.auth?.client_token;
          if (t !== undefined) {
            await call('GET', 'auth/token/lookup-self', { token: t });
            await call('POST', 'auth/token/revoke-self', { token: t });
          }
        } else if (roll <= 850) {
          const name = `soak-p${k % 50}`;
          if (r.chance(0.6)) await call('PUT', `sys/policies/acl/${name}`, { token: root, body: { policy: `path "kv1/p${k}/*" { capabilities = ["read"] }` } });
          else if (r.chance(0.5)) await call('GET', `sys/policies/acl/${name}`, { token: root });
          else await call('DELETE', `sys/policies/acl/${name}`, { token: root });
        } else if (roll <= 900) {
          const name = `soak-e${k % 50}`;
          if (r.chance(0.6)) await call('POST', `identity/entity/name/${name}`, { token: root, body: { metadata: { n: String(n) } } });
          else if (r.chance(0.5)) await call('GET', `identity/entity/name/${name}`, { token: root });
          else await call('DELETE', `identity/entity/name/${name}`, { token: root });
        } else if (roll <= 903) {
          const login = await call('POST', 'auth/userpass/login/soak', { body: { password } });
          const t = (login?.body as { auth?: { client_token?: string } } | undefined)?.auth?.client_token;
          if (t !== undefined) await call('POST', 'auth/token/revoke-self', { token: t });
        } else if (roll <= 950) await call('GET', 'kv1/k1', { token: 'hvs.garbage' });
        else if (roll <= 980) await call('GET', `kv1/missing-${k}`, { token: root });
        else await call('GET', 'sys/health');
      }
      c.close();
    };
    await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
    sampling.on = false;
    await sampler;

    // Flatness.
    const warm = o.warmupSeconds;
    const win = Math.max(1, (o.seconds - warm) * 0.1);
    const startS = samples.filter((s) => s.t >= warm && s.t < warm + win);
    const endS = samples.filter((s) => s.t >= o.seconds - win);
    const rssStart = median(startS.map((s) => s.rssMiB));
    const rssEnd = median(endS.map((s) => s.rssMiB));
    const fdStart = median(startS.map((s) => s.fds));
    const fdEndMax = Math.max(0, ...endS.map((s) => s.fds));
    // Below a minute of measurement V8 is still sizing its heap (it settles after ~20 s under this load): the short
    // runs of npm test get a wider bound, stated in the figure.
    const long = o.seconds - warm >= 60;
    const rssBound = long ? rssStart * 1.2 + 10 : rssStart * 1.5 + 32;
    const boundText = long ? 'start × 1.2 + 10' : 'start × 1.5 + 32: run shorter than 60 s after warm-up';
    report.check('RSS end vs start (MiB, medians of 10 % windows after warm-up)', `${rssStart.toFixed(1)} → ${rssEnd.toFixed(1)}`, `end ≤ ${rssBound.toFixed(1)} (${boundText})`, startS.length > 0 && endS.length > 0 && rssEnd <= rssBound);
    report.check('open fds end (max of the last 10 %) vs start', `${fdStart} → ${fdEndMax}`, `≤ ${fdStart + 16} (start + 16)`, startS.length > 0 && fdEndMax <= fdStart + 16);
    report.info('RSS peak during the run (MiB)', Math.max(0, ...samples.map((s) => s.rssMiB)).toFixed(1));
    report.info('VmHWM of serve (MiB)', ((memoryOf(pid)?.hwmKiB ?? 0) / 1024).toFixed(1));
    report.info('requests', requests);
    report.info('requests per second', (requests / o.seconds).toFixed(0));
    report.info('latency p50 / p99 ms', `${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 99).toFixed(1)}`);
    report.check('5xx answers', [...fiveXX.values()].reduce((a, b) => a + b, 0), '= 0', fiveXX.size === 0, [...fiveXX].slice(0, 3).map(([k, v]) => `${k} ×${v}`).join('; '));
    report.check('transport errors (resets, timeouts)', transport, '= 0', transport === 0);
    report.check('serve crashes', serve.crashes.length, '= 0', serve.crashes.length === 0, serve.crashes.map((x) => excerpt(x.tail, 200)).join('; '));
    // A compact time series: ten rows.
    const rows: (string | number)[][] = [];
    const step = Math.max(1, Math.floor(samples.length / 10));
    for (let i = 0; i < samples.length; i += step) {
      const s = samples[i] as Sample;
      const prev = samples[Math.max(0, i - step)] as Sample;
      rows.push([s.t.toFixed(0), s.rssMiB.toFixed(1), s.fds, s.t > prev.t ? ((s.requests - prev.requests) / (s.t - prev.t)).toFixed(0) : '']);
    }
    const last = samples.at(-1);
    if (last !== undefined && rows.at(-1)?.[0] !== last.t.toFixed(0)) rows.push([last.t.toFixed(0), last.rssMiB.toFixed(1), last.fds, '']);
    report.table({ title: 'serve over time', header: ['s', 'RSS MiB', 'fds', 'req/s'], rows });
    report.table({ title: 'answers by status', header: ['status', 'count'], rows: [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => [s, n]) });
  } finally {
    admin.close();
    await scanServeAndRemove(scan, serve, dir);
    unregister();
  }
  checkLeaks(report, scan, 'unseal keys, root token, password in the serve log and data folder');
  return report.result();
}

runAsMain(import.meta.url, () => run());
