/**
 * The README's first command: a self-contained tour of the whole boot flow on a throw-away store. Starts `serve`
 * (this same program, as a process: see src/self-exec.ts) in a temp folder, writes the software-only `hooks/ikm-dev`
 * shipped inside the program (src/assets.ts) into that folder and uses it with a random demo IKM,
 * bootstraps, proves the key file holds no plaintext share, restarts the store (sealed, as after a reboot),
 * bootstraps again, then writes and reads a secret through a token made with the token-issuing token. Cleans up
 * whatever happens. Every step is checked; the demo fails (DEMO_FAILED) if any check does not hold.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretStoreError, isSecretStoreError } from '../errors.js';
import { randomBytes, wipe } from '../crypto.js';
import type { Logger } from '../log.js';
import { resolveConfig, type SecretStoreConfig } from '../config/config.js';
import { HookIkmSource } from '../vmk/ikm-hook.js';
import { readKeyFile } from '../keyfile/keyfile.js';
import { VaultClient } from '../vault/client.js';
import { parseTokenAuth } from '../vault/types.js';
import { runBootstrap, keyFileLocation } from './flow.js';
import { startStoreProcess, type StoreProcess } from './store-process.js';
import { installHooks } from '../assets.js';

/** Inputs of {@link runDemo}. */
export interface DemoOptions {
  /** The program spawned as `serve`, as `[file, ...argumentPrefix]` (default: this same program). */
  command?: readonly [string, ...string[]];
  /** The `ikm-dev` hook to use (default: the one shipped in the program, written into the demo's temp folder). */
  hookPath?: string;
  env: NodeJS.ProcessEnv;
  /** Step lines (stdout). */
  out: (text: string) => void;
  /** Event log of the flows (stderr). */
  log: Logger;
  signal: AbortSignal;
  /** Keep the temp folder (for inspection). */
  keep?: boolean;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new SecretStoreError('DEMO_FAILED', `demo check failed: ${what}`);
}

