/**
 * Several store nodes in one process over the memory shared storage (test/helpers/memory-shared-storage.ts), each a
 * real StoreServer on 127.0.0.1 port 0: one init per cluster, unseal with the same shares, exactly one active node,
 * standby health and sys/leader, request forwarding (KV write and LIST through a standby, tokens, the client's
 * address for bound CIDRs, a forged address header ignored), step-down when the lock is lost (no stale cache), and
 * the 503s: sealed, no active node.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Logger } from '../../../src/log.js';
import { StoreServer } from '../../../src/store/server.js';
import { FORWARDED_CLIENT_HEADER } from '../../../src/store/ha/forwarded-address.js';
import { NO_ACTIVE_NODE } from '../../../src/store/ha/forwarder.js';
import { MemorySharedCluster } from '../../helpers/memory-shared-storage.js';
import { call, type CallOptions, type TestResponse } from '../http/client.js';
import { waitFor } from '../../helpers/wait-for.js';

type Json = Record<string, unknown>;

const cluster = new MemorySharedCluster();
const nodes: StoreServer[] = [];
const logLines: string[] = [];
let keys: string[] = [];
let root = '';

async function startNode(): Promise<StoreServer> {
  const server = await StoreServer.start({
    host: '127.0.0.1',
    port: 0,
    shared: {
      storage: cluster.node(),
      storageType: 'memory',
      node: { retryMs: 50, exclusiveWaitMs: 3_000, leaderCacheMs: 0, stepDownHoldMs: 300 },
      forwarding: { timeoutMs: 3_000 },
    },
    log: new Logger({ sink: (l) => logLines.push(l) }),
  });
  nodes.push(server);
  return server;
}

const api = (node: StoreServer, method: string, path: string, options: CallOptions = {}): Promise<TestResponse> =>
  call(node.url, method, `/v1/${path}`, options);
const json = (r: TestResponse): Json => r.json as Json;

/** The node whose health says active (200 without standbyok), or undefined. */
async function activeNode(among: StoreServer[]): Promise<StoreServer | undefined> {
  const found: StoreServer[] = [];
  for (const n of among) if ((await api(n, 'GET', 'sys/health')).status === 200) found.push(n);
  assert.ok(found.length <= 1, 'at most one active node');
  return found[0];
}

/** A request from the client address `localAddress` (127.0.0.x), with extra headers. */
function callFrom(localAddress: string, base: string, method: string, path: string, token: string, headers: Record<string, string> = {}): Promise<TestResponse> {
  const url = new URL(`/v1/${path}`, base);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress, agent: false, headers: { 'X-Vault-Token': token, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: text === '' ? undefined : JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let a: StoreServer;
let b: StoreServer;
let c: StoreServer;

before(async () => {
  a = await startNode();
  b = await startNode();
  c = await startNode();
});

after(async () => {
  for (const n of nodes) await n.close();
});

test('init once per cluster: a second init on another node is refused as Vault refuses it', async () => {
  const first = await api(a, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  assert.equal(first.status, 200);
  keys = json(first).keys as string[];
  root = json(first).root_token as string;
  const second = await api(b, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
  assert.equal(second.status, 400);
  assert.deepEqual(second.json, { errors: ['Vault is already initialized'] });
  // Every node sees the cluster initialized (re-read, not cached "uninitialized" from its start).
  for (const n of [b, c]) {
    const st = json(await api(n, 'GET', 'sys/seal-status'));
    assert.equal(st.initialized, true);
    assert.equal(st.t, 2);
    assert.equal(st.n, 3);
    assert.equal((await api(n, 'GET', 'sys/health')).status, 503);
    assert.deepEqual(json(await api(n, 'GET', 'sys/init')), { initialized: true });
  }
  // Only ciphertext and the clear seal configuration in the shared storage.
  for (const [key, value] of cluster.entries) {
    assert.ok(!value.toString('latin1').includes(root), `root token in clear at ${key}`);
  }
});

test('concurrent init on two fresh nodes of another cluster: exactly one wins', async () => {
  const other = new MemorySharedCluster();
  const mk = (): Promise<StoreServer> =>
    StoreServer.start({
      host: '127.0.0.1',
      port: 0,
      shared: { storage: other.node(), node: { retryMs: 50, exclusiveWaitMs: 3_000 } },
      log: new Logger({ sink: () => undefined }),
    });
  const x = await mk();
  const y = await mk();
  try {
    const [rx, ry] = await Promise.all([
      api(x, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } }),
      api(y, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } }),
    ]);
    const statuses = [rx.status, ry.status].sort();
    assert.deepEqual(statuses, [200, 400]);
    const loser = rx.status === 400 ? rx : ry;
    assert.deepEqual(loser.json, { errors: ['Vault is already initialized'] });
    // The winner's shares unseal the cluster through either node.
    const winner = json(rx.status === 200 ? rx : ry);
    const key = (winner.keys as string[])[0] ?? '';
    for (const n of [x, y]) assert.equal(json(await api(n, 'PUT', 'sys/unseal', { body: { key } })).sealed, false);
    await waitFor('an active node', () => activeNode([x, y]));
  } finally {
    await x.close();
    await y.close();
  }
});

