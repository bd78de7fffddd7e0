/**
 * The `--longRun` token re-issue endpoint with a fake re-issue: EdgeX's route, method and response shapes, entity-id
 * checks, real error statuses, rate limits (injected clock), body cap, one re-issue at a time, draining close, and
 * logs that never hold a secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { SecretStoreError, isSecretStoreError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import { startReissueServer, type ReissueServer, type ReissueServerOptions } from '../../../src/edgex/reissue/reissue-server.js';
import { ReissueRateLimiter } from '../../../src/edgex/reissue/rate-limit.js';
import { assertNoSecrets } from '../../helpers/secret-scan.js';

const ID = '6e0c2a4e-64d5-4f3b-1c2d-9a8b7c6d5e4f';
const ID2 = 'a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90';

function capture(format: 'text' | 'json' = 'text'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', format, sink: (l) => lines.push(l) }), lines };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One raw HTTP request (node:http, so any method and any path bytes can be sent). */
function send(base: string, method: string, path: string, body?: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The request EdgeX's client (go-mod-core-contracts `RegenToken`) sends: PUT, JSON `null`, a correlation id. */
function regen(base: string, entityId: string, correlation = '0b9c1f7e-1111-4222-8333-944455556666'): Promise<Reply> {
  return send(base, 'PUT', `/api/v3/token/entityId/${entityId}`, 'null', { 'Content-Type': 'application/json', 'X-Correlation-ID': correlation });
}

async function withServer(
  overrides: Partial<ReissueServerOptions>,
  fn: (server: ReissueServer, calls: string[], lines: string[]) => Promise<void>,
): Promise<void> {
  const { log, lines } = capture();
  const calls: string[] = [];
  const server = await startReissueServer({
    host: '127.0.0.1',
    port: 0,
    log,
    reissue: (id) => {
      calls.push(id);
      return Promise.resolve();
    },
    ...overrides,
  });
  try {
    await fn(server, calls, lines);
  } finally {
    await server.close();
  }
}

test('PUT /api/v3/token/entityId/:id → 200 with EdgeX BaseResponse, correlation id echoed, re-issue called once', async () => {
  await withServer({}, async (server, calls, lines) => {
    const r = await regen(server.url, ID);
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"apiVersion":"v3","statusCode":200}\n');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-correlation-id'], '0b9c1f7e-1111-4222-8333-944455556666');
    assert.deepEqual(calls, [ID]);
    // A query string is ignored (echo routes on the path); upper-case hex is an id shape too.
    const upper = ID.toUpperCase();
    assert.equal((await send(server.url, 'PUT', `/api/v3/token/entityId/${upper}?x=1`)).status, 200);
    assert.deepEqual(calls, [ID, upper]);
    // No body at all is fine as well; no correlation id → a fresh one.
    const bare = await send(server.url, 'PUT', `/api/v3/token/entityId/${ID2}`);
    assert.equal(bare.status, 200);
    assert.match(String(bare.headers['x-correlation-id']), /^[0-9a-f-]{36}$/);
    const ok = lines.filter((l) => l.includes('token re-issued'));
    assert.equal(ok.length, 3);
    assert.match(ok[0] ?? '', new RegExp(`entityId=${ID}.* outcome=ok status=200 ms=\\d+`));
  });
});

