import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from '../../src/crypto.js';
import { isSecretStoreError } from '../../src/errors.js';
import { Logger } from '../../src/log.js';
import type { CommandContext } from '../../src/cli/command.js';
import { readKeyFile, writeKeyFile, type InitSecrets } from '../../src/keyfile/keyfile.js';
import { runEscrow } from '../../src/cli/commands/keys-escrow.js';
import { runRecover } from '../../src/cli/commands/keys-recover.js';
import { runCli } from '../helpers/cli.js';
import { hookPath, mustRun, runProgram } from '../helpers/run-hook.js';
import { SOFTHSM_PACKAGES, SOFTHSM_TOOLS, makeSoftHsm } from '../helpers/softhsm.js';
import { requireTools } from '../helpers/require-tools.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

interface Fixture {
  dir: string;
  oldDevice: string;
  newDevice: string;
  oldHook: string;
  newHook: string;
  newIkm: Buffer;
  oldIkm: Buffer;
  identity: string;
  recipient: string;
  secrets: InitSecrets;
}

/** A hook for one "device": ikm-dev reading that device's own IKM file (a stand-in for its TPM). */
async function deviceHook(dir: string, name: string): Promise<{ hook: string; ikm: Buffer }> {
  const ikm = randomBytes(32);
  const file = join(dir, `${name}.ikm`);
  await writeFile(file, ikm.toString('hex') + '\n', { mode: 0o600 });
  const hook = join(dir, `${name}-hook`);
  await writeFile(hook, `#!/bin/sh\nIKM_DEV_FILE='${file}' IKM_DEV_ALLOW_INSECURE=1 exec '${hookPath('ikm-dev')}'\n`, { mode: 0o700 });
  return { hook, ikm };
}

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('sss-escrow-');
  try {
    const old = await deviceHook(dir, 'old');
    const fresh = await deviceHook(dir, 'new');
    const identity = join(dir, 'recovery-key.txt');
    await mustRun('age-keygen', ['-o', identity], process.env);
    await chmod(identity, 0o600);
    const recipient = (await mustRun('age-keygen', ['-y', identity], process.env)).trim();
    const secrets: InitSecrets = {
      shares: Array.from({ length: 5 }, () => randomBytes(33)),
      threshold: 3,
      rootToken: Buffer.from('hvs.' + randomBytes(12).toString('hex')),
    };
    const oldDevice = join(dir, 'old-device');
    await writeKeyFile({ dir: oldDevice }, secrets, { format: 'v2', ikm: old.ikm });
    await fn({ dir, oldDevice, newDevice: join(dir, 'new-device'), oldHook: old.hook, newHook: fresh.hook, oldIkm: old.ikm, newIkm: fresh.ikm, identity, recipient, secrets });
  } finally {
    await removeTempDir(dir);
  }
}

function ctxFor(env: NodeJS.ProcessEnv, cwd: string): CommandContext & { output: string[] } {
  const output: string[] = [];
  return {
    argv: [],
    env,
    cwd,
    out: (t) => output.push(t),
    log: new Logger({ sink: (l) => output.push(l) }),
    signal: new AbortController().signal,
    output,
  };
}

async function rejectsWith(p: Promise<unknown>, code: Parameters<typeof isSecretStoreError>[1], msg: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isSecretStoreError(err, code), `expected ${String(code)}, got ${String(err)}`);
    assert.match(err.message, msg);
    return true;
  });
}

