/**
 * TLS end to end: the store's key protected with `protect --purpose tls-key`, `serve` over https with it, and
 * bootstrap trusting the certificate through CaFilePath — and refusing without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeBootEnv } from '../helpers/boot-env.js';
import { startServe } from '../helpers/serve.js';
import { isProtectedBlob } from '../../src/vmk/protected-blob.js';

const run = promisify(execFile);

test('bootstrap over https with CaFilePath; the store key protected with the IKM; untrusted without the CA', async () => {
  // A relative CaFilePath resolves against the working directory (the device folder).
  const be = await makeBootEnv({ CaFilePath: 'server.crt' });
  try {
    const certPath = join(be.dir, 'server.crt');
    const keyPath = join(be.dir, 'server.key');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath,
      '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    const p = await be.cli(['protect', keyPath, '--purpose', 'tls-key']);
    assert.equal(p.code, 0, p.stderr);
    assert.ok(isProtectedBlob(await readFile(keyPath)));
    const store = await startServe({ env: be.env, args: ['--tls-cert', certPath, '--tls-key', keyPath] });
    try {
      assert.match(store.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ok = await be.cli(['bootstrap', '--addr', store.url]);
      assert.equal(ok.code, 0, ok.stderr);
      const untrusted = await be.cli(['bootstrap', '--addr', store.url], { env: { ...be.env, SECRETSTORE_CAFILEPATH: '' } });
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, /TLS connection to https:\/\/127\.0\.0\.1:\d+ failed \(.+\); check CaFilePath/);
    } finally {
      await store.close();
    }
  } finally {
    await be.close();
  }
});
