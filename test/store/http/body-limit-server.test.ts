/** The per-endpoint body limit as the listening server applies it (before the body is read), against `serve`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServe } from '../../helpers/serve.js';

test('serve: a 1 MiB unseal body is refused with 413 before it is parsed, and nothing is executed', async () => {
  const serve = await startServe();
  try {
    const big = JSON.stringify({ key: 'a'.repeat(1024 * 1024) });
    const unseal = await fetch(`${serve.url}/v1/sys/unseal`, { method: 'PUT', body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(unseal.status, 413);
    assert.deepEqual(await unseal.json(), { errors: ['failed to parse JSON input: http: request body too large'] });
    // The store still answers (and is still uninitialized: nothing was executed).
    const init = await fetch(`${serve.url}/v1/sys/init`);
    assert.deepEqual(await init.json(), { initialized: false });
  } finally {
    await serve.close();
  }
});

/** Sends `body` to `path` over a raw connection, all of it, and returns what came back ('' after a reset). */
function sendWhole(url: string, path: string, body: Buffer): Promise<{ answer: string; reset: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let reset = false;
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(`PUT ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\n\r\n`);
      socket.end(body);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => {
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), reset });
    });
  });
}

test('serve: a client that sends a whole 4 MiB unseal body still reads its 413 (no reset; the chaos campaign saw 16 of 30 reset)', async () => {
  const serve = await startServe();
  try {
    const body = Buffer.from(JSON.stringify({ key: 'ab'.repeat(2 * 1024 * 1024) }));
    const results = [];
    for (let round = 0; round < 5; round++) {
      results.push(...(await Promise.all(Array.from({ length: 6 }, () => sendWhole(serve.url, '/v1/sys/unseal', body)))));
    }
    const answered = results.filter((r) => r.answer.startsWith('HTTP/1.1 413 '));
    assert.equal(answered.length, results.length, `answered ${String(answered.length)} of ${String(results.length)}; resets: ${String(results.filter((r) => r.reset).length)}`);
    for (const r of answered) assert.match(r.answer, /request body too large/);
    const init = await fetch(`${serve.url}/v1/sys/init`);
    assert.deepEqual(await init.json(), { initialized: false });
  } finally {
    await serve.close();
  }
});
