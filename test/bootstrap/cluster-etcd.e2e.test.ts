/**
 * The boot flow on a real cluster (issue 15, item 4), real processes only: a three-member etcd cluster
 * (test/helpers/etcd-cluster.ts), three `serve --storage etcd` nodes on it (each with its own `--api-addr`), and the
 * CLI as a user runs it (`bootstrap`, `status`, `watch`, with an encrypted key file and hooks/ikm-dev):
 *
 * 1. first boot: one init, one key file, every node unsealed, exactly one active node and two standbys;
 * 2. a secret written through one node is read through every other (a token issued with the flow's token-issuing token);
 * 3. `status` (text and `--json`) shows one active node and two standbys;
 * 4. kill -9 of the active node → a standby active within 10 s, the secret still there, writes work; the killed node
 *    restarts sealed and `watch` unseals it;
 * 5. one etcd member killed → the store keeps serving reads and writes;
 * 6. a second member killed (majority lost) → a write answers a 5xx with Vault's error body within ~10 s (never a hang,
 *    never a success); both members back → the store recovers by itself;
 * 7. reboot: every node stopped and started again (sealed), `bootstrap` → no init, all unsealed, the secret still there.
 *
 * Measured times are printed as test diagnostics. No secret (IKM, shares, tokens) appears in any output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import * as http from 'node:http';
import { EtcdCluster, ETCD, ETCD_PACKAGES, freePort } from '../helpers/etcd-cluster.js';
import { CLI_MAIN } from '../helpers/paths.js';
import { requireTools } from '../helpers/require-tools.js';
import { makeBootEnv, type BootEnv } from '../helpers/boot-env.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { readKeyFile, inspectKeyFile } from '../../src/keyfile/keyfile.js';
import { stopChild } from '../helpers/stop-child.js';

type Json = Record<string, unknown>;

const PREFIX = 'e2e-boot/';

interface Reply {
  status: number;
  text: string;
  json: Json | undefined;
  ms: number;
}

/**
 * One request on a fresh connection (no pooled socket to a killed node), bounded by `timeoutMs`: the reply, or
 * undefined when the node did not answer (refused, reset, or timed out).
 */
function request(base: string, method: string, path: string, options: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<Reply | undefined> {
  const started = Date.now();
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  return new Promise((resolve) => {
    const req = http.request(new URL(`/v1/${path}`, base), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json | undefined;
        try {
          json = text === '' ? undefined : (JSON.parse(text) as Json);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json, ms: Date.now() - started });
      });
      res.on('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), options.timeoutMs ?? 5000);
    req.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    req.end(payload);
  });
}

/** Polls `fn` every 100 ms until it returns a value; fails naming `what` after `ms`. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${String(ms)} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One `serve --storage etcd` node on a fixed port (so that it restarts at the same address). */
class Node {
  child: ChildProcess | undefined;
  readonly name: string;
  readonly port: number;
  private readonly endpoints: string[];
  private log = '';
  constructor(name: string, port: number, endpoints: string[]) {
    this.name = name;
    this.port = port;
    this.endpoints = endpoints;
  }

  get url(): string {
    return `http://127.0.0.1:${String(this.port)}`;
  }

  output(): string {
    return this.log;
  }

