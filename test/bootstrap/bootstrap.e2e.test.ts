/**
 * End to end: the `bootstrap` CLI as a process against `serve` as another process, with the software hook
 * hooks/ikm-dev and a known IKM. Every run's output (and the store's) is scanned for secrets at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startServe, type ServeHandle } from '../helpers/serve.js';
import { IKM_DEV, makeBootEnv, type BootEnv } from '../helpers/boot-env.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { readKeyFile, inspectKeyFile } from '../../src/keyfile/keyfile.js';
import { VaultClient } from '../../src/vault/client.js';

/** Secrets seen during the file's tests, scanned for in all outputs at the end. */
const secrets: { label: string; value: Buffer }[] = [];
const outputs: string[] = [];

async function collect(be: BootEnv, store: ServeHandle, ikmHex = be.ikmHex): Promise<void> {
  const ikm = Buffer.from(ikmHex, 'hex');
  secrets.push({ label: 'IKM', value: ikm });
  try {
    const { secrets: s } = await readKeyFile({ dir: be.keysDir }, ikm);
    s.shares.forEach((share, i) => secrets.push({ label: `share ${i}`, value: share }));
    if (s.rootToken !== undefined) secrets.push({ label: 'root token', value: s.rootToken });
  } catch {
    // the key file may be plaintext or absent in some tests: then read it without the IKM
    const { secrets: s } = await readKeyFile({ dir: be.keysDir }, undefined);
    s.shares.forEach((share, i) => secrets.push({ label: `share ${i}`, value: share }));
  }
  try {
    const doc = JSON.parse(await readFile(be.adminTokenPath, 'utf8')) as { auth: { client_token: string } };
    secrets.push({ label: 'token-issuing token', value: Buffer.from(doc.auth.client_token) });
  } catch {
    // no token file in failure tests
  }
  outputs.push(...be.outputs, store.output());
}

async function device(yaml: Record<string, string | number | boolean> = {}): Promise<{ be: BootEnv; store: ServeHandle; done: () => Promise<void> }> {
  const be = await makeBootEnv(yaml);
  const store = await startServe();
  return {
    be,
    store,
    done: async () => {
      await collect(be, store).catch(() => undefined);
      await store.close();
      await be.close();
    },
  };
}

async function health(url: string): Promise<number> {
  return (await new VaultClient({ address: url }).health()).status;
}

test('first boot, reboot, and bootstrap while unsealed', async () => {
  const { be, store, done } = await device();
  try {
    const first = await be.cli(['bootstrap', '--addr', store.url, '--log-level', 'debug']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /secret store ready \(initialized and unsealed\)/);
    assert.equal(await health(store.url), 200);
    const summary = await inspectKeyFile({ dir: be.keysDir });
    assert.equal(summary?.format, 'v2');
    assert.equal(summary.encrypted, true);
    assert.equal(summary.hasRootToken, false);
    assert.equal((await stat(be.keyFile)).mode & 0o777, 0o600);
    assert.equal((await stat(be.adminTokenPath)).mode & 0o777, 0o600);

    await store.restart();
    assert.equal(await health(store.url), 503, 'sealed after restart');
    const reboot = await be.cli(['bootstrap', '--addr', store.url, '--log-level', 'debug']);
    assert.equal(reboot.code, 0, reboot.stderr);
    assert.match(reboot.stdout, /\(unsealed\)/);
    assert.equal(await health(store.url), 200);

    const again = await be.cli(['--addr', store.url, '--log-format', 'json']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already unsealed/);
    // --log-format json: one JSON object per line, each with time, level and msg.
    const records = again.stderr.trim().split('\n').map((l) => JSON.parse(l) as { time: string; level: string; msg: string });
    assert.ok(records.length >= 5);
    for (const rec of records) assert.ok(typeof rec.time === 'string' && typeof rec.level === 'string' && typeof rec.msg === 'string');
    assert.ok(records.some((rec) => rec.msg === 'bootstrap complete'));

    // The token-issuing token works: it can write an edgex-service policy and create a token.
    const doc = JSON.parse(await readFile(be.adminTokenPath, 'utf8')) as { auth: { client_token: string } };
    const client = new VaultClient({ address: store.url });
    await client.putPolicy(doc.auth.client_token, 'edgex-service-x', 'path "secret/x/*" { capabilities = ["read"] }');
    const created = await client.createToken(doc.auth.client_token, { policies: ['edgex-service-x'] }, false);
    assert.ok(created.auth.policies.includes('edgex-service-x'));
    const st = await be.cli(['status', '--addr', store.url, '--json']);
    assert.equal(st.code, 0, st.stderr);
    const report = JSON.parse(st.stdout) as { nodes: { sealed: boolean }[]; keyFile: { summary: { encrypted: boolean } }; hook: { configured: boolean } };
    assert.equal(report.nodes[0]?.sealed, false);
    assert.equal(report.keyFile.summary.encrypted, true);
    assert.equal(report.hook.configured, true);
  } finally {
    await done();
  }
});

