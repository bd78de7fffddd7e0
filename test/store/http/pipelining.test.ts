/**
 * Pipelining over real sockets against the store's listener (StoreHttpServer with the test fakes): requests sent
 * back to back in one TCP write, with and without bodies, with the `LIST` method (which node:http's parser rejects
 * and the listener takes over) anywhere in the pipeline. The invariant checked throughout: every request is either
 * answered (in order) and logged, or not executed at all — never executed and reported failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { Logger } from '../../../src/log.js';
import { StoreApi } from '../../../src/store/http/api.js';
import { StoreHttpServer, type StoreHttpTimeouts } from '../../../src/store/http/http-server.js';
import type { RouteTarget } from '../../../src/store/http/ports.js';
import { FakeKv, FakeLogical, FakeSeal } from './fakes.js';
import { httpFixturesDir } from '../../helpers/paths.js';

const ACL_PREFIX = 'sys/policies/acl';

/** The fake logical layer with `sys/policies/acl` served by a KV fake (a write there stands for a policy write). */
class PolicyLogical extends FakeLogical {
  readonly policyKv = new FakeKv();
  override route(path: string): RouteTarget | undefined {
    if (path === ACL_PREFIX || path.startsWith(`${ACL_PREFIX}/`)) {
      return { backend: this.policyKv, rest: path.slice(ACL_PREFIX.length).replace(/^\//, ''), mountType: 'system' };
    }
    return super.route(path);
  }
}

interface Harness {
  server: StoreHttpServer;
  logical: PolicyLogical;
  logLines: string[];
}

async function start(opts: { maxBodyBytes?: number; timeouts?: StoreHttpTimeouts } = {}): Promise<Harness> {
  const seal = new FakeSeal();
  const logical = new PolicyLogical();
  const logLines: string[] = [];
  const api = new StoreApi({ seal, logical: () => (seal.sealed ? undefined : logical), createRootToken: () => Promise.resolve('r') });
  const server = await StoreHttpServer.listen({
    host: '127.0.0.1',
    port: 0,
    api,
    log: new Logger({ sink: (l) => logLines.push(l), format: 'json' }),
    maxBodyBytes: opts.maxBodyBytes,
    timeouts: opts.timeouts,
  });
  return { server, logical, logLines };
}

/** One response as read off the wire. */
interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a conversation produced: the responses parsed in order, whether the server closed, any unparsed bytes. */
interface Conversation {
  responses: WireResponse[];
  closed: boolean;
  rest: string;
}

/**
 * Parses consecutive HTTP/1.1 responses; `methods[i]` is the method of the i-th request (a HEAD response has no
 * body). Stops at the first incomplete response.
 */
function parseResponses(data: Buffer, methods: readonly string[]): { responses: WireResponse[]; consumed: number } {
  const responses: WireResponse[] = [];
  let pos = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', pos, 'latin1');
    if (end === -1) break;
    const lines = data.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '');
    if (m === null) break;
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = end + 4;
    let body = '';
    const method = methods[responses.length] ?? 'GET';
    if (method !== 'HEAD' && status !== 204 && status !== 304) {
      if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (data.length < bodyStart + n) break;
        body = data.subarray(bodyStart, bodyStart + n).toString('utf8');
        bodyStart += n;
      } else if (headers['transfer-encoding'] === 'chunked') {
        let p = bodyStart;
        let complete = false;
        for (;;) {
          const nl = data.indexOf('\r\n', p, 'latin1');
          if (nl === -1) break;
          const size = parseInt(data.subarray(p, nl).toString('latin1'), 16);
          if (size === 0) {
            if (data.length < nl + 4) break;
            p = nl + 4;
            complete = true;
            break;
          }
          if (data.length < nl + 2 + size + 2) break;
          body += data.subarray(nl + 2, nl + 2 + size).toString('utf8');
          p = nl + 2 + size + 2;
        }
        if (!complete) break;
        bodyStart = p;
      }
    }
    responses.push({ status, headers, body });
    pos = bodyStart;
  }
  return { responses, consumed: pos };
}

/**
 * Sends each element of `writes` as its own socket write (`gapMs` apart, so each arrives as its own packet on
 * loopback) on one connection, and reads until `methods.length` responses arrived (then `settleMs` more, to catch
 * anything extra), the server closed, or `timeoutMs` passed. Never half-closes the connection.
 */
