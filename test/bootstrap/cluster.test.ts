/**
 * The boot flow, `watch` and `status` across several nodes of one cluster, against the fake cluster
 * (test/helpers/fake-vault.ts, {@link FakeCluster}): shared storage, each node sealed on its own, one active node,
 * standbys answering `sys/health` as standbys and forwarding, `sys/leader`, nodes killed and restarted. The code
 * under test relies only on Vault's HTTP semantics, so the same flow serves `serve` on etcd, Vault and OpenBao.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FakeCluster, FakeVault } from '../helpers/fake-vault.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { Logger } from '../../src/log.js';
import { resolveConfig, type SecretStoreConfig } from '../../src/config/config.js';
import { runBootstrap, type BootstrapOptions, type BootstrapResult } from '../../src/bootstrap/flow.js';
import { inspectKeyFile } from '../../src/keyfile/keyfile.js';
import { isSecretStoreError } from '../../src/errors.js';
import { runWatch } from '../../src/bootstrap/watch.js';
import { WatchMetrics } from '../../src/bootstrap/metrics.js';
import { gatherStatus, renderStatus } from '../../src/bootstrap/status.js';
import { currentNode, sameAddress } from '../../src/bootstrap/cluster.js';
import { makeClients } from '../../src/bootstrap/nodes.js';
import { FixedIkm } from './flow-fixtures.js';
import type { VaultClient } from '../../src/vault/client.js';

/** Requests that belong to the boot before the post-unseal work: state reads, init, unseal. */
const PRE_UNSEAL = new Set(['GET sys/health', 'GET sys/seal-status', 'GET sys/leader', 'PUT sys/init', 'PUT sys/unseal']);

interface ClusterHarness {
  cluster: FakeCluster;
  dir: string;
  config: SecretStoreConfig;
  ikm: Buffer;
  lines: string[];
  run(extra?: Partial<BootstrapOptions>): Promise<BootstrapResult>;
  close(): Promise<void>;
}

/** Every log line of every run (scanned for secrets at the end of each test). */
async function clusterHarness(size = 3, settings: Record<string, unknown> = {}): Promise<ClusterHarness> {
  const cluster = new FakeCluster(size);
  const urls = await cluster.start();
  const dir = await makeTempDir('sss-cluster-');
  const resolved = resolveConfig(
    { TokenFolderPath: join(dir, 'assets'), TokenProviderAdminTokenPath: join(dir, 'run', 'token.json'), WaitTimeout: 5, ...settings },
    { addrs: urls },
    {},
    dir,
  );
  // Poll fast: the cluster elects its active node a moment after the unseal.
  const config: SecretStoreConfig = { ...resolved, intervalSeconds: 0.05 };
  const ikm = randomBytes(32);
  const lines: string[] = [];
  const log = new Logger({ level: 'debug', sink: (l) => lines.push(l) });
  return {
    cluster,
    dir,
    config,
    ikm,
    lines,
    run: async (extra = {}) => {
      try {
        return await runBootstrap({ config, log, ikmSource: new FixedIkm(ikm), ...extra });
      } catch (err) {
        lines.push(err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err));
        throw err;
      }
    },
    close: async () => {
      const secrets = [
        { label: 'IKM', value: ikm },
        ...cluster.data.shares.map((value, i) => ({ label: `share ${i}`, value })),
        ...cluster.data.issued.map((t) => ({ label: `token ${t.policies.join('+')}`, value: Buffer.from(t.id) })),
      ];
      await cluster.stop();
      await removeTempDir(dir);
      assertNoSecrets(lines, secrets);
    },
  };
}

function count(node: FakeVault, what: string): number {
  return node.requests.filter((r) => r === what).length;
}

function total(cluster: FakeCluster, what: string): number {
  return cluster.nodes.reduce((n, node) => n + count(node, what), 0);
}

/** Requests a node got that belong to the post-unseal work (root token, sweeps, KV, token-issuing token). */
function setupRequests(node: FakeVault, from = 0): string[] {
  return node.requests.slice(from).filter((r) => !PRE_UNSEAL.has(r));
}

function activeOf(cluster: FakeCluster): FakeVault {
  const active = cluster.active;
  assert.ok(active !== undefined, 'the cluster has an active node');
  return active;
}