test('wrong IKM and hook removed: fail closed, key file and store untouched', async () => {
  const { be, store, done } = await device();
  try {
    assert.equal((await be.cli(['bootstrap', '--addr', store.url])).code, 0);
    const rightIkm = be.ikmHex;
    await collect(be, store);
    await store.restart();
    const before = await readFile(be.keyFile);
    await be.setIkm(randomBytes(32).toString('hex'));
    const wrong = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /IKM does not decrypt/);
    assert.match(wrong.stderr, /nothing was changed/);
    assert.deepEqual(await readFile(be.keyFile), before);
    assert.equal(await health(store.url), 503, 'still sealed');

    const st = await be.cli(['status', '--addr', store.url]);
    assert.equal(st.code, 1, 'status exits 1 while a node is sealed');
    assert.match(st.stdout, /: sealed \(unseal progress 0\/3\); threshold 3 of 5 shares; version /);
    assert.match(st.stdout, /format v2, encrypted, 5 shares, threshold 3, salt present, root token not stored/);

    await be.setIkm(rightIkm);
    const noHook = await be.cli(['bootstrap', '--addr', store.url], { hook: false });
    assert.equal(noHook.code, 1);
    assert.match(noHook.stderr, /encrypted but no IKM hook is configured; set EDGEX_IKM_HOOK/);
    assert.equal(noHook.stderr.trim().split('\n').filter((l) => l.startsWith('secretstore-setup')).length, 1, 'one-line error');
    assert.deepEqual(await readFile(be.keyFile), before);
    assert.equal(await health(store.url), 503, 'still sealed');

    const ok = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await done();
  }
});

test('plaintext key file (no hook) is migrated to encrypted in place once a hook is set', async () => {
  const { be, store, done } = await device();
  try {
    const plain = await be.cli(['bootstrap', '--addr', store.url], { hook: false });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /PLAINTEXT/);
    const { secrets: before } = await readKeyFile({ dir: be.keysDir }, undefined);
    await store.restart();
    const migrate = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, /key file migrated to encrypted/);
    const after = await readKeyFile({ dir: be.keysDir }, Buffer.from(be.ikmHex, 'hex'));
    assert.equal(after.summary.encrypted, true);
    assert.deepEqual(after.secrets.shares, before.shares, 'same shares, now encrypted');
    const raw = await readFile(be.keyFile, 'utf8');
    for (const s of before.shares) assert.ok(!raw.includes(s.toString('hex')) && !raw.includes(s.toString('base64')));
  } finally {
    await done();
  }
});

