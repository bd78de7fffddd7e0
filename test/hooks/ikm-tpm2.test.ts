import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../../src/crypto.js';
import { expectHookFailure as fails, expectIkm as ok, hookPath, runProgram, type RunResult } from '../helpers/run-hook.js';
import { requireTools } from '../helpers/require-tools.js';
import { SWTPM_PACKAGES, SWTPM_TOOLS, startSwtpm, type Swtpm } from '../helpers/swtpm.js';

const HOOK = hookPath('ikm-tpm2');
/** The boot measurements a device's firmware would extend into PCR 16 (a test stand-in for PCR 7 and friends). */
const FIRMWARE_1 = sha256('firmware 1').toString('hex');
const FIRMWARE_2 = sha256('firmware 2').toString('hex');

interface Device {
  tpm: Swtpm;
  env: NodeJS.ProcessEnv;
  stateFile: string;
  /** Reboots the device and measures `firmware` into PCR 16, as a boot chain would. */
  boot(firmware?: string): Promise<void>;
  hook(...args: string[]): Promise<RunResult>;
}

/** A device: swtpm + hook settings. Boot-state PCR 16, release PCR 15 (reset only by a TPM reset, as on hardware). */
async function withDevice(releases: number, fn: (d: Device) => Promise<void>): Promise<void> {
  const tpm = await startSwtpm();
  try {
    const stateFile = join(tpm.workDir, 'ikm-tpm2.state');
    const env = {
      ...tpm.env,
      IKM_TPM2_STATE: stateFile,
      IKM_TPM2_PCRS: '16',
      IKM_TPM2_RELEASE_PCR: '15',
      IKM_TPM2_RELEASES: String(releases),
    };
    const d: Device = {
      tpm,
      env,
      stateFile,
      boot: async (firmware = FIRMWARE_1) => {
        await tpm.reboot();
        await tpm.extend(16, firmware);
      },
      hook: (...args) => runProgram(HOOK, args, env),
    };
    await d.boot();
    await fn(d);
  } finally {
    await tpm.stop();
  }
}

/**
 * Tries to unseal straight with tpm2-tools, bypassing the hook and its pre-checks, to show the TPM ITSELF refuses.
 * Resolves to tpm2_unseal's exit status.
 */
async function rawUnseal(d: Device): Promise<number | null> {
  const state = await readFile(d.stateFile, 'utf8');
  const get = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(state)?.[1] ?? '';
  const releases = Number(get('releases'));
  const branches = Array.from({ length: releases }, (_, i) => get(`branch\\.${String(i)}`));
  const dir = d.tpm.workDir;
  const files = branches.map((_, i) => join(dir, `raw${String(i)}.policy`));
  await Promise.all(branches.map((b, i) => writeFile(files[i] ?? '', Buffer.from(b, 'hex'))));
  const or = releases > 1 ? `tpm2_policyor -Q -S "$S" -l sha256:${files.join(',')} &&` : '';
  const script = `S=${dir}/raw.ctx; tpm2_startauthsession --policy-session -S "$S" && tpm2_policypcr -Q -S "$S" -l sha256:15,16 && ${or} tpm2_unseal -c ${get('handle')} -p session:"$S" >/dev/null; rc=$?; tpm2_flushcontext "$S"; exit $rc`;
  return (await runProgram('bash', ['-c', script], d.env)).code;
}

