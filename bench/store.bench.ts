/**
 * The embedded store under concurrent load, measured with autocannon against `secretstore-setup serve` running as a
 * separate process, next to a bare node:http server (also a separate process) answering a fixed JSON body in the
 * same run. Cases: authenticated KV v2 reads and writes with a policy-limited token (so the ACL check runs), the
 * bare server as the ceiling. Prints req/s, the ratio to the bare server, p50/p99 latency and the store's RSS.
 *
 * Load generator and servers share the machine, so the figures are noisy: the cases run in several interleaved
 * rounds (bare, read, write, bare, read, …) and the table gives medians, the ratio being that of the medians. On a
 * machine with at least two CPUs and `taskset`, the load generator (this process) is pinned to CPU 0 and the servers
 * to CPU 1 (`STORE_BENCH_PIN=0` turns that off): on a small machine the scheduler otherwise keeps moving the two
 * onto the same core, and how much of that happens changes from run to run more than anything measured here.
 * Loopback only; each case runs a few seconds per round.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DURATION_S = Number(process.env.STORE_BENCH_SECONDS ?? '4');
const CONNECTIONS = Number(process.env.STORE_BENCH_CONNECTIONS ?? '16');
/** Interleaved rounds of every case; the table gives medians. */
const ROUNDS = Number(process.env.STORE_BENCH_ROUNDS ?? '3');
/** Comma-separated case filter (`bare,read,write`; default all). */
const CASES = (process.env.STORE_BENCH_CASES ?? 'bare,read,write').split(',');
/** Extra node flags for the store process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see what limits it. */
const STORE_NODE_ARGS = (process.env.STORE_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
/** Extra `serve` arguments, e.g. `--log-level warn` to see what the per-request log line costs. */
const SERVE_ARGS = (process.env.STORE_BENCH_SERVE_ARGS ?? '').split(' ').filter((a) => a !== '');
/** Extra node flags for the bare server process (the same profile flags, to compare where its time goes). */
const BARE_NODE_ARGS = (process.env.STORE_BENCH_BARE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** The parts of autocannon's result this benchmark reads (autocannon ships no types). */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/**
 * Pins this process (all its threads) to CPU 0 and returns the command prefix that starts a server on CPU 1, or
 * an empty prefix when pinning is off or impossible (one CPU, no `taskset`).
 */
function pinning(): { prefix: string[]; note: string } {
  if (process.env.STORE_BENCH_PIN === '0') return { prefix: [], note: 'not pinned (STORE_BENCH_PIN=0)' };
  if (availableParallelism() < 2) return { prefix: [], note: 'not pinned (one CPU)' };
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return { prefix: [], note: 'not pinned (no taskset)' };
  }
  return { prefix: ['taskset', '-c', '1'], note: 'load generator pinned to CPU 0, servers to CPU 1' };
}
const PIN = pinning();

/** Spawns a process and resolves with it and the URL it prints (`listening on URL`). */
function spawnListening(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  // taskset execs node in place: the child's pid is the server's (for the CPU and RSS figures).
  const [command, ...rest] = [...PIN.prefix, process.execPath, ...args];
  const child = spawn(command ?? process.execPath, rest, { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\S+)\n/.exec(out);
      if (m?.[1] !== undefined) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => {
      reject(new Error(`process exited early with code ${String(code)}`));
    });
  });
}

const BARE_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ request_id: '00000000-0000-0000-0000-000000000000', lease_id: '', renewable: false,
  lease_duration: 0, data: { data: { password: 'benchmark-value' }, metadata: { version: 1 } }, wrap_info: null,
  warnings: null, auth: null, mount_type: 'kv' });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

