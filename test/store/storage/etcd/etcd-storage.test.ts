import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { isSecretStoreError } from '../../../../src/errors.js';
import { Logger } from '../../../../src/log.js';
import type { SharedStorage } from '../../../../src/store/storage/shared-storage.js';
import { openEtcdStorage, prefixEnd, type EtcdStorageOptions } from '../../../../src/store/storage/etcd/etcd-storage.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';
import { freePort, lazySingleMember, type EtcdCluster } from '../../../helpers/etcd-cluster.js';

/** One single-member cluster shared by the tests of this file (each test uses prefixes of its own). */
const shared = lazySingleMember();
const sharedCluster = (t: TestContext): Promise<EtcdCluster | undefined> => shared.get(t);
test.after(() => shared.stop());

function quietLog(lines: string[] = []): Logger {
  return new Logger({ level: 'debug', sink: (l) => lines.push(l) });
}

async function open(t: TestContext, options: Partial<EtcdStorageOptions> & { endpoints: string[] }, lines?: string[]): Promise<SharedStorage> {
  const storage = await openEtcdStorage({ prefix: `t-${randomUUID()}/`, ...options }, quietLog(lines));
  t.after(() => storage.close());
  return storage;
}

test('prefixEnd: the first key past every key with the prefix', () => {
  assert.deepEqual(prefixEnd(Buffer.from('a/')), Buffer.from('a0'));
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff, 0xff])), Buffer.from([0x62]));
  assert.deepEqual(prefixEnd(Buffer.from([0xff])), Buffer.from([0]));
});

test('get/put/delete/list behave as MemoryStorage over random operations', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const names = ['a', 'b', 'a/b', 'a/c', 'a/b/c', 'b/x/y', 'core/lock2', 'é/ü', 'z z'];
  const folders = ['', 'a/', 'a/b/', 'b/', 'b/x/', 'core/', 'é/', 'nope/'];
  type Op = { kind: 'put'; key: string; value: Uint8Array } | { kind: 'delete'; key: string } | { kind: 'get'; key: string } | { kind: 'list'; prefix: string };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom(...names), value: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...names) }),
    fc.record({ kind: fc.constant('get' as const), key: fc.constantFrom(...names) }),
    fc.record({ kind: fc.constant('list' as const), prefix: fc.constantFrom(...folders) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      const etcd = await openEtcdStorage({ endpoints: c.endpoints, prefix: `prop-${randomUUID()}/` }, quietLog());
      const memory = new MemoryStorage();
      try {
        for (const o of ops) {
          if (o.kind === 'put') {
            await etcd.put(o.key, Buffer.from(o.value));
            await memory.put(o.key, Buffer.from(o.value));
          } else if (o.kind === 'delete') {
            await etcd.delete(o.key);
            await memory.delete(o.key);
          } else if (o.kind === 'get') {
            assert.deepEqual(await etcd.get(o.key), await memory.get(o.key));
          } else {
            assert.deepEqual(await etcd.list(o.prefix), await memory.list(o.prefix));
          }
        }
        for (const f of folders) assert.deepEqual(await etcd.list(f), await memory.list(f));
      } finally {
        await etcd.close();
      }
    }),
    { numRuns: 25 },
  );
});

test('values are opaque bytes: binary, empty and large values come back exactly', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const s = await open(t, { endpoints: c.endpoints });
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const cases = [all, Buffer.alloc(0), randomBytes(1024 * 1024), Buffer.from([0, 0, 0])];
  for (const [i, v] of cases.entries()) {
    await s.put(`bin/${i}`, v);
    assert.deepEqual(await s.get(`bin/${i}`), v);
  }
  assert.equal(await s.get('bin/none'), undefined);
  await s.delete('bin/none');
});

test('list pages through thousands of keys and names every folder once', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const s = await open(t, { endpoints: c.endpoints });
  const memory = new MemoryStorage();
  const keys: string[] = [];
  for (let i = 0; i < 1300; i++) keys.push(`leaf${String(i).padStart(4, '0')}`);
  for (let i = 0; i < 1200; i++) keys.push(`deep/f${i % 3}/${i}`);
  keys.push('deep/x', 'deeper/y', 'zz/1/2/3');
  const queue = [...keys];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) await s.put(k, Buffer.from(k));
    }),
  );
  for (const k of keys) await memory.put(k, Buffer.from(k));
  for (const p of ['', 'deep/', 'deep/f1/', 'zz/1/']) assert.deepEqual(await s.list(p), await memory.list(p), `list ${p}`);
  assert.equal((await s.list('')).length, 1300 + 3);
});

