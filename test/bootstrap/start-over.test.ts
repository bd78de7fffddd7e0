/**
 * The first-boot window on the embedded store: a run killed between the init answer and the key file's fsync loses
 * the shares; when the store proves that nothing but that init happened (init-control.ts: the attempt id recorded
 * at init, never unsealed since), the next boot starts it over with one log line. Anything short of that proof —
 * unsealed since, another init, a store without the contract (Vault/OpenBao) — stays the operator's decision, with
 * the reason in the error. The store side is a test double here (FakeInitControl); the HTTP contract itself is
 * checked against a small server that implements it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { isSecretStoreError } from '../../src/errors.js';
import { INIT_MARKER, readInitMarker, writeInitMarker } from '../../src/bootstrap/init-marker.js';
import { httpInitControl } from '../../src/bootstrap/init-control.js';
import { VaultClient } from '../../src/vault/client.js';
import { FakeInitControl, count, flowFixture, type FlowFixture } from './flow-fixtures.js';

const START_OVER = 'the secret store was started over';

/** A run killed inside the first-boot window, replayed: its marker (with the attempt id), then the init it sent. */
async function killedInWindow(fx: FlowFixture, control: FakeInitControl, attempt: Buffer | undefined): Promise<void> {
  const loc = { dir: fx.keysDir };
  const { mkdir } = await import('node:fs/promises');
  await mkdir(fx.keysDir, { recursive: true, mode: 0o700 });
  writeInitMarker(loc, fx.fake.url, attempt);
  const init = await control.init(fx.config.secretShares, fx.config.secretThreshold, attempt);
  init.shares.forEach((s) => s.fill(0)); // gone with the killed process
  init.rootToken.fill(0);
}

async function withFixture(body: (fx: FlowFixture, control: FakeInitControl) => Promise<void>): Promise<void> {
  const fx = await flowFixture();
  const control = new FakeInitControl(fx.fake);
  try {
    await body(fx, control);
  } finally {
    await fx.close();
  }
}

test('killed inside the window, embedded store never unsealed since: the next boot starts it over, says so once, and finishes', async () => {
  await withFixture(async (fx, control) => {
    await killedInWindow(fx, control, randomBytes(32));
    assert.equal(fx.fake.initialized, true);
    const r = await fx.run({ initControl: () => control });
    assert.equal(control.resets, 1);
    assert.equal(fx.lines.filter((l) => l.includes(START_OVER)).length, 1, 'one clear log line');
    assert.ok(fx.lines.some((l) => l.includes(START_OVER) && l.includes('it was never unsealed since, so it held no data')));
    assert.equal(r.initialized, true);
    assert.equal(fx.fake.sealed, false);
    const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
    assert.deepEqual(secrets.shares, fx.fake.shares, 'the new init\'s shares are in the key file');
    assert.equal(existsSync(join(fx.keysDir, INIT_MARKER)), false);
    assert.equal(control.inits.length, 2);
    assert.ok(control.inits.every((h) => h !== undefined && /^[0-9a-f]{64}$/.test(h)), 'each init carried an attempt hash');
    assert.notEqual(control.inits[0], control.inits[1], 'a fresh attempt id per init');
  });
});

test('init answer lost in the same run (connection cut): the run waits, proves it, starts the store over and finishes', async () => {
  await withFixture(async (fx, control) => {
    let cut = 0;
    fx.fake.hook = (req, _res, path) => {
      if (path !== 'sys/init' || cut > 0) return false;
      cut++;
      fx.fake.initialized = true;
      fx.fake.threshold = 3;
      fx.fake.shares = [randomBytes(33), randomBytes(33), randomBytes(33)];
      req.socket.destroy();
      return true;
    };
    const r = await fx.run({ initControl: () => control });
    assert.equal(r.initialized, true);
    assert.equal(control.resets, 1);
    assert.equal(fx.lines.filter((l) => l.includes(START_OVER)).length, 1);
    assert.equal(count(fx.fake, 'PUT sys/init'), 2);
    const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
    assert.deepEqual(secrets.shares, fx.fake.shares);
  });
});

