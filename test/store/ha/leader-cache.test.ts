/**
 * A standby remembers the active node it found (for `leaderCacheMs`), never the absence of one: a standby asked
 * while no node is active answers 503, and forwards to a node elected a moment later at once — not only once the
 * remembered "no active node" has aged out (seen on the real cluster: a read through a standby right after a reboot
 * answered "active cluster node not found" while another node already answered as active).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../../src/log.js';
import { StoreServer } from '../../../src/store/server.js';
import { NO_ACTIVE_NODE } from '../../../src/store/ha/forwarder.js';
import { MemorySharedCluster } from '../../helpers/memory-shared-storage.js';
import { call } from '../http/client.js';

type Json = Record<string, unknown>;

/**
 * Starts `count` nodes on `cluster` into `nodes` (one by one, so the caller's cleanup closes every node started even
 * if a later start fails); they remember a found active node for 60 s and hold a stepped-down node off for
 * `stepDownHoldMs`.
 */
async function startNodes(cluster: MemorySharedCluster, count: number, stepDownHoldMs: number, nodes: StoreServer[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    nodes.push(
      await StoreServer.start({
        host: '127.0.0.1',
        port: 0,
        shared: {
          storage: cluster.node(),
          storageType: 'memory',
          node: { retryMs: 50, exclusiveWaitMs: 3_000, leaderCacheMs: 60_000, stepDownHoldMs },
          forwarding: { timeoutMs: 3_000 },
        },
        log: new Logger({ sink: () => undefined }),
      }),
    );
  }
}

test('a standby does not remember "no active node": a node elected a moment later is forwarded to at once', async () => {
  const cluster = new MemorySharedCluster();
  const nodes: StoreServer[] = [];
  try {
    // A long memory (60 s), so that a remembered absence would show.
    await startNodes(cluster, 2, 300, nodes);
    const [a, b] = nodes;
    assert.ok(a !== undefined && b !== undefined);
    const init = await call(a.url, 'PUT', '/v1/sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(init.status, 200);
    const { keys, root_token: root } = init.json as { keys: string[]; root_token: string };
    // Nobody may become active yet.
    cluster.barred.add(a.url);
    cluster.barred.add(b.url);
    for (const n of nodes) assert.equal((await call(n.url, 'PUT', '/v1/sys/unseal', { body: { key: keys[0] } })).status, 200);
    assert.equal((await call(b.url, 'GET', '/v1/sys/health')).status, 429);
    const before = await call(b.url, 'GET', '/v1/sys/mounts', { token: root });
    assert.equal(before.status, 503);
    assert.deepEqual(before.json, { errors: [NO_ACTIVE_NODE] });

    cluster.barred.delete(a.url);
    cluster.wake();
    const deadline = Date.now() + 5_000;
    while ((await call(a.url, 'GET', '/v1/sys/health')).status !== 200) {
      assert.ok(Date.now() < deadline, 'a became active');
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = await call(b.url, 'GET', '/v1/sys/mounts', { token: root });
    assert.equal(after.status, 200, after.text);
    assert.ok('secret/' in ((after.json as Json).data as Json) || 'sys/' in ((after.json as Json).data as Json));
  } finally {
    for (const n of nodes) await n.close();
  }
});

test('a standby that forwarded to a node which has since stepped down looks the active node up again at once', async () => {
  const cluster = new MemorySharedCluster();
  const nodes: StoreServer[] = [];
  try {
    // A long memory of the active node (60 s), so that going back to a node that stepped down would show.
    await startNodes(cluster, 3, 2_000, nodes);
    const [a, b, c] = nodes;
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    const init = await call(a.url, 'PUT', '/v1/sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    const { keys, root_token: root } = init.json as { keys: string[]; root_token: string };
    // a becomes active first: the others may campaign only once it is.
    cluster.barred.add(b.url);
    cluster.barred.add(c.url);
    for (const n of nodes) assert.equal((await call(n.url, 'PUT', '/v1/sys/unseal', { body: { key: keys[0] } })).status, 200);
    const waitActive = async (n: StoreServer): Promise<void> => {
      const deadline = Date.now() + 5_000;
      while ((await call(n.url, 'GET', '/v1/sys/health')).status !== 200) {
        assert.ok(Date.now() < deadline, `${n.url} became active`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitActive(a);
    // c forwards to a, and remembers it.
    assert.equal((await call(c.url, 'GET', '/v1/sys/mounts', { token: root })).status, 200);
    // a steps down (held off for 2 s), c stays barred: b takes over.
    cluster.barred.delete(b.url);
    assert.equal((await call(a.url, 'PUT', '/v1/sys/step-down', { token: root })).status, 204);
    cluster.wake();
    await waitActive(b);
    // c's first request may still reach a (which refuses it, unexecuted); the next one goes to b.
    const first = await call(c.url, 'GET', '/v1/sys/mounts', { token: root });
    const second = first.status === 200 ? first : await call(c.url, 'GET', '/v1/sys/mounts', { token: root });
    assert.equal(second.status, 200, second.text);
  } finally {
    for (const n of nodes) await n.close();
  }
});