  /** Starts the process and resolves once it listens (retried briefly while the port is still held). */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.spawnOnce();
        return;
      } catch (err) {
        if (attempt >= 20 || !/EADDRINUSE|address already in use/i.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private spawnOnce(): Promise<void> {
    const args = [
      CLI_MAIN, 'serve', '--storage', 'etcd',
      '--etcd-endpoints', this.endpoints.join(','),
      '--etcd-prefix', PREFIX,
      '--listen', `127.0.0.1:${String(this.port)}`,
      '--api-addr', this.url,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SECRETSTORE_ETCD_PASSWORD: '' } });
    this.child = child;
    let out = '';
    const keep = (d: Buffer): void => {
      out += d.toString('utf8');
      this.log = (this.log + d.toString('utf8')).slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${this.name} did not start: ${out.slice(-1000)}`));
      }, 30_000);
      const onData = (): void => {
        if (!out.includes('listening on ')) return;
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        this.child = undefined;
        reject(new Error(`${this.name} exited (${String(code)}): ${out.slice(-1000)}`));
      };
      child.stdout.on('data', onData);
      child.once('exit', onExit);
    });
  }

  /** Sends `signal` and waits until the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await stopChild(child, signal);
  }
}

/** `sys/health` without standbyok: 200 active, 429 standby, 503 sealed, 501 uninitialized; undefined when down. */
async function health(node: Node): Promise<Reply | undefined> {
  return request(node.url, 'GET', 'sys/health', { timeoutMs: 3000 });
}

/** The one node whose health says active (at most one may), or undefined. */
async function activeAmong(nodes: Node[]): Promise<Node | undefined> {
  const hs = await Promise.all(nodes.map((n) => health(n)));
  const active = nodes.filter((_, i) => hs[i]?.status === 200 && hs[i].json?.standby === false);
  assert.ok(active.length <= 1, `${String(active.length)} nodes report active at once`);
  return active[0];
}

/** Exactly one active node, every other a standby (429, standby: true, unsealed). */
async function assertOneActive(nodes: Node[]): Promise<Node> {
  const hs = await Promise.all(nodes.map((n) => health(n)));
  const active = nodes.filter((_, i) => hs[i]?.status === 200);
  assert.equal(active.length, 1, `one active node: ${hs.map((h) => String(h?.status)).join(', ')}`);
  nodes.forEach((n, i) => {
    const h = hs[i];
    assert.ok(h !== undefined, `${n.name} answers`);
    const body: Json = h.json ?? {};
    assert.equal(body.initialized, true, `${n.name} initialized`);
    assert.equal(body.sealed, false, `${n.name} unsealed`);
    if (n === active[0]) assert.equal(body.standby, false);
    else {
      assert.equal(h.status, 429, `${n.name} is a standby`);
      assert.equal(body.standby, true);
    }
  });
  return active[0] as Node;
}

function kvData(r: Reply | undefined): unknown {
  return r?.json?.data;
}

test('boot flow on a real cluster: 3 etcd members, 3 serve nodes, bootstrap / status / watch, fail-over, etcd quorum loss, reboot', { timeout: 240_000 }, async (t) => {
  if (!requireTools(t, [ETCD], ETCD_PACKAGES)) return;
  const t0 = Date.now();
  const step = (what: string): void => {
    t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  };
  const nodes: Node[] = [];
  let watch: ChildProcess | undefined;
  const watchOut = { out: '', err: '' };
  const etcd = await EtcdCluster.start(3);
  // One cleanup, in order: watch, the store nodes, etcd, the device folder (also when an assertion failed).
  const device: { be?: BootEnv } = {};
  t.after(async () => {
    watch?.kill('SIGKILL');
    for (const n of nodes) await n.stop('SIGKILL');
    await etcd.stopAll();
    await device.be?.close();
  });
  const endpoints = etcd.endpoints;
  const be = await makeBootEnv();
  device.be = be;
  for (const name of ['A', 'B', 'C']) {
    // Retried on a fresh port should another process take the one picked (the start fails naming the address).
    for (let attempt = 0; ; attempt++) {
      const node = new Node(name, await freePort(), endpoints);
      try {
        await node.start();
        nodes.push(node);
        break;
      } catch (err) {
        await node.stop('SIGKILL');
        if (attempt >= 3) throw err;
      }
    }
  }
  const addrs = nodes.flatMap((n) => ['--addr', n.url]);
  step('etcd and three serve nodes up');

  // 1. First boot.
  for (const n of nodes) assert.equal((await health(n))?.status, 501, `${n.name} uninitialized before the boot`);
  const first = await be.cli(['bootstrap', ...addrs], { timeoutMs: 90_000 });
  assert.equal(first.code, 0, first.stderr);
  assert.equal((first.stderr.match(/initializing the secret store/g) ?? []).length, 1, 'one init');
  assert.equal((first.stderr.match(/key file saved/g) ?? []).length, 1, 'the shares saved once');
  assert.doesNotMatch(first.stdout + first.stderr, /not unsealed/);
  const keyFiles = (await readdir(be.keysDir)).filter((f) => f.endsWith('.json'));
  assert.deepEqual(keyFiles, ['resp-init.json'], 'one key file');
  const summary = await inspectKeyFile({ dir: be.keysDir });
  assert.equal(summary?.encrypted, true);
  assert.equal(summary.hasRootToken, false);
  // One init request reached the cluster (each node logs every request it answers, forwarded ones included).
  const inits = nodes.flatMap((n) => [...n.output().matchAll(/method=PUT path=\S*sys\/init status=(\d+)/g)].map((m) => `${n.name}:${m[1] ?? ''}`));
  assert.equal(inits.length, 1, `init requests: ${inits.join(', ')}`);
  assert.match(inits[0] ?? '', /:200$/);
  const active1 = await until('exactly one active node after the boot', async () => {
    const a = await activeAmong(nodes);
    return a === undefined ? undefined : assertOneActive(nodes);
  }, 10_000);
  step(`first boot done (bootstrap exited 0); active ${active1.name}`);

  // 2. A secret through one node, read through every other. The flow leaves the token-issuing token: it may write an
  // edgex-service-* policy and create (orphan) tokens with it, as a token provider does for a service.
  const issuing = (JSON.parse(await readFile(be.adminTokenPath, 'utf8')) as { auth: { client_token: string } }).auth.client_token;
  const policy = await request(active1.url, 'PUT', 'sys/policies/acl/edgex-service-e2e', {
    token: issuing,
    body: { policy: 'path "secret/e2e/*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n' },
  });
  assert.ok(policy?.status === 204 || policy?.status === 200, policy?.text);
  const created = await request(active1.url, 'POST', 'auth/token/create-orphan', { token: issuing, body: { policies: ['edgex-service-e2e'] } });
  assert.equal(created?.status, 200, created?.text);
  const token = (created.json?.auth as { client_token: string }).client_token;
  const writer = nodes.find((n) => n !== active1) as Node;
  const w1 = await request(writer.url, 'POST', 'secret/e2e/app', { token, body: { password: 'v1' } });
  assert.ok(w1?.status === 204 || w1?.status === 200, `write through the standby ${writer.name}: ${w1?.text ?? 'no answer'}`);
  for (const n of nodes) {
    const r = await request(n.url, 'GET', 'secret/e2e/app', { token });
    assert.equal(r?.status, 200, `read through ${n.name}: ${r?.text ?? 'no answer'}`);
    assert.deepEqual(kvData(r), { password: 'v1' });
  }
  step('secret written through a standby, read through every node');

  // 3. status shows the roles.
  const st = await be.cli(['status', ...addrs]);
  assert.equal(st.code, 0, st.stderr);
  assert.equal((st.stdout.match(/: active \(unsealed\)/g) ?? []).length, 1, st.stdout);
  assert.equal((st.stdout.match(/: standby \(unsealed;/g) ?? []).length, 2, st.stdout);
  assert.ok(st.stdout.includes(`node ${active1.url}: active`), st.stdout);
  const stJson = await be.cli(['status', ...addrs, '--json']);
  assert.equal(stJson.code, 0, stJson.stderr);
  const report = JSON.parse(stJson.stdout) as { nodes: { address: string; role: string; sealed: boolean }[] };
  assert.deepEqual(
    report.nodes.map((n) => [n.address, n.role, n.sealed]),
    nodes.map((n) => [n.url, n === active1 ? 'active' : 'standby', false]),
  );
  step('status: one active, two standbys');

  // 4. watch; kill -9 of the active node; the killed node restarts sealed and watch unseals it.
  const w = spawn(process.execPath, [CLI_MAIN, 'watch', ...addrs, '--interval', '1', '--metrics-listen', 'off'], {
    cwd: be.dir,
    env: be.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  watch = w;
  w.stdout.setEncoding('utf8').on('data', (d: string) => (watchOut.out += d));
  w.stderr.setEncoding('utf8').on('data', (d: string) => (watchOut.err += d));
  await until('watch started', () => Promise.resolve(watchOut.err.includes('watch starting') ? true : undefined), 20_000);

  const killedAt = Date.now();
  await active1.stop('SIGKILL');
  const survivors = nodes.filter((n) => n !== active1);
  const active2 = await until('a standby becoming active', () => activeAmong(survivors), 15_000);
  const failoverMs = Date.now() - killedAt;
  step(`fail-over after kill -9 of ${active1.name}: ${String(failoverMs)} ms (new active ${active2.name})`);
  assert.ok(failoverMs <= 10_000, `fail-over took ${String(failoverMs)} ms`);
  for (const n of survivors) {
    const r = await request(n.url, 'GET', 'secret/e2e/app', { token });
    assert.equal(r?.status, 200, `read through ${n.name} after the fail-over: ${r?.text ?? 'no answer'}`);
    assert.deepEqual(kvData(r), { password: 'v1' }, 'no acknowledged write lost');
  }
  const other = survivors.find((n) => n !== active2) as Node;
  const w2 = await request(other.url, 'POST', 'secret/e2e/app', { token, body: { password: 'v2' } });
  assert.equal(w2?.status, 204, `write after the fail-over: ${w2?.text ?? 'no answer'}`);
  assert.deepEqual(kvData(await request(active2.url, 'GET', 'secret/e2e/app', { token })), { password: 'v2' });

  const restartedAt = Date.now();
  await active1.start();
  const sealedAtStart = await health(active1);
  // watch may already have unsealed it; otherwise it answers sealed.
  assert.ok(sealedAtStart?.status === 503 || sealedAtStart?.status === 429, `restarted node: ${String(sealedAtStart?.status)}`);
  await until(`watch unsealing the restarted ${active1.name}`, async () => ((await health(active1))?.status === 429 ? true : undefined), 20_000);
  step(`restarted ${active1.name} unsealed by watch (standby) after ${String(Date.now() - restartedAt)} ms`);
  await until('watch logging the unseal', () => Promise.resolve(/node sealed; unsealing/.test(watchOut.err) ? true : undefined), 5000);
  assert.equal(await assertOneActive(nodes), active2);
  assert.deepEqual(kvData(await request(active1.url, 'GET', 'secret/e2e/app', { token })), { password: 'v2' });

  // 5. One etcd member killed: the store keeps serving reads and writes. etcd may elect a new leader (its election
  // timeout is 1 s); requests are retried for a short while then, and must then all succeed.
  await etcd.kill(0);
  const memberKilledAt = Date.now();
  let failedWrites = 0;
  await until('a write with one etcd member down', async () => {
    const a = await activeAmong(nodes);
    const r = await request((a ?? active2).url, 'POST', 'secret/e2e/app', { token, body: { password: 'v3' } });
    if (r?.status === 204) return true;
    failedWrites++;
    return undefined;
  }, 15_000);
  step(`one etcd member down: first write ok after ${String(Date.now() - memberKilledAt)} ms (${String(failedWrites)} refused before)`);
  for (let i = 0; i < 5; i++) {
    for (const n of nodes) {
      const r = await request(n.url, 'GET', 'secret/e2e/app', { token });
      assert.equal(r?.status, 200, `read through ${n.name} with one etcd member down: ${r?.text ?? 'no answer'}`);
      assert.deepEqual(kvData(r), { password: i === 0 ? 'v3' : `v3.${String(i - 1)}` });
    }
    const wr = await request(nodes[i % 3]?.url ?? '', 'POST', 'secret/e2e/app', { token, body: { password: `v3.${String(i)}` } });
    assert.equal(wr?.status, 204, `write with one etcd member down: ${wr?.text ?? 'no answer'}`);
  }
  const activeBeforeQuorumLoss = await until('an active node', () => activeAmong(nodes), 10_000);
  step(`store serving with one etcd member down; active ${activeBeforeQuorumLoss.name}`);

  // 6. A second member killed: no majority. A write is refused with Vault's error body, quickly, and never succeeds.
  await etcd.kill(1);
  const quorumLostAt = Date.now();
  const refused = await request(activeBeforeQuorumLoss.url, 'POST', 'secret/e2e/app', { token, body: { password: 'lost' }, timeoutMs: 30_000 });
  assert.ok(refused !== undefined, 'the write without an etcd majority got an answer');
  step(`write without an etcd majority: ${String(refused.status)} after ${String(refused.ms)} ms: ${refused.text.trim()}`);
  assert.ok(refused.status >= 500 && refused.status < 600, `a 5xx, not ${String(refused.status)}: ${refused.text}`);
  assert.ok(Array.isArray(refused.json?.errors) && (refused.json.errors as unknown[]).length > 0, `Vault's error body: ${refused.text}`);
  assert.ok(refused.ms <= 12_000, `answered in ${String(refused.ms)} ms`);
  // Every node, during the outage: writes never succeed, nothing hangs.
  const [during, reads] = await Promise.all([
    Promise.all(nodes.map((n) => request(n.url, 'POST', 'secret/e2e/app', { token, body: { password: 'lost' }, timeoutMs: 30_000 }))),
    Promise.all(nodes.map((n) => request(n.url, 'GET', 'secret/e2e/app', { token, timeoutMs: 30_000 }))),
  ]);
  // A read either fails the same way or answers the last acknowledged value (never a refused write's).
  for (const [i, n] of nodes.entries()) {
    const r = reads[i];
    assert.ok(r !== undefined, `${n.name} answered a read without an etcd majority`);
    if (r.status === 200) assert.deepEqual(kvData(r), { password: 'v3.4' }, `${n.name}: no stale or unacknowledged value`);
    else assert.ok(r.status >= 500 && Array.isArray(r.json?.errors), `${n.name} read: ${String(r.status)} ${r.text}`);
    assert.ok(r.ms <= 12_000, `${n.name} answered the read in ${String(r.ms)} ms`);
  }
  step(`reads without an etcd majority: ${reads.map((r, i) => `${nodes[i]?.name ?? ''} ${String(r?.status)} in ${String(r?.ms)} ms`).join(', ')}`);
  for (const [i, n] of nodes.entries()) {
    const r = during[i];
    assert.ok(r !== undefined, `${n.name} answered without an etcd majority`);
    assert.ok(r.status >= 500 && Array.isArray(r.json?.errors), `${n.name} refused the write: ${String(r.status)} ${r.text}`);
    assert.ok(r.ms <= 12_000, `${n.name} answered in ${String(r.ms)} ms`);
  }
  step(`every node refuses writes without an etcd majority (${String(Date.now() - quorumLostAt)} ms since the loss)`);

  etcd.restart(0);
  etcd.restart(1);
  await etcd.waitHealthy(30_000);
  const etcdBackAt = Date.now();
  step('etcd majority back');
  // The refused writes left nothing behind: the first read that succeeds has the last acknowledged value.
  const firstRead = await until('a read after etcd recovered', async () => {
    const r = await request(nodes[2]?.url ?? '', 'GET', 'secret/e2e/app', { token });
    return r?.status === 200 ? r : undefined;
  }, 30_000);
  assert.deepEqual(kvData(firstRead), { password: 'v3.4' }, 'no refused write committed');
  const recovered = await until('a write accepted again after etcd recovered', async () => {
    const a = await activeAmong(nodes);
    if (a === undefined) return undefined;
    const r = await request(a.url, 'POST', 'secret/e2e/app', { token, body: { password: 'v4' } });
    return r?.status === 204 ? a : undefined;
  }, 30_000);
  step(`store recovered by itself ${String(Date.now() - etcdBackAt)} ms after etcd (active ${recovered.name})`);
  await until('every node unsealed, one active', async () => {
    const hs = await Promise.all(nodes.map((n) => health(n)));
    return hs.filter((h) => h?.status === 200).length === 1 && hs.filter((h) => h?.status === 429).length === 2 ? true : undefined;
  }, 15_000);
  // Through every node (a standby may still name a node that was active until a moment ago: at most 1 s, its
  // remembered active node; so polled, bounded).
  for (const n of nodes) {
    const r = await until(`a read through ${n.name} after the recovery`, async () => {
      const x = await request(n.url, 'GET', 'secret/e2e/app', { token });
      return x?.status === 200 ? x : undefined;
    }, 10_000);
    assert.deepEqual(kvData(r), { password: 'v4' }, `read through ${n.name}`);
  }

  // watch is stopped before the reboot: bootstrap alone must unseal the nodes.
  const watchExited = new Promise<number | null>((resolve) => w.once('exit', resolve));
  w.kill('SIGTERM');
  assert.equal(await watchExited, 0);
  watch = undefined;
  assert.doesNotMatch(watchOut.err, /unseal rejected/i);

  // 7. Reboot: every node stopped, started again sealed, bootstrap → no init, every node unsealed, the secret there.
  for (const n of nodes) await n.stop('SIGTERM');
  for (const n of nodes) await n.start();
  for (const n of nodes) {
    const h = await health(n);
    assert.equal(h?.status, 503, `${n.name} sealed after its restart`);
    assert.equal(h.json?.initialized, true);
  }
  const keyFileBefore = await readFile(be.keyFile);
  const reboot = await be.cli(['bootstrap', ...addrs], { timeoutMs: 90_000 });
  assert.equal(reboot.code, 0, reboot.stderr);
  assert.doesNotMatch(reboot.stderr, /initializing the secret store/);
  assert.doesNotMatch(reboot.stdout + reboot.stderr, /not unsealed/);
  assert.deepEqual(await readFile(be.keyFile), keyFileBefore, 'the key file unchanged');
  await until('one active node after the reboot', async () => ((await activeAmong(nodes)) === undefined ? undefined : true), 10_000);
  await assertOneActive(nodes);
  for (const n of nodes) {
    const r = await request(n.url, 'GET', 'secret/e2e/app', { token });
    assert.equal(r?.status, 200, `read through ${n.name} after the reboot: ${r?.text ?? 'no answer'}`);
    assert.deepEqual(kvData(r), { password: 'v4' });
  }
  step('reboot: no init, every node unsealed, the secret still there');

  // No secret in any output.
  const ikm = Buffer.from(be.ikmHex, 'hex');
  const { secrets } = await readKeyFile({ dir: be.keysDir }, ikm);
  const issuing2 = (JSON.parse(await readFile(be.adminTokenPath, 'utf8')) as { auth: { client_token: string } }).auth.client_token;
  assertNoSecrets(
    [...be.outputs, watchOut.out, watchOut.err, ...nodes.map((n) => n.output())],
    [
      { label: 'IKM', value: ikm },
      ...secrets.shares.map((value, i) => ({ label: `share ${String(i)}`, value })),
      { label: 'token-issuing token', value: Buffer.from(issuing) },
      { label: 'token-issuing token after the reboot', value: Buffer.from(issuing2) },
      { label: 'service token', value: Buffer.from(token) },
    ],
  );
  step('done');
});
