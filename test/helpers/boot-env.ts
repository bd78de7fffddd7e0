/**
 * A throw-away device for boot-flow tests: a temp folder with a configuration.yaml (key folder and token path
 * inside it), a known IKM in a file read by hooks/ikm-dev, and the env that turns encryption on. Tests run the CLI
 * with `cwd` = the folder, so the configuration is picked up as on a device.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { findHook } from '../../src/bootstrap/find-hook.js';
import { makeTempDir, removeTempDir } from './tmp.js';
import { runCli, type CliResult, type RunCliOptions } from './cli.js';

/** The software IKM hook used by the tests (found walking up, so dist/ and .build/<name>/ both work). */
export const IKM_DEV = findHook(fileURLToPath(new URL('.', import.meta.url)), 'ikm-dev');

/** A test device. */
export interface BootEnv {
  dir: string;
  keysDir: string;
  keyFile: string;
  adminTokenPath: string;
  /** The IKM (hex) the hook prints. */
  ikmHex: string;
  ikmFile: string;
  /** Env with EDGEX_IKM_HOOK set (encryption on). */
  env: NodeJS.ProcessEnv;
  /** Env without the hook (no encryption). */
  envNoHook: NodeJS.ProcessEnv;
  /** Writes a new IKM into the hook's file (simulates a changed TPM state). */
  setIkm(hex: string): Promise<void>;
  /** Runs the CLI in the device folder. */
  cli(args: string[], options?: RunCliOptions & { hook?: boolean }): Promise<CliResult>;
  /** Every output the CLI runs produced (for secret scans). */
  outputs: string[];
  close(): Promise<void>;
}

/** Creates a device folder; `yaml` adds SecretStore settings (e.g. `RevokeRootTokens: false`). */
export async function makeBootEnv(yaml: Record<string, string | number | boolean> = {}): Promise<BootEnv> {
  const dir = await makeTempDir('sss-boot-');
  const keysDir = join(dir, 'assets');
  const adminTokenPath = join(dir, 'run', 'tokenprovider', 'secrets-token.json');
  const ikmFile = join(dir, 'ikm.hex');
  const settings: Record<string, string | number | boolean> = {
    TokenFolderPath: keysDir,
    TokenProviderAdminTokenPath: adminTokenPath,
    WaitTimeout: 20,
    ...yaml,
  };
  const lines = ['SecretStore:', ...Object.entries(settings).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)];
  await writeFile(join(dir, 'configuration.yaml'), lines.join('\n') + '\n');
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, IKM_DEV_FILE: ikmFile, IKM_DEV_ALLOW_INSECURE: '1' };
  const env: NodeJS.ProcessEnv = { ...base, EDGEX_IKM_HOOK: IKM_DEV };
  const outputs: string[] = [];
  const be: BootEnv = {
    dir,
    keysDir,
    keyFile: join(keysDir, 'resp-init.json'),
    adminTokenPath,
    ikmHex: '',
    ikmFile,
    env,
    envNoHook: base,
    outputs,
    setIkm: async (hex: string) => {
      await writeFile(ikmFile, hex + '\n', { mode: 0o600 });
      await chmod(ikmFile, 0o600);
      be.ikmHex = hex;
    },
    cli: async (args, options = {}) => {
      const r = await runCli(args, { cwd: dir, env: options.hook === false ? base : env, ...options });
      outputs.push(r.stdout, r.stderr);
      return r;
    },
    close: () => removeTempDir(dir),
  };
  await be.setIkm(randomBytes(32).toString('hex'));
  return be;
}
