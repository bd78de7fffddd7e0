/** protect / unprotect: round trip, atomic 0600, purpose binding, fail closed with the file unchanged. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeBootEnv } from '../helpers/boot-env.js';
import { purposeFromFileName } from '../../src/protect/protect.js';
import { isProtectedBlob } from '../../src/vmk/protected-blob.js';

test('purposeFromFileName lower-cases and keeps a valid label', () => {
  assert.equal(purposeFromFileName('/etc/x/TLS.Key'), 'tls.key');
  assert.equal(purposeFromFileName('my secret.pem'), 'my-secret.pem');
  assert.equal(purposeFromFileName('.env'), 'env');
});

test('protect then unprotect restores the bytes; files are 0600; the secret never appears in the protected file', async () => {
  const be = await makeBootEnv();
  try {
    const file = join(be.dir, 'tls.key');
    const secret = Buffer.from(`-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`);
    await writeFile(file, secret, { mode: 0o644 });
    const p = await be.cli(['protect', file, '--purpose', 'tls-key']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /protected .*tls\.key \(purpose tls-key\)/);
    const doc = await readFile(file);
    assert.ok(isProtectedBlob(doc));
    assert.ok(!doc.includes(secret));
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const again = await be.cli(['protect', file, '--purpose', 'tls-key']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already protected; nothing was changed/);

    const wrongPurpose = await be.cli(['unprotect', file]);
    assert.equal(wrongPurpose.code, 1);
    assert.match(wrongPurpose.stderr, /another purpose/);
    assert.deepEqual(await readFile(file), doc);

    const right = be.ikmHex;
    await be.setIkm(randomBytes(32).toString('hex'));
    const wrongIkm = await be.cli(['unprotect', file, '--purpose', 'tls-key']);
    assert.equal(wrongIkm.code, 1);
    assert.match(wrongIkm.stderr, /IKM does not decrypt/);
    assert.deepEqual(await readFile(file), doc, 'unchanged');
    await be.setIkm(right);

    const out = join(be.dir, 'plain.key');
    const u = await be.cli(['unprotect', file, '--purpose', 'tls-key', '--out', out]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stderr, /PLAINTEXT/);
    assert.deepEqual(await readFile(out), secret);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    for (const o of be.outputs) assert.ok(!o.includes(secret.toString()), 'secret not printed');
  } finally {
    await be.close();
  }
});

test('protect removes the temp file a protect killed before its rename left behind (the chaos campaign found it)', async () => {
  const be = await makeBootEnv();
  try {
    const file = join(be.dir, 'tls.key');
    await writeFile(file, 'secret material\n', { mode: 0o600 });
    // What a SIGKILL between the temp file's fsync and the rename leaves: a temp named after a dead writer.
    const leftover = join(be.dir, '.tls.key.tmp-4194303-abcdef012345');
    await writeFile(leftover, 'half a protected document', { mode: 0o600 });
    const p = await be.cli(['protect', file]);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual((await readdir(be.dir)).filter((n) => n.includes('tls.key')), ['tls.key']);
  } finally {
    await be.close();
  }
});

test('without a hook, protect and unprotect refuse with what to do', async () => {
  const be = await makeBootEnv();
  try {
    const file = join(be.dir, 'x.txt');
    await writeFile(file, 'secret');
    const r = await be.cli(['protect', file], { hook: false });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /set EDGEX_IKM_HOOK/);
    assert.equal(await readFile(file, 'utf8'), 'secret');
    const u = await be.cli(['unprotect', file]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /not a protected file; nothing was changed/);
    const usage = await be.cli(['protect']);
    assert.equal(usage.code, 2);
  } finally {
    await be.close();
  }
});
