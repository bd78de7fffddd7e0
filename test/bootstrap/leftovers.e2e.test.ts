/**
 * A writer SIGKILLed right after its temp file was written (before the rename: the moment the init marker's temp
 * file was once seen left behind by crash.e2e) leaves that temp file; the next `bootstrap` process removes it and
 * succeeds. Deterministic: the child kills itself at exactly that point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServe } from '../helpers/serve.js';
import { makeBootEnv } from '../helpers/boot-env.js';
import { INIT_MARKER } from '../../src/bootstrap/init-marker.js';
import { isTempOf } from '../../src/keyfile/atomic-write.js';
import { VaultClient } from '../../src/vault/client.js';

const ATOMIC_WRITE = fileURLToPath(new URL('../../src/keyfile/atomic-write.js', import.meta.url));

/** Runs a process that writes `target`'s temp file as writeFileAtomic does, then SIGKILLs itself before the rename. */
function killedWriter(target: string): Promise<void> {
  const code = `const { writeTempFile } = await import(process.env.ATOMIC_WRITE);
await writeTempFile(process.env.TARGET, Buffer.from('{"time":"2024-'));
process.kill(process.pid, 'SIGKILL');`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ATOMIC_WRITE, TARGET: target }, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the writer was not killed (${String(signal)})`));
    });
  });
}

const temps = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => n.includes('.tmp-') || /\.lock\./.test(n));

test('the init marker\'s temp file left by a SIGKILLed writer is removed by the next bootstrap, which succeeds', async () => {
  const be = await makeBootEnv();
  const store = await startServe();
  try {
    await mkdir(be.keysDir, { recursive: true, mode: 0o700 });
    const marker = join(be.keysDir, INIT_MARKER);
    await killedWriter(marker);
    await killedWriter(be.keyFile);
    const left = await temps(be.keysDir);
    assert.equal(left.length, 2, 'the kills left two temp files');
    assert.ok(left.some((n) => isTempOf(n, marker)) && left.some((n) => isTempOf(n, be.keyFile)));
    const boot = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(boot.code, 0, boot.stderr);
    assert.deepEqual(await temps(be.keysDir), [], 'no temp file left');
    // And after a restart, a sealed boot (no key-file write at all) cleans up too.
    await killedWriter(marker);
    await killedWriter(be.keyFile);
    await store.restart();
    const reboot = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(reboot.code, 0, reboot.stderr);
    assert.deepEqual(await temps(be.keysDir), []);
    assert.equal((await new VaultClient({ address: store.url }).health()).status, 200);
  } finally {
    await store.close();
    await be.close();
  }
});
