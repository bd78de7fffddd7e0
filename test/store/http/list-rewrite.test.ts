import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import fc from 'fast-check';
import {
  ListRequestRewriter,
  ListRewritingStream,
  MAX_TRACKED_HEAD_BYTES,
  attachListRewriter,
  listRequestFromParseError,
  rewriteListLine,
} from '../../../src/store/http/list-rewrite.js';
import { closeServer } from '../../helpers/close-server.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Feeds chunks in order; also checks that `lastPushUnchanged` is only ever claimed when it is true. */
function feed(r: ListRequestRewriter, chunks: Buffer[]): string {
  const out: Buffer[] = [];
  for (const c of chunks) {
    const pieces = r.push(c);
    if (r.lastPushUnchanged) assert.ok(Buffer.concat(pieces).equals(c), 'lastPushUnchanged claimed for a changed chunk');
    out.push(...pieces);
  }
  return Buffer.concat([...out, ...r.flush()]).toString('latin1');
}

test('rewriteListLine: LIST becomes GET with list=true, keeping an existing query and the line ending', () => {
  assert.equal(rewriteListLine(b('LIST /v1/secret/metadata/ HTTP/1.1\r\n'))?.toString(), 'GET /v1/secret/metadata/?list=true HTTP/1.1\r\n');
  assert.equal(rewriteListLine(b('LIST /v1/a?x=1 HTTP/1.1\r\n'))?.toString(), 'GET /v1/a?x=1&list=true HTTP/1.1\r\n');
  assert.equal(rewriteListLine(b('LIST /v1/a? HTTP/1.0\n'))?.toString(), 'GET /v1/a?list=true HTTP/1.0\n');
  assert.equal(rewriteListLine(b('LIST /v1/a HTTP/1.1 extra\r\n')), undefined);
  assert.equal(rewriteListLine(b('LIST  HTTP/1.1\r\n')), undefined);
});

test('pipelined requests: each LIST is rewritten, bodies are left alone even when they look like a LIST line', () => {
  const body = 'LIST /v1/evil HTTP/1.1\r\n';
  const input =
    'LIST /v1/a HTTP/1.1\r\nHost: x\r\n\r\n' +
    `POST /v1/b HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
    '\r\nLIST /v1/c?q=1 HTTP/1.1\r\nHost: x\r\n\r\n';
  const r = new ListRequestRewriter();
  const out = feed(r, [b(input)]);
  assert.equal(
    out,
    'GET /v1/a?list=true HTTP/1.1\r\nHost: x\r\n\r\n' +
      `POST /v1/b HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      '\r\nGET /v1/c?q=1&list=true HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  assert.equal(r.rewritten, 2);
});

test('chunked bodies (with extensions and trailers) are skipped and the next request is still rewritten', () => {
  const input =
    'PUT /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;ext=1\r\nLIST \r\n' +
    '19\r\nLIST /v1/evil HTTP/1.1\r\n\r\n' +
    '0\r\nX-Trailer: 1\r\n\r\n' +
    'LIST /v1/y HTTP/1.1\r\n\r\n';
  const r = new ListRequestRewriter();
  const out = feed(r, [b(input)]);
  assert.ok(out.endsWith('GET /v1/y?list=true HTTP/1.1\r\n\r\n'));
  assert.ok(out.includes('LIST /v1/evil HTTP/1.1'));
  assert.equal(r.rewritten, 1);
});

test('ambiguous framing (Content-Length with chunked, bad lengths, bad chunk size, upgrade) stops rewriting', () => {
  const cases = [
    'POST /v1/x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nLIST /v1/y HTTP/1.1\r\n\r\n',
    'POST /v1/x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcLIST /v1/y HTTP/1.1\r\n\r\n',
    'POST /v1/x HTTP/1.1\r\nContent-Length: -1\r\n\r\nLIST /v1/y HTTP/1.1\r\n\r\n',
    'POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nLIST /v1/y HTTP/1.1\r\n\r\n',
    'GET /v1/x HTTP/1.1\r\nUpgrade: websocket\r\n\r\nLIST /v1/y HTTP/1.1\r\n\r\n',
  ];
  for (const c of cases) {
    const r = new ListRequestRewriter();
    const out = feed(r, [b(c)]);
    assert.equal(out, c, c);
    assert.equal(r.passthrough, true, c);
    assert.equal(r.rewritten, 0);
  }
});

test('an over-long header section switches to passthrough without buffering without bound', () => {
  const r = new ListRequestRewriter();
  const big = Buffer.alloc(MAX_TRACKED_HEAD_BYTES + 10, 0x61);
  const out = Buffer.concat(r.push(Buffer.concat([b('LIST /v1/'), big])));
  assert.equal(r.passthrough, true);
  assert.equal(out.length, MAX_TRACKED_HEAD_BYTES + 10 + 9);
});

