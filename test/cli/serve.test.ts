import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { startServe } from './serve-helper.js';
import { call } from '../store/http/client.js';
import { protectBlob } from '../../src/vmk/protected-blob.js';
import { parseListen } from '../../src/cli/commands/serve.js';
import { isSecretStoreError } from '../../src/errors.js';
import { httpFixturesDir } from '../helpers/paths.js';


test('serve prints exactly one listening line with the real port, creates the data folder 0700, SIGTERM exits 0', async () => {
  const tmp = await makeTempDir();
  try {
    const data = join(tmp, 'nested', 'data');
    const s = await startServe(['--data', data, '--listen', '127.0.0.1:0']);
    const m = /^http:\/\/127\.0\.0\.1:(\d+)$/.exec(s.url);
    assert.ok(m !== null && Number(m[1]) > 0, s.url);
    const status = await call(s.url, 'GET', '/v1/sys/seal-status');
    assert.equal(status.status, 200);
    assert.equal((status.json as { initialized: boolean }).initialized, false);
    assert.equal(((await stat(data)).mode & 0o777).toString(8), '700');
    const exit = await s.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(s.stdout(), `listening on ${s.url}\n`);
    // Logs go to stderr and never to stdout.
    assert.match(s.stderr(), /store ready/);
  } finally {
    await removeTempDir(tmp);
  }
});

test('serve starts sealed whenever the store is initialized; SIGINT also exits 0 after sealing', async () => {
  const tmp = await makeTempDir();
  try {
    const s1 = await startServe(['--data', tmp, '--listen', '127.0.0.1:0']);
    const init = await call(s1.url, 'PUT', '/v1/sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(init.status, 200);
    const key = (init.json as { keys: string[] }).keys[0] ?? '';
    const unsealed = await call(s1.url, 'PUT', '/v1/sys/unseal', { body: { key } });
    assert.equal((unsealed.json as { sealed: boolean }).sealed, false);
    assert.deepEqual(await s1.stop('SIGINT'), { code: 0, signal: null });
    const s2 = await startServe(['--data', tmp, '--listen', '127.0.0.1:0']);
    try {
      const st = (await call(s2.url, 'GET', '/v1/sys/seal-status')).json as { initialized: boolean; sealed: boolean };
      assert.deepEqual({ initialized: st.initialized, sealed: st.sealed }, { initialized: true, sealed: true });
      const again = await call(s2.url, 'PUT', '/v1/sys/unseal', { body: { key } });
      assert.equal((again.json as { sealed: boolean }).sealed, false);
    } finally {
      assert.deepEqual(await s2.stop(), { code: 0, signal: null });
    }
  } finally {
    await removeTempDir(tmp);
  }
});

test('serve usage errors exit 2 with a one-line message', async () => {
  const cases: [string[], RegExp][] = [
    [[], /--data DIR is required/],
    [['--data', '/tmp/x', '--listen', 'localhost'], /--listen must be HOST:PORT/],
    [['--data', '/tmp/x', '--listen', '127.0.0.1:70000'], /--listen must be HOST:PORT/],
    [['--data', '/tmp/x', '--tls-cert', 'c.pem'], /--tls-cert and --tls-key go together/],
    [['--data', '/tmp/x', '--max-body', '0'], /--max-body must be between 1 and/],
    [['--data', '/tmp/x', '--bogus'], /see --help/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['serve', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('serve --help documents the flags', async () => {
  const r = await runCli(['serve', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--data', '--listen', '--tls-cert', '--tls-key', '--max-body']) assert.ok(r.stdout.includes(flag), flag);
});

test('parseListen accepts HOST:PORT and [IPv6]:PORT only', () => {
  assert.deepEqual(parseListen('0.0.0.0:8200'), { host: '0.0.0.0', port: 8200 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseListen('localhost:1'), { host: 'localhost', port: 1 });
  for (const bad of ['::1:80', ':80', 'host:', 'host:-1', 'host:65536', 'a b:1']) {
    assert.throws(() => parseListen(bad), (e) => isSecretStoreError(e, 'USAGE'), bad);
  }
});

test('serve refuses a data folder other users can access, and a port in use', async () => {
  const tmp = await makeTempDir();
  try {
    const open = join(tmp, 'open');
    await mkdir(open, { mode: 0o755 });
    await chmod(open, 0o755);
    const r = await runCli(['serve', '--data', open, '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /accessible by other users \(mode 755\); run "chmod 700/);
    const s = await startServe(['--data', join(tmp, 'a'), '--listen', '127.0.0.1:0']);
    try {
      const port = new URL(s.url).port;
      const busy = await runCli(['serve', '--data', join(tmp, 'b'), '--listen', `127.0.0.1:${port}`]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    } finally {
      await s.stop();
    }
  } finally {
    await removeTempDir(tmp);
  }
});

test('serve over TLS prints an https URL and answers over TLS', async () => {
  const tmp = await makeTempDir();
  const fx = httpFixturesDir();
  try {
    const s = await startServe([
      '--data', join(tmp, 'd'), '--listen', '127.0.0.1:0',
      '--tls-cert', join(fx, 'test-server.crt'), '--tls-key', join(fx, 'test-server.key'),
    ]);
    try {
      assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await call(s.url, 'GET', '/v1/sys/health', { ca: await readFile(join(fx, 'test-server.crt')) });
      assert.equal(r.status, 501);
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
  } finally {
    await removeTempDir(tmp);
  }
});

test('serve decrypts a TLS key protected with the IKM hook in memory; without the hook it fails closed', async () => {
  const tmp = await makeTempDir();
  const fx = httpFixturesDir();
  try {
    const ikm = Buffer.alloc(32, 0x5a);
    const hook = join(tmp, 'hook.sh');
    await writeFile(hook, `#!/bin/sh\necho ${ikm.toString('hex')}\n`, { mode: 0o700 });
    const protectedKey = join(tmp, 'server.key.protected');
    await writeFile(protectedKey, protectBlob(ikm, 'tls-key', await readFile(join(fx, 'test-server.key'))), { mode: 0o600 });
    const cert = join(fx, 'test-server.crt');
    const noHook = await runCli(['serve', '--data', join(tmp, 'd0'), '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', protectedKey], {
      env: { ...process.env, EDGEX_IKM_HOOK: '' },
    });
    assert.equal(noHook.code, 1);
    assert.match(noHook.stderr, /is protected; set EDGEX_IKM_HOOK/);
    const s = await startServe(['--data', join(tmp, 'd'), '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', protectedKey], {
      ...process.env,
      EDGEX_IKM_HOOK: hook,
    });
    try {
      const r = await call(s.url, 'GET', '/v1/sys/seal-status', { ca: await readFile(cert) });
      assert.equal(r.status, 200);
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
    // A hook printing another IKM cannot open it.
    const wrong = join(tmp, 'wrong.sh');
    await writeFile(wrong, `#!/bin/sh\necho ${Buffer.alloc(32, 1).toString('hex')}\n`, { mode: 0o700 });
    const bad = await runCli(['serve', '--data', join(tmp, 'd2'), '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', protectedKey], {
      env: { ...process.env, EDGEX_IKM_HOOK: wrong },
    });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  } finally {
    await removeTempDir(tmp);
  }
});