test('keys rewrap to a new hook, then boot with the new hook', async () => {
  const { be, store, done } = await device();
  try {
    assert.equal((await be.cli(['bootstrap', '--addr', store.url])).code, 0);
    await collect(be, store);
    const newIkmHex = randomBytes(32).toString('hex');
    const newIkmFile = join(be.dir, 'ikm-new.hex');
    await writeFile(newIkmFile, newIkmHex + '\n', { mode: 0o600 });
    const newHook = join(be.dir, 'ikm-new');
    await writeFile(newHook, `#!/bin/sh\nIKM_DEV_FILE='${newIkmFile}' exec '${IKM_DEV}'\n`);
    await chmod(newHook, 0o700);
    const rewrap = await be.cli(['keys', 'rewrap', '--dir', be.keysDir, '--new-hook', newHook]);
    assert.equal(rewrap.code, 0, rewrap.stderr);
    await store.restart();
    const old = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(old.code, 1, 'the old hook no longer decrypts');
    const boot = await be.cli(['bootstrap', '--addr', store.url], { env: { ...be.env, EDGEX_IKM_HOOK: newHook } });
    assert.equal(boot.code, 0, boot.stderr);
    assert.equal(await health(store.url), 200);
    be.ikmHex = newIkmHex;
  } finally {
    await done();
  }
});

test('four concurrent bootstraps on a fresh store: one init, one key file, all succeed', async () => {
  const { be, store, done } = await device();
  try {
    const runs = await Promise.all([0, 1, 2, 3].map(() => be.cli(['bootstrap', '--addr', store.url])));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(runs.filter((r) => r.stderr.includes('initializing the secret store')).length, 1, 'exactly one init');
    assert.equal(runs.filter((r) => r.stderr.includes('key file saved')).length, 1, 'exactly one write');
    // The one key file unseals the store after a reboot.
    await store.restart();
    const reboot = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(reboot.code, 0, reboot.stderr);
    // Exactly one token-issuing token stays valid (each run revoked its predecessor).
    const doc = JSON.parse(await readFile(be.adminTokenPath, 'utf8')) as { auth: { client_token: string } };
    assert.ok((await new VaultClient({ address: store.url }).lookupSelf(doc.auth.client_token)) !== undefined);
  } finally {
    await done();
  }
});

test('RevokeRootTokens=false keeps the root token encrypted (never plaintext with a hook)', async () => {
  const { be, store, done } = await device({ RevokeRootTokens: false });
  try {
    const r = await be.cli(['bootstrap', '--addr', store.url, '--log-level', 'debug']);
    assert.equal(r.code, 0, r.stderr);
    const s = await inspectKeyFile({ dir: be.keysDir });
    assert.equal(s?.hasRootToken, true);
    assert.equal(s.rootTokenEncrypted, true);
    const { secrets: kept } = await readKeyFile({ dir: be.keysDir }, Buffer.from(be.ikmHex, 'hex'));
    assert.ok(kept.rootToken !== undefined);
    assert.ok(!(await readFile(be.keyFile, 'utf8')).includes(kept.rootToken.toString()));
    assert.ok((await new VaultClient({ address: store.url }).lookupSelf(kept.rootToken.toString())) !== undefined, 'the kept root token works');
    await store.restart();
    assert.equal((await be.cli(['bootstrap', '--addr', store.url, '--log-level', 'debug'])).code, 0);
  } finally {
    await done();
  }
});

test('unreachable store: progress lines, then a clear failure at the deadline', async () => {
  const be = await makeBootEnv({ WaitTimeout: 1 });
  try {
    const r = await be.cli(['bootstrap', '--addr', 'http://127.0.0.1:9', '--wait-timeout', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /waiting for the secret store/);
    assert.match(r.stderr, /secretstore-setup bootstrap: the secret store at http:\/\/127\.0\.0\.1:9 was not ready after \d+ s/);
  } finally {
    await be.close();
  }
});

test('no secret (IKM, shares, root token, token-issuing token) appears in any output of the tests above', () => {
  // Runs last (tests in a file run in order): every secret, in hex and base64, against every process's output.
  assert.ok(secrets.length >= 20, 'secrets were collected');
  assertNoSecrets(outputs, secrets);
});