async function api(url: string, method: string, path: string, token?: string, body?: unknown): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token !== undefined) headers['X-Vault-Token'] = token;
  const res = await fetch(`${url}/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300 && res.status !== 204) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

/** Resident set size of a process in MiB (Linux /proc). */
async function rssMiB(pid: number | undefined): Promise<string> {
  if (pid === undefined) return 'n/a';
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 'n/a' : (Number(kb) / 1024).toFixed(1);
  } catch {
    return 'n/a';
  }
}

/** CPU seconds (user + system) a process has used so far (Linux /proc, clock ticks of 10 ms). */
async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => {
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface Row {
  name: string;
  result: AutocannonResult;
  rss: string;
  /** Server CPU time per request in microseconds: robust to other load on the machine, unlike req/s. */
  cpuUs: number | undefined;
}

/** The median of some numbers (the mean of the middle two for an even count). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** One case summarized over its rounds. */
interface Summary {
  name: string;
  rate: number;
  rates: number[];
  p50: number;
  p99: number;
  cpuUs: number | undefined;
  non2xx: number;
  errors: number;
  rss: string;
}

function summarize(name: string, rows: Row[]): Summary {
  const cpu = rows.map((r) => r.cpuUs).filter((c): c is number => c !== undefined);
  return {
    name,
    rate: median(rows.map((r) => r.result.requests.average)),
    rates: rows.map((r) => r.result.requests.average),
    p50: median(rows.map((r) => r.result.latency.p50)),
    p99: median(rows.map((r) => r.result.latency.p99)),
    cpuUs: cpu.length === 0 ? undefined : median(cpu),
    non2xx: rows.reduce((n, r) => n + r.result.non2xx, 0),
    errors: rows.reduce((n, r) => n + r.result.errors, 0),
    rss: rows.at(-1)?.rss ?? 'n/a',
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sss-bench-'));
  const bare = await spawnListening([...BARE_NODE_ARGS, '-e', BARE_SERVER]);
  const store = await spawnListening([...STORE_NODE_ARGS, CLI_MAIN, 'serve', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0', ...SERVE_ARGS]);
  const rows: Row[] = [];
  try {
    // Set up the store: init 1/1, unseal, KV v2 at secret/, a policy-limited token.
    const init = await api(store.url, 'PUT', 'sys/init', undefined, { secret_shares: 1, secret_threshold: 1 });
    const root = init.root_token as string;
    await api(store.url, 'PUT', 'sys/unseal', undefined, { key: (init.keys as string[])[0] });
    await api(store.url, 'POST', 'sys/mounts/secret', root, { type: 'kv', options: { version: '2' } });
    await api(store.url, 'PUT', 'sys/policies/acl/bench', root, {
      policy: 'path "secret/data/bench/*" { capabilities = ["create", "read", "update"] }',
    });
    const token = ((await api(store.url, 'POST', 'auth/token/create', root, { policies: ['bench'] })).auth as { client_token: string }).client_token;
    await api(store.url, 'POST', 'secret/data/bench/item', token, { data: { password: 'benchmark-value' } });
    const rssIdle = await rssMiB(store.child.pid);

    const run = async (name: string, opts: Parameters<Autocannon>[0], pid: number | undefined): Promise<void> => {
      if (!CASES.some((c) => name.includes(c))) return;
      const cpuBefore = await cpuSeconds(pid);
      const result = await autocannon(opts);
      const cpuAfter = await cpuSeconds(pid);
      const cpuUs =
        cpuBefore === undefined || cpuAfter === undefined || result.requests.total === 0
          ? undefined
          : ((cpuAfter - cpuBefore) * 1e6) / result.requests.total;
      rows.push({ name, result, rss: await rssMiB(pid), cpuUs });
    };
    const base = { connections: CONNECTIONS, duration: DURATION_S };
    for (let round = 0; round < ROUNDS; round++) {
      await run('bare node:http (fixed JSON)', { ...base, url: `${bare.url}/v1/secret/data/bench/item` }, bare.child.pid);
      await run('store KV v2 read', { ...base, url: `${store.url}/v1/secret/data/bench/item`, headers: { 'X-Vault-Token': token } }, store.child.pid);
      await run(
        'store KV v2 write',
        {
          ...base,
          url: `${store.url}/v1/secret/data/bench/item`,
          method: 'POST',
          headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
          body: JSON.stringify({ data: { password: 'benchmark-value' } }),
        },
        store.child.pid,
      );
    }

    const names = [...new Set(rows.map((r) => r.name))];
    const summaries = names.map((n) => summarize(n, rows.filter((r) => r.name === n)));
    const bareSummary = summaries.find((s) => s.name.startsWith('bare'));
    const bareRate = bareSummary?.rate ?? 0;
    console.log(
      `autocannon: ${CONNECTIONS} connections, ${DURATION_S} s per case, ${ROUNDS} interleaved round(s), medians; loopback; ` +
        `store started as a separate process; ${PIN.note}`,
    );
    console.log(`store RSS after setup: ${rssIdle} MiB\n`);
    console.log('| case | req/s | × bare | p50 ms | p99 ms | server CPU µs/req | non-2xx | errors | RSS MiB (server) | req/s per round |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const s of summaries) {
      const ratio = bareRate > 0 ? (s.rate / bareRate).toFixed(2) : 'n/a';
      console.log(
        `| ${s.name} | ${s.rate.toFixed(0)} | ${ratio} | ${s.p50} | ${s.p99} | ${s.cpuUs === undefined ? 'n/a' : s.cpuUs.toFixed(0)} | ` +
          `${s.non2xx} | ${s.errors} | ${s.rss} | ${s.rates.map((r) => r.toFixed(0)).join(', ')} |`,
      );
    }
    const read = summaries.find((s) => s.name.includes('read'));
    if (read !== undefined && bareRate > 0) {
      const ratio = read.rate / bareRate;
      console.log(`\nreads: ${ratio.toFixed(2)}× the bare server (target ≥ 0.5×): ${ratio >= 0.5 ? 'met' : 'NOT met'}`);
      const bareCpu = bareSummary?.cpuUs;
      if (bareCpu !== undefined && read.cpuUs !== undefined && read.cpuUs > 0) {
        console.log(`CPU-bound ceiling from server CPU per request: reads ≈ ${(bareCpu / read.cpuUs).toFixed(2)}× the bare server`);
      }
    }
    const bad = summaries.filter((s) => s.non2xx > 0 || s.errors > 0);
    if (bad.length > 0) {
      console.error(`\nfailures during load in: ${bad.map((s) => s.name).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await stop(store.child);
    await stop(bare.child);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