test('unseal every node with the same shares: exactly one active, the others standbys (429, 200 with standbyok)', async () => {
  for (const n of [a, b, c]) {
    for (const k of keys.slice(0, 2)) await api(n, 'PUT', 'sys/unseal', { body: { key: k } });
    assert.equal(json(await api(n, 'GET', 'sys/seal-status')).sealed, false);
  }
  const active = await waitFor('an active node', () => activeNode([a, b, c]));
  for (const n of [a, b, c]) {
    if (n === active) continue;
    const h = await api(n, 'GET', 'sys/health');
    assert.equal(h.status, 429);
    assert.equal(json(h).standby, true);
    assert.equal(json(h).sealed, false);
    assert.equal((await api(n, 'GET', 'sys/health?standbyok=true')).status, 200);
    assert.equal((await api(n, 'GET', 'sys/health?standbycode=299')).status, 299);
    // No performance standbys here: perfstandbyok changes nothing for a plain standby.
    assert.equal((await api(n, 'GET', 'sys/health?perfstandbyok=true')).status, 429);
    assert.equal((await api(n, 'HEAD', 'sys/health')).status, 429);
  }
  const h = json(await api(active, 'GET', 'sys/health'));
  assert.equal(h.standby, false);
  // The recorded init attempt is gone from storage once a node became active (none was sent here, so none exists).
  assert.equal(cluster.entries.has('core/init-attempt'), false);
});

test('sys/leader on the active node and on a standby, as Vault', async () => {
  const active = await waitFor('an active node', () => activeNode([a, b, c]));
  const standby = [a, b, c].find((n) => n !== active) ?? a;
  const la = json(await api(active, 'GET', 'sys/leader'));
  assert.deepEqual(Object.keys(la), [
    'ha_enabled',
    'is_self',
    'active_time',
    'leader_address',
    'leader_cluster_address',
    'performance_standby',
    'performance_standby_last_remote_wal',
  ]);
  assert.equal(la.ha_enabled, true);
  assert.equal(la.is_self, true);
  assert.equal(la.leader_address, active.url);
  assert.notEqual(la.active_time, '0001-01-01T00:00:00Z');
  assert.ok(Math.abs(Date.parse(la.active_time as string) - Date.now()) < 60_000);
  const ls = json(await api(standby, 'GET', 'sys/leader'));
  assert.equal(ls.ha_enabled, true);
  assert.equal(ls.is_self, false);
  assert.equal(ls.leader_address, active.url);
  assert.equal(ls.active_time, '0001-01-01T00:00:00Z');
  assert.equal(ls.performance_standby, false);
});