test('keys escrow → the real age CLI decrypts it → keys recover → the new key file opens with the new hook only', async (t) => {
  if (!requireTools(t, ['age', 'age-keygen'], 'age')) return;
  await withFixture(async (f) => {
    const out = join(f.dir, 'offsite', 'escrow.age');
    const e = await runCli(['keys', 'escrow', '--dir', f.oldDevice, '--recipient', f.recipient, '--out', out], {
      env: { ...process.env, EDGEX_IKM_HOOK: f.oldHook },
    });
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /escrowed 5 shares, threshold 3, root token to .*escrow\.age for 1 recipient/);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    const copy = await readFile(out);
    for (const s of f.secrets.shares) {
      assert.equal(copy.includes(s), false);
      assert.equal(copy.includes(Buffer.from(s.toString('hex'))), false);
      assert.equal(e.stdout.includes(s.toString('hex')) || e.stderr.includes(s.toString('hex')), false);
    }

    // The stock age CLI reads it: the copy is usable without secretstore-setup.
    const plain = JSON.parse(await mustRun('age', ['-d', '-i', f.identity, out], process.env)) as Record<string, unknown>;
    assert.deepEqual(plain.keys, f.secrets.shares.map((s) => s.toString('hex')));
    assert.equal(plain.threshold, 3);
    assert.equal(plain.root_token, f.secrets.rootToken?.toString());

    const r = await runCli(['keys', 'recover', '--dir', f.newDevice, '--identity', f.identity, '--in', out, '--new-hook', f.newHook]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /recovered: .*resp-init\.json: v2 format, encrypted, 5 shares, threshold 3, root token encrypted/);
    const { secrets } = await readKeyFile({ dir: f.newDevice }, f.newIkm);
    assert.deepEqual(secrets.shares, f.secrets.shares);
    assert.equal(secrets.threshold, 3);
    assert.deepEqual(secrets.rootToken, f.secrets.rootToken);
    await rejectsWith(readKeyFile({ dir: f.newDevice }, f.oldIkm), 'KEYFILE_WRONG_IKM', /./);
    // The product's own verification with the new hook agrees.
    const v = await runCli(['keys', 'verify', '--dir', f.newDevice], { env: { ...process.env, EDGEX_IKM_HOOK: f.newHook } });
    assert.equal(v.code, 0, v.stderr);
  });
});

test('keys recover refuses to replace a key file without --replace, and replaces it with it', async (t) => {
  if (!requireTools(t, ['age', 'age-keygen'], 'age')) return;
  await withFixture(async (f) => {
    const out = join(f.dir, 'escrow.age');
    await runEscrow(ctxFor({ ...process.env, EDGEX_IKM_HOOK: f.oldHook }, f.dir), ['--dir', f.oldDevice, '--recipient', f.recipient, '--out', out]);
    const before = await readFile(join(f.oldDevice, 'resp-init.json'));
    const args = ['--dir', f.oldDevice, '--identity', f.identity, '--in', out, '--new-hook', f.newHook];
    await rejectsWith(runRecover(ctxFor(process.env, f.dir), args), 'USAGE', /resp-init\.json exists; pass --replace/);
    assert.deepEqual(await readFile(join(f.oldDevice, 'resp-init.json')), before);
    assert.equal(await runRecover(ctxFor(process.env, f.dir), [...args, '--replace']), 0);
    assert.deepEqual((await readKeyFile({ dir: f.oldDevice }, f.newIkm)).secrets.shares, f.secrets.shares);
  });
});

