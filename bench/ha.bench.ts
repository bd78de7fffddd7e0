/**
 * The embedded store on etcd with active/standby HA (issue 15, items 5 and 6), three figures in one run, everything
 * started here on 127.0.0.1 (ports picked at run time) and stopped at the end, also on failure or Ctrl-C:
 *
 * 1. **KV v2 throughput**: `HA_BENCH_CLIENTS` (8) concurrent keep-alive clients (node:http Agent) writing and reading
 *    KV v2 secrets — the folder backend (`serve --data`, the default) vs `serve --storage etcd` on a three-member
 *    etcd (test/helpers/etcd-cluster.ts), through the active node and through a standby (which forwards). ops/s,
 *    p50/p99 latency, and the etcd/folder ratio (of the medians). Each client writes its own keys (16 per client,
 *    in turn), reads go to keys written at setup.
 * 2. **Group commit of the folder backend**: fsynced KV writes/s with 8 clients and with 1, on a data folder on disk
 *    (`HA_BENCH_DIR`, default the OS temp folder — it must not be a tmpfs) and, as the in-run baseline that shows
 *    what the fsync costs, the same on /dev/shm (tmpfs: fdatasync returns at once). Every acknowledged write is
 *    fsynced by the log (src/store/storage/log-storage.ts batches concurrent appends into one fdatasync).
 * 3. **Fail-over**: `HA_BENCH_KILLS` (20) times `kill -9` of the active node while `HA_BENCH_WRITERS` (4) writers write
 *    unique keys through the nodes in turn (the next one on any failure), recording every 2xx-acknowledged write;
 *    per kill, the time until a surviving node answers `sys/health` 200 with `standby: false`, and until the first
 *    write sent after the kill is acknowledged; the killed node is started again (same port) and unsealed before the
 *    next kill. At the end every acknowledged write is read back and lost or altered ones are counted (goal 0).
 *
 * The throughput cases run in `HA_BENCH_ROUNDS` (3) interleaved rounds of `HA_BENCH_SECONDS` (3) s each; tables give
 * medians. Nothing is pinned to CPUs (three etcd members and four store processes share the machine with the load
 * generator), so figures are noisy: compare within one run. Other knobs: `HA_BENCH_FIGURES` (comma list of
 * `throughput,group,failover`; default all), `HA_BENCH_WRITE_PAUSE_MS` (pause between one fail-over writer's
 * writes, default 5, keeps the read-back short). No assert on wall times; the exit code is 1 only if a write was
 * lost or altered or a case could not run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdCluster, freePort } from '../test/helpers/etcd-cluster.js';
import { stopChild } from '../test/helpers/stop-child.js';

const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SECONDS = Number(process.env.HA_BENCH_SECONDS ?? '3');
const ROUNDS = Number(process.env.HA_BENCH_ROUNDS ?? '3');
const CLIENTS = Number(process.env.HA_BENCH_CLIENTS ?? '8');
const KILLS = Number(process.env.HA_BENCH_KILLS ?? '20');
const WRITERS = Number(process.env.HA_BENCH_WRITERS ?? '4');
const WRITE_PAUSE_MS = Number(process.env.HA_BENCH_WRITE_PAUSE_MS ?? '5');
const FIGURES = (process.env.HA_BENCH_FIGURES ?? 'throughput,group,failover').split(',');
const DISK_DIR = process.env.HA_BENCH_DIR ?? tmpdir();
const SHM_DIR = '/dev/shm';
const KEYS_PER_CLIENT = 16;
const PREFIX = 'ha-bench/';

type Json = Record<string, unknown>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One keep-alive pool for every request of this process. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Reply {
  status: number;
  body: string;
}

/** One HTTP request (keep-alive), with a timeout; rejects on a network error or the timeout. */
function request(url: string, method: string, path: string, token?: string, body?: unknown, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (token !== undefined) headers['X-Vault-Token'] = token;
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const req = http.request(`${url}/v1/${path}`, { method, headers, agent, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

async function api(url: string, method: string, path: string, token?: string, body?: unknown): Promise<Json> {
  const r = await request(url, method, path, token, body);
  if (r.status >= 300 && r.status !== 204) throw new Error(`${method} ${path} → ${String(r.status)} ${r.body.slice(0, 300)}`);
  return r.status === 204 || r.body === '' ? {} : (JSON.parse(r.body) as Json);
}

/** A `serve` process: its URL and (fixed) listen port, so a restart comes back at the same address. */
interface Node {
  name: string;
  url: string;
  port: number;
  args: string[];
  child: ChildProcess | undefined;
  output: string;
}

/** Every process this benchmark started and still runs, for the signal handler. */
const running = new Set<ChildProcess>();

async function launch(node: Node): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await launchOnce(node);
      return;
    } catch (err) {
      // The port of a killed node may still be held for a moment.
      if (attempt >= 20) throw err;
      await sleep(100);
    }
  }
}

