/**
 * Benchmark of the boot flow, sealed → unsealed, as a device runs it: the `bootstrap` CLI as a process against
 * `serve` as another process. The same store and the same shares are used with encryption (v2 key file, ikm-dev
 * hook) and without (a plaintext copy of the same shares), interleaved in one run; the hook's own time is reported
 * apart and excluded from the encryption overhead; `node -e 0` gives the process floor; peak RSS per process.
 * Target: encryption overhead < 5 % of the bootstrap's own time. Run: `npm run bench -- bootstrap`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from '../src/crypto.js';
import { Logger } from '../src/log.js';
import { readKeyFile, writeKeyFile } from '../src/keyfile/keyfile.js';
import { VaultClient } from '../src/vault/client.js';
import { generateRootToken } from '../src/bootstrap/root-token.js';
import { startStoreProcess } from '../src/bootstrap/store-process.js';
import { findHook } from '../src/bootstrap/find-hook.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** Preloaded into every measured process: reports its peak RSS (KiB) on exit. */
const RSS_PRELOAD = `data:text/javascript,process.on("exit",()=>process.stderr.write("MAXRSS "+process.resourceUsage().maxRSS+"\\n"))`;

interface Sample {
  wallMs: number;
  /** The flow's own time from its completion line (process start-up excluded). */
  flowMs: number;
  hookMs: number;
  /** Key file inspect + read + decrypt (hook excluded), from the 'key file loaded' line. */
  keyFileMs: number;
  rssKiB: number;
}

function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', RSS_PRELOAD, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      if (code !== 0) {
        reject(new Error(`${args.slice(1, 2).join(' ')} exited ${code ?? '?'}: ${err.slice(-500)}`));
        return;
      }
      let flowMs = 0;
      let hookMs = 0;
      let keyFileMs = 0;
      for (const line of err.split('\n')) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as { msg?: string; ms?: number; hookMs?: number };
        if (rec.msg === 'key file loaded') keyFileMs = rec.ms ?? 0;
        if (rec.msg === 'bootstrap complete') {
          flowMs = rec.ms ?? 0;
          hookMs = rec.hookMs ?? 0;
        }
      }
      resolve({ wallMs, flowMs, hookMs, keyFileMs, rssKiB: Number(/MAXRSS (\d+)/.exec(err)?.[1] ?? 0) });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'sss-bench-'));
  const hook = findHook(dirname(fileURLToPath(import.meta.url)), 'ikm-dev');
  const store = await startStoreProcess({ cliMain: CLI_MAIN, dataDir: join(root, 'data') });
  try {
    const ikmHex = randomBytes(32).toString('hex');
    const ikmFile = join(root, 'ikm.hex');
    await writeFile(ikmFile, ikmHex + '\n', { mode: 0o600 });
    const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, IKM_DEV_FILE: ikmFile, IKM_DEV_ALLOW_INSECURE: '1' };
    const encEnv: NodeJS.ProcessEnv = { ...base, EDGEX_IKM_HOOK: hook };
    const encDir = join(root, 'enc');
    const plainDir = join(root, 'plain');
    const yaml = (dir: string): string =>
      `SecretStore:\n  TokenFolderPath: ${join(dir, 'assets')}\n  TokenProviderAdminTokenPath: ${join(dir, 'token.json')}\n`;
    for (const dir of [encDir, plainDir]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(join(dir, 'configuration.yaml'), yaml(dir));
    }
    const args = [CLI_MAIN, 'bootstrap', '--addr', store.url, '--log-format', 'json'];
    await run(args, encEnv, encDir);
    // The same shares in plaintext for the unencrypted runs.
    const ikm = Buffer.from(ikmHex, 'hex');
    const { secrets } = await readKeyFile({ dir: join(encDir, 'assets') }, ikm);
    await writeKeyFile({ dir: join(plainDir, 'assets') }, secrets, { format: 'plaintext' });

    const client = new VaultClient({ address: store.url });
    const quiet = new Logger({ sink: () => undefined });
    const seal = async (): Promise<void> => {
      const token = await generateRootToken(client, secrets.shares, quiet);
      await client.call('PUT', 'sys/seal', { token: token.toString('utf8'), idempotent: true }, [200, 204]);
      token.fill(0);
    };

    const floor: Sample[] = [];
    const enc: Sample[] = [];
    const plain: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      floor.push(await run(['-e', '0'], base, root));
      // Alternate which variant goes first, so drift in machine load does not favour one.
      for (const variant of i % 2 === 0 ? ['enc', 'plain'] : ['plain', 'enc']) {
        await seal();
        if (variant === 'enc') enc.push(await run(args, encEnv, encDir));
        else plain.push(await run(args, base, plainDir));
      }
    }
    const m = (xs: Sample[], k: keyof Sample): number => median(xs.map((x) => x[k]));
    const encFlowNoHook = median(enc.map((x) => x.flowMs - x.hookMs));
    const plainFlow = m(plain, 'flowMs');
    const overhead = (encFlowNoHook - plainFlow) / plainFlow;
    const f = (x: number): string => x.toFixed(1);
    console.log(`bootstrap, sealed → unsealed, ${RUNS} interleaved runs each (medians), store: secretstore-setup serve\n`);
    const keyFileExtra = m(enc, 'keyFileMs') - m(plain, 'keyFileMs');
    const f2 = (x: number): string => x.toFixed(2);
    console.log('| run | process wall ms | flow ms | hook ms | flow − hook ms | key file load ms | peak RSS MiB |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(`| node -e 0 (floor) | ${f(m(floor, 'wallMs'))} | – | – | – | – | ${f(m(floor, 'rssKiB') / 1024)} |`);
    console.log(
      `| without encryption (plaintext file) | ${f(m(plain, 'wallMs'))} | ${f(plainFlow)} | – | ${f(plainFlow)} | ${f2(m(plain, 'keyFileMs'))} | ${f(m(plain, 'rssKiB') / 1024)} |`,
    );
    console.log(
      `| with encryption (v2, ikm-dev) | ${f(m(enc, 'wallMs'))} | ${f(m(enc, 'flowMs'))} | ${f(m(enc, 'hookMs'))} | ${f(encFlowNoHook)} | ${f2(m(enc, 'keyFileMs'))} | ${f(m(enc, 'rssKiB') / 1024)} |`,
    );
    console.log('');
    console.log(
      `encryption overhead, key-file phase (decrypt vs plaintext read, hook excluded): +${f2(keyFileExtra)} ms = ${((keyFileExtra / plainFlow) * 100).toFixed(1)} % of the flow's own time (target < 5 %)`,
    );
    console.log(`encryption overhead, whole flow median difference (hook excluded; includes noise): ${(overhead * 100).toFixed(1)} %`);
    console.log(`process wall / node floor: without ${(m(plain, 'wallMs') / m(floor, 'wallMs')).toFixed(2)}x, with ${(m(enc, 'wallMs') / m(floor, 'wallMs')).toFixed(2)}x`);
    console.log(`with / without, process wall incl. hook: ${(m(enc, 'wallMs') / m(plain, 'wallMs')).toFixed(3)}x`);
    secrets.shares.forEach((s) => s.fill(0));
    ikm.fill(0);
  } finally {
    await store.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
