import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectHookFailure as fails, expectIkm as ok, hookPath, runProgram } from '../helpers/run-hook.js';
import { requireTools } from '../helpers/require-tools.js';
import { SOFTHSM_MODULE, SOFTHSM_PACKAGES, SOFTHSM_TOOLS, makeSoftHsm, type SoftHsm } from '../helpers/softhsm.js';

const HOOK = hookPath('ikm-pkcs11');

async function withToken(fn: (hsm: SoftHsm, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const hsm = await makeSoftHsm();
  try {
    const labelFile = join(hsm.workDir, 'machine-id');
    await writeFile(labelFile, '0123456789abcdef0123456789abcdef\n');
    await fn(hsm, { ...hsm.env, IKM_PKCS11_LABEL_FILE: labelFile });
  } finally {
    await hsm.close();
  }
}

test('ikm-pkcs11: provision, then the same HMAC IKM every time; another device label gives another IKM', async (t) => {
  if (!requireTools(t, SOFTHSM_TOOLS, SOFTHSM_PACKAGES)) return;
  await withToken(async (_hsm, env) => {
    const p = await runProgram(HOOK, ['provision'], env);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout, '');
    const ikm = ok(await runProgram(HOOK, [], env));
    assert.equal(ok(await runProgram(HOOK, [], env)), ikm);
    assert.notEqual(ok(await runProgram(HOOK, [], { ...env, IKM_PKCS11_LABEL: 'another-device' })), ikm);
    fails(await runProgram(HOOK, ['provision'], env), /already holds a key labelled "secretstore-ikm"; refusing/);
    assert.equal(ok(await runProgram(HOOK, [], env)), ikm);
  });
});

test('ikm-pkcs11: the key is sensitive and never extractable', async (t) => {
  if (!requireTools(t, SOFTHSM_TOOLS, SOFTHSM_PACKAGES)) return;
  await withToken(async (hsm, env) => {
    assert.equal((await runProgram(HOOK, ['provision'], env)).code, 0);
    const args = ['--module', SOFTHSM_MODULE, '--token-label', hsm.tokenLabel, '--login', '--pin', 'env:PIN'];
    const list = await runProgram('pkcs11-tool', [...args, '--list-objects', '--type', 'secrkey'], { ...env, PIN: hsm.userPin });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /sensitive, always sensitive, never extractable, local/);
    const read = await runProgram('pkcs11-tool', [...args, '--read-object', '--type', 'secrkey', '--label', 'secretstore-ikm'], {
      ...env,
      PIN: hsm.userPin,
    });
    assert.notEqual(read.code, 0);
    assert.match(read.stderr, /CKR_ATTRIBUTE_SENSITIVE/);
  });
});

test('ikm-pkcs11: a wrong PIN fails clearly; so do a missing key, token, module or PIN', async (t) => {
  if (!requireTools(t, SOFTHSM_TOOLS, SOFTHSM_PACKAGES)) return;
  await withToken(async (hsm, env) => {
    fails(await runProgram(HOOK, [], env), /the token holds no key labelled "secretstore-ikm"; run: ikm-pkcs11 provision/);
    assert.equal((await runProgram(HOOK, ['provision'], env)).code, 0);
    const wrong = join(hsm.workDir, 'wrong-pin');
    await writeFile(wrong, '0000\n', { mode: 0o600 });
    fails(await runProgram(HOOK, [], { ...env, IKM_PKCS11_PIN_FILE: wrong }), /the token rejected the PIN \(CKR_PIN_INCORRECT\)/);
    const noFile: NodeJS.ProcessEnv = { ...env, IKM_PKCS11_PIN: '0000' };
    delete noFile.IKM_PKCS11_PIN_FILE;
    fails(await runProgram(HOOK, [], noFile), /CKR_PIN_INCORRECT/);
    delete noFile.IKM_PKCS11_PIN;
    fails(await runProgram(HOOK, [], noFile), /no PIN: set IKM_PKCS11_PIN_FILE/);
    await chmod(wrong, 0o644);
    fails(await runProgram(HOOK, [], { ...env, IKM_PKCS11_PIN_FILE: wrong }), /PIN file .* has mode 644/);
    fails(await runProgram(HOOK, [], { ...env, IKM_PKCS11_TOKEN_LABEL: 'absent' }), /no token labelled "absent" found/);
    fails(await runProgram(HOOK, [], { ...env, IKM_PKCS11_MODULE: '/nonexistent.so' }), /PKCS#11 module \/nonexistent.so does not exist/);
    // The right PIN still works afterwards (SoftHSM's default retry budget was not exhausted).
    ok(await runProgram(HOOK, [], env));
  });
});