function launchOnce(node: Node): Promise<void> {
  const child = spawn(process.execPath, [CLI_MAIN, 'serve', ...node.args, '--listen', `127.0.0.1:${String(node.port)}`, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SECRETSTORE_ETCD_PASSWORD: '' },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  node.output = '';
  const keep = (d: Buffer): void => {
    node.output = (node.output + d.toString('utf8')).slice(-8192);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${node.name} did not start: ${node.output.slice(-800)}`));
    }, 20_000);
    const onData = (): void => {
      if (!/listening on http/.test(node.output)) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      node.child = child;
      resolve();
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${node.name} exited (${String(code)}): ${node.output.slice(-800)}`));
    });
  });
}

async function startNode(name: string, args: string[]): Promise<Node> {
  const port = await freePort();
  const node: Node = { name, url: `http://127.0.0.1:${String(port)}`, port, args, child: undefined, output: '' };
  await launch(node);
  return node;
}

/** Sends `signal` and waits for the exit (SIGKILL after 10 s). */
async function stopNode(node: Node, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = node.child;
  node.child = undefined;
  await stopChild(child, signal);
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const ms = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** A cluster or single store, initialized and unsealed, with KV v2 at secret/. */
interface Target {
  url: string;
  token: string;
}

/** Keys a client writes in turn (kept few, so the stores do not grow with the run). */
const keyOf = (client: number, n: number): string => `bench/c${String(client)}/k${String(n % KEYS_PER_CLIENT)}`;

/** One load case's figures (one round). */
interface Sample {
  ops: number;
  p50: number;
  p99: number;
  failed: number;
}

/** `clients` closed-loop clients doing `op` for `seconds`; ops/s of 2xx answers and their latency. */
async function load(target: Target, op: 'read' | 'write', clients: number, seconds: number): Promise<Sample> {
  const latencies: number[] = [];
  let failed = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const value = { password: randomBytes(24).toString('base64') };
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let n = 0; performance.now() < end; n++) {
        const t0 = performance.now();
        let ok: boolean;
        try {
          const r =
            op === 'write'
              ? await request(target.url, 'POST', `secret/data/${keyOf(c, n)}`, target.token, { data: value })
              : await request(target.url, 'GET', `secret/data/${keyOf(c, n)}`, target.token);
          ok = r.status === 200;
        } catch {
          ok = false;
        }
        if (ok) latencies.push(performance.now() - t0);
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { ops: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
}

/** Init 1/1 (or reuse), unseal, mount KV v2 and write every key a read client reads. */
async function setUpSingle(url: string): Promise<Target & { key: string }> {
  const init = await api(url, 'PUT', 'sys/init', undefined, { secret_shares: 1, secret_threshold: 1 });
  const key = (init.keys as string[])[0] ?? '';
  const token = init.root_token as string;
  await api(url, 'PUT', 'sys/unseal', undefined, { key });
  return { url, token, key };
}

async function prefill(target: Target): Promise<void> {
  for (let c = 0; c < CLIENTS; c++) {
    await Promise.all(
      Array.from({ length: KEYS_PER_CLIENT }, (_, n) => api(target.url, 'POST', `secret/data/${keyOf(c, n)}`, target.token, { data: { password: 'prefill' } })),
    );
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The node answering sys/health 200 with standby:false, if any. */
async function activeAmong(nodes: Node[]): Promise<Node | undefined> {
  const answers = await Promise.all(
    nodes.map(async (n) => {
      if (n.child === undefined) return undefined;
      try {
        const r = await request(n.url, 'GET', 'sys/health', undefined, undefined, 1000);
        return r.status === 200 && (JSON.parse(r.body) as Json).standby === false ? n : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.find((n) => n !== undefined);
}

async function unseal(node: Node, key: string): Promise<void> {
  const s = await api(node.url, 'PUT', 'sys/unseal', undefined, { key });
  if (s.sealed !== false) throw new Error(`${node.name} still sealed`);
}

function printTable(header: string[], rows: string[][]): void {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('');
}

interface CaseResult {
  name: string;
  samples: Sample[];
}

function summary(c: CaseResult): { ops: number; p50: number; p99: number; failed: number } {
  return {
    ops: median(c.samples.map((s) => s.ops)),
    p50: median(c.samples.map((s) => s.p50)),
    p99: median(c.samples.map((s) => s.p99)),
    failed: c.samples.reduce((n, s) => n + s.failed, 0),
  };
}

/** Runs cases in interleaved rounds. */
async function rounds(cases: { name: string; run: () => Promise<Sample> }[]): Promise<CaseResult[]> {
  const results = cases.map((c) => ({ name: c.name, samples: [] as Sample[] }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of cases.entries()) results[i]?.samples.push(await c.run());
  }
  return results;
}

function caseRow(c: CaseResult, base: number | undefined): string[] {
  const s = summary(c);
  return [
    c.name,
    s.ops.toFixed(0),
    base === undefined || base === 0 ? '—' : (s.ops / base).toFixed(2),
    ms(s.p50),
    ms(s.p99),
    String(s.failed),
    c.samples.map((x) => x.ops.toFixed(0)).join(', '),
  ];
}

let failures = 0;

async function throughputAndGroup(folder: Target, shm: Target | undefined, active: Target, standby: Target): Promise<void> {
  const doThroughput = FIGURES.includes('throughput');
  const doGroup = FIGURES.includes('group');
  const cases: { name: string; run: () => Promise<Sample> }[] = [];
  if (doThroughput || doGroup) cases.push({ name: `folder write, ${String(CLIENTS)} clients`, run: () => load(folder, 'write', CLIENTS, SECONDS) });
  if (doThroughput) {
    cases.push({ name: `etcd via active write, ${String(CLIENTS)} clients`, run: () => load(active, 'write', CLIENTS, SECONDS) });
    cases.push({ name: `etcd via standby write, ${String(CLIENTS)} clients`, run: () => load(standby, 'write', CLIENTS, SECONDS) });
    cases.push({ name: `folder read, ${String(CLIENTS)} clients`, run: () => load(folder, 'read', CLIENTS, SECONDS) });
    cases.push({ name: `etcd via active read, ${String(CLIENTS)} clients`, run: () => load(active, 'read', CLIENTS, SECONDS) });
    cases.push({ name: `etcd via standby read, ${String(CLIENTS)} clients`, run: () => load(standby, 'read', CLIENTS, SECONDS) });
  }
  if (doGroup) {
    cases.push({ name: 'folder write, 1 client', run: () => load(folder, 'write', 1, SECONDS) });
    if (shm !== undefined) {
      cases.push({ name: `tmpfs folder write, ${String(CLIENTS)} clients`, run: () => load(shm, 'write', CLIENTS, SECONDS) });
      cases.push({ name: 'tmpfs folder write, 1 client', run: () => load(shm, 'write', 1, SECONDS) });
    }
  }
  const results = await rounds(cases);
  const find = (prefix: string): CaseResult | undefined => results.find((r) => r.name.startsWith(prefix));
  const header = ['case', 'ops/s', '× base', 'p50 ms', 'p99 ms', 'failed', 'ops/s per round'];
  for (const r of results) failures += summary(r).failed > 0 ? 1 : 0;
  if (doThroughput) {
    console.log(`### 1. KV v2 throughput: folder vs etcd (3 members), ${String(CLIENTS)} keep-alive clients, ${String(SECONDS)} s × ${String(ROUNDS)} interleaved rounds, medians\n`);
    console.log('base (× base) = the folder backend, same operation\n');
    const folderWrite = find(`folder write, ${String(CLIENTS)}`);
    const folderRead = find('folder read');
    printTable(
      header,
      results
        .filter((r) => !r.name.startsWith('tmpfs') && !r.name.endsWith('1 client'))
        .map((r) => caseRow(r, r.name.includes('write') ? summary(folderWrite ?? r).ops : summary(folderRead ?? r).ops)),
    );
  }
  if (doGroup) {
    console.log(`### 2. Folder backend group commit: fsynced KV v2 writes/s (disk: ${DISK_DIR}) vs the same on tmpfs (no fsync cost)\n`);
    const base = (r: CaseResult): number | undefined => (r.name.startsWith('tmpfs') ? undefined : summary(find(`tmpfs ${r.name}`) ?? r).ops);
    printTable(
      ['case', 'writes/s', '× tmpfs', 'p50 ms', 'p99 ms', 'failed', 'writes/s per round'],
      results.filter((r) => r.name.includes('write') && (r.name.startsWith('folder') || r.name.startsWith('tmpfs'))).map((r) => caseRow(r, base(r))),
    );
    const eight = find(`folder write, ${String(CLIENTS)}`);
    if (eight !== undefined && CLIENTS === 8) {
      const w = summary(eight).ops;
      console.log(`fsynced writes/s with 8 clients: ${w.toFixed(0)} (goal ≥ 2,000): ${w >= 2000 ? 'met' : 'NOT met'}\n`);
    }
  }
}

/** Fail-over: kills of the active node under writers; returns when done. */
async function failover(nodes: Node[], unsealKey: string, token: string): Promise<void> {
  const acked = new Map<string, string>();
  let attempted = 0;
  /** Writes not acknowledged, by HTTP status or network error code. */
  const failedBy = new Map<string, number>();
  let stop = false;
  /** Time (performance.now()) of the first acknowledgement of a write sent at or after `since`, per kill. */
  let since = Infinity;
  let firstAckAfter: number | undefined;
  const writer = async (w: number): Promise<void> => {
    let target = w % nodes.length;
    for (let n = 0; !stop; n++) {
      const node = nodes[target % nodes.length];
      const key = `fo/w${String(w)}/${String(n)}`;
      const value = randomBytes(12).toString('hex');
      const sent = performance.now();
      if (node?.child === undefined) {
        // Down (killed, not yet started again): not a write sent.
        target++;
        await sleep(5);
        continue;
      }
      attempted++;
      let ok = false;
      let reason: string;
      try {
        const r = await request(node.url, 'POST', `secret/data/${key}`, token, { data: { v: value } }, 15_000);
        ok = r.status === 200;
        reason = `HTTP ${String(r.status)}`;
      } catch (err) {
        reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : 'error');
      }
      if (ok) {
        acked.set(key, value);
        if (sent >= since && firstAckAfter === undefined) firstAckAfter = performance.now();
        if (WRITE_PAUSE_MS > 0) await sleep(WRITE_PAUSE_MS);
      } else {
        failedBy.set(reason, (failedBy.get(reason) ?? 0) + 1);
        target++;
        await sleep(20);
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  const healthMs: number[] = [];
  const writeMs: number[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      const active = await waitFor('an active node', () => activeAmong(nodes), 30_000);
      // Let the writers run a moment on the steady cluster (and the new node's lease settle).
      await sleep(500);
      firstAckAfter = undefined;
      const killedAt = performance.now();
      since = killedAt;
      await stopNode(active, 'SIGKILL');
      const survivors = nodes.filter((n) => n !== active);
      await waitFor('a new active node', () => activeAmong(survivors), 30_000, 20);
      const health = performance.now() - killedAt;
      const write = (await waitFor('an acknowledged write', () => Promise.resolve(firstAckAfter), 30_000, 10)) - killedAt;
      since = Infinity;
      healthMs.push(health);
      writeMs.push(write);
      console.log(`kill ${String(k + 1)}/${String(KILLS)} of ${active.name}: active again after ${health.toFixed(0)} ms, a write after ${write.toFixed(0)} ms`);
      await launch(active);
      await unseal(active, unsealKey);
    }
  } finally {
    stop = true;
    await Promise.all(writers);
  }
  // Read back every acknowledged write through the active node, 8 at a time.
  const active = await waitFor('an active node', () => activeAmong(nodes), 30_000);
  const entries = [...acked.entries()];
  let lost = 0;
  let altered = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < entries.length; i = next++) {
        const [key, value] = entries[i] ?? ['', ''];
        const r = await request(active.url, 'GET', `secret/data/${key}`, token);
        if (r.status === 404) lost++;
        else if (r.status !== 200) throw new Error(`read-back of ${key}: ${String(r.status)} ${r.body.slice(0, 200)}`);
        else if (((JSON.parse(r.body) as { data: { data: Json } }).data.data.v as string) !== value) altered++;
      }
    }),
  );
  if (lost + altered > 0) failures++;
  console.log(`\n### 3. Fail-over: ${String(KILLS)} × kill -9 of the active node (3 serve nodes, etcd 3 members, default lease TTL 3 s), ${String(WRITERS)} writers\n`);
  printTable(
    ['measure', 'median ms', 'worst ms', 'best ms'],
    [
      ['kill → a survivor answers sys/health 200, standby:false', healthMs.length === 0 ? '—' : median(healthMs).toFixed(0), Math.max(...healthMs).toFixed(0), Math.min(...healthMs).toFixed(0)],
      ['kill → first acknowledged write sent after the kill', writeMs.length === 0 ? '—' : median(writeMs).toFixed(0), Math.max(...writeMs).toFixed(0), Math.min(...writeMs).toFixed(0)],
    ],
  );
  printTable(
    ['writes sent', 'not acknowledged (error or no answer)', 'acknowledged (2xx)', 'read back intact', 'lost', 'altered'],
    [[String(attempted), String(attempted - acked.size), String(acked.size), String(acked.size - lost - altered), String(lost), String(altered)]],
  );
  console.log(`not acknowledged, by answer: ${[...failedBy.entries()].map(([k, v]) => `${k} × ${String(v)}`).join(', ') || 'none'}\n`);
  const worst = Math.max(...healthMs);
  console.log(`worst fail-over ${worst.toFixed(0)} ms (goal ≤ 5,000 ms): ${worst <= 5000 ? 'met' : 'NOT met'}; lost or altered writes: ${String(lost + altered)} (goal 0)\n`);
}

async function main(): Promise<void> {
  const diskDir = await mkdtemp(join(DISK_DIR, 'sss-ha-bench-'));
  let shmDir: string | undefined;
  let etcd: EtcdCluster | undefined;
  const nodes: Node[] = [];
  const singles: Node[] = [];
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const c of running) c.kill('SIGKILL');
    for (const m of etcd?.members ?? []) m.process?.kill('SIGKILL');
    const etcdRoot = etcd?.members[0]?.dataDir;
    for (const d of [diskDir, shmDir, etcdRoot === undefined ? undefined : dirname(etcdRoot)]) {
      if (d !== undefined) rmSync(d, { recursive: true, force: true });
    }
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const wantLoad = FIGURES.includes('throughput') || FIGURES.includes('group');
    let folder: Target | undefined;
    let shm: Target | undefined;
    if (wantLoad) {
      const f = await startNode('folder', ['--data', join(diskDir, 'data')]);
      singles.push(f);
      folder = await setUpSingle(f.url);
      if (FIGURES.includes('group')) {
        try {
          shmDir = await mkdtemp(join(SHM_DIR, 'sss-ha-bench-'));
          const s = await startNode('tmpfs', ['--data', join(shmDir, 'data')]);
          singles.push(s);
          shm = await setUpSingle(s.url);
        } catch (err) {
          console.log(`no tmpfs baseline: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    const wantEtcd = FIGURES.includes('throughput') || FIGURES.includes('failover');
    let key = '';
    let root = '';
    if (wantEtcd) {
      etcd = await EtcdCluster.start(3);
      const args = ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', PREFIX];
      for (let i = 0; i < 3; i++) nodes.push(await startNode(`node${String(i)}`, args));
      const first = nodes[0];
      if (first === undefined) throw new Error('no node');
      const init = await api(first.url, 'PUT', 'sys/init', undefined, { secret_shares: 1, secret_threshold: 1 });
      key = (init.keys as string[])[0] ?? '';
      root = init.root_token as string;
      for (const n of nodes) await unseal(n, key);
      const active = await waitFor('one active node', () => activeAmong(nodes), 20_000);
      await api(active.url, 'POST', 'sys/mounts/secret', root, { type: 'kv', options: { version: '2' } });
    }
    for (const t of [folder, shm]) {
      if (t !== undefined) {
        await api(t.url, 'POST', 'sys/mounts/secret', t.token, { type: 'kv', options: { version: '2' } });
        await prefill(t);
      }
    }
    console.log(
      `Node ${process.version}, ${String((await import('node:os')).availableParallelism())} CPUs (shared), loopback, nothing pinned; ` +
        `serve --log-level warn; etcd ${wantEtcd ? '3 members' : 'not started'}\n`,
    );
    if (wantLoad && folder !== undefined) {
      let active: Target = folder;
      let standby: Target = folder;
      if (FIGURES.includes('throughput')) {
        const a = await waitFor('one active node', () => activeAmong(nodes), 20_000);
        const s = nodes.find((n) => n !== a);
        if (s === undefined) throw new Error('no standby');
        active = { url: a.url, token: root };
        standby = { url: s.url, token: root };
        await prefill(active);
      }
      await throughputAndGroup(folder, shm, active, standby);
    }
    for (const s of singles) await stopNode(s);
    if (FIGURES.includes('failover')) await failover(nodes, key, root);
  } finally {
    for (const n of [...nodes, ...singles]) await stopNode(n, 'SIGKILL');
    await etcd?.stopAll();
    agent.destroy();
    await rm(diskDir, { recursive: true, force: true });
    if (shmDir !== undefined) await rm(shmDir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failures > 0) process.exitCode = 1;
}

await main();
