/**
 * `watch` as a process against `serve` as a process: a restarted (sealed) store is unsealed again within about one
 * interval; /healthz and /metrics report it; SIGTERM stops the daemon cleanly; no secret in any output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeHook } from '../vmk/hook-scripts.js';
import { CLI_MAIN } from '../helpers/paths.js';
import { startServe } from '../helpers/serve.js';
import { makeBootEnv } from '../helpers/boot-env.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { VaultClient } from '../../src/vault/client.js';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}\\{[^}]*\\} (-?\\d+)$`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

test('watch re-unseals a restarted store and reports it in /healthz and /metrics', async () => {
  const be = await makeBootEnv();
  const store = await startServe();
  const watch = { out: '', err: '' };
  let child: ReturnType<typeof spawn> | undefined;
  try {
    assert.equal((await be.cli(['bootstrap', '--addr', store.url])).code, 0);
    child = spawn(process.execPath, [CLI_MAIN, 'watch', '--addr', store.url, '--interval', '1', '--metrics-listen', '127.0.0.1:0'], {
      cwd: be.dir,
      env: be.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (watch.out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (watch.err += d));
    const metricsUrl = await until('the metrics line', () => Promise.resolve(/metrics on (http:\/\/[^\s]+)/.exec(watch.out)?.[1]));

    const healthy = await until('healthz 200', async () => {
      const r = await fetch(`${metricsUrl}/healthz`);
      return r.status === 200 ? ((await r.json()) as { status: string }) : undefined;
    });
    assert.equal(healthy.status, 'ok');

    await store.restart();
    await until('the store unsealed again', async () => ((await new VaultClient({ address: store.url }).health()).status === 200 ? true : undefined));
    const text = await until('metrics after the unseal', async () => {
      const t = await (await fetch(`${metricsUrl}/metrics`)).text();
      return metric(t, 'secretstore_setup_unseal_attempts_total') === 1 && metric(t, 'secretstore_setup_node_sealed') === 0 ? t : undefined;
    });
    assert.equal(metric(text, 'secretstore_setup_unseal_failures_total'), 0);
    assert.ok((metric(text, 'secretstore_setup_last_unseal_success_timestamp_seconds') ?? 0) > 0);
    assert.match(text, /# TYPE secretstore_setup_node_sealed gauge/);
    assert.match(watch.err, /node sealed; unsealing/);
    // One unseal, no failure: the first check after the restart found it sealed and unsealed it.
    assert.equal((watch.err.match(/node sealed; unsealing/g) ?? []).length, 1);

    const exited = new Promise<number | null>((resolve) => {
      child?.on('exit', (code) => {
        resolve(code);
      });
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    child = undefined;
    assert.match(watch.err, /watch stopped/);

    const ikm = Buffer.from(be.ikmHex, 'hex');
    const { secrets } = await readKeyFile({ dir: be.keysDir }, ikm);
    assertNoSecrets(
      [watch.out, watch.err, store.output(), ...be.outputs],
      [{ label: 'IKM', value: ikm }, ...secrets.shares.map((value, i) => ({ label: `share ${i}`, value }))],
    );
    const token = (JSON.parse(await readFile(be.adminTokenPath, 'utf8')) as { auth: { client_token: string } }).auth.client_token;
    assertNoSecrets([watch.out, watch.err], [{ label: 'token-issuing token', value: Buffer.from(token) }]);
  } finally {
    child?.kill('SIGKILL');
    await store.close();
    await be.close();
  }
});

test('watch with a hook that releases the IKM once per boot re-unseals after every restart (the IKM is kept in memory)', async () => {
  const be = await makeBootEnv();
  const store = await startServe();
  const watch = { out: '', err: '' };
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const first = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(first.code, 0, first.stderr);
    // The device's hook: prints the IKM the first time, then fails for the rest of the "boot" (a counter file).
    const used = join(be.dir, 'released');
    const hook = await writeHook(
      be.dir,
      'ikm-once',
      `if [ -e '${used}' ]; then echo 'ikm-once: the IKM was already released this boot' >&2; exit 1; fi\n: > '${used}'\nprintf '%s\\n' '${be.ikmHex}'`,
    );
    child = spawn(process.execPath, [CLI_MAIN, 'watch', '--addr', store.url, '--interval', '1', '--metrics-listen', 'off'], {
      cwd: be.dir,
      env: { ...be.env, EDGEX_IKM_HOOK: hook },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (watch.out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (watch.err += d));
    await until('watch started', () => Promise.resolve(watch.err.includes('watch starting') ? true : undefined));
    for (let restart = 1; restart <= 3; restart++) {
      await store.restart();
      await until(`the store unsealed after restart ${restart}`, async () =>
        (await new VaultClient({ address: store.url }).health()).status === 200 ? true : undefined,
      );
    }
    assert.equal((watch.err.match(/node sealed; unsealing/g) ?? []).length, 3);
    assert.doesNotMatch(watch.err, /node check failed/);
    assert.equal((watch.err.match(/IKM kept in memory/g) ?? []).length, 1, 'the hook ran once');
    const exited = new Promise<number | null>((resolve) => child?.on('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    child = undefined;
    const ikm = Buffer.from(be.ikmHex, 'hex');
    const { secrets } = await readKeyFile({ dir: be.keysDir }, ikm);
    assertNoSecrets([watch.out, watch.err, store.output(), ...be.outputs], [{ label: 'IKM', value: ikm }, ...secrets.shares.map((value, i) => ({ label: `share ${i}`, value }))]);
  } finally {
    child?.kill('SIGKILL');
    await store.close();
    await be.close();
  }
});