test('through a standby: KV write forwarded and readable via every node, LIST, token required', async () => {
  const active = await waitFor('an active node', () => activeNode([a, b, c]));
  const [s1, s2] = [a, b, c].filter((n) => n !== active);
  assert.ok(s1 !== undefined && s2 !== undefined);
  assert.equal((await api(s1, 'POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);
  const w = await api(s1, 'POST', 'secret/data/app', { token: root, body: { data: { password: 'p1' } } });
  assert.equal(w.status, 200);
  assert.equal(w.headers['content-type'], 'application/json');
  for (const n of [a, b, c]) {
    const r = await api(n, 'GET', 'secret/data/app', { token: root });
    assert.equal(r.status, 200);
    assert.deepEqual((json(r).data as Json).data, { password: 'p1' });
  }
  const list = await api(s2, 'LIST', 'secret/metadata/', { token: root });
  assert.equal(list.status, 200);
  assert.deepEqual((json(list).data as Json).keys, ['app']);
  // The token travels with the request: without one the active node says 403, as for a direct request.
  assert.equal((await api(s2, 'GET', 'secret/data/app')).status, 403);
  assert.deepEqual((await api(s2, 'GET', 'secret/data/app', { token: 'hvs.nope' })).json, { errors: ['permission denied', 'invalid token'] });
  // sys/seal is answered locally on a standby, as Vault does.
  const seal = await api(s1, 'PUT', 'sys/seal', { token: root });
  assert.equal(seal.status, 500);
  assert.deepEqual(seal.json, { errors: ['vault cannot seal when in standby mode; please restart instead'] });
  // Forwarded requests are logged by the standby too (path only).
  assert.ok(logLines.some((l) => l.includes('path=secret/data/app')));
});

test('bound CIDRs see the client address through forwarding; a forged address header is ignored', async () => {
  const active = await waitFor('an active node', () => activeNode([a, b, c]));
  const standby = [a, b, c].find((n) => n !== active) ?? a;
  const mkToken = async (role: string, cidr: string): Promise<string> => {
    assert.equal((await api(active, 'POST', `auth/token/roles/${role}`, { token: root, body: { token_bound_cidrs: [cidr], allowed_policies: ['root'] } })).status, 204);
    const r = await api(active, 'POST', `auth/token/create/${role}`, { token: root, body: { policies: ['root'], ttl: '1h' } });
    assert.equal(r.status, 200, r.text);
    return (json(r).auth as Json).client_token as string;
  };
  const only2 = await mkToken('only2', '127.0.0.2/32');
  const only1 = await mkToken('only1', '127.0.0.1/32');
  // The client is 127.0.0.2; the standby reaches the active node from 127.0.0.1.
  assert.equal((await callFrom('127.0.0.2', standby.url, 'GET', 'secret/data/app', only2)).status, 200);
  assert.equal((await callFrom('127.0.0.2', standby.url, 'GET', 'secret/data/app', only1)).status, 403);
  assert.equal((await callFrom('127.0.0.1', standby.url, 'GET', 'secret/data/app', only1)).status, 200);
  // Straight to the active node, claiming to be 127.0.0.1 without a valid MAC: the socket's address counts.
  const forged = `127.0.0.1 ${String(Date.now())} ${'A'.repeat(43)}`;
  assert.equal((await callFrom('127.0.0.2', active.url, 'GET', 'secret/data/app', only1, { [FORWARDED_CLIENT_HEADER]: forged })).status, 403);
  // Through a standby, a client's own header is replaced by the standby's.
  assert.equal((await callFrom('127.0.0.2', standby.url, 'GET', 'secret/data/app', only1, { [FORWARDED_CLIENT_HEADER]: forged })).status, 403);
});

test('lock lost: the active node steps down at once, drops its caches, another becomes active; no stale read', async () => {
  const first = await waitFor('an active node', () => activeNode([a, b, c]));
  // The first active node has the value cached (read twice: cache filled).
  for (let i = 0; i < 2; i++) assert.deepEqual((json(await api(first, 'GET', 'secret/data/app', { token: root })).data as Json).data, { password: 'p1' });
  cluster.barred.add(first.url);
  cluster.expire();
  const second = await waitFor('another active node', async () => {
    const n = await activeNode([a, b, c]);
    return n !== undefined && n !== first ? n : undefined;
  });
  assert.equal((await api(first, 'GET', 'sys/health')).status, 429);
  // Written through the new active node, read through the old one (a standby now: forwarded, never from its cache).
  assert.equal((await api(second, 'POST', 'secret/data/app', { token: root, body: { data: { password: 'p2' } } })).status, 200);
  assert.deepEqual((json(await api(first, 'GET', 'secret/data/app', { token: root })).data as Json).data, { password: 'p2' });
  // The old node becomes active again: its logical layer is rebuilt from storage, so it serves p3, never p1/p2.
  assert.equal((await api(second, 'POST', 'secret/data/app', { token: root, body: { data: { password: 'p3' } } })).status, 200);
  cluster.barred.clear();
  for (const n of [a, b, c]) if (n !== first) cluster.barred.add(n.url);
  cluster.expire();
  await waitFor('the first node active again', async () => ((await activeNode([a, b, c])) === first ? first : undefined));
  assert.deepEqual((json(await api(first, 'GET', 'secret/data/app', { token: root })).data as Json).data, { password: 'p3' });
  // A write the deposed node still had in flight can never land: its storage stays fenced with the lost lock.
  cluster.barred.clear();
  cluster.wake();
});

test('sys/step-down through a standby: the active node gives the lock up and another takes over', async () => {
  const first = await waitFor('an active node', () => activeNode([a, b, c]));
  const standby = [a, b, c].find((n) => n !== first) ?? a;
  assert.equal((await api(standby, 'PUT', 'sys/step-down')).status, 403);
  assert.equal((await api(standby, 'PUT', 'sys/step-down', { token: root })).status, 204);
  const next = await waitFor('another active node', async () => {
    const n = await activeNode([a, b, c]);
    return n !== undefined && n !== first ? n : undefined;
  });
  assert.deepEqual((json(await api(first, 'GET', 'secret/data/app', { token: root })).data as Json).data, { password: 'p3' });
  assert.equal(json(await api(first, 'GET', 'sys/leader')).leader_address, next.url);
});

test('sys/seal on the active node: it releases the lock at once, a standby takes over; unsealed again it is a standby', async () => {
  const first = await waitFor('an active node', () => activeNode([a, b, c]));
  const sealedAt = Date.now();
  assert.equal((await api(first, 'PUT', 'sys/seal', { token: root })).status, 204);
  assert.equal((await api(first, 'GET', 'sys/health')).status, 503);
  const next = await waitFor('another active node', async () => {
    const n = await activeNode([a, b, c]);
    return n !== undefined && n !== first ? n : undefined;
  });
  assert.ok(Date.now() - sealedAt < 2_000, 'released, not expired');
  for (const k of keys.slice(0, 2)) await api(first, 'PUT', 'sys/unseal', { body: { key: k } });
  assert.equal((await api(first, 'GET', 'sys/health')).status, 429);
  assert.deepEqual((json(await api(first, 'GET', 'secret/data/app', { token: root })).data as Json).data, { password: 'p3' });
  assert.equal(json(await api(first, 'GET', 'sys/leader')).leader_address, next.url);
});

test('a sealed node answers 503; with no active node a forwarded request gets 503 with Vault\'s body, quickly', async () => {
  const d = await startNode();
  const sealed = await api(d, 'GET', 'secret/data/app', { token: root });
  assert.equal(sealed.status, 503);
  assert.deepEqual(sealed.json, { errors: ['Vault is sealed'] });
  assert.equal((await api(d, 'GET', 'sys/leader')).status, 503);
  // Nobody may take the lock: every unsealed node is a standby.
  for (const n of [a, b, c]) cluster.barred.add(n.url);
  cluster.expire();
  const anyStandby = a;
  await waitFor('no active node', async () => ((await activeNode([a, b, c])) === undefined && cluster.holder === undefined ? true : undefined));
  const started = Date.now();
  const r = await api(anyStandby, 'GET', 'secret/data/app', { token: root });
  assert.equal(r.status, 503);
  assert.deepEqual(r.json, { errors: [NO_ACTIVE_NODE] });
  assert.ok(Date.now() - started < 1_000);
  assert.equal(json(await api(anyStandby, 'GET', 'sys/leader')).leader_address, '');
  cluster.barred.clear();
  cluster.wake();
  await waitFor('an active node again', () => activeNode([a, b, c]));
});
