import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { isSecretStoreError } from '../../../../src/errors.js';
import { Logger } from '../../../../src/log.js';
import type { SharedStorage } from '../../../../src/store/storage/shared-storage.js';
import { openEtcdStorage, type EtcdStorageOptions } from '../../../../src/store/storage/etcd/etcd-storage.js';
import { EtcdCluster, ETCD, ETCD_PACKAGES } from '../../../helpers/etcd-cluster.js';
import { requireTools } from '../../../helpers/require-tools.js';

async function startCluster(t: TestContext): Promise<EtcdCluster | undefined> {
  if (!requireTools(t, [ETCD], ETCD_PACKAGES)) return undefined;
  const cluster = await EtcdCluster.start(3);
  t.after(() => cluster.stopAll());
  return cluster;
}

async function open(t: TestContext, options: Partial<EtcdStorageOptions> & { endpoints: string[] }, lines: string[] = []): Promise<SharedStorage> {
  const storage = await openEtcdStorage({ prefix: `c-${randomUUID()}/`, ...options }, new Logger({ level: 'debug', sink: (l) => lines.push(l) }));
  t.after(() => storage.close());
  return storage;
}

/** The index of the member that is etcd's raft leader now. */
async function leaderIndex(cluster: EtcdCluster): Promise<number> {
  const status = await new Promise<{ leader: string; header: { member_id: string } }>((resolve, reject) => {
    const req = http.request(`${cluster.endpoints[0] ?? ''}/v3/maintenance/status`, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        resolve(JSON.parse(text) as { leader: string; header: { member_id: string } });
      });
    });
    req.on('error', reject);
    req.end('{}');
  });
  if (status.leader === status.header.member_id) return 0;
  for (let i = 1; i < cluster.members.length; i++) {
    const other = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${cluster.endpoints[i] ?? ''}/v3/maintenance/status`, { method: 'POST', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          resolve((JSON.parse(text) as { header: { member_id: string } }).header.member_id);
        });
      });
      req.on('error', reject);
      req.end('{}');
    });
    if (other === status.leader) return i;
  }
  throw new Error('no leader found');
}

function settledWithin<T>(p: Promise<T>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => { resolve(false); }, ms))]);
}

test('three members, one killed: storage keeps serving; the lock survives a follower\'s loss and the raft leader\'s is bridged', async (t) => {
  const cluster = await startCluster(t);
  if (cluster === undefined) return;
  const prefix = `c-${randomUUID()}/`;
  const leader = await leaderIndex(cluster);
  const follower = leader === 0 ? 1 : 0;
  // The client's first endpoint is the member that will die first.
  const endpoints = [cluster.endpoints[follower] as string, ...cluster.endpoints.filter((_, i) => i !== follower)];
  const lines: string[] = [];
  // Each call may wait out a whole etcd election: 1–2.5 s usually, but more than the default 5 s budget once in CI
  // on a loaded machine (the storage then fails the call with STORE_UNAVAILABLE, as designed). What this test shows
  // is that the storage serves through the loss without a restart, not how fast etcd elects.
  const s = await open(t, { endpoints, prefix, requestTimeoutMs: 20_000 }, lines);
  const other = await open(t, { endpoints: [...endpoints].reverse(), prefix, requestTimeoutMs: 20_000 });
  const lock = await s.ha.acquire({ nodeId: 'a', apiAddr: 'http://a' }, new AbortController().signal);
  t.after(() => lock.release());
  s.fenceWith(lock);
  await s.put('before', Buffer.from('1'));

  // A follower (the client's first endpoint): nothing changes for the lock; calls move to the next endpoint.
  await cluster.kill(follower);
  let started = Date.now();
  await s.put('after-follower', Buffer.from('2'));
  t.diagnostic(`first write after killing an etcd follower: ${Date.now() - started} ms`);
  assert.deepEqual(await other.get('after-follower'), Buffer.from('2'));
  assert.equal(await settledWithin(lock.lost, 3500), false, 'the lock survives the loss of a follower');
  cluster.restart(follower);
  await cluster.waitHealthy(20_000);

  // The raft leader: etcd has no leader for one election (1–2 s); the new leader extends every lease. The holder
  // keeps its lock when a renewal succeeds within TTL − 0.5 s (usual), else it steps down and a node takes the lock
  // again — never two holders, and the storage serves throughout.
  const etcdLeader = await leaderIndex(cluster);
  await cluster.kill(etcdLeader);
  started = Date.now();
  let fencedWriteRefused = false;
  try {
    await s.put('after-leader', Buffer.from('3'));
  } catch (err) {
    // On a loaded machine the election can outlast TTL − 0.5 s: the holder stepped down, and its fenced write is
    // refused — as it must be. The storage itself still serves: the same write, unfenced, lands.
    if (!isSecretStoreError(err, 'STORE_STANDBY')) throw err;
    fencedWriteRefused = true;
    assert.equal(await settledWithin(lock.lost, 0), true, 'a refused fenced write means the lock was lost');
    s.fenceWith(undefined);
    await s.put('after-leader', Buffer.from('3'));
  }
  t.diagnostic(`first write after killing the etcd leader: ${Date.now() - started} ms${fencedWriteRefused ? ' (fenced write refused: stepped down)' : ''}`);
  assert.deepEqual(await other.get('before'), Buffer.from('1'));
  assert.deepEqual(await other.get('after-leader'), Buffer.from('3'));
  const survived = !fencedWriteRefused && !(await settledWithin(lock.lost, 3500));
  t.diagnostic(`HA lock kept through the etcd leader's loss: ${survived ? 'yes' : 'no (stepped down)'}`);
  if (survived) {
    assert.equal((await other.ha.leader())?.nodeId, 'a');
    await s.put('later', Buffer.from('4'));
  } else {
    s.fenceWith(undefined);
    const again = Date.now();
    const lock2 = await other.ha.acquire({ nodeId: 'b', apiAddr: 'http://b' }, AbortSignal.timeout(10_000));
    t.diagnostic(`lock taken again ${Date.now() - again} ms after the step-down`);
    await lock2.release();
  }
  t.diagnostic(lines.filter((l) => l.includes('renewal') || l.includes('HA lock')).join(' | '));
});

