/**
 * A software TPM 2.0 (swtpm) for tests: its own state folder, a free pair of loopback ports (swtpm's TCTI always
 * uses control port = server port + 1), and the operations a device's life needs: reboot (TPM reset), PCR extend,
 * stop. One swtpm per test: it serves one TCP client at a time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { restartablePort } from './free-port.js';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from './tmp.js';
import { mustRun, runProgram } from './run-hook.js';

/** Programs {@link startSwtpm} and the TPM hook need. */
export const SWTPM_TOOLS = ['swtpm', 'swtpm_ioctl', 'tpm2_startup', 'tpm2_shutdown', 'tpm2_pcrextend', 'tpm2_unseal'];
/** The Debian packages providing them. */
export const SWTPM_PACKAGES = 'swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0';

/** A running swtpm. */
export interface Swtpm {
  port: number;
  ctrlPort: number;
  /** The TPM2TOOLS_TCTI value that reaches it. */
  tcti: string;
  /** `process.env` plus TPM2TOOLS_TCTI. */
  env: NodeJS.ProcessEnv;
  /** A temp folder the test may use for its own files (removed by {@link Swtpm.stop}). */
  workDir: string;
  /** Simulates a reboot: orderly shutdown, TPM reset (PCRs and read-locks cleared), startup. */
  reboot(): Promise<void>;
  /** Extends PCR `pcr` of the sha256 bank with the SHA-256 digest given as hex (a boot measurement). */
  extend(pcr: number, digestHex: string): Promise<void>;
  /** Stops swtpm and removes its folders. */
  stop(): Promise<void>;
}

/** A port P such that P and P+1 are both free on 127.0.0.1 right now. */
export const freePortPair = (): Promise<number> => restartablePort(2);

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Starts a fresh swtpm (manufactured empty: owner auth empty, no persistent objects) and waits until it answers. */
export async function startSwtpm(): Promise<Swtpm> {
  const workDir = await makeTempDir('sss-swtpm-');
  const stateDir = join(workDir, 'state');
  await mustRun('mkdir', ['-m', '700', stateDir], process.env);
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePortPair();
    const proc = spawn(
      'swtpm',
      [
        'socket', '--tpm2', '--tpmstate', `dir=${stateDir}`,
        '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        '--flags', 'not-need-init,startup-clear',
        '--log', `file=${join(workDir, 'swtpm.log')},level=1`,
      ],
      { stdio: 'ignore' },
    );
    let exited = false;
    proc.once('exit', () => (exited = true));
    const ctrl = `127.0.0.1:${port + 1}`;
    try {
      // Probe on the control port only: a half-open probe on the server port would take swtpm's single client slot.
      await waitFor(async () => {
        if (exited) throw new Error('swtpm exited');
        return (await runProgram('swtpm_ioctl', ['--tcp', ctrl, '-c'], process.env)).code === 0;
      }, 'swtpm');
      child = proc;
    } catch {
      proc.kill('SIGKILL'); // lost the port race or failed: try another pair
    }
  }
  if (child === undefined) {
    await removeTempDir(workDir);
    throw new Error('could not start swtpm');
  }
  const running = child;
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, TPM2TOOLS_TCTI: tcti };
  const ctrl = `127.0.0.1:${port + 1}`;
  return {
    port,
    ctrlPort: port + 1,
    tcti,
    env,
    workDir,
    reboot: async () => {
      await mustRun('tpm2_shutdown', ['-c'], env);
      await mustRun('swtpm_ioctl', ['--tcp', ctrl, '-i'], env);
      await mustRun('tpm2_startup', ['-c'], env);
    },
    extend: async (pcr, digestHex) => {
      await mustRun('tpm2_pcrextend', [`${pcr}:sha256=${digestHex}`], env);
    },
    stop: async () => {
      if (running.exitCode === null && running.signalCode === null) {
        const gone = new Promise((r) => running.once('exit', r));
        await runProgram('swtpm_ioctl', ['--tcp', ctrl, '-s'], env).catch(() => undefined);
        const timer = setTimeout(() => running.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(timer);
      }
      await removeTempDir(workDir);
    },
  };
}
