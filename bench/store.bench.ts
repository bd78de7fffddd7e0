/**
 * The embedded store under concurrent load, measured with autocannon against `secretstore-setup serve` running as a
 * separate process, next to a bare node:http server (also a separate process) answering a fixed JSON body in the
 * same run. Cases: authenticated KV v2 reads and writes with a policy-limited token (so the ACL check runs), the
 * bare server as the ceiling. Prints req/s, the ratio to the bare server, p50/p99 latency and the store's RSS.
 * Loopback only; each case runs a few seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DURATION_S = Number(process.env.STORE_BENCH_SECONDS ?? '4');
const CONNECTIONS = Number(process.env.STORE_BENCH_CONNECTIONS ?? '16');
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

/** Spawns a process and resolves with it and the URL it prints (`listening on URL`). */
function spawnListening(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
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

    const bareRate = rows.find((r) => r.name.startsWith('bare'))?.result.requests.average ?? 0;
    console.log(`autocannon: ${CONNECTIONS} connections, ${DURATION_S} s per case, loopback; store started as a separate process`);
    console.log(`store RSS after setup: ${rssIdle} MiB\n`);
    console.log('| case | req/s | × bare | p50 ms | p99 ms | server CPU µs/req | non-2xx | errors | RSS MiB (server) |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      const ratio = bareRate > 0 ? (r.result.requests.average / bareRate).toFixed(2) : 'n/a';
      console.log(
        `| ${r.name} | ${r.result.requests.average.toFixed(0)} | ${ratio} | ${r.result.latency.p50} | ${r.result.latency.p99} | ` +
          `${r.cpuUs === undefined ? 'n/a' : r.cpuUs.toFixed(0)} | ` +
          `${r.result.non2xx} | ${r.result.errors} | ${r.rss} |`,
      );
    }
    const read = rows.find((r) => r.name.includes('read'));
    if (read !== undefined && bareRate > 0) {
      const ratio = read.result.requests.average / bareRate;
      console.log(`\nreads: ${ratio.toFixed(2)}× the bare server (target ≥ 0.5×): ${ratio >= 0.5 ? 'met' : 'NOT met'}`);
      const bareCpu = rows.find((r) => r.name.startsWith('bare'))?.cpuUs;
      if (bareCpu !== undefined && read.cpuUs !== undefined && read.cpuUs > 0) {
        console.log(`CPU-bound ceiling from server CPU per request: reads ≈ ${(bareCpu / read.cpuUs).toFixed(2)}× the bare server`);
      }
    }
    const bad = rows.filter((r) => r.result.non2xx > 0 || r.result.errors > 0);
    if (bad.length > 0) {
      console.error(`\nfailures during load in: ${bad.map((r) => r.name).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await stop(store.child);
    await stop(bare.child);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
