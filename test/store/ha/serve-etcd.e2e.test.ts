/**
 * End to end on a real etcd (three members from Debian's etcd-server, test/helpers/etcd-cluster.ts): three `serve`
 * processes with `--storage etcd` on one prefix — init once (a second init on another node refused), unseal every
 * node, exactly one active, a KV v2 write through a standby read through every node, kill -9 of the active node →
 * another node active within a few seconds, the write still readable and new writes accepted through a standby.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { EtcdCluster, ETCD, ETCD_PACKAGES } from '../../helpers/etcd-cluster.js';
import { HVAC_PYTHON, requireHvac, type HvacSummary } from '../../helpers/hvac.js';
import { CLI_MAIN, sourceFile } from '../../helpers/paths.js';
import { requireTools } from '../../helpers/require-tools.js';
import { runProgram } from '../../helpers/run-hook.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { call, type CallOptions, type TestResponse } from '../http/client.js';
import { stopChild } from '../../helpers/stop-child.js';
import { waitFor } from '../../helpers/wait-for.js';

type Json = Record<string, unknown>;

/** The parts of node-vault 0.12 used here (a real third-party client, through a standby). */
interface VaultClient {
  write(path: string, data: unknown): Promise<unknown>;
  read(path: string): Promise<{ data: { data: Json } }>;
  list(path: string): Promise<{ data: { keys: string[] } }>;
  tokenCreate(o: { policies: string[] }): Promise<{ auth: { client_token: string } }>;
}
const nodeVault = createRequire(import.meta.url)('node-vault') as (o: { endpoint: string; token?: string }) => VaultClient;

/** One `serve --storage etcd` process. */
interface Node {
  url: string;
  child: ChildProcessWithoutNullStreams;
  output(): string;
}

/** Starts a node from flags, or from a Vault-style configuration file when `configFile` is given. */
function startNode(endpoints: string[], prefix: string, configFile?: string): Promise<Node> {
  const args =
    configFile !== undefined
      ? ['--config', configFile]
      : ['--storage', 'etcd', '--etcd-endpoints', endpoints.join(','), '--etcd-prefix', prefix, '--listen', '127.0.0.1:0'];
  const child = spawn(process.execPath, [CLI_MAIN, 'serve', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, SECRETSTORE_ETCD_PASSWORD: '' },
  });
  child.stdin.end();
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start: ${out.slice(-1000)}`));
    }, 20_000);
    const onData = (): void => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ url: m[1], child, output: () => out });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${String(code)}): ${out.slice(-1000)}`));
    });
  });
}

function stopNode(node: Node, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return stopChild(node.child, signal);
}

const api = (node: Node, method: string, path: string, options: CallOptions = {}): Promise<TestResponse> =>
  call(node.url, method, `/v1/${path}`, options);
const json = (r: TestResponse): Json => r.json as Json;

async function activeAmong(nodes: Node[]): Promise<Node | undefined> {
  const active: Node[] = [];
  for (const n of nodes) {
    try {
      if ((await api(n, 'GET', 'sys/health')).status === 200) active.push(n);
    } catch {
      // A dead node is not active.
    }
  }
  assert.ok(active.length <= 1, `${String(active.length)} active nodes`);
  return active[0];
}

async function startEtcd(t: TestContext): Promise<EtcdCluster | undefined> {
  if (!requireTools(t, [ETCD], ETCD_PACKAGES)) return undefined;
  return await EtcdCluster.start(3);
}