test('two prefixes on one cluster do not see each other', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const base = `iso-${randomUUID()}`;
  const a = await open(t, { endpoints: c.endpoints, prefix: `${base}/` });
  const b = await open(t, { endpoints: c.endpoints, prefix: `${base}2/` });
  const nested = await open(t, { endpoints: c.endpoints, prefix: `${base}/x/` });
  await a.put('k', Buffer.from('a'));
  await b.put('k', Buffer.from('b'));
  await nested.put('k', Buffer.from('n'));
  assert.deepEqual(await a.get('k'), Buffer.from('a'));
  assert.deepEqual(await b.get('k'), Buffer.from('b'));
  assert.deepEqual(await a.list(''), ['k', 'x/']);
  assert.deepEqual(await b.list(''), ['k']);
  assert.deepEqual(await nested.list(''), ['k']);
  await b.delete('k');
  assert.deepEqual(await a.get('k'), Buffer.from('a'));
});

test('create: of concurrent creates exactly one writes; an existing key is never overwritten', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const s1 = await open(t, { endpoints: c.endpoints, prefix: 'race/' });
  const s2 = await openEtcdStorage({ endpoints: c.endpoints, prefix: 'race/' }, quietLog());
  t.after(() => s2.close());
  for (let round = 0; round < 20; round++) {
    const key = `core/claim-${randomUUID()}`;
    const results = await Promise.all([s1.create(key, Buffer.from('one')), s2.create(key, Buffer.from('two')), s1.create(key, Buffer.from('three'))]);
    assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results.join(',')}`);
    const winner = ['one', 'two', 'three'][results.indexOf(true)];
    assert.equal((await s2.get(key))?.toString(), winner);
    assert.equal(await s1.create(key, Buffer.from('later')), false);
    assert.equal((await s1.get(key))?.toString(), winner);
  }
});

test('the lock key is reserved: storage cannot write it, get and list do not show it', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const s = await open(t, { endpoints: c.endpoints });
  const ac = new AbortController();
  const lock = await s.ha.acquire({ nodeId: 'n1', apiAddr: 'http://127.0.0.1:1' }, ac.signal);
  t.after(() => lock.release());
  await assert.rejects(s.put('core/lock', Buffer.from('x')), (e) => isSecretStoreError(e, 'INTERNAL'));
  await assert.rejects(s.delete('core/lock'), (e) => isSecretStoreError(e, 'INTERNAL'));
  await assert.rejects(s.create('core/lock', Buffer.from('x')), (e) => isSecretStoreError(e, 'INTERNAL'));
  assert.equal(await s.get('core/lock'), undefined);
  assert.deepEqual(await s.list(''), []);
  assert.deepEqual(await s.list('core/'), []);
  await s.put('core/keyring', Buffer.from('k'));
  assert.deepEqual(await s.list('core/'), ['keyring']);
});

test('options are checked at open (CONFIG), never echoing the password', async () => {
  const log = quietLog();
  const bad: EtcdStorageOptions[] = [
    { endpoints: [], prefix: 'v/' },
    { endpoints: ['not a url'], prefix: 'v/' },
    { endpoints: ['ftp://127.0.0.1:1'], prefix: 'v/' },
    { endpoints: ['http://u:p@127.0.0.1:1'], prefix: 'v/' },
    { endpoints: ['http://127.0.0.1:1'], prefix: 'v' },
    { endpoints: ['http://127.0.0.1:1'], prefix: '' },
    { endpoints: ['http://127.0.0.1:1'], prefix: 'v/', username: 'u' },
    { endpoints: ['http://127.0.0.1:1'], prefix: 'v/', requestTimeoutMs: 5 },
    { endpoints: ['http://127.0.0.1:1'], prefix: 'v/', leaseTtlSeconds: 1 },
    { endpoints: ['http://127.0.0.1:1'], prefix: 'v/', tls: { cert: Buffer.from('x') } },
  ];
  for (const options of bad) {
    await assert.rejects(openEtcdStorage(options, log), (e) => isSecretStoreError(e, 'CONFIG') && !e.message.includes('\n'), JSON.stringify(options));
  }
});

test('endpoint failover: a dead first endpoint is skipped; all dead fails with STORE_UNAVAILABLE within the timeout', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const dead = `http://127.0.0.1:${await freePort()}`;
  const lines: string[] = [];
  const s = await open(t, { endpoints: [dead, ...c.endpoints] }, lines);
  await s.put('f', Buffer.from('1'));
  assert.deepEqual(await s.get('f'), Buffer.from('1'));
  assert.ok(lines.some((l) => l.includes('etcd endpoint failed')), 'the move is logged');
  const started = Date.now();
  await assert.rejects(
    openEtcdStorage({ endpoints: [dead], prefix: 'v/', requestTimeoutMs: 1500 }, quietLog()),
    (e) => isSecretStoreError(e, 'STORE_UNAVAILABLE') && e.message.includes(dead),
  );
  assert.ok(Date.now() - started < 3000, 'bounded by the request timeout');
});