test('property: any split of a request stream into chunks gives the same output as one chunk', () => {
  const request = fc.oneof(
    fc.constantFrom('GET', 'LIST', 'DELETE').map((m) => `${m} /v1/p/q HTTP/1.1\r\nHost: h\r\n\r\n`),
    fc.string({ maxLength: 40 }).map((s) => {
      const body = Buffer.from(s, 'utf8');
      return `POST /v1/w HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body.toString('latin1')}`;
    }),
    fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 3 }).map((parts) => {
      const chunks = parts.map((p) => {
        const bytes = Buffer.from(p, 'utf8');
        return `${bytes.length.toString(16)}\r\n${bytes.toString('latin1')}\r\n`;
      });
      return `PUT /v1/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunks.join('')}0\r\n\r\n`;
    }),
  );
  fc.assert(
    fc.property(fc.array(request, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (reqs, cuts) => {
      const whole = b(reqs.join(''));
      const expected = feed(new ListRequestRewriter(), [whole]);
      const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((x, y) => x - y);
      const chunks: Buffer[] = [];
      let last = 0;
      for (const p of points) {
        chunks.push(whole.subarray(last, p));
        last = p;
      }
      chunks.push(whole.subarray(last));
      assert.equal(feed(new ListRequestRewriter(), chunks), expected);
      const lists = reqs.filter((r) => r.startsWith('LIST')).length;
      assert.equal((expected.match(/\?list=true/g) ?? []).length, lists);
      assert.ok(!expected.includes('LIST /v1/p/q'));
    }),
  );
});

/**
 * An echo server behind the rewriter: answers `METHOD URL BODY` for each request. `attached` installs the rewriter on
 * the socket itself (what the store does); otherwise the socket is wrapped in a {@link ListRewritingStream}.
 */
async function startEcho(attached = false): Promise<{ port: number; close: () => Promise<void> }> {
  const httpServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.end(`${req.method ?? ''} ${req.url ?? ''} ${Buffer.concat(chunks).toString()}`);
    });
  });
  const sockets = new Set<net.Socket>();
  const netServer = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (attached) {
      attachListRewriter(socket);
      httpServer.emit('connection', socket);
    } else {
      httpServer.emit('connection', new ListRewritingStream(socket));
    }
  });
  await new Promise<void>((resolve) => netServer.listen(0, '127.0.0.1', resolve));
  const port = (netServer.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        netServer.close(() => {
          resolve();
        });
      }),
  };
}

/** Sends raw bytes (each element a separate write, with a pause between) and collects the response text. */
async function rawExchange(port: number, parts: string[], expectResponses: number): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let text = '';
  const done = new Promise<string>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if ((text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= expectResponses && /\r\n\r\n[^]*$/.test(text)) {
        // Give the last body a moment to arrive in full.
        setTimeout(() => {
          socket.destroy();
          resolve(text);
        }, 50);
      }
    });
    socket.on('error', reject);
  });
  for (const p of parts) {
    socket.write(p);
    await new Promise((r) => setTimeout(r, 15));
  }
  return done;
}

test('raw socket: pipelined LIST, chunked PUT and GET on one keep-alive connection reach the HTTP server', async () => {
  const echo = await startEcho();
  try {
    const text = await rawExchange(
      echo.port,
      [
        'LIST /v1/secret/metadata HTTP/1.1\r\nHost: a\r\n\r\n' +
          'PUT /v1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n' +
          'GET /v1/plain HTTP/1.1\r\nHost: a\r\n\r\n',
      ],
      3,
    );
    assert.match(text, /GET \/v1\/secret\/metadata\?list=true /);
    assert.match(text, /PUT \/v1\/x body/);
    assert.match(text, /GET \/v1\/plain /);
  } finally {
    await echo.close();
  }
});

test('raw socket: a LIST request line split across TCP packets is still rewritten', async () => {
  const echo = await startEcho();
  try {
    const text = await rawExchange(echo.port, ['LI', 'ST /v1/a/b', '?x=1 HTTP/1.1\r', '\nHost: a\r\n', '\r\n'], 1);
    assert.match(text, /HTTP\/1\.1 200/);
    assert.match(text, /GET \/v1\/a\/b\?x=1&list=true /);
  } finally {
    await echo.close();
  }
});

test('raw socket: without the rewriter Node rejects LIST (why the rewriter exists)', async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const text = await rawExchange(port, ['LIST /v1/a HTTP/1.1\r\nHost: a\r\n\r\n'], 1);
    assert.match(text, /HTTP\/1\.1 400/);
  } finally {
    await closeServer(server);
  }
});

