/**
 * End to end with the product: `bootstrap` (a process) against `serve` (another process) with the TPM hook on a
 * swtpm — first boot, simulated reboot (TPM reset + store restart), and a changed boot state (fail closed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../../src/crypto.js';
import { VaultClient } from '../../src/vault/client.js';
import { inspectKeyFile } from '../../src/keyfile/keyfile.js';
import { makeBootEnv } from '../helpers/boot-env.js';
import { startServe } from '../helpers/serve.js';
import { hookPath, runProgram } from '../helpers/run-hook.js';
import { requireTools } from '../helpers/require-tools.js';
import { SWTPM_PACKAGES, SWTPM_TOOLS, startSwtpm } from '../helpers/swtpm.js';

const FIRMWARE = sha256('firmware 1').toString('hex');

async function health(url: string): Promise<number> {
  return (await new VaultClient({ address: url }).health()).status;
}

test('bootstrap with ikm-tpm2: first boot, reboot unseals again, changed PCR fails closed with the key file unchanged', async (t) => {
  if (!requireTools(t, SWTPM_TOOLS, SWTPM_PACKAGES)) return;
  const tpm = await startSwtpm();
  const be = await makeBootEnv();
  const store = await startServe();
  try {
    const env: NodeJS.ProcessEnv = {
      ...be.env,
      TPM2TOOLS_TCTI: tpm.tcti,
      EDGEX_IKM_HOOK: hookPath('ikm-tpm2'),
      IKM_TPM2_STATE: join(tpm.workDir, 'ikm-tpm2.state'),
      IKM_TPM2_PCRS: '16',
      IKM_TPM2_RELEASE_PCR: '15',
      IKM_TPM2_RELEASES: '1',
    };
    const boot = async (firmware: string): Promise<void> => {
      await tpm.reboot();
      await tpm.extend(16, firmware);
    };
    await boot(FIRMWARE);
    const p = await runProgram(hookPath('ikm-tpm2'), ['provision'], env);
    assert.equal(p.code, 0, p.stderr);

    const first = await be.cli(['bootstrap', '--addr', store.url], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await health(store.url), 200);
    assert.equal((await inspectKeyFile({ dir: be.keysDir }))?.encrypted, true);

    // Reboot: the TPM resets (PCRs and the release count), the store restarts sealed.
    await boot(FIRMWARE);
    await store.restart();
    assert.equal(await health(store.url), 503);
    const second = await be.cli(['bootstrap', '--addr', store.url], { env });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(await health(store.url), 200);

    // The boot chain changed (PCR 16 differs): the hook refuses, bootstrap fails closed, nothing is touched.
    await boot(sha256('tampered bootloader').toString('hex'));
    await store.restart();
    const before = await readFile(be.keyFile);
    const third = await be.cli(['bootstrap', '--addr', store.url], { env });
    assert.equal(third.code, 1);
    // The failure is ONE line (after the start-up log line) quoting the hook's own one-line reason.
    const last = third.stderr.trim().split('\n').pop() ?? '';
    assert.match(last, /the IKM hook .*ikm-tpm2 exited with status 1; hook stderr: "ikm-tpm2: PCR 16 \(sha256\) differs from the value the IKM is sealed to \(boot state changed\)/);
    assert.deepEqual(await readFile(be.keyFile), before);
    assert.equal(await health(store.url), 503, 'still sealed');

    // Back on the expected boot chain, the same key file unseals again.
    await boot(FIRMWARE);
    const fourth = await be.cli(['bootstrap', '--addr', store.url], { env });
    assert.equal(fourth.code, 0, fourth.stderr);
    assert.equal(await health(store.url), 200);
  } finally {
    await store.close();
    await be.close();
    await tpm.stop();
  }
});