async function withCluster(size: number, body: (h: ClusterHarness) => Promise<void>, settings: Record<string, unknown> = {}): Promise<void> {
  const h = await clusterHarness(size, settings);
  try {
    await body(h);
  } finally {
    await h.close();
  }
}

test('three nodes, first boot: one init, the shares saved once, every node unsealed, the setup on the active node only', async () => {
  await withCluster(3, async (h) => {
    const r = await h.run();
    assert.equal(total(h.cluster, 'PUT sys/init'), 1, 'initialized once');
    assert.equal(count(h.cluster.nodes[0] as FakeVault, 'PUT sys/init'), 1, 'through the first node');
    assert.equal(h.lines.filter((l) => l.includes('key file saved')).length, 1, 'the shares saved once');
    assert.equal((await inspectKeyFile({ dir: join(h.dir, 'assets') }))?.shareCount, 5);
    assert.ok(h.cluster.nodes.every((n) => !n.sealed), 'every node unsealed');
    assert.deepEqual([...r.unsealedNodes].sort(), [...h.cluster.urls].sort());
    assert.equal(r.initialized, true);
    assert.equal(r.initialState, 'uninitialized');
    assert.deepEqual(r.nodesLeft, []);
    const active = activeOf(h.cluster);
    assert.equal(r.activeNode, active.url);
    assert.ok(setupRequests(active).includes('PUT sys/generate-root/attempt'));
    assert.ok(setupRequests(active).includes('POST auth/token/create-orphan'));
    for (const n of h.cluster.nodes) {
      if (n === active) continue;
      assert.deepEqual(setupRequests(n), [], `no post-unseal request to the standby ${n.url}`);
      assert.deepEqual(n.forwarded, [], 'nothing needed forwarding');
    }
    assert.equal(h.cluster.data.mounts.get('secret/')?.type, 'kv');
    assert.ok(existsSync(join(h.dir, 'run', 'token.json')));
    // No root token survives the boot.
    assert.ok(![...h.cluster.data.tokens.values()].some((t) => t.policies.includes('root')));
  });
});

test('reboot (every node sealed): no init, every node unsealed from the key file, setup on the active node', async () => {
  await withCluster(3, async (h) => {
    await h.run();
    for (const n of h.cluster.nodes) n.seal();
    assert.equal(h.cluster.active, undefined);
    const marks = h.cluster.nodes.map((n) => n.requests.length);
    const r = await h.run();
    assert.equal(total(h.cluster, 'PUT sys/init'), 1, 'never initialized again');
    assert.equal(r.initialized, false);
    assert.equal(r.initialState, 'sealed');
    assert.ok(h.cluster.nodes.every((n) => !n.sealed));
    assert.equal(r.unsealedNodes.length, 3);
    const active = activeOf(h.cluster);
    assert.equal(r.activeNode, active.url);
    h.cluster.nodes.forEach((n, i) => {
      if (n !== active) assert.deepEqual(setupRequests(n, marks[i]), []);
    });
    // A third boot with every node unsealed unseals nothing and still finds the active node.
    const again = await h.run();
    assert.deepEqual(again.unsealedNodes, []);
    assert.equal(again.initialState, 'unsealed');
    assert.equal(again.activeNode, active.url);
  });
});

test('the first node down at first boot: init through the next node, the boot finishes, the down node reported with its address', async () => {
  await withCluster(3, async (h) => {
    const [down, second] = h.cluster.nodes as [FakeVault, FakeVault, FakeVault];
    await h.cluster.kill(down);
    const r = await h.run();
    assert.equal(count(second, 'PUT sys/init'), 1, 'initialized through the first node that answered');
    assert.equal(total(h.cluster, 'PUT sys/init'), 1);
    assert.deepEqual(
      r.nodesLeft.map((n) => [n.address, n.state]),
      [[down.url, 'down']],
    );
    assert.ok(h.lines.some((l) => l.includes('node not unsealed') && l.includes(down.url)), 'the down node is logged with its address');
    assert.ok(h.cluster.nodes.slice(1).every((n) => !n.sealed));
    assert.notEqual(r.activeNode, down.url);
    // It comes back sealed: the next boot (or watch) unseals it, without init.
    await h.cluster.restart(down);
    const again = await h.run();
    assert.deepEqual(again.unsealedNodes, [down.url]);
    assert.deepEqual(again.nodesLeft, []);
    assert.equal(total(h.cluster, 'PUT sys/init'), 1);
  });
});