test('keys escrow / recover failures: bad recipient, no hook, wrong identity, altered copy, unsafe identity file', async (t) => {
  if (!requireTools(t, ['age', 'age-keygen'], 'age')) return;
  await withFixture(async (f) => {
    const withHook = { ...process.env, EDGEX_IKM_HOOK: f.oldHook };
    const out = join(f.dir, 'escrow.age');
    await rejectsWith(
      runEscrow(ctxFor(withHook, f.dir), ['--dir', f.oldDevice, '--recipient', 'age1notakey', '--out', out]),
      'ESCROW_BAD_RECIPIENT',
      /"age1notakey" is not an X25519 age recipient/,
    );
    await rejectsWith(runEscrow(ctxFor(withHook, f.dir), ['--dir', f.oldDevice]), 'USAGE', /--recipient AGE_RECIPIENT is required/);
    const noHook: NodeJS.ProcessEnv = { ...process.env };
    delete noHook.EDGEX_IKM_HOOK;
    await rejectsWith(
      runEscrow(ctxFor(noHook, f.dir), ['--dir', f.oldDevice, '--recipient', f.recipient, '--out', out]),
      'HOOK_NOT_CONFIGURED',
      /escrowing the shares needs the IKM/,
    );
    await assert.rejects(stat(out), { code: 'ENOENT' });
    // The old hook now returns another IKM (the TPM was replaced): escrow fails, nothing written.
    const wrongIkm = await deviceHook(f.dir, 'other');
    await rejectsWith(
      runEscrow(ctxFor({ ...process.env, EDGEX_IKM_HOOK: wrongIkm.hook }, f.dir), ['--dir', f.oldDevice, '--recipient', f.recipient, '--out', out]),
      'KEYFILE_WRONG_IKM',
      /./,
    );
    await assert.rejects(stat(out), { code: 'ENOENT' });

    assert.equal(await runEscrow(ctxFor(withHook, f.dir), ['--dir', f.oldDevice, '--recipient', f.recipient, '--out', out]), 0);
    const args = ['--dir', f.newDevice, '--in', out, '--new-hook', f.newHook];
    const other = join(f.dir, 'other-key.txt');
    await mustRun('age-keygen', ['-o', other], process.env);
    await chmod(other, 0o600);
    await rejectsWith(runRecover(ctxFor(process.env, f.dir), [...args, '--identity', other]), 'ESCROW_WRONG_IDENTITY', /is not encrypted to the given identity/);
    await chmod(other, 0o644);
    await rejectsWith(runRecover(ctxFor(process.env, f.dir), [...args, '--identity', other]), 'UNSAFE_PERMISSIONS', /is readable by others \(mode 644\)/);
    const notKey = join(f.dir, 'not-a-key.txt');
    await writeFile(notKey, 'hello\n', { mode: 0o600 });
    await rejectsWith(runRecover(ctxFor(process.env, f.dir), [...args, '--identity', notKey]), 'ESCROW_BAD_IDENTITY', /not an X25519 age identity/);
    const bytes = await readFile(out);
    const last = bytes.length - 1;
    bytes[last] = (bytes[last] ?? 0) ^ 1;
    const altered = join(f.dir, 'altered.age');
    await writeFile(altered, bytes);
    await rejectsWith(
      runRecover(ctxFor(process.env, f.dir), ['--dir', f.newDevice, '--in', altered, '--new-hook', f.newHook, '--identity', f.identity]),
      'ESCROW_MALFORMED',
      /is not a valid age file or was altered/,
    );
    // Nothing was written on the new device by any failed attempt.
    await assert.rejects(stat(join(f.newDevice, 'resp-init.json')), { code: 'ENOENT' });
  });
});

test('keys recover onto real new hardware: a PKCS#11 token (SoftHSM) as the new IKM hook', async (t) => {
  if (!requireTools(t, ['age', 'age-keygen', ...SOFTHSM_TOOLS], `age ${SOFTHSM_PACKAGES}`)) return;
  await withFixture(async (f) => {
    const hsm = await makeSoftHsm();
    try {
      const env = { ...hsm.env, IKM_PKCS11_LABEL: 'replacement-board-0001' };
      assert.equal((await runProgram(hookPath('ikm-pkcs11'), ['provision'], env)).code, 0);
      const out = join(f.dir, 'escrow.age');
      assert.equal(await runEscrow(ctxFor({ ...process.env, EDGEX_IKM_HOOK: f.oldHook }, f.dir), ['--dir', f.oldDevice, '--recipient', f.recipient, '--out', out]), 0);
      const r = await runCli(['keys', 'recover', '--dir', f.newDevice, '--identity', f.identity, '--in', out, '--new-hook', hookPath('ikm-pkcs11')], { env });
      assert.equal(r.code, 0, r.stderr);
      const v = await runCli(['keys', 'verify', '--dir', f.newDevice], { env: { ...env, EDGEX_IKM_HOOK: hookPath('ikm-pkcs11') } });
      assert.equal(v.code, 0, v.stderr);
      const ikm = Buffer.from((await runProgram(hookPath('ikm-pkcs11'), [], env)).stdout.trim(), 'hex');
      assert.deepEqual((await readKeyFile({ dir: f.newDevice }, ikm)).secrets.shares, f.secrets.shares);
    } finally {
      await hsm.close();
    }
  });
});