test('init lost, then refused as "already initialized" (taken late): the same attempt id names it, so the store is started over', async () => {
  await withFixture(async (fx, control) => {
    let inits = 0;
    fx.fake.hook = (req, _res, path) => {
      if (path !== 'sys/init') return false;
      inits++;
      if (inits === 1) {
        req.socket.destroy();
        return true;
      }
      if (inits === 2) {
        fx.fake.initialized = true; // the first init committed late; this one is refused
        fx.fake.threshold = 3;
        fx.fake.shares = [randomBytes(33), randomBytes(33), randomBytes(33)];
      }
      return false;
    };
    const r = await fx.run({ initControl: () => control });
    assert.equal(r.initialized, true);
    assert.equal(control.resets, 1);
    assert.equal(control.inits[0], control.inits[1], 'the retried init carried the same attempt id');
    assert.notEqual(control.inits[2], control.inits[0], 'the store\'s new life got a fresh one');
    const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
    assert.deepEqual(secrets.shares, fx.fake.shares);
  });
});

test('unsealed since its init (someone holds shares): not started over; the error says why, store untouched', async () => {
  await withFixture(async (fx, control) => {
    await killedInWindow(fx, control, randomBytes(32));
    control.everUnsealed = true;
    await assert.rejects(fx.run({ initControl: () => control }), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_INITIALIZED_NO_KEYFILE'));
      assert.match(err.message, /interrupted during initialization of http:\/\/127\.0\.0\.1:\d+ at \d{4}-/);
      assert.match(err.message, /it was not started over automatically: the store has been unsealed since its initialization, so it may hold data/);
      assert.match(err.message, /docs\/bootstrap\.md/);
      return true;
    });
    assert.equal(control.resets, 0);
    assert.equal(fx.fake.initialized, true);
    assert.equal(count(fx.fake, 'PUT sys/init'), 1);
  });
});

test('the store was initialized by another request than the interrupted one: not started over', async () => {
  await withFixture(async (fx, control) => {
    await killedInWindow(fx, control, randomBytes(32));
    // Our marker names another attempt than the one the store recorded.
    writeInitMarker({ dir: fx.keysDir }, fx.fake.url, randomBytes(32));
    await assert.rejects(fx.run({ initControl: () => control }), {
      code: 'STORE_INITIALIZED_NO_KEYFILE',
      message: /not started over automatically: the store was initialized by another request than the interrupted one/,
    });
    assert.equal(control.resets, 0);
  });
});

test('a store without the contract (Vault/OpenBao): said exactly as before — what happened and what to do', async () => {
  await withFixture(async (fx, control) => {
    control.supported = false;
    await killedInWindow(fx, control, undefined); // no attempt id: the store did not advertise the contract
    const marker = readInitMarker({ dir: fx.keysDir });
    assert.equal(marker?.attempt, undefined);
    await assert.rejects(fx.run({ initControl: () => control }), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_INITIALIZED_NO_KEYFILE'));
      assert.match(err.message, /already initialized but there is no key file/);
      assert.match(err.message, /interrupted during initialization/);
      assert.match(err.message, /stop the store, move its data away and rerun/);
      assert.doesNotMatch(err.message, /started over/);
      return true;
    });
    assert.equal(control.resets, 0);
    assert.equal(fx.fake.sealed, true);
  });
});

test('no attempt is drawn and no extra field sent when the store does not advertise the contract', async () => {
  await withFixture(async (fx) => {
    await fx.run(); // default control over HTTP against the plain fake
    assert.equal(count(fx.fake, 'PUT sys/init'), 1);
    assert.equal(existsSync(join(fx.keysDir, INIT_MARKER)), false);
  });
});