test('every node down: the wait times out with STORE_UNREACHABLE naming every node', async () => {
  await withCluster(
    3,
    async (h) => {
      for (const n of h.cluster.nodes) await h.cluster.kill(n);
      const started = Date.now();
      await assert.rejects(h.run(), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'STORE_UNREACHABLE'));
        assert.match(err.message, /none of the secret store nodes .* was ready after \d+ s/);
        for (const url of h.cluster.urls) assert.ok(err.message.includes(url));
        return true;
      });
      assert.ok(Date.now() - started < 10_000);
      assert.equal(existsSync(join(h.dir, 'assets', 'resp-init.json')), false);
    },
    { WaitTimeout: 1 },
  );
});

test('a node that refuses init as "already initialized" (someone else initialized the cluster): never a second init, the key-file path', async () => {
  await withCluster(2, async (h) => {
    const first = h.cluster.nodes[0] as FakeVault;
    // Another client initializes the cluster between our health read and our init.
    first.hook = (_req, _res, path) => {
      if (path === 'sys/init' && !h.cluster.data.initialized) {
        h.cluster.data.initialized = true;
        h.cluster.data.threshold = 3;
        h.cluster.data.shares = [randomBytes(33), randomBytes(33), randomBytes(33)];
      }
      return false;
    };
    await assert.rejects(h.run(), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_INITIALIZED_NO_KEYFILE'), String(err));
      assert.match(err.message, /already initialized but there is no key file/);
      return true;
    });
    assert.equal(total(h.cluster, 'PUT sys/init'), 1, 'the refused init is never sent again');
    assert.ok(h.lines.some((l) => l.includes('initialized by someone else')));
    assert.equal(existsSync(join(h.dir, 'assets', '.secretstore-init-pending')), false, 'no marker left: our init never happened');
  });
});

test('the cluster elects its active node after the unseal: the flow waits, then sets up through it', async () => {
  await withCluster(3, async (h) => {
    h.cluster.autoElect = false;
    const chosen = h.cluster.nodes[2] as FakeVault;
    // No node is active until well after the unseal (an election): the flow polls, then uses the elected node.
    let timer: NodeJS.Timeout | undefined;
    chosen.hook = (_req, _res, path) => {
      if (path === 'sys/unseal' && timer === undefined) {
        timer = setTimeout(() => {
          h.cluster.makeActive(chosen);
        }, 400);
      }
      return false;
    };
    const r = await h.run();
    assert.equal(r.activeNode, chosen.url);
    assert.ok(setupRequests(chosen).includes('PUT sys/generate-root/attempt'));
    for (const n of h.cluster.nodes.slice(0, 2)) assert.deepEqual(setupRequests(n), []);
    assert.ok(h.lines.some((l) => l.includes('waiting for an active node of the cluster')));
  });
});

test('the active node dies during the setup: a standby takes over and the setup resumes through the new active node', async () => {
  await withCluster(3, async (h) => {
    await h.run(); // initialized, unsealed
    for (const n of h.cluster.nodes) n.seal();
    let killed: FakeVault | undefined;
    for (const n of h.cluster.nodes) {
      n.hook = (req, _res, path) => {
        // The first sweep request on the active node: it crashes (its standby peers elect a new active node).
        if (killed === undefined && path === 'auth/token/accessors' && h.cluster.active === n) {
          killed = n;
          void h.cluster.kill(n);
          req.socket.destroy();
          return true;
        }
        return false;
      };
    }
    const r = await h.run();
    assert.ok(killed !== undefined, 'the active node was killed mid-setup');
    const active = activeOf(h.cluster);
    assert.notEqual(active, killed);
    assert.equal(r.activeNode, active.url, 'the setup finished on the new active node');
    assert.deepEqual(r.nodesLeft.map((n) => [n.address, n.state]), [[killed.url, 'down']]);
    assert.ok(setupRequests(active).includes('POST auth/token/create-orphan'), 'the token-issuing token came from the new active node');
    assert.equal(total(h.cluster, 'PUT sys/init'), 1);
    assert.ok(h.lines.some((l) => l.includes('the secret store went away during bootstrap')));
    assert.ok(![...h.cluster.data.tokens.values()].some((t) => t.policies.includes('root')), 'both temporary root tokens revoked');
  });
});

