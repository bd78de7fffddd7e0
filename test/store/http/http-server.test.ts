import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { Logger } from '../../../src/log.js';
import { StoreApi } from '../../../src/store/http/api.js';
import { StoreHttpServer } from '../../../src/store/http/http-server.js';
import { call, rawRequest } from './client.js';
import { FakeLogical, FakeSeal } from './fakes.js';
import { httpFixturesDir } from '../../helpers/paths.js';

const FIXTURES = httpFixturesDir();

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

/**
 * Sends `parts` on one keep-alive connection (each part a separate write, `gapMs` apart, so each arrives as its own
 * packet on loopback) and returns the responses, split at their status lines, once `expected` of them arrived.
 */
async function exchange(port: number, parts: string[], expected: number, gapMs = 40): Promise<string[]> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`timed out; got: ${JSON.stringify(text)}`));
    }, 5_000);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.split('HTTP/1.1 ').length - 1 >= expected && /\}$|\r\n\r\n$/.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  for (const part of parts) {
    socket.write(part);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await done;
  socket.destroy();
  return text.split(/(?=HTTP\/1\.1 )/).filter((r) => r !== '');
}

const LIST_DIR = 'LIST /v1/secret/dir HTTP/1.1\r\nHost: a\r\nX-Vault-Token: root-token\r\n\r\n';
const GET_A = 'GET /v1/secret/dir/a HTTP/1.1\r\nHost: a\r\nX-Vault-Token: root-token\r\n\r\n';
const STATUS = 'GET /v1/sys/seal-status HTTP/1.1\r\nHost: a\r\n\r\n';

/** Asserts one response: 200 with `needle` in its body (and, for a list, only there). */
function assertResponse(res: string | undefined, needle: string): void {
  assert.match(res ?? '', /^HTTP\/1\.1 200 /);
  assert.ok((res ?? '').includes(needle), `${needle} not in ${JSON.stringify(res)}`);
  if (needle !== '"keys"') assert.ok(!(res ?? '').includes('"keys"'), 'a list answer out of order');
}

test('native parsing with LIST fallback: LIST as the first request, then more requests on the same connection', async () => {
  const h = await start();
  try {
    await call(h.server.url, 'PUT', '/v1/secret/dir/a', { token: 'root-token', body: { a: 1 } });
    const res = await exchange(h.server.port, [LIST_DIR, GET_A, LIST_DIR, STATUS], 4);
    assert.equal(res.length, 4);
    assertResponse(res[0], '"keys"');
    assertResponse(res[1], '"a":1');
    assertResponse(res[2], '"keys"');
    assertResponse(res[3], '"sealed"');
    assert.equal(h.logical.kv.lastRequest?.path, 'dir/');
  } finally {
    await h.server.close();
  }
});

test('native parsing with LIST fallback: LIST after a GET on a keep-alive connection', async () => {
  const h = await start();
  try {
    await call(h.server.url, 'PUT', '/v1/secret/dir/a', { token: 'root-token', body: { a: 1 } });
    const res = await exchange(h.server.port, [GET_A, STATUS, LIST_DIR, GET_A], 4);
    assert.equal(res.length, 4);
    assertResponse(res[0], '"a":1');
    assertResponse(res[1], '"sealed"');
    assertResponse(res[2], '"keys"');
    assertResponse(res[3], '"a":1');
  } finally {
    await h.server.close();
  }
});

test('native parsing with LIST fallback: pipelined GET + LIST in one packet answer in order while the GET is slow', async () => {
  const h = await start();
  try {
    await call(h.server.url, 'PUT', '/v1/secret/dir/a', { token: 'root-token', body: { a: 1 } });
    // The first GET waits in the backend until the LIST (parsed after it, in the same packet) has been taken over.
    const original = h.logical.kv.handle.bind(h.logical.kv);
    let first = true;
    h.logical.kv.handle = async (req, caller) => {
      if (first && req.operation === 'read') {
        first = false;
        await new Promise((r) => setTimeout(r, 150));
      }
      return original(req, caller);
    };
    const res = await exchange(h.server.port, [GET_A + LIST_DIR + GET_A, STATUS], 4);
    assert.equal(res.length, 4);
    assertResponse(res[0], '"a":1');
    assertResponse(res[1], '"keys"');
    assertResponse(res[2], '"a":1');
    assertResponse(res[3], '"sealed"');
  } finally {
    await h.server.close();
  }
});

test('native parsing with LIST fallback: a LIST split across packets (inside the method, and after a GET)', async () => {
  const h = await start();
  try {
    await call(h.server.url, 'PUT', '/v1/secret/dir/a', { token: 'root-token', body: { a: 1 } });
    for (const cut of [1, 2, 3, 7]) {
      const first = await exchange(h.server.port, [LIST_DIR.slice(0, cut), LIST_DIR.slice(cut), STATUS], 2);
      assert.equal(first.length, 2, `cut ${cut}`);
      assertResponse(first[0], '"keys"');
      assertResponse(first[1], '"sealed"');
      const later = await exchange(h.server.port, [GET_A + LIST_DIR.slice(0, cut), LIST_DIR.slice(cut)], 2);
      assert.equal(later.length, 2, `cut ${cut}`);
      assertResponse(later[0], '"a":1');
      assertResponse(later[1], '"keys"');
    }
  } finally {
    await h.server.close();
  }
});

test('native parsing with LIST fallback: other unknown methods still get 400 and a close, before or after a LIST', async () => {
  const h = await start();
  try {
    await call(h.server.url, 'PUT', '/v1/secret/dir/a', { token: 'root-token', body: { a: 1 } });
    for (const bad of ['UNLIST /v1/secret/dir HTTP/1.1\r\n\r\n', 'LISTEN /v1/x HTTP/1.1\r\n\r\n', 'BREW /v1/x HTCPCP/1.0\r\n\r\n']) {
      assert.match(await rawRequest(h.server.port, bad), /^HTTP\/1\.1 400 /, bad);
      // On a connection already handed to the rewriter (a LIST answered first), and with the method split after LIS.
      for (const parts of [[LIST_DIR, bad], [LIST_DIR, bad.slice(0, 3), bad.slice(3)], [bad.slice(0, 3), bad.slice(3)]]) {
        const res = await exchange(h.server.port, parts, parts[0] === LIST_DIR ? 2 : 1);
        const last = res[res.length - 1] ?? '';
        assert.match(last, /^HTTP\/1\.1 400 /, bad);
        assert.match(last, /Connection: close/);
        if (parts[0] === LIST_DIR) assertResponse(res[0], '"keys"');
      }
    }
  } finally {
    await h.server.close();
  }
});
