/**
 * Release latency of each IKM hook on its simulator (swtpm, tangd, SoftHSM): the median wall time of running the
 * hook as a process, as EDGEX_IKM_HOOK runners do, next to the published figures. The TPM hook releases once per
 * boot, so every TPM sample is preceded by a simulated reboot (not timed). Also measured, for comparison: a bare
 * tpm2_unseal under a PCR policy session (the TPM work alone) and clevis's own tpm2 pin (which recreates the
 * primary key on every decrypt). Run: `npm run bench -- hooks` (BENCH_RUNS, default 15).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, sha256 } from '../src/crypto.js';
import { hookPath, mustRun, runProgram } from '../test/helpers/run-hook.js';
import { missingTools } from '../test/helpers/require-tools.js';
import { SWTPM_TOOLS, startSwtpm } from '../test/helpers/swtpm.js';
import { TANG_TOOLS, startTang } from '../test/helpers/tang.js';
import { SOFTHSM_TOOLS, makeSoftHsm } from '../test/helpers/softhsm.js';
import { makeTempDir, removeTempDir } from '../test/helpers/tmp.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

interface Row {
  what: string;
  samples: number[];
  published: string;
}
const rows: Row[] = [];

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i] ?? NaN;
}

/** Times `run` RUNS times, calling `before` (untimed) ahead of each. */
async function measure(what: string, published: string, run: () => Promise<void>, before?: () => Promise<void>): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await before?.();
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
  }
  rows.push({ what, samples, published });
}

async function hookRuns(file: string, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await runProgram(file, [], env);
  if (r.code !== 0 || !/^[0-9a-f]{64}\n$/.test(r.stdout)) throw new Error(`${file} failed: ${r.stderr.trim()}`);
}

function skip(what: string, tools: string[]): boolean {
  const missing = missingTools(tools);
  if (missing.length === 0) return false;
  process.stdout.write(`(skipped ${what}: missing ${missing.join(', ')})\n`);
  return true;
}

async function benchDev(): Promise<void> {
  const dir = await makeTempDir('sss-bench-dev-');
  try {
    const file = join(dir, 'ikm');
    await writeFile(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const env = { ...process.env, IKM_DEV_FILE: file, IKM_DEV_ALLOW_INSECURE: '1' };
    await measure('ikm-dev (file, no hardware)', '—', () => hookRuns(hookPath('ikm-dev'), env));
  } finally {
    await removeTempDir(dir);
  }
}

async function benchTpm(): Promise<void> {
  if (skip('TPM', SWTPM_TOOLS)) return;
  const tpm = await startSwtpm();
  try {
    const firmware = sha256('firmware').toString('hex');
    const reboot = async (): Promise<void> => {
      await tpm.reboot();
      await tpm.extend(16, firmware);
    };
    await reboot();
    const state = join(tpm.workDir, 'ikm-tpm2.state');
    const env = { ...tpm.env, IKM_TPM2_STATE: state, IKM_TPM2_PCRS: '16', IKM_TPM2_RELEASE_PCR: '15', IKM_TPM2_RELEASES: '1' };
    await mustRun(hookPath('ikm-tpm2'), ['provision'], env);
    await measure('ikm-tpm2 release (PCR policy, persistent handles, limit check + extend)', 'TPM unseal 50 ms healthy; 1.35 s in systemd logs', () => hookRuns(hookPath('ikm-tpm2'), env), reboot);
    const handle = /^handle=(.*)$/m.exec(await readFile(state, 'utf8'))?.[1] ?? '';
    const s = join(tpm.workDir, 'bench.ctx');
    const script = `tpm2_startauthsession --policy-session -S ${s} && tpm2_policypcr -Q -S ${s} -l sha256:15,16 && tpm2_unseal -c ${handle} -p session:${s} >/dev/null; rc=$?; tpm2_flushcontext ${s}; exit $rc`;
    await reboot(); // the bare unseal does not extend the release PCR: one fresh boot serves every sample
    await measure('bare tpm2_unseal with a PCR policy session (3 tool runs)', 'TPM unseal 50 ms healthy', async () => {
      await mustRun('bash', ['-c', script], env);
    });
    if (!skip('clevis tpm2', ['clevis', 'clevis-encrypt-tpm2'])) {
      const jwe = (await runProgram('bash', ['-c', `head -c 32 /dev/urandom | clevis encrypt tpm2 '{"pcr_bank":"sha256","pcr_ids":"16"}'`], env)).stdout;
      const jweFile = join(tpm.workDir, 'clevis.jwe');
      await writeFile(jweFile, jwe);
      await measure('clevis decrypt tpm2 (recreates the primary key each time)', 'clevis tpm2 ~20 s without a persistent primary; 1-2 s with one', async () => {
        await mustRun('bash', ['-c', `clevis decrypt < ${jweFile} >/dev/null`], env);
      });
    }
  } finally {
    await tpm.stop();
  }
}

async function benchTang(): Promise<void> {
  if (skip('tang', TANG_TOOLS)) return;
  const tang = await startTang();
  try {
    const env = { ...process.env, IKM_TANG_JWE: join(tang.workDir, 'ikm.jwe'), IKM_TANG_URL: tang.url, IKM_TANG_THP: tang.thp };
    await mustRun(hookPath('ikm-tang'), ['provision'], env);
    await measure('ikm-tang release (clevis decrypt, tangd on loopback)', 'clevis tang decrypt ~110 ms (reference run)', () => hookRuns(hookPath('ikm-tang'), env));
  } finally {
    await tang.close();
  }
}

async function benchPkcs11(): Promise<void> {
  if (skip('PKCS#11', SOFTHSM_TOOLS)) return;
  const hsm = await makeSoftHsm();
  try {
    const env = { ...hsm.env, IKM_PKCS11_LABEL: 'bench-device' };
    await mustRun(hookPath('ikm-pkcs11'), ['provision'], env);
    await measure('ikm-pkcs11 release (HMAC-SHA256 in SoftHSM via pkcs11-tool)', 'pkcs11-tool HMAC ~13 ms; pkcs11js 186 ms per process', () => hookRuns(hookPath('ikm-pkcs11'), env));
  } finally {
    await hsm.close();
  }
}

await benchDev();
await benchTpm();
await benchTang();
await benchPkcs11();

const fmt = (n: number): string => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(1)} ms`);
process.stdout.write(`IKM hook release latency, ${RUNS} runs each (wall time of the whole process)\n\n`);
process.stdout.write('| what | median | p90 | min | published / reference |\n|---|---|---|---|---|\n');
for (const r of rows) {
  const sorted = [...r.samples].sort((a, b) => a - b);
  process.stdout.write(`| ${r.what} | ${fmt(quantile(sorted, 0.5))} | ${fmt(quantile(sorted, 0.9))} | ${fmt(sorted[0] ?? NaN)} | ${r.published} |\n`);
}
