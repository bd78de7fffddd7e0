/**
 * Forwarding to an `https` api_addr: two nodes serving TLS (the test certificate, for 127.0.0.1) over the memory
 * shared storage; a standby forwards to the active node trusting the given CA, and refuses (503, never a hang) to
 * forward to a node whose certificate it does not trust.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '../../../src/log.js';
import { StoreServer } from '../../../src/store/server.js';
import { MemorySharedCluster } from '../../helpers/memory-shared-storage.js';
import { httpFixturesDir } from '../../helpers/paths.js';
import { call, type CallOptions, type TestResponse } from '../http/client.js';

type Json = Record<string, unknown>;

test('a standby forwards over TLS to the active node, trusting only the CA it was given', async (t) => {
  const cert = await readFile(join(httpFixturesDir(), 'test-server.crt'));
  const key = await readFile(join(httpFixturesDir(), 'test-server.key'));
  const cluster = new MemorySharedCluster();
  const mk = (ca: Buffer[] | undefined): Promise<StoreServer> =>
    StoreServer.start({
      host: '127.0.0.1',
      port: 0,
      tls: { cert, key },
      shared: { storage: cluster.node(), node: { retryMs: 50, leaderCacheMs: 0 }, forwarding: { ca, timeoutMs: 3_000 } },
      log: new Logger({ sink: () => undefined }),
    });
  const a = await mk([cert]);
  const b = await mk([cert]);
  // Trusts only the system's CAs: the test certificate is self-signed.
  const untrusting = await mk(undefined);
  t.after(async () => {
    for (const s of [a, b, untrusting]) await s.close();
  });
  const api = (node: StoreServer, method: string, path: string, options: CallOptions = {}): Promise<TestResponse> =>
    call(node.url, method, `/v1/${path}`, { ...options, ca: cert });
  assert.match(a.url, /^https:\/\//);
  cluster.barred.add(b.url);
  cluster.barred.add(untrusting.url);
  const init = (await api(a, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } })).json as Json;
  const unsealKey = (init.keys as string[])[0] ?? '';
  const root = init.root_token as string;
  for (const n of [a, b, untrusting]) await api(n, 'PUT', 'sys/unseal', { body: { key: unsealKey } });
  for (let i = 0; (await api(a, 'GET', 'sys/health')).status !== 200; i++) {
    assert.ok(i < 200, 'a never became active');
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal((await api(b, 'POST', 'sys/mounts/secret', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);
  assert.equal((await api(b, 'POST', 'secret/data/x', { token: root, body: { data: { v: 'tls' } } })).status, 200);
  assert.deepEqual(((await api(a, 'GET', 'secret/data/x', { token: root })).json as { data: Json }).data.data, { v: 'tls' });
  const refused = await api(untrusting, 'GET', 'secret/data/x', { token: root });
  assert.equal(refused.status, 503);
  assert.match(((refused.json as Json).errors as string[])[0] ?? '', /^error forwarding the request to the active node: /);
});