test('currentNode (the --longRun service after a fail-over): the node active now, else an unsealed standby, else the fallback', async () => {
  await withCluster(3, async (h) => {
    await h.run(); // every node unsealed, one active
    const log = new Logger({ level: 'debug', sink: (l) => h.lines.push(l) });
    const clients = makeClients(h.config, log);
    const client = (node: FakeVault): VaultClient => {
      const c = clients.find((x) => sameAddress(x.address, node.url));
      assert.ok(c !== undefined);
      return c;
    };
    const first = activeOf(h.cluster);
    const fallback = client(first);
    const warned = new Set<string>();
    assert.equal((await currentNode(clients, fallback, log, warned)).address, first.url);
    // The active node dies: a standby takes over, and the next re-issue goes there, not to the boot's node.
    await h.cluster.kill(first);
    const second = activeOf(h.cluster);
    assert.notEqual(second, first);
    assert.equal((await currentNode(clients, fallback, log, warned)).address, second.url);
    // No node active (an election under way): an unsealed standby, which forwards once there is one.
    h.cluster.makeActive(undefined);
    const picked = await currentNode(clients, fallback, log, warned);
    assert.notEqual(picked.address, first.url, 'never the dead node');
    assert.ok(h.cluster.nodes.some((n) => sameAddress(n.url, picked.address) && !n.sealed));
    // Nothing answers unsealed: the fallback, whose request then fails with its own error.
    for (const n of h.cluster.nodes) if (n !== first) await h.cluster.kill(n);
    assert.equal(await currentNode(clients, fallback, log, warned), fallback);
    // One node alone: that node, without a probe.
    assert.equal(await currentNode([fallback], fallback, log, warned), fallback);
  });
});

test('sys/leader naming an address that is not configured: never sent a token; no active node is a clear timeout', async () => {
  const outsider = new FakeVault();
  await outsider.start();
  try {
    await withCluster(
      3,
      async (h) => {
        await h.run();
        for (const n of h.cluster.nodes) n.seal();
        h.cluster.autoElect = false;
        h.cluster.leaderAddress = outsider.url; // every standby says the active node is elsewhere
        const marks = h.cluster.nodes.map((n) => n.requests.length);
        await assert.rejects(h.run(), (err: unknown) => {
          assert.ok(isSecretStoreError(err, 'STORE_UNREACHABLE'), String(err));
          assert.match(err.message, /no configured node of the secret store cluster .* was active after \d+ s/);
          assert.match(err.message, /not a configured node/);
          return true;
        });
        assert.deepEqual(outsider.requests, [], 'the outsider was never contacted');
        h.cluster.nodes.forEach((n, i) => {
          assert.deepEqual(setupRequests(n, marks[i]), [], 'no root token was generated anywhere');
        });
        assert.equal(h.lines.filter((l) => l.includes('not a configured address')).length, 1, 'warned once');
        assert.ok(!h.lines.some((l) => l.includes('went away')), 'a spent wait budget is final, not an outage to wait out again');
      },
      { WaitTimeout: 2 },
    );
  } finally {
    await outsider.stop();
  }
});

test('health that does not say who is active: sys/leader naming a configured node is followed', async () => {
  await withCluster(3, async (h) => {
    await h.run();
    for (const n of h.cluster.nodes) n.seal();
    const leader = h.cluster.nodes[1] as FakeVault;
    h.cluster.autoElect = false;
    h.cluster.makeActive(leader);
    // Its health answers an error (an overloaded node, a proxy in front of it); its peers' sys/leader name it, with
    // the address spelled differently (a trailing slash) than in the configuration.
    h.cluster.leaderAddress = `${leader.url}/`;
    leader.hook = (_req, res, path) => {
      if (path !== 'sys/health' || leader.sealed) return false;
      res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: ['overloaded'] }));
      return true;
    };
    const r = await h.run();
    assert.equal(r.activeNode, leader.url);
    assert.ok(setupRequests(leader).includes('POST auth/token/create-orphan'));
  });
});

test('sameAddress: the same node however spelled; another host, port or scheme is another node', () => {
  assert.ok(sameAddress('http://127.0.0.1:8200', 'http://127.0.0.1:8200/'));
  assert.ok(sameAddress('https://Vault-1.example:443', 'https://vault-1.example'));
  assert.ok(!sameAddress('http://127.0.0.1:8200', 'http://localhost:8200'));
  assert.ok(!sameAddress('http://127.0.0.1:8200', 'https://127.0.0.1:8200'));
  assert.ok(!sameAddress('http://127.0.0.1:8200', 'http://127.0.0.1:8201'));
  assert.ok(!sameAddress('not a url', 'not a url'));
});

