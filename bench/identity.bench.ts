/**
 * What an EdgeX service's identity costs on the embedded store, next to the cheapest authenticated request in the
 * same run: one `secretstore-setup serve` process (started as a separate process, initialized 1/1 and unsealed, set
 * up as EdgeX sets up a service: a userpass user aliased to an entity whose policy grants its KV v1 secrets, OIDC
 * token issue and introspection), then, as fixed numbers of requests in interleaved rounds:
 *
 * - KV v1 read of the service's own secret with its token (the baseline every ratio is against);
 * - userpass login (scrypt N=2^15 on libuv's thread pool), sequential and with several requests in flight;
 * - userpass login with a wrong password, and with an unknown user: both must cost what a good login costs;
 * - OIDC identity token issue (ES384 signature);
 * - introspection of such a token (ES384 verification).
 *
 * Every answer is checked (status and the field that matters), so an error cannot pass for a fast request; the first
 * unexpected answer aborts the run with a non-zero exit code. Failed logins count against the client address in the
 * store's login throttle (5 free failures, then delays), so the failure cases run in blocks of at most
 * {@link FAILURE_BLOCK} attempts, each followed by an unmeasured good login that clears the count: every measured
 * failure is checked before any throttle delay could apply.
 *
 * Latencies are per request, measured in this process (send → whole body read); the table pools every round's
 * samples for the median and p90 and gives the median over rounds of req/s. As in store.bench.ts, on a machine with
 * at least two CPUs and `taskset`, this process is pinned to CPU 0 and the store — with its thread pool — to CPU 1
 * (`IDENTITY_BENCH_PIN=0` turns that off): pinned, concurrent logins share one CPU, so they show queueing, not the
 * thread pool's parallelism; unpinned, they show what the machine's cores give.
 *
 * Knobs (environment): IDENTITY_BENCH_ROUNDS (3), IDENTITY_BENCH_REQUESTS (requests per fast case per round, 500),
 * IDENTITY_BENCH_WARMUP (unrecorded requests per fast case before the rounds, 1500),
 * IDENTITY_BENCH_LOGINS (sequential logins per login case per round, 20), IDENTITY_BENCH_CONCURRENCY (4; 1 skips
 * the concurrent case), IDENTITY_BENCH_CONCURRENT_LOGINS (logins per round in the concurrent case, 40),
 * IDENTITY_BENCH_CASES (comma-separated case keys: login,login-wrong,login-unknown,login-conc,oidc,introspect;
 * default all; the kv baseline always runs), IDENTITY_BENCH_PIN, IDENTITY_BENCH_SERVE_ARGS (extra `serve` arguments).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** CPUs available before pinning narrows this process to one. */
const CPUS = availableParallelism();

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

const ROUNDS = envInt('IDENTITY_BENCH_ROUNDS', 3, 1);
const FAST_REQUESTS = envInt('IDENTITY_BENCH_REQUESTS', 500, 1);
/** Unrecorded requests per fast case before the rounds: the store's reads keep getting faster for ~2,000 requests. */
const WARMUP = envInt('IDENTITY_BENCH_WARMUP', 1500, 0);
const LOGINS = envInt('IDENTITY_BENCH_LOGINS', 20, 1);
const CONCURRENCY = envInt('IDENTITY_BENCH_CONCURRENCY', 4, 1);
const CONCURRENT_LOGINS = envInt('IDENTITY_BENCH_CONCURRENT_LOGINS', 40, 1);
const CASES = (process.env.IDENTITY_BENCH_CASES ?? '').split(',').filter((c) => c !== '');
const SERVE_ARGS = (process.env.IDENTITY_BENCH_SERVE_ARGS ?? '').split(' ').filter((a) => a !== '');
/** Failed logins in a row before an unmeasured good one resets the throttle count (the store allows 5 for free). */
const FAILURE_BLOCK = 4;
/** The throttle's first delay: a measured failure this slow may have been throttled, which the run reports. */
const THROTTLE_DELAY_MS = 250;