test('majority killed: calls fail with STORE_UNAVAILABLE within the timeout, the holder steps down; all recovers on restart', async (t) => {
  const cluster = await startCluster(t);
  if (cluster === undefined) return;
  const lines: string[] = [];
  const s = await open(t, { endpoints: cluster.endpoints, requestTimeoutMs: 2000 }, lines);
  const lock = await s.ha.acquire({ nodeId: 'a', apiAddr: 'http://a' }, new AbortController().signal);
  t.after(() => lock.release());
  s.fenceWith(lock);
  const acked: string[] = [];
  for (let i = 0; i < 20; i++) {
    await s.put(`k${i}`, Buffer.from(`v${i}`));
    acked.push(`k${i}`);
  }
  await cluster.kill(1);
  await cluster.kill(2);
  const killedAt = Date.now();
  let lostAt = 0;
  void lock.lost.then(() => (lostAt = Date.now()));
  for (const call of [() => s.get('k1'), () => s.list(''), () => s.put('x', Buffer.from('x')), () => s.create('y', Buffer.from('y'))]) {
    const started = Date.now();
    await assert.rejects(call(), (e) => (isSecretStoreError(e, 'STORE_UNAVAILABLE') || isSecretStoreError(e, 'STORE_STANDBY')) && !e.message.includes('\n'));
    const took = Date.now() - started;
    assert.ok(took < 2000 + 500, `bounded by the request timeout: ${took} ms`);
  }
  await lock.lost;
  const stepDown = lostAt - killedAt;
  t.diagnostic(`holder stepped down ${stepDown} ms after etcd lost its majority`);
  // The step-down comes TTL − 0.5 s after the last renewal that succeeded; an etcd leader cut off from its followers
  // still renews leases until it notices (one election timeout, 1 s), so up to ≈ 3.5 s after the kill.
  assert.ok(stepDown < 4500, `stepped down in time: ${stepDown} ms`);
  // Writes after the step-down are refused locally, at once.
  await assert.rejects(s.put('z', Buffer.from('z')), (e) => isSecretStoreError(e, 'STORE_STANDBY'));
  s.fenceWith(undefined);

  cluster.restart(1);
  cluster.restart(2);
  await cluster.waitHealthy(20_000);
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await s.put('back', Buffer.from('1'));
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  for (const k of acked) assert.deepEqual(await s.get(k), Buffer.from(`v${k.slice(1)}`), `acknowledged ${k} survived`);
  const again = await s.ha.acquire({ nodeId: 'a2', apiAddr: 'http://a' }, AbortSignal.timeout(15_000));
  await again.release();
  assert.ok(lines.every((l) => !l.includes('\n')));
});

test('kill -9 of every member: acknowledged writes are all there after the restart (durable in a majority)', async (t) => {
  const cluster = await startCluster(t);
  if (cluster === undefined) return;
  const s = await open(t, { endpoints: cluster.endpoints });
  const acked = new Map<string, Buffer>();
  let stop = false;
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const key = `w${w}/${i}`;
      const value = Buffer.from(`${w}:${i}`);
      try {
        await s.put(key, value);
        acked.set(key, value);
      } catch {
        return;
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 700));
  await Promise.all([cluster.kill(0), cluster.kill(1), cluster.kill(2)]);
  stop = true;
  await Promise.all(writers);
  assert.ok(acked.size > 20, `writes were acknowledged before the crash (${acked.size})`);
  for (let i = 0; i < 3; i++) cluster.restart(i);
  await cluster.waitHealthy(20_000);
  for (const [k, v] of acked) assert.deepEqual(await s.get(k), v, k);
  t.diagnostic(`${acked.size} acknowledged writes, 0 lost`);
});