test('watch: a node restarted sealed is unsealed again while the others stay as they are; roles per node', async () => {
  await withCluster(3, async (h) => {
    await h.run();
    const active = activeOf(h.cluster);
    const restarted = h.cluster.nodes.find((n) => n !== active) as FakeVault;
    await h.cluster.kill(restarted);
    await h.cluster.restart(restarted);
    assert.equal(restarted.sealed, true);
    const unsealsBefore = h.cluster.nodes.map((n) => count(n, 'PUT sys/unseal'));
    const metrics = new WatchMetrics(h.config.nodes);
    const controller = new AbortController();
    const log = new Logger({ level: 'debug', sink: (l) => h.lines.push(l) });
    await runWatch({ config: h.config, ikmSource: () => new FixedIkm(h.ikm), metrics, log, signal: controller.signal, intervalMs: 10, maxRounds: 1 });
    assert.equal(restarted.sealed, false);
    h.cluster.nodes.forEach((n, i) => {
      if (n !== restarted) assert.equal(count(n, 'PUT sys/unseal'), unsealsBefore[i], `no unseal sent to ${n.url}`);
    });
    assert.equal(metrics.node(restarted.url).unsealAttempts, 1);
    assert.ok(metrics.node(restarted.url).lastUnsealSuccess > 0);
    assert.equal(metrics.node(active.url).role, 'active');
    assert.equal(metrics.node(restarted.url).role, 'standby');
    assert.equal(metrics.healthy(), true);
    const text = metrics.render();
    assert.match(text, new RegExp(`secretstore_setup_node_active\\{node="${active.url}"\\} 1`));
    assert.match(text, new RegExp(`secretstore_setup_node_active\\{node="${restarted.url}"\\} 0`));

    // A node that is down is reported down; the others keep their state.
    await h.cluster.kill(restarted);
    await runWatch({ config: h.config, ikmSource: () => new FixedIkm(h.ikm), metrics, log, signal: controller.signal, intervalMs: 10, maxRounds: 1 });
    assert.equal(metrics.node(restarted.url).role, 'down');
    assert.equal(metrics.node(active.url).role, 'active');
    assert.equal(metrics.healthy(), false);
  });
});

test('status shows each node\'s role (active, standby, sealed, uninitialized, down) in text and JSON', async () => {
  const lone = new FakeVault(); // another, uninitialized store
  await lone.start();
  try {
    await withCluster(4, async (h) => {
      await h.run();
      const [a, b, c, d] = h.cluster.nodes as [FakeVault, FakeVault, FakeVault, FakeVault];
      h.cluster.autoElect = false;
      h.cluster.makeActive(b);
      c.seal();
      await h.cluster.kill(d);
      const config = { ...h.config, nodes: [a.url, b.url, c.url, d.url, lone.url] };
      const report = await gatherStatus(config, {}, new Logger({ level: 'error', sink: () => undefined }));
      assert.deepEqual(
        report.nodes.map((n) => [n.address, n.role]),
        [
          [a.url, 'standby'],
          [b.url, 'active'],
          [c.url, 'sealed'],
          [d.url, 'down'],
          [lone.url, 'uninitialized'],
        ],
      );
      const text = renderStatus(report);
      assert.match(text, new RegExp(`node ${a.url}: standby \\(unsealed; forwards requests to the active node\\)`));
      assert.match(text, new RegExp(`node ${b.url}: active \\(unsealed\\); threshold 3 of 5 shares`));
      assert.match(text, new RegExp(`node ${c.url}: sealed \\(unseal progress 0/3\\)`));
      assert.match(text, new RegExp(`node ${d.url}: unreachable \\(.*\\); role down`));
      assert.match(text, new RegExp(`node ${lone.url}: uninitialized`));
      const json = JSON.parse(JSON.stringify(report)) as { nodes: { address: string; role: string }[] };
      assert.deepEqual(json.nodes.map((n) => n.role), ['standby', 'active', 'sealed', 'down', 'uninitialized']);
    });
  } finally {
    await lone.stop();
  }
});
