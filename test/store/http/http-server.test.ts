import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Logger } from '../../../src/log.js';
import { StoreApi } from '../../../src/store/http/api.js';
import { StoreHttpServer } from '../../../src/store/http/http-server.js';
import { call, rawRequest } from './client.js';
import { FakeLogical, FakeSeal } from './fakes.js';

/** The source fixtures folder, found from the compiled test whatever the outDir depth. */
function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test/store/http/fixtures');
    if (existsSync(join(candidate, 'test-server.crt'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('test/store/http/fixtures not found');
    dir = parent;
  }
}
const FIXTURES = fixturesDir();

interface Harness {
  server: StoreHttpServer;
  seal: FakeSeal;
  logical: FakeLogical;
  logLines: string[];
}

async function start(opts: { maxBodyBytes?: number; tls?: boolean } = {}): Promise<Harness> {
  const seal = new FakeSeal();
  const logical = new FakeLogical();
  const logLines: string[] = [];
  const api = new StoreApi({ seal, logical: () => (seal.sealed ? undefined : logical), createRootToken: () => Promise.resolve('r') });
  const server = await StoreHttpServer.listen({
    host: '127.0.0.1',
    port: 0,
    api,
    log: new Logger({ sink: (l) => logLines.push(l), format: 'json' }),
    maxBodyBytes: opts.maxBodyBytes,
    tls:
      opts.tls === true
        ? { cert: readFileSync(join(FIXTURES, 'test-server.crt')), key: readFileSync(join(FIXTURES, 'test-server.key')) }
        : undefined,
  });
  return { server, seal, logical, logLines };
}

test('listens on a free port; JSON responses carry Content-Type and Cache-Control: no-store', async () => {
  const h = await start();
  try {
    assert.ok(h.server.port > 0);
    assert.equal(h.server.url, `http://127.0.0.1:${h.server.port}`);
    const r = await call(h.server.url, 'GET', '/v1/sys/seal-status');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['cache-control'], 'no-store');
    const denied = await call(h.server.url, 'GET', '/v1/secret/x');
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['cache-control'], 'no-store');
    assert.deepEqual(denied.json, { errors: ['permission denied'] });
    const put = await call(h.server.url, 'PUT', '/v1/secret/x', { token: 'root-token', body: { a: 1 } });
    assert.equal(put.status, 204);
    assert.equal(put.text, '');
    assert.equal(put.headers['cache-control'], 'no-store');
  } finally {
    await h.server.close();
  }
});

test('LIST over the wire (as node-vault sends it) reaches the backend as a list', async () => {
  const h = await start();
  try {
    await call(h.server.url, 'PUT', '/v1/secret/dir/a', { token: 'root-token', body: { a: 1 } });
    const r = await call(h.server.url, 'LIST', '/v1/secret/dir', { token: 'root-token' });
    assert.equal(r.status, 200);
    assert.deepEqual((r.json as { data: unknown }).data, { keys: ['a'] });
    assert.equal(h.logical.kv.lastRequest?.path, 'dir/');
    // node-vault's own list() (method LIST), end to end through the rewriter.
    const require = createRequire(import.meta.url);
    const nodeVault = require('node-vault') as (o: { endpoint: string; token: string }) => { list(p: string): Promise<{ data: { keys: string[] } }> };
    const client = nodeVault({ endpoint: h.server.url, token: 'root-token' });
    assert.deepEqual((await client.list('secret/dir')).data.keys, ['a']);
  } finally {
    await h.server.close();
  }
});

