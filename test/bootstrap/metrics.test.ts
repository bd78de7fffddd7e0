/** Watch metrics: Prometheus exposition, label escaping, the loopback-only endpoint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WatchMetrics, escapeLabel } from '../../src/bootstrap/metrics.js';
import { parseLoopbackListen, startMetricsServer } from '../../src/bootstrap/metrics-server.js';
import { isSecretStoreError } from '../../src/errors.js';

test('render: one family per metric, every node labelled, unknown sealed state is -1', () => {
  const m = new WatchMetrics(['http://a:1', 'http://b:2']);
  const a = m.node('http://a:1');
  a.sealed = false;
  a.reachable = true;
  a.unsealAttempts = 2;
  const text = m.render();
  assert.match(text, /^# HELP secretstore_setup_node_sealed /m);
  assert.match(text, /^# TYPE secretstore_setup_unseal_attempts_total counter$/m);
  assert.match(text, /^secretstore_setup_node_sealed\{node="http:\/\/a:1"\} 0$/m);
  assert.match(text, /^secretstore_setup_node_sealed\{node="http:\/\/b:2"\} -1$/m);
  assert.match(text, /^secretstore_setup_unseal_attempts_total\{node="http:\/\/a:1"\} 2$/m);
  assert.equal(m.healthy(), false);
  const b = m.node('http://b:2');
  b.sealed = false;
  b.reachable = true;
  assert.equal(m.healthy(), true);
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

test('parseLoopbackListen accepts loopback only', () => {
  assert.deepEqual(parseLoopbackListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseLoopbackListen('[::1]:9201'), { host: '::1', port: 9201 });
  assert.deepEqual(parseLoopbackListen('localhost:1'), { host: 'localhost', port: 1 });
  for (const bad of ['0.0.0.0:9201', '10.0.0.1:1', '127.0.0.1', ':80', '127.0.0.1:70000']) {
    assert.throws(() => parseLoopbackListen(bad), (err: unknown) => isSecretStoreError(err, 'USAGE'), bad);
  }
});

test('the endpoint serves /healthz (503 until all unsealed, then 200) and /metrics; 404 and 405 otherwise', async () => {
  const m = new WatchMetrics(['http://a:1']);
  const server = await startMetricsServer(m, '127.0.0.1', 0);
  try {
    let r = await fetch(`${server.url}/healthz`);
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { status: 'degraded', nodes: { 'http://a:1': 'unreachable' } });
    const n = m.node('http://a:1');
    n.reachable = true;
    n.sealed = false;
    r = await fetch(`${server.url}/healthz`);
    assert.equal(r.status, 200);
    r = await fetch(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain; version=0\.0\.4/);
    assert.match(await r.text(), /secretstore_setup_node_up\{node="http:\/\/a:1"\} 1/);
    assert.equal((await fetch(`${server.url}/other`)).status, 404);
    assert.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    await server.close();
  }
});
