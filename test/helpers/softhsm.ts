/**
 * A SoftHSM2 token for tests: its own token folder and configuration (SOFTHSM2_CONF), one initialised token with
 * known SO and user PINs, and the environment the PKCS#11 hook needs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from './tmp.js';
import { mustRun } from './run-hook.js';

/** Where Debian installs SoftHSM's PKCS#11 module. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** Programs the PKCS#11 tests need. */
export const SOFTHSM_TOOLS = ['softhsm2-util', 'pkcs11-tool', SOFTHSM_MODULE];
/** Debian packages providing them. */
export const SOFTHSM_PACKAGES = 'softhsm2 opensc';

/** A SoftHSM token. */
export interface SoftHsm {
  tokenLabel: string;
  userPin: string;
  soPin: string;
  /** A temp folder for the test's own files (removed by {@link SoftHsm.close}). */
  workDir: string;
  /** `process.env` plus SOFTHSM2_CONF and the IKM_PKCS11_* settings (PIN given through a 0600 file). */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** Creates a token labelled `tokenLabel` in a fresh folder. */
export async function makeSoftHsm(tokenLabel = 'ikm'): Promise<SoftHsm> {
  const workDir = await makeTempDir('sss-softhsm-');
  const tokens = join(workDir, 'tokens');
  await mustRun('mkdir', ['-m', '700', tokens], process.env);
  const conf = join(workDir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`, { mode: 0o600 });
  const userPin = '4321';
  const soPin = '87654321';
  const base = { ...process.env, SOFTHSM2_CONF: conf };
  await mustRun('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--so-pin', soPin, '--pin', userPin], base);
  const pinFile = join(workDir, 'pin');
  await writeFile(pinFile, `${userPin}\n`, { mode: 0o600 });
  return {
    tokenLabel,
    userPin,
    soPin,
    workDir,
    env: {
      ...base,
      IKM_PKCS11_MODULE: SOFTHSM_MODULE,
      IKM_PKCS11_TOKEN_LABEL: tokenLabel,
      IKM_PKCS11_PIN_FILE: pinFile,
    },
    close: () => removeTempDir(workDir),
  };
}