/** A fake endpoint that answers every request with `handler`. */
async function fakeEndpoint(t: TestContext, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('an endpoint that never answers: alone it fails the call within the timeout; with others the call moves on', async (t) => {
  const c = await sharedCluster(t);
  if (c === undefined) return;
  const hang = await fakeEndpoint(t, () => {
    // never answers
  });
  const started = Date.now();
  await assert.rejects(
    openEtcdStorage({ endpoints: [hang], prefix: 'v/', requestTimeoutMs: 800 }, quietLog()),
    // Either wording: the timer can fire a hair before the deadline, and then the loop ends instead.
    (e) => isSecretStoreError(e, 'STORE_UNAVAILABLE') && /(did not answer|no etcd endpoint answered \S+) within 800 ms/.test(e.message),
  );
  const took = Date.now() - started;
  assert.ok(took >= 700 && took < 2000, `bounded: ${took} ms`);
  // First endpoint hangs: a repeatable call gives it a share of its budget (≥ 1 s), then asks the next.
  const s = await open(t, { endpoints: [hang, ...c.endpoints], requestTimeoutMs: 5000 });
  const before = Date.now();
  await s.put('k', Buffer.from('v'));
  assert.deepEqual(await s.get('k'), Buffer.from('v'));
  assert.ok(Date.now() - before < 500, 'later calls start at the endpoint that answered');
  // A long budget does not make a silent member cost a long share: it is capped (2 s in the first round). Without
  // the cap, a 30 s budget over two endpoints would wait 15 s on the first.
  const patientStarted = Date.now();
  const patient = await open(t, { endpoints: [hang, ...c.endpoints], requestTimeoutMs: 30_000 });
  await patient.put('k2', Buffer.from('v'));
  const patientTook = Date.now() - patientStarted;
  assert.ok(patientTook < 8000, `a silent member costs a capped share: ${patientTook} ms`);
});

test('malformed answers are refused with STORE_UNAVAILABLE, not trusted', async (t) => {
  const answers = [
    '{"header":{"revision":"1"},"kvs":[{"key":"not base64!","value":"eA=="}]}',
    '{"header":{"revision":"1"},"kvs":"nope"}',
    '{"header":{"revision":"1"},"kvs":[{"key":"eA==","create_revision":"x1"}]}',
    'not json',
    '[]',
  ];
  for (const body of answers) {
    const url = await fakeEndpoint(t, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    });
    await assert.rejects(openEtcdStorage({ endpoints: [url], prefix: 'v/' }, quietLog()), (e) => isSecretStoreError(e, 'STORE_UNAVAILABLE'), body);
  }
  const url = await fakeEndpoint(t, (_req, res) => {
    res.writeHead(500).end('<html>oops</html>');
  });
  await assert.rejects(openEtcdStorage({ endpoints: [url], prefix: 'v/' }, quietLog()), (e) => isSecretStoreError(e, 'STORE_UNAVAILABLE') && /HTTP 500/.test(e.message));
});