const SERVICE = 'svc';
const SECRET_PATH = `secret/edgex/${SERVICE}/bench`;
const SECRET_VALUE = 'benchmark-value';

/** Pins this process to CPU 0 and returns the prefix that starts the store on CPU 1 (or none: see the header). */
function pinning(): { prefix: string[]; note: string } {
  if (process.env.IDENTITY_BENCH_PIN === '0') return { prefix: [], note: 'not pinned (IDENTITY_BENCH_PIN=0)' };
  if (CPUS < 2) return { prefix: [], note: 'not pinned (one CPU)' };
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return { prefix: [], note: 'not pinned (no taskset)' };
  }
  return { prefix: ['taskset', '-c', '1'], note: 'bench pinned to CPU 0, store (and its thread pool) to CPU 1' };
}

/** Starts `serve` and resolves with the process and the URL it prints; rejects on early exit or after 30 s. */
function startStore(prefix: string[], dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const [command, ...rest] = [...prefix, process.execPath, CLI_MAIN, 'serve', '--data', dataDir, '--listen', '127.0.0.1:0', ...SERVE_ARGS];
  // taskset execs node in place: the child's pid is the store's (for the RSS figures).
  const child = spawn(command ?? process.execPath, rest, { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let ready = false;
    const timer = setTimeout(() => {
      reject(new Error('serve did not report "listening on" within 30 s'));
    }, 30_000);
    // Keep reading stdout for the whole run, so the store can never block on a full pipe.
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (ready) return;
      out += d;
      const m = /listening on (\S+)\n/.exec(out);
      if (m?.[1] !== undefined) {
        ready = true;
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`serve exited early (code ${String(code)}, signal ${String(signal)})`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** VmRSS and VmHWM (peak) of a process in MiB (Linux /proc). */
async function memory(pid: number | undefined): Promise<{ rss: string; peak: string }> {
  const none = { rss: 'n/a', peak: 'n/a' };
  if (pid === undefined) return none;
  try {
    const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
    const mib = (field: string): string => {
      const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
      return kb === undefined ? 'n/a' : (Number(kb) / 1024).toFixed(1);
    };
    return { rss: mib('VmRSS'), peak: mib('VmHWM') };
  } catch {
    return none;
  }
}

interface Reply {
  status: number;
  body: unknown;
}

/** One keep-alive agent for every request, so connection setup is not measured. */
const agent = new Agent({ keepAlive: true, maxSockets: Math.max(CONCURRENCY, 1) });

/** One request to the store's API; the body is parsed as JSON when there is one. */
function call(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['X-Vault-Token'] = token;
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/v1/${path}`, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : (JSON.parse(text) as unknown) });
        } catch {
          reject(new Error(`${method} ${path}: answer is not JSON (status ${String(res.statusCode)}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

type Json = Record<string, unknown>;

function obj(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: expected an object, got ${JSON.stringify(value)}`);
  return value as Json;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${what}: expected a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

/** Throws unless the reply has the expected status (shows the body, which for errors is Vault's `errors`). */
function expectStatus(r: Reply, what: string, ...statuses: number[]): void {
  if (!statuses.includes(r.status)) throw new Error(`${what}: status ${String(r.status)} (expected ${statuses.join('/')}): ${JSON.stringify(r.body)}`);
}

/** A setup call that must succeed (200 or 204); the body, `{}` for 204. */
async function api(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Json> {
  const r = await call(base, method, path, token, body);
  expectStatus(r, `${method} ${path}`, 200, 204);
  return r.status === 204 ? {} : obj(r.body, `${method} ${path}`);
}

/** The claims of a compact JWS (not verified: the store's introspection is what this benchmark measures). */
function jwtClaims(jwt: string): Json {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error(`not a compact JWS: ${jwt.slice(0, 40)}…`);
  return obj(JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')), 'JWT claims');
}

/** One benchmark case: `op` is one checked request; `after(i, n)` runs unmeasured after the i-th (0-based) of n. */
interface Case {
  key: string;
  name: string;
  count: number;
  concurrency: number;
  op: () => Promise<void>;
  after?: (i: number, count: number) => Promise<void>;
}

interface Sample {
  latencies: number[];
  /** Wall time of the measured requests, in ms (unmeasured `after` work excluded). */
  busyMs: number;
}

async function runCase(c: Case, count = c.count): Promise<Sample> {
  const latencies: number[] = [];
  if (c.concurrency <= 1) {
    let busyMs = 0;
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await c.op();
      const dt = performance.now() - t0;
      latencies.push(dt);
      busyMs += dt;
      if (c.after !== undefined) await c.after(i, count);
    }
    return { latencies, busyMs };
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const t0 = performance.now();
      await c.op();
      latencies.push(performance.now() - t0);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(c.concurrency, count) }, worker));
  return { latencies, busyMs: performance.now() - start };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

const ms = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(2));

async function main(): Promise<void> {
  const pin = pinning();
  const dir = await mkdtemp(join(tmpdir(), 'sss-identity-bench-'));
  let child: ChildProcess | undefined;
  // Ctrl-C or a kill while running: stop the store and remove the folder before leaving.
  const onSignal = (signal: NodeJS.Signals): void => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const store = await startStore(pin.prefix, join(dir, 'data'));
    child = store.child;
    try {
      await bench(store.url, store.child.pid, pin.note);
    } finally {
      await stop(store.child);
    }
  } finally {
    agent.destroy();
    await rm(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function bench(url: string, pid: number | undefined, pinNote: string): Promise<void> {
  // Setup, as EdgeX's security-secretstore-setup does it for one service.
  const init = await api(url, 'PUT', 'sys/init', undefined, { secret_shares: 1, secret_threshold: 1 });
  const root = str(init.root_token, 'root_token');
  const keys = init.keys;
  if (!Array.isArray(keys)) throw new Error('sys/init: no keys');
  await api(url, 'PUT', 'sys/unseal', undefined, { key: str(keys[0], 'unseal key') });
  await api(url, 'POST', 'sys/auth/userpass', root, { type: 'userpass' });
  await api(url, 'POST', 'sys/mounts/secret', root, { type: 'kv', options: { version: '1' } });
  const policy = {
    path: {
      [`secret/edgex/${SERVICE}/*`]: { capabilities: ['create', 'update', 'delete', 'list', 'read'] },
      [`identity/oidc/token/${SERVICE}`]: { capabilities: ['read'] },
      'identity/oidc/introspect': { capabilities: ['create', 'update'] },
    },
  };
  await api(url, 'PUT', `sys/policies/acl/edgex-service-${SERVICE}`, root, { policy: JSON.stringify(policy) });
  const entity = await api(url, 'POST', `identity/entity/name/${SERVICE}`, root, {
    metadata: { name: SERVICE },
    policies: [`edgex-service-${SERVICE}`],
  });
  const entityId = str(obj(entity.data, 'entity data').id, 'entity id');
  const password = 'bench-' + randomBytes(18).toString('base64url');
  await api(url, 'POST', `auth/userpass/users/${SERVICE}`, root, { password, token_period: '1h', token_policies: [] });
  const auths = obj((await api(url, 'GET', 'sys/auth', root)).data, 'sys/auth data');
  const accessor = str(obj(auths['userpass/'], 'userpass/ mount').accessor, 'userpass accessor');
  await api(url, 'POST', 'identity/entity-alias', root, { name: SERVICE, canonical_id: entityId, mount_accessor: accessor });
  await api(url, 'POST', 'identity/oidc/key/edgex-identity', root, { allowed_client_ids: ['*'], algorithm: 'ES384' });
  await api(url, 'POST', `identity/oidc/role/${SERVICE}`, root, {
    client_id: 'edgex',
    key: 'edgex-identity',
    template: JSON.stringify({ name: SERVICE }),
    ttl: '15m',
  });

  // The checked requests.
  const login = async (): Promise<string> => {
    const r = await call(url, 'POST', `auth/userpass/login/${SERVICE}`, undefined, { password });
    expectStatus(r, 'login', 200);
    const auth = obj(obj(r.body, 'login').auth, 'login auth');
    if (auth.entity_id !== entityId) throw new Error(`login: entity_id ${JSON.stringify(auth.entity_id)}, expected ${entityId}`);
    return str(auth.client_token, 'login client_token');
  };
  const refused = async (user: string, pass: string): Promise<void> => {
    const r = await call(url, 'POST', `auth/userpass/login/${user}`, undefined, { password: pass });
    expectStatus(r, `login ${user} (bad credentials)`, 400);
    const errs = obj(r.body, 'refused login').errors;
    if (!Array.isArray(errs) || !errs.includes('invalid username or password')) throw new Error(`refused login: unexpected errors ${JSON.stringify(errs)}`);
  };
  const token = await login();
  await api(url, 'POST', SECRET_PATH, token, { password: SECRET_VALUE });
  const issue = async (): Promise<string> => {
    const r = await call(url, 'GET', `identity/oidc/token/${SERVICE}`, token);
    expectStatus(r, 'oidc token', 200);
    const jwt = str(obj(obj(r.body, 'oidc token').data, 'oidc token data').token, 'oidc token');
    const claims = jwtClaims(jwt);
    if (claims.sub !== entityId || claims.aud !== 'edgex' || claims.name !== SERVICE) throw new Error(`oidc token: unexpected claims ${JSON.stringify(claims)}`);
    return jwt;
  };
  let jwt = await issue();
  /** After every block of refused logins (and the last), a good one clears the address's failure count. */
  const resetFailures = async (i: number, count: number): Promise<void> => {
    if ((i + 1) % FAILURE_BLOCK === 0 || i === count - 1) await login();
  };
  const failures = { slow: 0 };

  const all: Case[] = [
    {
      key: 'kv',
      name: 'KV v1 read, service token (baseline)',
      count: FAST_REQUESTS,
      concurrency: 1,
      op: async () => {
        const r = await call(url, 'GET', SECRET_PATH, token);
        expectStatus(r, 'kv read', 200);
        const value = obj(obj(r.body, 'kv read').data, 'kv read data').password;
        if (value !== SECRET_VALUE) throw new Error(`kv read: got ${JSON.stringify(value)}`);
      },
    },
    {
      key: 'login',
      name: 'userpass login',
      count: LOGINS,
      concurrency: 1,
      op: async () => {
        await login();
      },
    },
    {
      key: 'login-wrong',
      name: 'userpass login, wrong password (400)',
      count: LOGINS,
      concurrency: 1,
      op: () => refused(SERVICE, password + 'x'),
      after: resetFailures,
    },
    {
      key: 'login-unknown',
      name: 'userpass login, unknown user (400)',
      count: LOGINS,
      concurrency: 1,
      op: () => refused('no-such-user', password),
      after: resetFailures,
    },
    ...(CONCURRENCY > 1
      ? [
          {
            key: 'login-conc',
            name: `userpass login, ${String(CONCURRENCY)} in flight`,
            count: CONCURRENT_LOGINS,
            concurrency: CONCURRENCY,
            op: async () => {
              await login();
            },
          },
        ]
      : []),
    {
      key: 'oidc',
      name: 'OIDC token issue (ES384 sign)',
      count: FAST_REQUESTS,
      concurrency: 1,
      op: async () => {
        jwt = await issue();
      },
    },
    {
      key: 'introspect',
      name: 'OIDC introspect (ES384 verify)',
      count: FAST_REQUESTS,
      concurrency: 1,
      op: async () => {
        const r = await call(url, 'POST', 'identity/oidc/introspect', token, { token: jwt });
        expectStatus(r, 'introspect', 200);
        const active = obj(r.body, 'introspect').active;
        if (active !== true) throw new Error(`introspect: ${JSON.stringify(r.body)}`);
      },
    },
  ];
  // The baseline always runs: every ratio needs it.
  const cases = all.filter((c) => c.key === 'kv' || CASES.length === 0 || CASES.includes(c.key));
  const memIdle = await memory(pid);

  // Warm-up (JIT in both processes, caches, the thread pool's threads), not recorded. Without it the first rounds'
  // KV reads are up to twice as slow as the later ones, which skews every ratio.
  for (const c of cases) {
    const n = c.concurrency > 1 ? c.concurrency : c.key.startsWith('login') ? 2 : WARMUP;
    if (n > 0) await runCase(c, n);
  }

  const samples = new Map<string, Sample[]>(cases.map((c) => [c.key, []]));
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const s = await runCase(c);
      samples.get(c.key)?.push(s);
      if (c.key === 'login-wrong' || c.key === 'login-unknown') failures.slow += s.latencies.filter((l) => l >= THROTTLE_DELAY_MS).length;
    }
  }
  const wallS = (performance.now() - started) / 1000;
  const memEnd = await memory(pid);

  interface Summary {
    c: Case;
    p50: number;
    p90: number;
    rate: number;
    roundMedians: number[];
    n: number;
  }
  const summaries: Summary[] = cases.map((c) => {
    const rounds = samples.get(c.key) ?? [];
    const pooled = rounds.flatMap((s) => s.latencies);
    return {
      c,
      p50: median(pooled),
      p90: percentile(pooled, 90),
      rate: median(rounds.map((s) => (s.latencies.length * 1000) / s.busyMs)),
      roundMedians: rounds.map((s) => median(s.latencies)),
      n: pooled.length,
    };
  });
  const base = summaries.find((s) => s.c.key === 'kv')?.p50 ?? 0;

  console.log(
    `${String(ROUNDS)} interleaved round(s); per round ${String(FAST_REQUESTS)} requests per fast case, ${String(LOGINS)} per sequential login ` +
      `case, ${String(CONCURRENT_LOGINS)} at concurrency ${String(CONCURRENCY)}; latency pooled over rounds, req/s the median over rounds; ` +
      `loopback, keep-alive node:http; store as a separate process; ${pinNote}; ${String(CPUS)} CPU(s), ` +
      `UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'default (4)'}; measured in ${wallS.toFixed(1)} s\n`,
  );
  console.log('| case | requests | median ms | p90 ms | req/s | median × KV read | median ms per round |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const s of summaries) {
    const ratio = base > 0 ? (s.p50 / base).toFixed(s.p50 / base >= 100 ? 0 : 1) : 'n/a';
    console.log(
      `| ${s.c.name} | ${String(s.n)} | ${ms(s.p50)} | ${ms(s.p90)} | ${s.rate.toFixed(s.rate >= 100 ? 0 : 1)} | ${ratio} | ` +
        `${s.roundMedians.map(ms).join(', ')} |`,
    );
  }
  console.log(`\nstore RSS: ${memIdle.rss} MiB after setup, ${memEnd.rss} MiB after the run (peak ${memEnd.peak} MiB)`);

  const good = summaries.find((s) => s.c.key === 'login');
  for (const key of ['login-wrong', 'login-unknown']) {
    const bad = summaries.find((s) => s.c.key === key);
    if (good !== undefined && bad !== undefined && good.p50 > 0) {
      console.log(
        `${bad.c.name}: median ${ms(bad.p50)} ms vs ${ms(good.p50)} ms for a good login ` +
          `(${(bad.p50 / good.p50).toFixed(2)}×, difference ${ms(bad.p50 - good.p50)} ms)`,
      );
    }
  }
  const conc = summaries.find((s) => s.c.key === 'login-conc');
  if (good !== undefined && conc !== undefined && good.rate > 0) {
    console.log(
      `logins at concurrency ${String(CONCURRENCY)}: ${(conc.rate / good.rate).toFixed(2)}× the sequential req/s, ` +
        `median latency ${(conc.p50 / good.p50).toFixed(2)}× the sequential one`,
    );
  }
  if (failures.slow > 0) {
    console.error(`\n${String(failures.slow)} refused login(s) took ≥ ${String(THROTTLE_DELAY_MS)} ms: the login throttle may have delayed them`);
    process.exitCode = 1;
  }
}

await main();