test('a bad entity id → 400 with an EdgeX error body; the re-issue is never called', async () => {
  await withServer({}, async (server, calls) => {
    for (const bad of ['not-a-uuid', '%2e%2e', '..', `${ID}0`, ID.slice(1), ID.replaceAll('-', ''), '%E0%A4%A', `${ID}%00`, '', '%2F' + ID, 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz']) {
      const r = await regen(server.url, bad);
      assert.equal(r.status, 400, bad);
      const body = JSON.parse(r.text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['apiVersion', 'message', 'statusCode']);
      assert.equal(body.apiVersion, 'v3');
      assert.equal(body.statusCode, 400);
      assert.match(String(body.message), /entity id/);
    }
    assert.deepEqual(calls, []);
  });
});

test('unknown routes → 404, other methods on the route → 405 with Allow: PUT (EdgeX error shape)', async () => {
  await withServer({}, async (server, calls) => {
    for (const path of ['/', '/api/v3/token', '/api/v3/token/entityId', `/api/v3/token/entityId/${ID}/x`, `/api/v2/token/entityId/${ID}`, `/api/v3/token/entityid/${ID}`, '/api/v3/ping']) {
      const r = await send(server.url, 'PUT', path);
      assert.equal(r.status, 404, path);
      assert.deepEqual(JSON.parse(r.text), { apiVersion: 'v3', message: 'route not found', statusCode: 404 });
    }
    for (const method of ['GET', 'POST', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await send(server.url, method, `/api/v3/token/entityId/${ID}`);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'PUT');
      const body = JSON.parse(r.text) as Record<string, unknown>;
      assert.equal(body.statusCode, 405);
    }
    const head = await send(server.url, 'HEAD', `/api/v3/token/entityId/${ID}`);
    assert.equal(head.status, 405);
    assert.equal(head.text, '');
    assert.deepEqual(calls, []);
  });
});

test('a failed re-issue → 500 with the reason; an unexpected error → 500 without its text', async () => {
  let next: Error = new SecretStoreError('STORE_ERROR', 'the secret store at http://127.0.0.1:1 answered HTTP 403 to auth/token/create/core-data');
  await withServer(
    {
      reissue: () => Promise.reject(next),
    },
    async (server, _calls, lines) => {
      const r = await regen(server.url, ID);
      assert.equal(r.status, 500);
      assert.deepEqual(JSON.parse(r.text), {
        apiVersion: 'v3',
        message: 'token re-issue failed: the secret store at http://127.0.0.1:1 answered HTTP 403 to auth/token/create/core-data',
        statusCode: 500,
      });
      next = new TypeError('boom s.SECRETSECRETSECRET');
      const r2 = await regen(server.url, ID);
      assert.equal(r2.status, 500);
      assert.deepEqual(JSON.parse(r2.text), { apiVersion: 'v3', message: 'token re-issue failed: internal error (TypeError)', statusCode: 500 });
      assert.ok(!lines.join('\n').includes('SECRETSECRET'));
      const failed = lines.filter((l) => l.includes('token re-issue failed'));
      assert.equal(failed.length, 2);
      assert.match(failed[0] ?? '', new RegExp(`ERROR token re-issue failed entityId=${ID} .*outcome=failed status=500 ms=\\d+ code=STORE_ERROR`));
    },
  );
});

test('rate limit per entity: 429 with Retry-After from the injected clock, admitted again when the window moves', async () => {
  let clock = 1_000_000;
  await withServer({ rateLimit: { perEntity: 2, overall: 10, now: () => clock } }, async (server, calls, lines) => {
    assert.equal((await regen(server.url, ID)).status, 200);
    clock += 10_000;
    assert.equal((await regen(server.url, ID)).status, 200);
    clock += 5_000;
    let r = await regen(server.url, ID);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '45');
    const body = JSON.parse(r.text) as Record<string, unknown>;
    assert.equal(body.statusCode, 429);
    assert.match(String(body.message), /too many token re-issues for this entity/);
    // Another entity is not affected.
    assert.equal((await regen(server.url, ID2)).status, 200);
    clock += 44_500;
    r = await regen(server.url, ID);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '1');
    clock += 500;
    assert.equal((await regen(server.url, ID)).status, 200);
    assert.deepEqual(calls, [ID, ID, ID2, ID]);
    assert.ok(lines.some((l) => l.includes('rate limit reached') && l.includes('outcome=rate-limited') && l.includes('retryAfter=45')));
  });
});

test('rate limit overall: 429 once the total is reached, whatever the entity', async () => {
  let clock = 0;
  await withServer({ rateLimit: { perEntity: 5, overall: 3, now: () => clock } }, async (server, calls) => {
    const ids = ['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000003'];
    for (const id of ids) {
      assert.equal((await regen(server.url, id)).status, 200);
      clock += 1000;
    }
    const r = await regen(server.url, '00000000-0000-0000-0000-000000000004');
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '57');
    assert.match(String((JSON.parse(r.text) as Record<string, unknown>).message), /too many token re-issues \(at most 3 per 60 s\)/);
    clock += 57_000;
    assert.equal((await regen(server.url, '00000000-0000-0000-0000-000000000004')).status, 200);
    assert.equal(calls.length, 4);
  });
});

test('the default limits are 6 per entity and 60 in all per minute; bad settings are refused', async () => {
  const limiter = new ReissueRateLimiter();
  assert.equal(limiter.perEntity, 6);
  assert.equal(limiter.overall, 60);
  assert.equal(limiter.windowMs, 60_000);
  for (const bad of [0, -1, 1.5]) assert.throws(() => new ReissueRateLimiter({ perEntity: bad }), RangeError);
  let clock = 0;
  await withServer({ rateLimit: { now: () => clock } }, async (server) => {
    for (let i = 0; i < 6; i++) assert.equal((await regen(server.url, ID)).status, 200);
    assert.equal((await regen(server.url, ID)).status, 429);
    clock += 60_000;
    assert.equal((await regen(server.url, ID)).status, 200);
  });
});

