import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../../src/crypto.js';
import { expectHookFailure as fails, expectIkm as ok, hookPath, runProgram } from '../helpers/run-hook.js';
import { requireTools } from '../helpers/require-tools.js';
import { TANG_PACKAGES, TANG_TOOLS, startTang, type Tang } from '../helpers/tang.js';
import { SWTPM_PACKAGES, SWTPM_TOOLS, startSwtpm } from '../helpers/swtpm.js';

const HOOK = hookPath('ikm-tang');

async function withTang(fn: (tang: Tang, env: NodeJS.ProcessEnv, jwe: string) => Promise<void>): Promise<void> {
  const tang = await startTang();
  try {
    const jwe = join(tang.workDir, 'ikm.jwe');
    await fn(tang, { ...process.env, IKM_TANG_JWE: jwe, IKM_TANG_URL: tang.url, IKM_TANG_THP: tang.thp }, jwe);
  } finally {
    await tang.close();
  }
}

// Each test starts its own simulator(s) on its own ports, so they run concurrently.
describe('ikm-tang', { concurrency: true }, () => {
  test('ikm-tang: provision stores only a 0600 JWE; release gives the same IKM every time; tang down fails, back works', async (t) => {
    if (!requireTools(t, TANG_TOOLS, TANG_PACKAGES)) return;
    await withTang(async (tang, env, jwe) => {
      const p = await runProgram(HOOK, ['provision'], env);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(p.stdout, '');
      assert.equal((await stat(jwe)).mode & 0o777, 0o600);
      const ikm = ok(await runProgram(HOOK, [], env));
      assert.equal(ok(await runProgram(HOOK, [], env)), ikm);
      assert.doesNotMatch(await readFile(jwe, 'utf8'), new RegExp(ikm));
      await tang.stop();
      fails(await runProgram(HOOK, [], env), /cannot decrypt: the tang server recorded in .* did not answer/);
      await tang.start();
      assert.equal(ok(await runProgram(HOOK, [], env)), ikm);
      // A second device (another JWE) gets another IKM.
      const other = { ...env, IKM_TANG_JWE: join(tang.workDir, 'other.jwe') };
      assert.equal((await runProgram(HOOK, ['provision'], other)).code, 0);
      assert.notEqual(ok(await runProgram(HOOK, [], other)), ikm);
    });
  });

  test('ikm-tang: provision pins the thumbprint (a wrong one fails, nothing written) and never overwrites', async (t) => {
    if (!requireTools(t, TANG_TOOLS, TANG_PACKAGES)) return;
    await withTang(async (_tang, env, jwe) => {
      fails(await runProgram(HOOK, ['provision'], { ...env, IKM_TANG_THP: 'A'.repeat(43) }), /clevis encrypt failed/);
      await assert.rejects(stat(jwe), { code: 'ENOENT' });
      const noThp: NodeJS.ProcessEnv = { ...env };
      delete noThp.IKM_TANG_THP;
      fails(await runProgram(HOOK, ['provision'], noThp), /IKM_TANG_THP is not set; pin the server key/);
      assert.equal((await runProgram(HOOK, ['provision'], env)).code, 0);
      const before = await readFile(jwe, 'utf8');
      fails(await runProgram(HOOK, ['provision'], env), /already exists; refusing to overwrite/);
      assert.equal(await readFile(jwe, 'utf8'), before);
    });
  });

  test('ikm-tang: missing or unreadable JWE and bad settings fail with one clear line', async (t) => {
    if (!requireTools(t, TANG_TOOLS, TANG_PACKAGES)) return;
    const env = { ...process.env, IKM_TANG_JWE: '/nonexistent/ikm.jwe' };
    fails(await runProgram(HOOK, [], env), /not provisioned: JWE file \/nonexistent\/ikm.jwe does not exist/);
    fails(await runProgram(HOOK, ['provision'], { ...env, IKM_TANG_URL: 'ftp://x' }), /IKM_TANG_URL must be an http\(s\) URL/);
    fails(await runProgram(HOOK, [], { ...env, IKM_TANG_TIMEOUT: '0' }), /IKM_TANG_TIMEOUT must be between 1 and 600/);
  });

  test('ikm-tang: tang AND tpm2 (clevis sss t=2) needs both the server and the TPM with its PCRs', async (t) => {
    if (!requireTools(t, [...TANG_TOOLS, ...SWTPM_TOOLS, 'clevis-encrypt-tpm2'], `${TANG_PACKAGES} clevis-tpm2 ${SWTPM_PACKAGES}`)) return;
    const tpm = await startSwtpm();
    try {
      const firmware = sha256('firmware').toString('hex');
      await tpm.extend(16, firmware);
      await withTang(async (tang, tangEnv) => {
        const env = { ...tangEnv, ...tpm.env, IKM_TANG_MODE: 'tang+tpm2', IKM_TANG_TPM2_PCRS: '16' };
        const p = await runProgram(HOOK, ['provision'], env);
        assert.equal(p.code, 0, p.stderr);
        assert.match(p.stderr, /clevis \(sss\)/);
        const ikm = ok(await runProgram(HOOK, [], env));
        await tpm.reboot();
        await tpm.extend(16, firmware);
        assert.equal(ok(await runProgram(HOOK, [], env)), ikm);
        await tang.stop();
        fails(await runProgram(HOOK, [], env), /cannot decrypt|clevis decrypt failed/);
        await tang.start();
        assert.equal(ok(await runProgram(HOOK, [], env)), ikm);
        await tpm.reboot();
        await tpm.extend(16, sha256('other firmware').toString('hex'));
        fails(await runProgram(HOOK, [], env), /clevis decrypt failed|cannot decrypt/);
      });
    } finally {
      await tpm.stop();
    }
  });
});