async function converse(
  port: number,
  writes: readonly (string | Buffer)[],
  methods: readonly string[],
  opts: { gapMs?: number; timeoutMs?: number; settleMs?: number } = {},
): Promise<Conversation> {
  const { gapMs = 15, timeoutMs = 3_000, settleMs = 20 } = opts;
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = Buffer.alloc(0);
  let closed = false;
  const done = new Promise<void>((resolve) => {
    let settle: NodeJS.Timeout | undefined;
    const timer = setTimeout(resolve, timeoutMs);
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (settle === undefined && parseResponses(data, methods).responses.length >= methods.length) {
        settle = setTimeout(() => {
          clearTimeout(timer);
          resolve();
        }, settleMs);
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      closed = true;
      clearTimeout(timer);
      if (settle !== undefined) clearTimeout(settle);
      resolve();
    });
  });
  for (const [i, w] of writes.entries()) {
    if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    if (!socket.destroyed) socket.write(w);
  }
  await done;
  socket.destroy();
  const parsed = parseResponses(data, methods);
  return { responses: parsed.responses, closed, rest: data.subarray(parsed.consumed).toString('latin1') };
}

/** The request-log lines (method, path, status), waiting up to 1 s for `count` of them (they follow the response). */
async function requestLog(h: Harness, count: number): Promise<{ method: string; path: string; status: number }[]> {
  const deadline = Date.now() + 1_000;
  const read = (): { method: string; path: string; status: number }[] =>
    h.logLines
      .map((l) => JSON.parse(l) as { msg: string; method: string; path: string; status: number })
      .filter((l) => l.msg === 'request')
      .map(({ method, path, status }) => ({ method, path, status }));
  while (read().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return read();
}

const TOKEN = 'X-Vault-Token: root-token\r\n';

function putPolicy(name: string): string {
  const body = JSON.stringify({ policy: `path "secret/${name}" { capabilities = ["read"] }` });
  return (
    `PUT /v1/sys/policies/acl/${name} HTTP/1.1\r\nHost: a\r\n${TOKEN}Content-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
const LIST_POLICIES = `LIST /v1/sys/policies/acl HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`;

test('PUT with a body + LIST pipelined in one write: both answered in order, both logged, the policy exists iff its 204 was sent', async () => {
  const h = await start();
  try {
    for (let i = 0; i < 10; i++) {
      const name = `p${i}`;
      const logBefore = (await requestLog(h, 0)).length;
      const c = await converse(h.server.port, [putPolicy(name) + LIST_POLICIES], ['PUT', 'LIST']);
      const exists = (await h.logical.policyKv.storage.get(name)) !== undefined;
      const statuses = c.responses.map((r) => r.status);
      // Whatever happened, a policy write must never be executed without its success being answered.
      assert.equal(exists, statuses[0] === 204, `run ${i}: policy exists=${exists} but answers were ${JSON.stringify(statuses)}`);
      assert.deepEqual(statuses, [204, 200], `run ${i}: answers ${JSON.stringify(statuses)} rest ${JSON.stringify(c.rest)}`);
      const keys = (JSON.parse(c.responses[1]?.body ?? '{}') as { data?: { keys?: string[] } }).data?.keys ?? [];
      assert.ok(keys.includes(name), `run ${i}: the LIST ran before the PUT: ${JSON.stringify(keys)}`);
      assert.equal(c.closed, false, `run ${i}: the connection was closed`);
      const log = (await requestLog(h, logBefore + 2)).slice(logBefore);
      assert.deepEqual(log, [
        { method: 'PUT', path: `sys/policies/acl/${name}`, status: 204 },
        { method: 'GET', path: 'sys/policies/acl', status: 200 },
      ]);
    }
  } finally {
    await h.server.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Every pipelined pair and triple of request kinds, bodies included, in one TCP write.

type LoggedLine = { method: string; path: string; status: number };

/** A request kind of the matrix; `make(id)` builds one request writing/deleting keys named after `id`. */
interface Kind {
  name: string;
  make(id: string): {
    raw: string;
    /** The method as the response parser needs it (HEAD has no body). */
    method: string;
    status: number;
    log: LoggedLine;
    /** A key this request writes (must exist afterwards) or deletes (must be gone afterwards). */
    writes?: string;
    deletes?: string;
  };
}

const DIR = 'secret/p';
const kv = (id: string): string => `${DIR}/${id}`;
const jsonBody = (id: string): string => JSON.stringify({ v: id });

const KINDS: Kind[] = [
  {
    name: 'GET',
    make: () => ({
      raw: `GET /v1/${DIR}/seed HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`,
      method: 'GET',
      status: 200,
      log: { method: 'GET', path: `${DIR}/seed`, status: 200 },
    }),
  },
  {
    name: 'HEAD',
    make: () => ({
      raw: `HEAD /v1/sys/health HTTP/1.1\r\nHost: a\r\n\r\n`,
      method: 'HEAD',
      status: 200,
      log: { method: 'HEAD', path: 'sys/health', status: 200 },
    }),
  },
  {
    name: 'PUT',
    make: (id) => ({
      raw: `PUT /v1/${kv(id)} HTTP/1.1\r\nHost: a\r\n${TOKEN}Content-Length: ${jsonBody(id).length}\r\n\r\n${jsonBody(id)}`,
      method: 'PUT',
      status: 204,
      log: { method: 'PUT', path: kv(id), status: 204 },
      writes: id,
    }),
  },
  {
    name: 'POST',
    make: (id) => ({
      raw: `POST /v1/${kv(id)} HTTP/1.1\r\nHost: a\r\n${TOKEN}Content-Type: application/json\r\nContent-Length: ${jsonBody(id).length}\r\n\r\n${jsonBody(id)}`,
      method: 'POST',
      status: 204,
      log: { method: 'POST', path: kv(id), status: 204 },
      writes: id,
    }),
  },
  {
    name: 'POST-chunked',
    make: (id) => {
      const body = jsonBody(id);
      const a = body.slice(0, 3);
      const b = body.slice(3);
      return {
        raw:
          `POST /v1/${kv(id)} HTTP/1.1\r\nHost: a\r\n${TOKEN}Transfer-Encoding: chunked\r\n\r\n` +
          `${a.length.toString(16)}\r\n${a}\r\n${b.length.toString(16)};ext=1\r\n${b}\r\n0\r\n\r\n`,
        method: 'POST',
        status: 204,
        log: { method: 'POST', path: kv(id), status: 204 },
        writes: id,
      };
    },
  },
  {
    name: 'DELETE',
    make: (id) => ({
      raw: `DELETE /v1/${kv(`victim-${id}`)} HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`,
      method: 'DELETE',
      status: 204,
      log: { method: 'DELETE', path: kv(`victim-${id}`), status: 204 },
      deletes: `victim-${id}`,
    }),
  },
  {
    name: 'LIST',
    make: () => ({
      raw: `LIST /v1/${DIR} HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`,
      method: 'LIST',
      status: 200,
      log: { method: 'GET', path: DIR, status: 200 },
    }),
  },
];

/** Sends `kinds` pipelined in one write on a fresh connection and checks the invariant in full. */
async function checkPipeline(h: Harness, kinds: readonly Kind[], tag: string, writes?: (whole: string) => string[]): Promise<void> {
  const store = h.logical.kv.storage;
  await store.put('p/seed', Buffer.from('{"s":1}'));
  const reqs = kinds.map((k, i) => k.make(`${tag}-${i}`));
  for (const r of reqs) if (r.deletes !== undefined) await store.put(`p/${r.deletes}`, Buffer.from('{"d":1}'));
  const logBefore = (await requestLog(h, 0)).length;
  const whole = reqs.map((r) => r.raw).join('');
  const c = await converse(h.server.port, writes === undefined ? [whole] : writes(whole), reqs.map((r) => r.method), { settleMs: 0 });
  const what = `${kinds.map((k) => k.name).join(' + ')} (${tag})`;
  assert.deepEqual(
    c.responses.map((r) => r.status),
    reqs.map((r) => r.status),
    `${what}: answers; rest ${JSON.stringify(c.rest)}`,
  );
  assert.equal(c.closed, false, `${what}: connection closed`);
  assert.equal(c.rest, '', `${what}: unexpected bytes`);
  for (const [i, r] of reqs.entries()) {
    const res = c.responses[i];
    if (r.method === 'HEAD') assert.equal(res?.body, '', `${what}: HEAD with a body`);
    if (r.method === 'LIST') assert.match(res?.body ?? '', /"keys"/, `${what}: #${i} is not a list answer`);
    if (r.method === 'GET') assert.match(res?.body ?? '', /"s":1/, `${what}: #${i} is not the GET answer`);
    if (r.writes !== undefined) assert.notEqual(await store.get(`p/${r.writes}`), undefined, `${what}: ${r.writes} not written`);
    if (r.deletes !== undefined) assert.equal(await store.get(`p/${r.deletes}`), undefined, `${what}: ${r.deletes} not deleted`);
  }
  // The first LIST runs only once everything before it was answered: it sees their writes.
  const firstList = reqs.findIndex((r) => r.method === 'LIST');
  if (firstList > 0) {
    const keys = (JSON.parse(c.responses[firstList]?.body ?? '{}') as { data: { keys: string[] } }).data.keys;
    for (const r of reqs.slice(0, firstList)) {
      if (r.writes !== undefined) assert.ok(keys.includes(r.writes), `${what}: LIST ran before ${r.writes} was written`);
      if (r.deletes !== undefined) assert.ok(!keys.includes(r.deletes), `${what}: LIST ran before ${r.deletes} was deleted`);
    }
  }
  const log = (await requestLog(h, logBefore + reqs.length)).slice(logBefore);
  assert.deepEqual(log, reqs.map((r) => r.log), `${what}: request log`);
}

test('every pipelined pair of {GET, HEAD, PUT, POST, POST chunked, DELETE, LIST} in one write: all answered in order, logged, executed', async () => {
  const h = await start();
  try {
    for (const a of KINDS) for (const b of KINDS) await checkPipeline(h, [a, b], `pair-${a.name}-${b.name}`);
  } finally {
    await h.server.close();
  }
});

test('every three-deep pipeline of the same kinds in one write', async () => {
  const h = await start();
  try {
    for (const a of KINDS) for (const b of KINDS) for (const c of KINDS) await checkPipeline(h, [a, b, c], `tri-${a.name}-${b.name}-${c.name}`);
  } finally {
    await h.server.close();
  }
});

test('pairs with a slow first request: the LIST waits for it (and its log line), whatever its body', async () => {
  const h = await start();
  const original = h.logical.kv.handle.bind(h.logical.kv);
  h.logical.kv.handle = async (req, caller) => {
    if (req.operation !== 'list') await new Promise((r) => setTimeout(r, 60));
    return original(req, caller);
  };
  try {
    const list = KINDS.find((k) => k.name === 'LIST');
    assert.ok(list !== undefined);
    for (const a of KINDS) await checkPipeline(h, [a, list, a], `slow-${a.name}`);
  } finally {
    await h.server.close();
  }
});

test('a LIST split across TCP writes at every byte of its request line (alone, after a PUT with a body, after a GET)', async () => {
  const h = await start();
  try {
    const [get, , put, , , , list] = KINDS;
    assert.ok(get !== undefined && put !== undefined && list !== undefined);
    const line = list.make('x').raw.indexOf('\n') + 1;
    for (const before of [[], [put], [get]]) {
      const prefix = before.map((k, i) => k.make(`split-${before.length}-${i}`).raw).join('').length;
      for (let cut = 1; cut <= line; cut++) {
        await checkPipeline(h, [...before, list, get], `split-${before.length}-${cut}`, (whole) => [
          whole.slice(0, prefix + cut),
          whole.slice(prefix + cut),
        ]);
      }
    }
  } finally {
    await h.server.close();
  }
});

test('a body holding the bytes "\\nLIST " is body, natively and on a rewritten connection; so is one ending in them', async () => {
  const h = await start();
  try {
    const inner = `\nLIST /v1/${DIR} HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`;
    const post = (body: string): string => `POST /v1/${kv('lf')} HTTP/1.1\r\nHost: a\r\n${TOKEN}Content-Length: ${body.length}\r\n\r\n${body}`;
    const chunked = (body: string): string =>
      `POST /v1/${kv('lf')} HTTP/1.1\r\nHost: a\r\n${TOKEN}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const get = `GET /v1/${DIR}/seed HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`;
    const list = `LIST /v1/${DIR} HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`;
    await h.logical.kv.storage.put('p/seed', Buffer.from('{"s":1}'));
    // Not JSON, so each POST is answered 400 by the API — answered and logged, and nothing else runs.
    const cases: { raw: string; methods: string[]; statuses: number[] }[] = [
      { raw: post(`x${inner}`) + get, methods: ['POST', 'GET'], statuses: [400, 200] },
      { raw: chunked(`x${inner}`) + get, methods: ['POST', 'GET'], statuses: [400, 200] },
      { raw: list + post(`x${inner}`) + get, methods: ['LIST', 'POST', 'GET'], statuses: [200, 400, 200] },
      { raw: list + chunked(`x${inner}`) + get, methods: ['LIST', 'POST', 'GET'], statuses: [200, 400, 200] },
      { raw: post('x\nLIST ') + list, methods: ['POST', 'LIST'], statuses: [400, 200] },
      { raw: post('x\r\nLIST') + list, methods: ['POST', 'LIST'], statuses: [400, 200] },
      { raw: list + post('x\nLIST ') + list, methods: ['LIST', 'POST', 'LIST'], statuses: [200, 400, 200] },
    ];
    for (const { raw, methods, statuses } of cases) {
      const logBefore = (await requestLog(h, 0)).length;
      const c = await converse(h.server.port, [raw], methods, { settleMs: 50 });
      assert.deepEqual(
        c.responses.map((r) => r.status),
        statuses,
        JSON.stringify(raw),
      );
      assert.equal(c.rest, '', JSON.stringify(raw));
      assert.equal(c.closed, false, JSON.stringify(raw));
      const log = (await requestLog(h, logBefore + statuses.length)).slice(logBefore);
      assert.deepEqual(
        log.map((l) => l.status),
        statuses,
        JSON.stringify(raw),
      );
    }
  } finally {
    await h.server.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Where the next request starts cannot be told, or the request is malformed: earlier requests answered and logged,
// then 400 and close, and nothing after the failure point executed.

/** Sends `raw` in one write and expects `statuses` (the last one the refusal), a close, and `logged` log lines. */
async function expectRefusal(h: Harness, writes: string[], methods: string[], statuses: number[], logged: number, what: string): Promise<Conversation> {
  const logBefore = (await requestLog(h, 0)).length;
  const c = await converse(h.server.port, writes, methods, { settleMs: 300 });
  assert.deepEqual(
    c.responses.map((r) => r.status),
    statuses,
    `${what}: answers; rest ${JSON.stringify(c.rest)}`,
  );
  assert.equal(c.responses[c.responses.length - 1]?.headers.connection, 'close', `${what}: no Connection: close`);
  assert.equal(c.closed, true, `${what}: the connection stayed open`);
  assert.equal(c.rest, '', what);
  await new Promise((r) => setTimeout(r, 20));
  const log = (await requestLog(h, 0)).slice(logBefore);
  assert.equal(log.length, logged, `${what}: log ${JSON.stringify(log)}`);
  return c;
}

test('a LIST right after a body ending in "UN" (an UNLIST? cannot tell): the POST answered and logged, then 400 and close', async () => {
  const h = await start();
  try {
    const post = (body: string): string => `POST /v1/${kv('un')} HTTP/1.1\r\nHost: a\r\n${TOKEN}Content-Length: ${body.length}\r\n\r\n${body}`;
    const list = `LIST /v1/${DIR} HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`;
    await expectRefusal(h, [post('{"a":UN') + list], ['POST', 'LIST'], [400, 400], 1, 'body UN + LIST');
    // The same with the N of the body's `UN` the first byte of the packet holding the LIST.
    const whole = post('{"a":UN') + list;
    const at = whole.indexOf('NLIST');
    await expectRefusal(h, [whole.slice(0, at), whole.slice(at)], ['POST', 'LIST'], [400, 400], 1, 'body U | N + LIST');
    // A real UNLIST is refused too, in one packet or split inside its method after U.
    await expectRefusal(h, [`UNLIST /v1/${DIR} HTTP/1.1\r\nHost: a\r\n\r\n`], ['UNLIST'], [400], 0, 'UNLIST');
    await expectRefusal(h, ['U', `NLIST /v1/${DIR} HTTP/1.1\r\nHost: a\r\n\r\n`], ['UNLIST'], [400], 0, 'U | NLIST');
  } finally {
    await h.server.close();
  }
});

test('malformed requests pipelined after a write with a body: the write answered and logged first, then 400 and close', async () => {
  const h = await start();
  try {
    const put = KINDS[2];
    const list = KINDS[6];
    assert.ok(put !== undefined && list !== undefined);
    for (const bad of ['BREW /v1/x HTCPCP/1.0\r\n\r\n', 'LISTEN /v1/x HTTP/1.1\r\n\r\n', `GET /v1/${DIR} HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n`]) {
      for (const pre of [[put], [list, put], [put, list]]) {
        const reqs = pre.map((k, i) => k.make(`bad-${pre.length}-${i}-${bad.length}`));
        await expectRefusal(
          h,
          [reqs.map((r) => r.raw).join('') + bad],
          [...reqs.map((r) => r.method), 'X'],
          [...reqs.map((r) => r.status), 400],
          reqs.length,
          `${pre.map((k) => k.name).join('+')} + ${JSON.stringify(bad)}`,
        );
        for (const r of reqs) if (r.writes !== undefined) assert.notEqual(await h.logical.kv.storage.get(`p/${r.writes}`), undefined);
      }
    }
  } finally {
    await h.server.close();
  }
});

test('Content-Length with Transfer-Encoding: chunked is refused with 400 and nothing executed, natively and through the rewriter', async () => {
  const h = await start();
  try {
    const put = KINDS[2];
    const list = KINDS[6];
    assert.ok(put !== undefined && list !== undefined);
    const smuggle = (id: string, order: 'cl-first' | 'te-first'): string => {
      const inner = `DELETE /v1/${kv('seed')} HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`;
      const body = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
      const cl = 'Content-Length: 5\r\n';
      const te = 'Transfer-Encoding: chunked\r\n';
      return `PUT /v1/${kv(id)} HTTP/1.1\r\nHost: a\r\n${TOKEN}${order === 'cl-first' ? cl + te : te + cl}\r\n${body}`;
    };
    const listLine = (id: string): string => smuggle(id, 'cl-first').replace(`PUT /v1/${kv(id)}`, `LIST /v1/${DIR}`);
    let n = 0;
    for (const order of ['cl-first', 'te-first'] as const) {
      for (const pre of [[], [put], [list], [list, put], [put, list]]) {
        await h.logical.kv.storage.put('p/seed', Buffer.from('{"s":1}'));
        const reqs = pre.map((k) => k.make(`clte-${n++}`));
        const id = `clte-${n++}`;
        await expectRefusal(
          h,
          [reqs.map((r) => r.raw).join('') + smuggle(id, order)],
          [...reqs.map((r) => r.method), 'PUT'],
          [...reqs.map((r) => r.status), 400],
          reqs.length,
          `${pre.map((k) => k.name).join('+')} + CL/TE (${order})`,
        );
        assert.equal(await h.logical.kv.storage.get(`p/${id}`), undefined, 'the CL/TE request was executed');
        assert.notEqual(await h.logical.kv.storage.get('p/seed'), undefined, 'the smuggled request was executed');
      }
    }
    // A LIST carrying both headers itself (rewritten, then refused by the new parser).
    await expectRefusal(h, [listLine('x')], ['LIST'], [400], 0, 'LIST with CL/TE');
    await expectRefusal(h, [list.make('y').raw + listLine('x')], ['LIST', 'LIST'], [200, 400], 1, 'LIST + LIST with CL/TE');
    assert.notEqual(await h.logical.kv.storage.get('p/seed'), undefined, 'the smuggled request was executed');
  } finally {
    await h.server.close();
  }
});

test('a request pipelined after a 413 (the connection closes after it) is never executed', async () => {
  const h = await start({ maxBodyBytes: 64 });
  try {
    const big = JSON.stringify({ v: 'x'.repeat(100) });
    const tooBig = `PUT /v1/${kv('big')} HTTP/1.1\r\nHost: a\r\n${TOKEN}Content-Length: ${big.length}\r\n\r\n${big}`;
    const tooBigChunked = `PUT /v1/${kv('big')} HTTP/1.1\r\nHost: a\r\n${TOKEN}Transfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`;
    for (const first of [tooBig, tooBigChunked]) {
      for (const second of KINDS) {
        const r = second.make(`after413-${second.name}-${first.length}`);
        if (r.deletes !== undefined) await h.logical.kv.storage.put(`p/${r.deletes}`, Buffer.from('{}'));
        const logBefore = (await requestLog(h, 0)).length;
        const c = await converse(h.server.port, [first + r.raw], ['PUT', r.method], { settleMs: 200 });
        assert.equal(c.responses[0]?.status, 413);
        assert.equal(c.responses.length, 1, `${second.name}: ${JSON.stringify(c.responses)}`);
        assert.equal(c.closed, true);
        if (r.writes !== undefined) assert.equal(await h.logical.kv.storage.get(`p/${r.writes}`), undefined, `${second.name} executed`);
        if (r.deletes !== undefined) assert.notEqual(await h.logical.kv.storage.get(`p/${r.deletes}`), undefined, `${second.name} executed`);
        await new Promise((res) => setTimeout(res, 20));
        const log = (await requestLog(h, 0)).slice(logBefore);
        assert.deepEqual(
          log.map((l) => l.status),
          [413],
          `${second.name}: ${JSON.stringify(log)}`,
        );
      }
    }
  } finally {
    await h.server.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Slow clients (slowloris): cut off by the headers/request timeouts, natively and on a rewritten connection.

/** Writes `text` one byte at a time, `gapMs` apart, until done or the socket closes; resolves with what came back. */
async function trickle(port: number, prefix: string, text: string, gapMs: number): Promise<{ received: string; closedAfterMs: number; sentBytes: number }> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let received = '';
  // Set from the socket's events (an object: TypeScript does not see callbacks change locals).
  const seen = { closed: false, at: 0 };
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  const t0 = Date.now();
  socket.once('close', () => {
    seen.closed = true;
    seen.at = Date.now();
  });
  if (prefix !== '') {
    socket.write(prefix);
    await new Promise((r) => setTimeout(r, 30));
  }
  const t1 = Date.now();
  let sent = 0;
  for (const ch of text) {
    if (seen.closed) break;
    socket.write(ch);
    sent++;
    await new Promise((r) => setTimeout(r, gapMs));
  }
  const deadline = Date.now() + 2_000;
  while (!seen.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  socket.destroy();
  return { received, closedAfterMs: seen.closed ? seen.at - (prefix === '' ? t0 : t1) : Infinity, sentBytes: sent };
}

test('slowloris: headers trickled byte by byte are cut off by the headers timeout (408, close), nothing executed', async () => {
  const timeouts = { headersMs: 250, requestMs: 400, checkIntervalMs: 25 };
  const h = await start({ timeouts });
  try {
    const body = jsonBody('slow');
    const slowPut = `PUT /v1/${kv('slow')} HTTP/1.1\r\nHost: a\r\n${TOKEN}Content-Length: ${body.length}\r\nX-Padding: ${'p'.repeat(40)}\r\n\r\n${body}`;
    const list = `LIST /v1/${DIR} HTTP/1.1\r\nHost: a\r\n${TOKEN}\r\n`;
    await h.logical.kv.storage.put('p/seed', Buffer.from('{"s":1}'));
    for (const prefix of ['', list]) {
      const logBefore = (await requestLog(h, 0)).length;
      const r = await trickle(h.server.port, prefix, slowPut, 10);
      const what = prefix === '' ? 'natively parsed' : 'after a LIST';
      assert.ok(r.sentBytes < slowPut.length, `${what}: the whole request went through (${r.sentBytes} bytes)`);
      assert.ok(r.closedAfterMs < 1_500, `${what}: closed after ${r.closedAfterMs} ms`);
      const statuses = [...r.received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, prefix === '' ? [408] : [200, 408], `${what}: ${JSON.stringify(r.received)}`);
      assert.equal(await h.logical.kv.storage.get('p/slow'), undefined, `${what}: executed`);
      const log = (await requestLog(h, 0)).slice(logBefore);
      assert.equal(log.length, prefix === '' ? 0 : 1, `${what}: ${JSON.stringify(log)}`);
    }
    // A body trickled after complete headers: cut off by the request timeout; the request never executes.
    const head = slowPut.slice(0, slowPut.indexOf('\r\n\r\n') + 4);
    for (const prefix of ['', list]) {
      // All but the body's last byte, slower than the request timeout allows.
      const r = await trickle(h.server.port, prefix + head, body.slice(0, -1), 60);
      const statuses = [...r.received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, prefix === '' ? [408] : [200, 408], JSON.stringify(r.received));
      assert.equal(await h.logical.kv.storage.get('p/slow'), undefined, 'a request with a trickled body was executed');
    }
  } finally {
    await h.server.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Responses that close the connection: nothing pipelined after them is executed; everything before them is answered.

test('a Host-less HTTP/1.1 request: 400 answered and logged, the connection closes, nothing pipelined after it executes', async () => {
  const h = await start();
  try {
    const noHost = `GET /v1/sys/seal-status HTTP/1.1\r\n\r\n`;
    for (const after of KINDS) {
      for (const pre of [[], [KINDS[2]], [KINDS[6]]] as Kind[][]) {
        const what = `${pre.map((k) => k.name).join('+')} + no Host + ${after.name}`;
        const reqs = pre.map((k, i) => k.make(`nohost-${after.name}-${pre.length}-${i}`));
        const next = after.make(`nohost-${after.name}-${pre.length}-after`);
        if (next.deletes !== undefined) await h.logical.kv.storage.put(`p/${next.deletes}`, Buffer.from('{}'));
        const logBefore = (await requestLog(h, 0)).length;
        const c = await converse(h.server.port, [reqs.map((r) => r.raw).join('') + noHost + next.raw], [...reqs.map((r) => r.method), 'GET', next.method], {
          settleMs: 200,
        });
        assert.deepEqual(
          c.responses.map((r) => r.status),
          [...reqs.map((r) => r.status), 400],
          what,
        );
        assert.equal(c.closed, true, what);
        if (next.writes !== undefined) assert.equal(await h.logical.kv.storage.get(`p/${next.writes}`), undefined, `${what}: executed`);
        if (next.deletes !== undefined) assert.notEqual(await h.logical.kv.storage.get(`p/${next.deletes}`), undefined, `${what}: executed`);
        const log = (await requestLog(h, logBefore + reqs.length + 1)).slice(logBefore);
        assert.deepEqual(
          log.map((l) => l.status),
          [...reqs.map((r) => r.status), 400],
          what,
        );
      }
    }
    // HTTP/1.0 needs no Host.
    const c = await converse(h.server.port, ['GET /v1/sys/seal-status HTTP/1.0\r\n\r\n'], ['GET'], { settleMs: 50 });
    assert.equal(c.responses[0]?.status, 200);
  } finally {
    await h.server.close();
  }
});

test('CONNECT, Connection: close and HTTP/1.0 end the pipeline: what came before answered, nothing after executed', async () => {
  const h = await start();
  try {
    const put = KINDS[2];
    const list = KINDS[6];
    const del = KINDS[5];
    assert.ok(put !== undefined && list !== undefined && del !== undefined);
    let n = 0;
    for (const pre of [[put], [list, put], [put, list]]) {
      const reqs = pre.map((k) => k.make(`end-${n++}`));
      const victim = del.make(`end-${n++}`);
      await h.logical.kv.storage.put(`p/${victim.deletes ?? ''}`, Buffer.from('{}'));
      const head = reqs.map((r) => r.raw).join('');
      const what = pre.map((k) => k.name).join('+');
      // CONNECT: node:http stops parsing there; it is refused (400) once the requests before it are answered.
      await expectRefusal(
        h,
        [`${head}CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n${victim.raw}`],
        [...reqs.map((r) => r.method), 'CONNECT'],
        [...reqs.map((r) => r.status), 400],
        reqs.length,
        `${what} + CONNECT`,
      );
      // The last request says Connection: close (or is HTTP/1.0): answered, and the DELETE after it never runs.
      const last = reqs[reqs.length - 1];
      assert.ok(last !== undefined);
      for (const closing of [last.raw.replace('Host: a\r\n', 'Host: a\r\nConnection: close\r\n'), last.raw.replace('HTTP/1.1', 'HTTP/1.0')]) {
        const rest = reqs.slice(0, -1).map((r) => r.raw).join('') + closing;
        const logBefore = (await requestLog(h, 0)).length;
        const c = await converse(h.server.port, [rest + victim.raw], [...reqs.map((r) => r.method), 'DELETE'], { settleMs: 200 });
        assert.deepEqual(
          c.responses.map((r) => r.status),
          reqs.map((r) => r.status),
          `${what} (closing) + DELETE`,
        );
        assert.equal(c.closed, true);
        const log = (await requestLog(h, logBefore + reqs.length)).slice(logBefore);
        assert.equal(log.length, reqs.length, JSON.stringify(log));
      }
      assert.notEqual(await h.logical.kv.storage.get(`p/${victim.deletes ?? ''}`), undefined, `${what}: the DELETE after the end ran`);
    }
  } finally {
    await h.server.close();
  }
});

test('graceful close with pipelined requests in flight: every one executed is answered and logged', async () => {
  const h = await start();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let entered = 0;
  const original = h.logical.kv.handle.bind(h.logical.kv);
  h.logical.kv.handle = async (req, caller) => {
    entered++;
    await gate;
    return original(req, caller);
  };
  const put = KINDS[2];
  assert.ok(put !== undefined);
  const reqs = [put.make('gc-1'), put.make('gc-2'), put.make('gc-3')];
  const talk = converse(
    h.server.port,
    [reqs.map((r) => r.raw).join('')],
    reqs.map((r) => r.method),
    { settleMs: 50 },
  );
  while (entered < reqs.length) await new Promise((r) => setTimeout(r, 5));
  const closing = h.server.close();
  await new Promise((r) => setTimeout(r, 20));
  release();
  const c = await talk;
  await closing;
  assert.deepEqual(
    c.responses.map((r) => r.status),
    [204, 204, 204],
  );
  for (const r of reqs) assert.notEqual(await h.logical.kv.storage.get(`p/${r.writes ?? ''}`), undefined);
  const log = await requestLog(h, 3);
  assert.deepEqual(
    log.map((l) => l.status),
    [204, 204, 204],
  );
});

test('TLS: a PUT with a body and a LIST in one write are both answered and logged; a bad request after them is refused', async () => {
  const seal = new FakeSeal();
  const logical = new PolicyLogical();
  const logLines: string[] = [];
  const api = new StoreApi({ seal, logical: () => logical, createRootToken: () => Promise.resolve('r') });
  const fixtures = httpFixturesDir();
  const cert = readFileSync(join(fixtures, 'test-server.crt'));
  const server = await StoreHttpServer.listen({
    host: '127.0.0.1',
    port: 0,
    api,
    log: new Logger({ sink: (l) => logLines.push(l), format: 'json' }),
    tls: { cert, key: readFileSync(join(fixtures, 'test-server.key')) },
  });
  try {
    const talk = async (payload: string, methods: string[]): Promise<Conversation> => {
      const socket = tls.connect({ port: server.port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      let data = Buffer.alloc(0);
      const seen = { closed: false };
      socket.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
      socket.on('error', () => undefined);
      socket.once('close', () => (seen.closed = true));
      socket.write(payload);
      const deadline = Date.now() + 3_000;
      while (!seen.closed && parseResponses(data, methods).responses.length < methods.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
      const parsed = parseResponses(data, methods);
      return { responses: parsed.responses, closed: seen.closed, rest: data.subarray(parsed.consumed).toString('latin1') };
    };
    const ok = await talk(putPolicy('t1') + LIST_POLICIES, ['PUT', 'LIST']);
    assert.deepEqual(
      ok.responses.map((r) => r.status),
      [204, 200],
    );
    assert.match(ok.responses[1]?.body ?? '', /"t1"/);
    const bad = await talk(putPolicy('t2') + LIST_POLICIES + 'BREW /x HTCPCP/1.0\r\n\r\n', ['PUT', 'LIST', 'BREW']);
    assert.deepEqual(
      bad.responses.map((r) => r.status),
      [204, 200, 400],
    );
    assert.equal(bad.closed, true);
    const lines = logLines.filter((l) => l.includes('"msg":"request"'));
    assert.equal(lines.length, 4);
  } finally {
    await server.close();
  }
});