// Each test starts its own simulator(s) on its own ports, so they run concurrently.
describe('ikm-tpm2', { concurrency: true }, () => {
  test('ikm-tpm2: provision, release, same IKM across reboots; 1 release per boot, enforced by the TPM', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    await withDevice(1, async (d) => {
      const p = await d.hook('provision');
      assert.equal(p.code, 0, p.stderr);
      assert.equal(p.stdout, '');
      // Positive control for rawUnseal: right after provisioning the policy is satisfiable (nothing released yet).
      assert.equal(await rawUnseal(d), 0);
      const ikm = ok(await d.hook());
      // Nothing secret on disk: the state file holds no IKM.
      assert.doesNotMatch(await readFile(d.stateFile, 'utf8'), new RegExp(ikm));
      fails(await d.hook(), /per-boot release limit reached: the IKM was already released 1 time\(s\).*reboot/);
      assert.notEqual(await rawUnseal(d), 0, 'the TPM must refuse a second unseal in the same boot');
      await d.boot();
      assert.equal(ok(await d.hook()), ikm);
      await d.boot();
      assert.equal(ok(await d.hook()), ikm);
    });
  });

  test('ikm-tpm2: N=2 releases per boot across simulated reboots; the third is refused by the TPM', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    await withDevice(2, async (d) => {
      assert.equal((await d.hook('provision')).code, 0);
      const first = await d.hook();
      const ikm = ok(first);
      assert.match(first.stderr, /release 1 of 2/);
      assert.equal(ok(await d.hook()), ikm);
      fails(await d.hook(), /release limit reached: the IKM was already released 2 time\(s\)/);
      assert.notEqual(await rawUnseal(d), 0, 'the TPM must refuse a third unseal in the same boot');
      for (let boot = 0; boot < 2; boot++) {
        await d.boot();
        assert.equal(ok(await d.hook()), ikm);
        assert.equal(ok(await d.hook()), ikm);
        fails(await d.hook(), /release limit reached/);
      }
      // The hook leaves no session behind (swtpm has no resource manager: a leak would exhaust its 3 slots).
      assert.equal((await runProgram('tpm2_getcap', ['handles-loaded-session'], d.env)).stdout.trim(), '');
    });
  });

  test('ikm-tpm2: a changed boot PCR makes the hook fail with a clear message, and the TPM refuses too', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    await withDevice(1, async (d) => {
      assert.equal((await d.hook('provision')).code, 0);
      const ikm = ok(await d.hook());
      await d.boot(sha256('tampered bootloader').toString('hex'));
      fails(await d.hook(), /PCR 16 \(sha256\) differs from the value the IKM is sealed to \(boot state changed\)/);
      assert.notEqual(await rawUnseal(d), 0, 'the TPM must refuse under a changed PCR');
      await d.boot();
      assert.equal(ok(await d.hook()), ikm);
    });
  });

  test('ikm-tpm2: reseal before a planned PCR change keeps the same IKM; the old boot state no longer unseals', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    await withDevice(2, async (d) => {
      assert.equal((await d.hook('provision')).code, 0);
      const ikm = ok(await d.hook()); // the boot-time release (1 of 2)
      // The update will measure FIRMWARE_2 instead of FIRMWARE_1: PCR 16 = SHA-256(zeros || FIRMWARE_2) after boot.
      const next = sha256(Buffer.concat([Buffer.alloc(32), Buffer.from(FIRMWARE_2, 'hex')])).toString('hex');
      const values = join(d.tpm.workDir, 'next-pcrs');
      await writeFile(values, `# expected after the firmware update\nsha256:\n  16 : 0x${next.toUpperCase()}\n`);
      const before = await readFile(d.stateFile, 'utf8');
      const r = await d.hook('reseal', '--pcr-values', values);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '', 'reseal must not print the IKM');
      assert.match(r.stderr, /resealed: the same IKM/);
      const after = await readFile(d.stateFile, 'utf8');
      assert.notEqual(after, before);
      assert.doesNotMatch(after, new RegExp(ikm));
      await d.boot(FIRMWARE_2);
      assert.equal(ok(await d.hook()), ikm);
      await d.boot(FIRMWARE_1);
      fails(await d.hook(), /PCR 16 \(sha256\) differs/);
      assert.notEqual(await rawUnseal(d), 0);
    });
  });

  test('ikm-tpm2: reseal refuses when the old policy cannot be satisfied (release limit used up)', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    await withDevice(1, async (d) => {
      assert.equal((await d.hook('provision')).code, 0);
      ok(await d.hook());
      const before = await readFile(d.stateFile, 'utf8');
      fails(await d.hook('reseal'), /per-boot release limit reached/);
      assert.equal(await readFile(d.stateFile, 'utf8'), before);
    });
  });

  test('ikm-tpm2: a cleared TPM (sealed object gone) fails with a clear message pointing to recovery', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    await withDevice(1, async (d) => {
      assert.equal((await d.hook('provision')).code, 0);
      const handle = /^handle=(.*)$/m.exec(await readFile(d.stateFile, 'utf8'))?.[1] ?? '';
      const evict = await runProgram('tpm2_evictcontrol', ['-C', 'o', '-c', handle], d.env);
      assert.equal(evict.code, 0, evict.stderr);
      fails(await d.hook(), /the sealed IKM object 0x81010101 is gone from the TPM .*keys recover/);
    });
  });

  test('ikm-tpm2: provision refuses twice, and a bad PCR values file is a clear error', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    await withDevice(1, async (d) => {
      const bad = join(d.tpm.workDir, 'bad');
      await writeFile(bad, '16=abcd\n');
      fails(await d.hook('provision', '--pcr-values', bad), /line 1: a sha256 value is 64 hex characters, got 4/);
      await writeFile(bad, '9=' + '00'.repeat(32) + '\n');
      fails(await d.hook('provision', '--pcr-values', bad), /gives PCR 9, which is not in the policy/);
      assert.equal((await d.hook('provision')).code, 0);
      fails(await d.hook('provision'), /already provisioned/);
    });
  });

  test('ikm-tpm2: not provisioned, unreachable TPM and bad settings fail with one clear line', async (t) => {
    if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
    const base = { ...process.env, IKM_TPM2_STATE: '/nonexistent/ikm-tpm2.state' };
    fails(await runProgram(HOOK, [], base), /not provisioned: state file .* does not exist; run: ikm-tpm2 provision/);
    fails(
      await runProgram(HOOK, ['provision'], { ...base, TPM2TOOLS_TCTI: 'swtpm:host=127.0.0.1,port=1' }),
      /cannot reach the TPM \(TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=1\)/,
    );
    fails(await runProgram(HOOK, ['provision'], { ...base, IKM_TPM2_RELEASES: '9' }), /IKM_TPM2_RELEASES must be between 1 and 8/);
    fails(await runProgram(HOOK, ['provision'], { ...base, IKM_TPM2_PCRS: '7,15' }), /release PCR 15 must not also be a boot-state PCR/);
    const usage = await runProgram(HOOK, ['unseal-please'], base);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown argument "unseal-please"; see ikm-tpm2 --help/);
    const help = await runProgram(HOOK, ['--help'], base);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /IKM_TPM2_RELEASES/);
  });
});
