/** The "tokens ready" stage gate: EdgeX's listenTcp (accept, close, no data), its environment, and its errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { isSecretStoreError } from '../../src/errors.js';
import { Logger } from '../../src/log.js';
import { STAGE_GATE_HOST_ENV, STAGE_GATE_PORT_ENV, openStageGate, stageGateFromEnv } from '../../src/edgex/stage-gate.js';

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', sink: (l) => lines.push(l) }), lines };
}

/** Connects, reads until the server closes, and returns what arrived. */
function connectAndRead(port: number): Promise<{ bytes: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      resolve({ bytes });
    });
  });
}

/** Resolves with the connect error's code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code ?? 'error');
    });
  });
}

test('the gate accepts TCP connections and closes them at once without sending anything, like EdgeX listenTcp', async () => {
  const { log, lines } = capture();
  const gate = await openStageGate({ host: '127.0.0.1', port: 0, log });
  try {
    assert.ok(gate.port > 0);
    assert.equal(gate.host, '127.0.0.1');
    for (let i = 0; i < 3; i++) assert.deepEqual(await connectAndRead(gate.port), { bytes: 0 });
    assert.equal(gate.connections, 3);
    assert.ok(lines.some((l) => l.includes('stage gate open') && l.includes(`tcp://127.0.0.1:${gate.port}`)));
  } finally {
    await gate.close();
  }
});

test('close() frees the port (connections are refused, the port can be taken again) and is idempotent', async () => {
  const { log } = capture();
  const gate = await openStageGate({ host: ' 127.0.0.1 ', port: 0, log });
  const port = gate.port;
  assert.equal(gate.host, '127.0.0.1', 'the host is trimmed as EdgeX does');
  assert.equal(await tryConnect(port), 'connected');
  await gate.close();
  await gate.close();
  assert.equal(await tryConnect(port), 'ECONNREFUSED');
  const again = await openStageGate({ host: '127.0.0.1', port, log });
  try {
    assert.equal(again.port, port);
  } finally {
    await again.close();
  }
});

test('a port already in use is an IO error naming host:port', async () => {
  const { log } = capture();
  const first = await openStageGate({ host: '127.0.0.1', port: 0, log });
  try {
    await assert.rejects(openStageGate({ host: '127.0.0.1', port: first.port, log }), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'IO'));
      assert.ok(err.message.includes(`127.0.0.1:${first.port}`), err.message);
      assert.match(err.message, /already in use/);
      assert.match(err.message, /EADDRINUSE/);
      return true;
    });
    // The first gate still works.
    assert.deepEqual(await connectAndRead(first.port), { bytes: 0 });
  } finally {
    await first.close();
  }
});

test('an invalid port given directly is a CONFIG error', async () => {
  const { log } = capture();
  for (const port of [-1, 65536, 1.5, Number.NaN]) {
    await assert.rejects(openStageGate({ host: '127.0.0.1', port, log }), (err: unknown) => isSecretStoreError(err, 'CONFIG'));
  }
});

test('stageGateFromEnv: no port = no gate; EdgeX compose values; the host trimmed, optional', () => {
  assert.equal(stageGateFromEnv({}), undefined);
  assert.equal(stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: '', [STAGE_GATE_HOST_ENV]: 'x' }), undefined);
  assert.deepEqual(stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: '54322', [STAGE_GATE_HOST_ENV]: 'edgex-security-secretstore-setup' }), {
    host: 'edgex-security-secretstore-setup',
    port: 54322,
  });
  assert.deepEqual(stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: '54322' }), { host: '', port: 54322 });
  assert.deepEqual(stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: '1', [STAGE_GATE_HOST_ENV]: '  10.0.0.7 ' }), { host: '10.0.0.7', port: 1 });
  assert.deepEqual(stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: '65535', [STAGE_GATE_HOST_ENV]: '::1' }), { host: '::1', port: 65535 });
  assert.deepEqual(stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: '54322', [STAGE_GATE_HOST_ENV]: 'edgex_setup_1' }), { host: 'edgex_setup_1', port: 54322 });
});

test('stageGateFromEnv: a bad port or host is a CONFIG error naming the variable', () => {
  for (const port of ['0', '65536', '99999', 'abc', ' 54322', '54322 ', '0x10', '-1', '5432.2', '1e3', '+80', '123456']) {
    assert.throws(
      () => stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: port }),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes(STAGE_GATE_PORT_ENV),
      JSON.stringify(port),
    );
  }
  for (const host of ['a b', '[::1]', 'host:80', 'tcp://host', 'a/b', '-bad', 'x'.repeat(254), 'a..b', 'ho\nst']) {
    assert.throws(
      () => stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: '54322', [STAGE_GATE_HOST_ENV]: host }),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes(STAGE_GATE_HOST_ENV),
      JSON.stringify(host),
    );
  }
});

test('a gate opened from the environment listens where it says', async () => {
  const { log } = capture();
  // Find a free port, release it, and open the gate there through the environment.
  const probe = await openStageGate({ host: '127.0.0.1', port: 0, log });
  const port = probe.port;
  await probe.close();
  const address = stageGateFromEnv({ [STAGE_GATE_PORT_ENV]: String(port), [STAGE_GATE_HOST_ENV]: '127.0.0.1' });
  assert.ok(address);
  const gate = await openStageGate({ ...address, log });
  try {
    assert.equal(gate.port, port);
    assert.deepEqual(await connectAndRead(port), { bytes: 0 });
  } finally {
    await gate.close();
  }
});