for (const attached of [false, true]) {
  const how = attached ? 'attached to the socket' : 'as a stream wrapper';
  test(`raw socket (${how}): pipelined requests, a chunked body split mid-chunk, and a LIST split mid-line`, async () => {
    const echo = await startEcho(attached);
    try {
      const text = await rawExchange(
        echo.port,
        [
          'GET /v1/one HTTP/1.1\r\nHost: a\r\n\r\nPOST /v1/two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel',
          'loPUT /v1/three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nchu',
          'nky\r\n0\r\n\r\nLI',
          'ST /v1/four HTTP/1.1\r\nHost: a\r\n\r\n',
          'GET /v1/LIST HTTP/1.1\r\nHost: a\r\n\r\n',
        ],
        5,
      );
      assert.match(text, /GET \/v1\/one /);
      assert.match(text, /POST \/v1\/two hello/);
      assert.match(text, /PUT \/v1\/three chunky/);
      assert.match(text, /GET \/v1\/four\?list=true /);
      assert.match(text, /GET \/v1\/LIST /);
      // A body that looks like a LIST request line is body, not a request.
      const body = 'LIST /v1/x HTTP/1.1\r\n';
      const t2 = await rawExchange(echo.port, [`POST /v1/b HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}`], 1);
      assert.ok(t2.includes(`POST /v1/b ${body}`));
    } finally {
      await echo.close();
    }
  });
}

test('attachListRewriter: a socket closed while a LIST line is incomplete ends cleanly', async () => {
  const echo = await startEcho(true);
  try {
    const socket = net.connect(echo.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    socket.on('data', () => undefined);
    socket.end('LIST /v1/half');
    await closed;
  } finally {
    await echo.close();
  }
});

test('listRequestFromParseError: the unparsed bytes from the LIST line on, or undefined for any other method', () => {
  const get = 'GET /a HTTP/1.1\r\n\r\n';
  const list = 'LIST /v1/x HTTP/1.1\r\n\r\n';
  // llhttp fails at the S of LIST (offset 2 of the line).
  assert.equal(listRequestFromParseError(b(list), 2)?.toString('latin1'), list);
  assert.equal(listRequestFromParseError(b(get + list), get.length + 2)?.toString('latin1'), list);
  assert.equal(listRequestFromParseError(b('\r\n' + list), 4)?.toString('latin1'), list);
  // The line began in an earlier packet: the consumed prefix is restored.
  assert.equal(listRequestFromParseError(b(list.slice(2)), 0)?.toString('latin1'), list);
  assert.equal(listRequestFromParseError(b(list.slice(1)), 1)?.toString('latin1'), list);
  // A packet that ends inside `LIST `: the rest decides (the rewriter holds the incomplete line).
  assert.equal(listRequestFromParseError(b('LIS'), 2)?.toString('latin1'), 'LIS');
  assert.equal(listRequestFromParseError(b(get + 'LIST'), get.length + 2)?.toString('latin1'), 'LIST');
  // The result is a copy: the packet may be reused.
  const packet = b(list);
  const out = listRequestFromParseError(packet, 2);
  packet.fill(0);
  assert.equal(out?.toString('latin1'), list);
  for (const [bytes, at] of [
    ['UNLIST /v1/x HTTP/1.1\r\n\r\n', 4],
    ['LISTEN /v1/x HTTP/1.1\r\n\r\n', 2],
    ['BREW /x HTTP/1.1\r\n\r\n', 1],
    ['LIXT /x HTTP/1.1\r\n\r\n', 2],
    [list, 3],
    [list, -1],
    [list, 2.5],
    [list, list.length],
    [list, list.length + 1],
  ] as const) {
    assert.equal(listRequestFromParseError(b(bytes), at), undefined, `${bytes} @ ${String(at)}`);
  }
});

test('listRequestFromParseError: a LIST right after a body is found at the true boundary, whatever the body ends with', () => {
  const list = 'LIST /v1/x HTTP/1.1\r\n\r\n';
  const put = (body: string): string => `PUT /v1/a HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  for (const body of ['{"a":1}', 'x', 'x\nLIST ', 'LI', 'N', 'xN', 'U', 'NU', '\r\n']) {
    const packet = put(body) + list;
    assert.equal(listRequestFromParseError(b(packet), put(body).length + 2)?.toString('latin1'), list, JSON.stringify(body));
  }
  // Chunked: the boundary follows the last chunk's CRLF.
  const chunked = 'POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  assert.equal(listRequestFromParseError(b(chunked + list), chunked.length + 2)?.toString('latin1'), list);
  // Two bytes `UN` before it: an UNLIST, or a body ending in `UN` — the start cannot be proven.
  assert.equal(listRequestFromParseError(b(put('xUN') + list), put('xUN').length + 2), undefined);
  assert.equal(listRequestFromParseError(b(put('UN') + list), put('UN').length + 2), undefined);
  // Only `N` of them in this packet (`U` may end the previous one): not provable either; any other byte is.
  assert.equal(listRequestFromParseError(b(`N${list}`), 3), undefined);
  assert.equal(listRequestFromParseError(b(`}${list}`), 3)?.toString('latin1'), list);
  assert.equal(listRequestFromParseError(b(`\n${list}`), 3)?.toString('latin1'), list);
});

test('listRequestFromParseError agrees with node:http on pipelined packets: bodies, chunked bodies, UNLIST', async () => {
  const seen: { packet: Buffer; at: number; code: string }[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end());
  });
  server.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer; bytesParsed?: number }, socket: net.Socket) => {
    if (err.rawPacket !== undefined && err.bytesParsed !== undefined) seen.push({ packet: err.rawPacket, at: err.bytesParsed, code: err.code ?? '' });
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const list = 'LIST /v1/x HTTP/1.1\r\nHost: a\r\n\r\n';
  const put = (body: string): string => `PUT /v1/a HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const chunked = 'POST /v1/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const send = async (data: string): Promise<void> => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise((r) => socket.once('connect', r));
    socket.on('data', () => undefined);
    socket.write(data);
    await new Promise((r) => socket.once('close', r));
  };
  try {
    for (const data of [put('{"a":1}') + list, put('x\nLIST ') + list, chunked + list, `${put('z')}\r\n${list}`]) await send(data);
    for (const data of [put('xUN') + list, `UNLIST /v1/x HTTP/1.1\r\nHost: a\r\n\r\n`, put('x') + 'UNLIST /v1/x HTTP/1.1\r\n\r\n']) await send(data);
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.equal(seen.length, 7);
  for (const e of seen) assert.equal(e.code, 'HPE_INVALID_METHOD');
  for (const e of seen.slice(0, 4)) assert.equal(listRequestFromParseError(e.packet, e.at)?.toString('latin1'), list);
  for (const e of seen.slice(4)) assert.equal(listRequestFromParseError(e.packet, e.at), undefined);
});