/** Runs the demo; resolves when every step passed, throws DEMO_FAILED (or the step's error) otherwise. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const { out } = options;
  const t0 = performance.now();
  let stepNo = 0;
  const TOTAL = 7;
  const step = async <T>(title: string, fn: () => Promise<T>): Promise<T> => {
    stepNo++;
    out(`[${stepNo}/${TOTAL}] ${title} ...\n`);
    const started = performance.now();
    const value = await fn();
    out(`      ok (${Math.round(performance.now() - started)} ms)\n`);
    return value;
  };

  out('secretstore-setup demo: the whole boot flow on a throw-away store\n');
  out('  NOTICE: this demo uses hooks/ikm-dev, a SOFTWARE-ONLY IKM hook reading a random key from a file.\n');
  out('  It is NOT hardware-backed and protects nothing; real devices use ikm-tpm2, ikm-tang or ikm-pkcs11.\n\n');

  const root = await mkdtemp(join(tmpdir(), 'secretstore-demo-'));
  let store: StoreProcess | undefined;
  try {
    const ikmFile = join(root, 'demo-ikm.hex');
    const hookEnv: NodeJS.ProcessEnv = { ...options.env, IKM_DEV_FILE: ikmFile, IKM_DEV_ALLOW_INSECURE: '1' };
    const dataDir = join(root, 'store-data');
    const makeConfig = (url: string): SecretStoreConfig =>
      resolveConfig(
        {
          TokenFolderPath: join(root, 'keys'),
          TokenProviderAdminTokenPath: join(root, 'secrets', 'tokenprovider', 'secrets-token.json'),
          WaitTimeout: 30,
        },
        { addrs: [url] },
        {},
        root,
      );
    let hookPath = options.hookPath ?? '';
    const hook = (): HookIkmSource => new HookIkmSource({ path: hookPath, env: hookEnv });
    const storeOptions = { ...(options.command === undefined ? {} : { command: options.command }), dataDir, env: options.env };

    store = await step('start the embedded store (secretstore-setup serve) in a temp folder', async () => {
      if (options.hookPath === undefined) {
        await installHooks(join(root, 'hooks'), { hooks: ['ikm-dev'] });
        hookPath = join(root, 'hooks', 'ikm-dev');
        out(`      hooks/ikm-dev written to ${hookPath} (shipped in the program)\n`);
      }
      const ikm = randomBytes(32);
      const hex = Buffer.from(ikm.toString('hex') + '\n', 'latin1');
      try {
        await writeFile(ikmFile, hex, { mode: 0o600, flag: 'wx' });
      } finally {
        wipe(ikm, hex);
      }
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const s = await startStoreProcess(storeOptions);
      out(`      store at ${s.url}, data in ${dataDir}\n`);
      return s;
    });

    let config = makeConfig(store.url);
    await step('first boot: bootstrap (init, save encrypted shares, verify, unseal, provision)', async () => {
      const r = await runBootstrap({ config, ikmSource: hook(), log: options.log, signal: options.signal });
      check(r.initialized && r.unsealedNodes.length === 1, 'the first bootstrap initialized and unsealed the store');
      out(`      initialized and unsealed in ${Math.round(r.totalMs)} ms (IKM hook ${Math.round(r.hookMs ?? 0)} ms)\n`);
    });

    await step('check that the key file holds no plaintext share', async () => {
      const loc = keyFileLocation(config);
      const path = join(loc.dir, loc.file ?? 'resp-init.json');
      const raw = await readFile(path);
      const source = hook();
      const ikm = await source.getIkm();
      source.wipe();
      try {
        const { secrets, summary } = await readKeyFile(loc, ikm);
        try {
          check(summary.encrypted, 'the key file is encrypted');
          const text = raw.toString('latin1');
          for (const share of secrets.shares) {
            for (const form of [share.toString('hex'), share.toString('hex').toUpperCase(), share.toString('base64')]) {
              check(!text.includes(form), 'no share appears in hex or base64 in the key file');
            }
          }
          check(!summary.hasRootToken, 'no root token is stored (RevokeRootTokens=true)');
          out(`      ${path}: format ${summary.format}, ${summary.shareCount} shares, each absent in hex and base64\n`);
        } finally {
          wipe(...secrets.shares, secrets.rootToken);
        }
      } finally {
        wipe(ikm, raw);
      }
    });

    await step('restart the store (it comes back sealed, as after a reboot)', async () => {
      const old = store;
      await old?.stop();
      store = await startStoreProcess(storeOptions);
      const health = await new VaultClient({ address: store.url }).health();
      check(health.status === 503 && health.sealed, 'the restarted store is sealed');
      out(`      store back at ${store.url}, sealed\n`);
    });

    config = makeConfig(store.url);
    await step('second boot: bootstrap (decrypt shares with the IKM, unseal, provision)', async () => {
      const r = await runBootstrap({ config, ikmSource: hook(), log: options.log, signal: options.signal });
      check(!r.initialized && r.initialState === 'sealed' && r.unsealedNodes.length === 1, 'the second bootstrap unsealed the sealed store');
      out(`      unsealed in ${Math.round(r.totalMs)} ms (IKM hook ${Math.round(r.hookMs ?? 0)} ms)\n`);
    });

    await step('write then read a secret with a token made by the token-issuing token', async () => {
      const client = new VaultClient({ address: config.nodes[0] ?? '' });
      const raw = await readFile(config.tokenProviderAdminTokenPath);
      let admin: string;
      try {
        admin = parseTokenAuth(JSON.parse(raw.toString('utf8')), 'the token-issuing token file').clientToken;
      } finally {
        raw.fill(0);
      }
      await client.putPolicy(admin, 'edgex-service-demo', 'path "secret/demo/*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n');
      const { auth } = await client.createToken(admin, { policies: ['edgex-service-demo'], ttl: '10m', display_name: 'demo' }, false);
      const value = `hello from the demo ${randomBytes(4).toString('hex')}`;
      await client.write(auth.clientToken, 'secret/demo/greeting', { value });
      const back = await client.read(auth.clientToken, 'secret/demo/greeting');
      const data = typeof back === 'object' && back !== null ? (back as { data?: unknown }).data : undefined;
      const got = typeof data === 'object' && data !== null ? (data as { value?: unknown }).value : undefined;
      check(got === value, 'the secret read back equals the one written');
      out(`      secret/demo/greeting read back intact\n`);
    });

    await step('clean up (stop the store, remove the temp folder)', async () => {
      await store?.stop();
      store = undefined;
      if (options.keep !== true) await rm(root, { recursive: true, force: true });
      else out(`      kept ${root}\n`);
    });
    out(`\ndemo passed: all ${TOTAL} steps in ${Math.round(performance.now() - t0)} ms\n`);
  } catch (err) {
    out(`      FAILED: ${isSecretStoreError(err) ? err.message : err instanceof Error ? err.name : 'unexpected error'}\n`);
    throw err;
  } finally {
    await store?.stop();
    if (options.keep !== true) await rm(root, { recursive: true, force: true });
  }
}