test('the limiter keeps memory bounded: entities out of the window are swept', () => {
  let clock = 0;
  const limiter = new ReissueRateLimiter({ perEntity: 1, overall: 5, now: () => clock });
  for (let i = 0; i < 1000; i++) {
    const decision = limiter.take(`id-${i}`);
    if (i % 5 === 4) clock += 60_001;
    assert.ok(decision.allowed, `request ${i}`);
    assert.ok(limiter.trackedEntities <= 6, `tracked ${limiter.trackedEntities}`);
  }
});

test('a body over the cap → 413 and the re-issue is not called', async () => {
  await withServer({ maxBodyBytes: 16 }, async (server, calls) => {
    const r = await send(server.url, 'PUT', `/api/v3/token/entityId/${ID}`, 'x'.repeat(17), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 413);
    assert.equal((JSON.parse(r.text) as Record<string, unknown>).statusCode, 413);
    // Chunked (no Content-Length): counted while it arrives.
    const chunked = await new Promise<number>((resolve, reject) => {
      const url = new URL(server.url);
      const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: `/api/v3/token/entityId/${ID}`, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve(-1);
        else reject(err);
      });
      req.write('y'.repeat(10));
      req.write('y'.repeat(10));
      req.end();
    });
    assert.ok(chunked === 413 || chunked === -1, String(chunked));
    assert.deepEqual(calls, []);
    assert.equal((await regen(server.url, ID)).status, 200);
  });
});

test('re-issues run one at a time, in order of arrival', async () => {
  let running = 0;
  let maxRunning = 0;
  const order: string[] = [];
  await withServer(
    {
      reissue: async (id) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 30));
        order.push(id);
        running--;
      },
    },
    async (server) => {
      const results = await Promise.all([regen(server.url, ID), regen(server.url, ID2), regen(server.url, ID)]);
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200],
      );
      assert.equal(maxRunning, 1);
      assert.equal(order.length, 3);
    },
  );
});

test('close() drains: a re-issue in progress completes and answers 200; then the port is closed', async () => {
  const { log } = capture();
  let release: () => void = () => undefined;
  let started: () => void = () => undefined;
  const isStarted = new Promise<void>((r) => {
    started = r;
  });
  const server = await startReissueServer({
    host: '127.0.0.1',
    port: 0,
    log,
    reissue: () =>
      new Promise<void>((resolve) => {
        release = resolve;
        started();
      }),
  });
  const pending = regen(server.url, ID);
  await isStarted;
  let closed = false;
  const closing = server.close().then(() => {
    closed = true;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closed, false, 'close waits for the re-issue in progress');
  release();
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(r.headers.connection, 'close');
  await closing;
  assert.equal(closed, true);
  await server.close();
  await assert.rejects(regen(server.url, ID), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
});

test('close() stops waiting after the drain timeout', async () => {
  const { log, lines } = capture();
  const server = await startReissueServer({ host: '127.0.0.1', port: 0, log, drainTimeoutMs: 50, reissue: () => new Promise<void>(() => undefined) });
  const pending = regen(server.url, ID).catch((err: unknown) => err);
  await new Promise((r) => setTimeout(r, 30));
  await server.close();
  assert.ok(lines.some((l) => l.includes('drain timeout')));
  assert.ok((await pending) instanceof Error, 'the cut connection fails the request');
});

test('a port already in use is an IO error naming host:port', async () => {
  await withServer({}, async (server) => {
    const { log } = capture();
    await assert.rejects(startReissueServer({ host: '127.0.0.1', port: server.port, log, reissue: () => Promise.resolve() }), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'IO'));
      assert.ok(err.message.includes(`127.0.0.1:${server.port}`), err.message);
      assert.match(err.message, /already in use/);
      return true;
    });
  });
});

test('no secret reaches a log line, whatever the re-issue does or fails with (text and JSON logs)', async () => {
  for (const format of ['text', 'json'] as const) {
    const { log, lines } = capture(format);
    const token = `s.${randomBytes(18).toString('base64url')}`;
    const accessor = randomBytes(12).toString('base64url');
    let fail = false;
    const server = await startReissueServer({
      host: '127.0.0.1',
      port: 0,
      log,
      reissue: () => {
        // A fake re-issue that holds a token; a failure whose text (not a SecretStoreError) holds it too.
        if (fail) return Promise.reject(new Error(`create answered ${token} ${accessor}`));
        return Promise.resolve();
      },
    });
    const replies: string[] = [];
    try {
      replies.push((await regen(server.url, ID)).text);
      fail = true;
      replies.push((await regen(server.url, ID)).text);
      replies.push((await regen(server.url, 'not-an-id')).text);
      replies.push((await send(server.url, 'GET', `/api/v3/token/entityId/${ID}`)).text);
    } finally {
      await server.close();
    }
    assertNoSecrets([...lines, ...replies], [
      { label: 'token', value: Buffer.from(token) },
      { label: 'accessor', value: Buffer.from(accessor) },
    ]);
    assert.ok(lines.length >= 4);
  }
});