test('ListRewritingStream.discardInput: nothing the socket sends afterwards is delivered; the end still is', async () => {
  const delivered: string[] = [];
  const seen = { ended: false };
  const sockets: net.Socket[] = [];
  const netServer = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    const stream = new ListRewritingStream(socket);
    stream.on('data', (d: Buffer) => {
      delivered.push(d.toString('latin1'));
      stream.discardInput();
    });
    stream.on('end', () => (seen.ended = true));
  });
  await new Promise<void>((r) => netServer.listen(0, '127.0.0.1', r));
  const { port } = netServer.address() as net.AddressInfo;
  const client = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((r) => client.once('connect', r));
  client.write('LIST /v1/a HTTP/1.1\r\n');
  await new Promise((r) => setTimeout(r, 30));
  client.write('LIST /v1/b HTTP/1.1\r\n');
  await new Promise((r) => setTimeout(r, 30));
  client.end();
  const deadline = Date.now() + 1_000;
  while (!seen.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  client.destroy();
  for (const s of sockets) s.destroy();
  await new Promise((r) => netServer.close(r));
  assert.deepEqual(delivered, ['GET /v1/a?list=true HTTP/1.1\r\n']);
  assert.equal(seen.ended, true);
});

test('listRequestFromParseError agrees with where node:http really stops on LIST (any split of the method)', async () => {
  const errors: { packet: Buffer; at: number }[] = [];
  const server = http.createServer((_req, res) => res.end());
  server.on('clientError', (err: Error & { rawPacket?: Buffer; bytesParsed?: number }, socket: net.Socket) => {
    if (err.rawPacket !== undefined && err.bytesParsed !== undefined) errors.push({ packet: err.rawPacket, at: err.bytesParsed });
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const list = 'LIST /v1/x HTTP/1.1\r\n\r\n';
  try {
    for (const cut of [0, 1, 2]) {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      await new Promise((r) => socket.once('connect', r));
      if (cut > 0) {
        socket.write(list.slice(0, cut));
        await new Promise((r) => setTimeout(r, 30));
      }
      socket.write(list.slice(cut));
      await new Promise((r) => socket.once('close', r));
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.equal(errors.length, 3);
  for (const e of errors) assert.equal(listRequestFromParseError(e.packet, e.at)?.toString('latin1'), list);
});