/** A minimal server implementing the store side of the contract, recording what it was sent. */
async function contractServer(): Promise<{ url: string; bodies: Record<string, unknown>[]; state: { initialized: boolean; recorded?: string; unsealed: boolean }; close(): Promise<void> }> {
  const bodies: Record<string, unknown>[] = [];
  const state: { initialized: boolean; recorded?: string; unsealed: boolean } = { initialized: false, unsealed: false };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
      bodies.push({ method: req.method, path: req.url, ...body });
      const send = (status: number, value: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
      };
      if (req.url === '/v1/sys/seal-status') {
        const s: Record<string, unknown> = { type: 'shamir', initialized: state.initialized, sealed: true, t: 1, n: 1, progress: 0, nonce: '', version: 'x', init_attempt_supported: true };
        if (state.initialized && !state.unsealed && state.recorded !== undefined) s.init_attempt_sha256 = state.recorded;
        send(200, s);
        return;
      }
      if (req.url === '/v1/sys/init' && req.method === 'PUT') {
        state.initialized = true;
        if (typeof body.init_attempt_sha256 === 'string') state.recorded = body.init_attempt_sha256;
        send(200, { keys: ['11'.repeat(33)], keys_base64: [Buffer.alloc(33, 0x11).toString('base64')], root_token: 'hvs.root' });
        return;
      }
      if (req.url === '/v1/sys/init/abandon' && req.method === 'PUT') {
        const hash = createHash('sha256').update(Buffer.from(String(body.init_attempt), 'hex')).digest('hex');
        if (!state.initialized) send(400, { errors: ['the store is not initialized'] });
        else if (state.recorded === undefined || state.unsealed) send(409, { errors: ['the store has been unsealed since its initialization'] });
        else if (hash !== state.recorded) send(403, { errors: ['init attempt mismatch'] });
        else {
          state.initialized = false;
          delete state.recorded;
          send(200, { initialized: false });
        }
        return;
      }
      send(404, { errors: ['no handler'] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    bodies,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

test('the HTTP side of the contract: capability and record in seal-status, the hash with init, the id with abandon', async () => {
  const srv = await contractServer();
  try {
    const control = httpInitControl(new VaultClient({ address: srv.url }));
    assert.equal(await control.recordsInitAttempts(), true);
    assert.equal(await control.recordedInitAttempt(), undefined, 'nothing recorded before init');
    const attempt = randomBytes(32);
    const hash = createHash('sha256').update(attempt).digest('hex');
    const init = await control.init(1, 1, attempt);
    assert.equal(init.shares.length, 1);
    const initBody = srv.bodies.find((b) => b.path === '/v1/sys/init');
    assert.deepEqual(initBody, { method: 'PUT', path: '/v1/sys/init', secret_shares: 1, secret_threshold: 1, init_attempt_sha256: hash });
    assert.equal(await control.recordedInitAttempt(), hash);
    assert.match((await control.abandonInit(randomBytes(32))) ?? '', /^HTTP 403: init attempt mismatch$/);
    srv.state.unsealed = true;
    assert.equal(await control.recordedInitAttempt(), undefined, 'the record ends at the first unseal');
    assert.match((await control.abandonInit(attempt)) ?? '', /^HTTP 409/);
    srv.state.unsealed = false;
    assert.equal(await control.abandonInit(attempt), undefined, 'started over');
    const abandon = srv.bodies.filter((b) => b.path === '/v1/sys/init/abandon').at(-1);
    assert.deepEqual(abandon, { method: 'PUT', path: '/v1/sys/init/abandon', init_attempt: attempt.toString('hex') });
    assert.equal(srv.state.initialized, false);
    // Without an attempt, init is exactly today's request (Vault/OpenBao).
    await control.init(1, 1, undefined);
    assert.deepEqual(srv.bodies.filter((b) => b.path === '/v1/sys/init').at(-1), { method: 'PUT', path: '/v1/sys/init', secret_shares: 1, secret_threshold: 1 });
  } finally {
    await srv.close();
  }
});

test('a store without the contract answers seal-status without the fields: no support, nothing recorded', async () => {
  const fx = await flowFixture();
  try {
    const control = httpInitControl(new VaultClient({ address: fx.fake.url }));
    assert.equal(await control.recordsInitAttempts(), false);
    assert.equal(await control.recordedInitAttempt(), undefined);
  } finally {
    await fx.close();
  }
});