test('body limit: a declared or streamed body over --max-body is 413 in Vault format', async () => {
  const h = await start({ maxBodyBytes: 64 });
  try {
    const big = { data: 'x'.repeat(100) };
    const r = await call(h.server.url, 'PUT', '/v1/secret/x', { token: 'root-token', body: big });
    assert.equal(r.status, 413);
    assert.deepEqual(r.json, { errors: ['error parsing JSON'] });
    // Chunked (no Content-Length): counted while streaming.
    const body = JSON.stringify(big);
    const raw = await rawRequest(
      h.server.port,
      `PUT /v1/secret/x HTTP/1.1\r\nHost: a\r\nX-Vault-Token: root-token\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    assert.match(raw, /^HTTP\/1\.1 413 /);
    const ok = await call(h.server.url, 'PUT', '/v1/secret/x', { token: 'root-token', body: { a: 1 } });
    assert.equal(ok.status, 204);
  } finally {
    await h.server.close();
  }
});

test('malformed JSON is 400 without any stack trace; HEAD sys/health has the status and no body', async () => {
  const h = await start();
  try {
    const r = await call(h.server.url, 'POST', '/v1/secret/x', { token: 'root-token', body: '{"a":' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { errors: ['error parsing JSON'] });
    assert.doesNotMatch(r.text, /at |\.js/);
    const head = await call(h.server.url, 'HEAD', '/v1/sys/health?activecode=204');
    assert.equal(head.status, 204);
    assert.equal(head.text, '');
    h.seal.sealed = true;
    const sealedHead = await call(h.server.url, 'HEAD', '/v1/sys/health');
    assert.equal(sealedHead.status, 503);
    assert.equal(sealedHead.text, '');
  } finally {
    await h.server.close();
  }
});

test('malformed HTTP gets a 400 and the connection closes', async () => {
  const h = await start();
  try {
    const raw = await rawRequest(h.server.port, 'BREW /v1/x HTCPCP/1.0\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 /);
  } finally {
    await h.server.close();
  }
});

test('request log: method, path, status, duration only — never the token, the query or the body', async () => {
  const h = await start();
  try {
    await call(h.server.url, 'PUT', '/v1/secret/logme?password=hunter2', { token: 'root-token', body: { secret: 's3cr3t-value' } });
    await call(h.server.url, 'GET', '/v1/auth/token/lookup/hvs.sometokenvalue', { token: 'root-token' });
    const lines = h.logLines.filter((l) => l.includes('"msg":"request"'));
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(first.method, 'PUT');
    assert.equal(first.path, 'secret/logme');
    assert.equal(first.status, 204);
    assert.equal(typeof first.duration_ms, 'number');
    const all = h.logLines.join('\n');
    for (const secret of ['root-token', 'hunter2', 's3cr3t-value', 'password', 'hvs.sometokenvalue']) assert.ok(!all.includes(secret), secret);
    assert.match(lines[1] ?? '', /auth\/token\/lookup\/<redacted>/);
  } finally {
    await h.server.close();
  }
});

test('graceful close: an in-flight request finishes, new connections are refused', async () => {
  const h = await start();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let entered: () => void = () => undefined;
  const reached = new Promise<void>((r) => (entered = r));
  const original = h.logical.kv.handle.bind(h.logical.kv);
  h.logical.kv.handle = async (req, caller) => {
    entered();
    await gate;
    return original(req, caller);
  };
  const inflight = call(h.server.url, 'PUT', '/v1/secret/slow2', { token: 'root-token', body: { a: 1 } });
  // Close only once the request is inside the backend (in flight).
  await reached;
  const closing = h.server.close();
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(call(h.server.url, 'GET', '/v1/sys/seal-status'), /ECONNREFUSED|ECONNRESET|socket hang up/);
  release();
  const r = await inflight;
  assert.equal(r.status, 204);
  assert.equal(r.headers.connection, 'close');
  await closing;
});

test('TLS: https with the test certificate, LIST still rewritten inside the TLS stream', async () => {
  const h = await start({ tls: true });
  try {
    assert.match(h.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(join(FIXTURES, 'test-server.crt'));
    const r = await call(h.server.url, 'GET', '/v1/sys/seal-status', { ca });
    assert.equal(r.status, 200);
    await call(h.server.url, 'PUT', '/v1/secret/t/a', { token: 'root-token', body: { a: 1 }, ca });
    const l = await call(h.server.url, 'LIST', '/v1/secret/t', { token: 'root-token', ca });
    assert.deepEqual((l.json as { data: unknown }).data, { keys: ['a'] });
    // Plain HTTP to the TLS port does not get an answer as HTTP.
    const raw = await rawRequest(h.server.port, 'GET /v1/sys/seal-status HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.doesNotMatch(raw, /^HTTP\/1\.1 200/);
  } finally {
    await h.server.close();
  }
});