test('three serve nodes on etcd: init once, one active, writes through a standby, kill -9 of the active', { timeout: 120_000 }, async (t) => {
  const etcd = await startEtcd(t);
  if (etcd === undefined) return;
  const nodes: Node[] = [];
  // The store nodes first, then etcd: nothing is left running.
  t.after(async () => {
    for (const n of nodes) await stopNode(n, 'SIGKILL');
    await etcd.stopAll();
  });
  for (let i = 0; i < 2; i++) nodes.push(await startNode(etcd.endpoints, 'e2e-ha/'));
  // The third from a configuration file with Vault's names.
  const dir = await makeTempDir();
  t.after(() => removeTempDir(dir));
  const config = join(dir, 'serve.hcl');
  await writeFile(
    config,
    `storage "etcd" {\n  address = "${etcd.endpoints.join(',')}"\n  path = "e2e-ha/"\n  ha_enabled = "true"\n}\n` +
      `listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\n`,
  );
  nodes.push(await startNode(etcd.endpoints, 'e2e-ha/', config));
  const [n0, n1] = nodes;
  assert.ok(n0 !== undefined && n1 !== undefined);

  const init = await api(n0, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  assert.equal(init.status, 200, init.text);
  const keys = json(init).keys as string[];
  const root = json(init).root_token as string;
  const again = await api(n1, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
  assert.equal(again.status, 400);
  assert.deepEqual(again.json, { errors: ['Vault is already initialized'] });

  for (const n of nodes) {
    for (const k of keys.slice(1, 3)) await api(n, 'PUT', 'sys/unseal', { body: { key: k } });
    assert.equal(json(await api(n, 'GET', 'sys/seal-status')).sealed, false);
  }
  const active = await waitFor('one active node', () => activeAmong(nodes), 15_000, 50);
  const standbys = nodes.filter((n) => n !== active);
  for (const s of standbys) {
    const h = await api(s, 'GET', 'sys/health');
    assert.equal(h.status, 429);
    assert.equal(json(h).standby, true);
    const leader = json(await api(s, 'GET', 'sys/leader'));
    assert.equal(leader.ha_enabled, true);
    assert.equal(leader.is_self, false);
    assert.equal(leader.leader_address, active.url);
  }

  const [s0, s1] = standbys;
  assert.ok(s0 !== undefined && s1 !== undefined);
  assert.equal((await api(s0, 'POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);
  const w = await api(s0, 'POST', 'secret/data/app', { token: root, body: { data: { password: 'before-failover' } } });
  assert.equal(w.status, 200, w.text);
  for (const n of nodes) {
    const r = await api(n, 'GET', 'secret/data/app', { token: root });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((json(r).data as Json).data, { password: 'before-failover' });
  }
  const list = await api(s1, 'LIST', 'secret/metadata/', { token: root });
  assert.deepEqual((json(list).data as Json).keys, ['app']);

  // node-vault against every node (the active one and both standbys, which forward), unchanged.
  for (const [i, n] of nodes.entries()) {
    const nv = nodeVault({ endpoint: n.url, token: root });
    await nv.write(`secret/data/nv${String(i)}`, { data: { k: `v${String(i)}` } });
    assert.deepEqual((await nv.read(`secret/data/nv${String(i)}`)).data.data, { k: `v${String(i)}` });
    assert.ok((await nv.list('secret/metadata/')).data.keys.includes(`nv${String(i)}`));
    assert.match((await nv.tokenCreate({ policies: ['default'] })).auth.client_token, /^hvs\./);
  }

  // hvac (Debian python3-hvac) against every node too, when present (required under CI).
  await t.test('hvac against every node', async (st) => {
    if (!requireHvac(st)) return;
    for (const [i, n] of nodes.entries()) {
      const label = `${n === active ? 'active' : 'standby'}${String(i)}`;
      const env = { ...process.env, PYTHONNOUSERSITE: '1', PYTHONPATH: '', PYTHONDONTWRITEBYTECODE: '1', VAULT_TOKEN: root };
      const r = await runProgram(HVAC_PYTHON, [sourceFile('test/store/ha/hvac_node.py'), n.url, label], env);
      assert.equal(r.code, 0, r.stderr);
      const { steps } = JSON.parse(r.stdout) as HvacSummary;
      assert.deepEqual(steps.leader, { ok: true, ha_enabled: true, is_self: n === active, leader_address: active.url }, label);
      assert.deepEqual(steps.health, { ok: true, status: n === active ? 200 : 429, standby: n !== active, sealed: false }, label);
      assert.deepEqual(steps.authenticated, { ok: true, authenticated: true }, label);
      assert.deepEqual(steps.kv, { ok: true, data: { via: label }, listed: true }, label);
      assert.deepEqual(steps.token, { ok: true, token_shape: 'hvs.', policies: ['default'] }, label);
    }
  });

  // kill -9 of the active node: its lease expires and a standby takes over.
  const killedAt = Date.now();
  await stopNode(active, 'SIGKILL');
  const next = await waitFor('a new active node', () => activeAmong(standbys), 15_000, 50);
  const failoverMs = Date.now() - killedAt;
  t.diagnostic(`fail-over after kill -9: ${String(failoverMs)} ms`);
  assert.ok(failoverMs < 10_000, `fail-over took ${String(failoverMs)} ms`);
  const other = standbys.find((n) => n !== next);
  assert.ok(other !== undefined);
  for (const n of [next, other]) {
    const r = await api(n, 'GET', 'secret/data/app', { token: root });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((json(r).data as Json).data, { password: 'before-failover' });
  }
  const after = await api(other, 'POST', 'secret/data/app', { token: root, body: { data: { password: 'after-failover' } } });
  assert.equal(after.status, 200, after.text);
  assert.deepEqual((json(await api(next, 'GET', 'secret/data/app', { token: root })).data as Json).data, { password: 'after-failover' });
  assert.equal(json(await api(other, 'GET', 'sys/leader')).leader_address, next.url);
  assert.deepEqual((await nodeVault({ endpoint: other.url, token: root }).read('secret/data/nv0')).data.data, { k: 'v0' });
});
