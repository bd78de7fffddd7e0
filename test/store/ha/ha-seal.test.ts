/**
 * The seal state machine over shared storage (memory cluster): the init attempt of the abandoned-init contract seen
 * from every node and removed only by the node that becomes active (a standby writes nothing at unseal), abandonment
 * refused once any node was active; an engine without quorum answers 503 with Vault's body; a deposed active node's
 * storage stays fenced.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../../../src/crypto.js';
import { Logger } from '../../../src/log.js';
import { STORAGE_UNAVAILABLE_MESSAGE } from '../../../src/store/http/api.js';
import { StoreServer } from '../../../src/store/server.js';
import { MemorySharedCluster, type MemorySharedStorage } from '../../helpers/memory-shared-storage.js';
import { call, type CallOptions, type TestResponse } from '../http/client.js';
import { waitFor } from '../../helpers/wait-for.js';

type Json = Record<string, unknown>;

/** Two `serve` nodes on one shared in-memory storage, closed when the test ends. */
async function twoNodes(t: TestContext): Promise<{ cluster: MemorySharedCluster; a: StoreServer; b: StoreServer; storages: MemorySharedStorage[] }> {
  const cluster = new MemorySharedCluster();
  const servers: StoreServer[] = [];
  const storages: MemorySharedStorage[] = [];
  t.after(async () => {
    for (const s of servers) await s.close();
  });
  for (let i = 0; i < 2; i++) {
    const storage = cluster.node();
    storages.push(storage);
    servers.push(
      await StoreServer.start({
        host: '127.0.0.1',
        port: 0,
        shared: { storage, node: { retryMs: 50, exclusiveWaitMs: 2_000, leaderCacheMs: 0 } },
        log: new Logger({ sink: () => undefined }),
      }),
    );
  }
  const [a, b] = servers;
  assert.ok(a !== undefined && b !== undefined);
  return { cluster, a, b, storages };
}

const api = (node: StoreServer, method: string, path: string, options: CallOptions = {}): Promise<TestResponse> =>
  call(node.url, method, `/v1/${path}`, options);
const json = (r: TestResponse): Json => r.json as Json;

const attemptId = Buffer.alloc(32, 7);
const attemptSha = sha256(attemptId).toString('hex');

test('init attempt: visible from every node, abandonable from another node while none was unsealed', async (t) => {
  const { cluster, a, b } = await twoNodes(t);
  assert.equal((await api(a, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1, init_attempt_sha256: attemptSha } })).status, 200);
  assert.equal(json(await api(b, 'GET', 'sys/seal-status')).init_attempt_sha256, attemptSha);
  const abandoned = await api(b, 'PUT', 'sys/init/abandon', { body: { init_attempt: attemptId.toString('hex') } });
  assert.equal(abandoned.status, 200, abandoned.text);
  assert.equal(cluster.entries.size, 0);
  for (const n of [a, b]) assert.equal(json(await api(n, 'GET', 'sys/seal-status')).initialized, false);
  // Both can start over: one init wins again.
  assert.equal((await api(a, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } })).status, 200);
});

test('init attempt: removed by the node that becomes active; abandonment then refused everywhere', async (t) => {
  const { cluster, a, b } = await twoNodes(t);
  const init = await api(a, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1, init_attempt_sha256: attemptSha } });
  const key = (json(init).keys as string[])[0] ?? '';
  // No node may become active yet: the unseal itself must not touch the recorded attempt.
  cluster.barred.add(a.url);
  cluster.barred.add(b.url);
  const writesBefore = cluster.entries.size;
  assert.equal(json(await api(a, 'PUT', 'sys/unseal', { body: { key } })).sealed, false);
  assert.ok(cluster.entries.has('core/init-attempt'), 'a standby writes nothing at unseal');
  assert.equal(cluster.entries.size, writesBefore);
  // An unsealed node refuses to abandon (its unseal proved the shares exist).
  assert.equal((await api(a, 'PUT', 'sys/init/abandon', { body: { init_attempt: attemptId.toString('hex') } })).status, 409);
  cluster.barred.clear();
  cluster.wake();
  await waitFor('a active', async () => ((await api(a, 'GET', 'sys/health')).status === 200 ? true : undefined));
  assert.equal(cluster.entries.has('core/init-attempt'), false);
  // The sealed node re-reads: no attempt any more, so no abandonment.
  assert.equal(json(await api(b, 'GET', 'sys/seal-status')).init_attempt_sha256, undefined);
  assert.equal((await api(b, 'PUT', 'sys/init/abandon', { body: { init_attempt: attemptId.toString('hex') } })).status, 409);
  assert.ok(cluster.entries.size > 0);
});

test('no quorum: the active node answers 503 with Vault\'s error body; a deposed node\'s writes are fenced', async (t) => {
  const { cluster, a, b, storages } = await twoNodes(t);
  cluster.barred.add(b.url);
  const init = json(await api(a, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } }));
  const key = (init.keys as string[])[0] ?? '';
  const root = init.root_token as string;
  for (const n of [a, b]) await api(n, 'PUT', 'sys/unseal', { body: { key } });
  await waitFor('a active', async () => ((await api(a, 'GET', 'sys/health')).status === 200 ? true : undefined));
  assert.equal((await api(a, 'POST', 'sys/mounts/kv', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);

  cluster.unavailable = true;
  const started = Date.now();
  const w = await api(a, 'POST', 'kv/data/x', { token: root, body: { data: { v: 1 } } });
  assert.equal(w.status, 503);
  assert.deepEqual(w.json, { errors: [STORAGE_UNAVAILABLE_MESSAGE] });
  assert.ok(Date.now() - started < 2_000);
  cluster.unavailable = false;
  cluster.wake();
  assert.equal((await api(a, 'POST', 'kv/data/x', { token: root, body: { data: { v: 2 } } })).status, 200);

  // a loses the lock; its storage handle stays fenced with the lost lock: a late write can never land.
  const storageA = storages[0];
  assert.ok(storageA !== undefined);
  cluster.barred.clear();
  cluster.barred.add(a.url);
  cluster.expire();
  await waitFor('b active', async () => ((await api(b, 'GET', 'sys/health')).status === 200 ? true : undefined));
  await assert.rejects(storageA.put('straggler', Buffer.from('x')), (err: unknown) => (err as { code?: string }).code === 'STORE_STANDBY');
  assert.equal(cluster.entries.has('straggler'), false);
  assert.equal((await api(a, 'GET', 'kv/data/x', { token: root })).status, 200);
});
