/**
 * The boot flow (the `bootstrap` command): a state machine on `GET sys/health?standbyok=true&perfstandbyok=true`
 * of the first node.
 *
 *   unreachable ──wait (progress lines, deadline)──► 501 / 503 / 200|429
 *   501 uninitialized ─► init ─► save shares (encrypted when a hook is set) durably ─► read back + verify ─┐
 *   503 sealed ─────────► load key file ─► decrypt (migrate plaintext → encrypted when a hook is set) ─────┤
 *   200|429 ready ──────► load key file ─► decrypt (needed for root regeneration: EdgeX defect 2) ─────────┤
 *                                                                                                        ▼
 *   unseal every node ─► root token (temporary: generate-root; or the kept one) ─► revoke other root tokens
 *   ─► with an EdgeX configuration: EdgeX's duties (src/edgex: token sweep, admin token, userpass, identity key,
 *      service identities and token files, KV v1 secret/, known secrets, eKuiper files; validated before anything
 *      is touched); otherwise: KV at secret/ ─► policy + token-issuing token file
 *   ─► revoke the temporary root token ─► done
 *
 * The whole sequence runs under the key-file lock, so concurrent bootstraps never both init, never both write,
 * and never race on generate-root; a loser finds the store initialized and reads the winner's key file. The store
 * is never touched before the key file has been decrypted, so a wrong IKM or a missing hook fails closed.
 */
import { SecretStoreError, isSecretStoreError } from '../errors.js';
import { wipe } from '../crypto.js';
import type { Logger } from '../log.js';
import type { SecretStoreConfig } from '../config/config.js';
import type { IkmSource } from '../vmk/ikm-hook.js';
import { inspectKeyFile, withKeyFileLock, type InitSecrets, type KeyFileLocation } from '../keyfile/keyfile.js';
import type { VaultClient } from '../vault/client.js';
import { LazyIkm } from './ikm.js';
import { makeClients } from './nodes.js';
import { waitForStore } from './wait.js';
import { delay } from '../vault/transport.js';
import { unsealNode } from './unseal.js';
import { encryptedNoHook, loadSecrets, saveNewSecrets, saveSecrets, wipeSecrets, type KeyFileAccess } from './key-store.js';
import { generateRootToken, revokeOtherRootTokens } from './root-token.js';
import { ensureKvMount, type KvMountOutcome } from '../edgex/kv-mount.js';
import { issueAdminToken } from '../edgex/token-issuer.js';
import { readInitMarker, removeInitMarker, writeInitMarker, type InitMarker } from './init-marker.js';
import { applyEdgexSetup, prepareEdgexSetup, type EdgexSetupPlan, type EdgexSetupResult } from '../edgex/edgex-setup.js';

/** Inputs of {@link runBootstrap}. */
export interface BootstrapOptions {
  config: SecretStoreConfig;
  /** The IKM source (the hook); `undefined` = no encryption, as EdgeX without EDGEX_IKM_HOOK. */
  ikmSource?: IkmSource;
  log: Logger;
  signal?: AbortSignal;
  /** The environment EdgeX's variables are read from (`EDGEX_ADD_*`, `TOKENFILEPROVIDER_*`); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The folder relative EdgeX paths are taken from (`-configDir`); default process.cwd(). */
  cwd?: string;
  /**
   * Hand the decrypted shares back in the result instead of wiping them (the `--longRun` re-issue service needs them
   * to regenerate a root token per request); the caller owns and wipes them.
   */
  keepShares?: boolean;
}

/** What a run did, for the command's summary line, tests and the bench. */
export interface BootstrapResult {
  /** The state the first node was found in. */
  initialState: 'uninitialized' | 'sealed' | 'unsealed';
  /** This run initialized the store. */
  initialized: boolean;
  /** Nodes this run unsealed. */
  unsealedNodes: string[];
  /** The key file was rewritten (plaintext → encrypted, or a stored root token removed). */
  keyFileRewritten: 'migrated' | 'root-token-removed' | undefined;
  kvMount: KvMountOutcome;
  adminTokenPath: string;
  adminTokenAccessor: string;
  rootTokensRevoked: number;
  /** Milliseconds: the whole run, the IKM hook alone (undefined when it did not run). */
  totalMs: number;
  hookMs: number | undefined;
  /** What EdgeX's duties did (an EdgeX configuration only). */
  edgex?: EdgexSetupResult;
  /** The decrypted shares, with `keepShares` only: the caller wipes them. */
  shares?: Buffer[];
}

/** The key file location from the configuration. */
export function keyFileLocation(config: SecretStoreConfig): KeyFileLocation {
  return { dir: config.tokenFolderPath, file: config.tokenFile };
}

/** Runs `fn` under the inter-process key-file lock, waiting (up to `timeoutMs`) while another process holds it. */
export async function withLockWaiting<T>(
  loc: KeyFileLocation,
  timeoutMs: number,
  log: Logger,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      return await withKeyFileLock(loc, fn);
    } catch (err) {
      if (!isSecretStoreError(err, 'KEYFILE_LOCKED')) throw err;
      if (Date.now() - started > timeoutMs) throw err;
      if (!announced) {
        log.info('waiting for another bootstrap holding the key-file lock', { dir: loc.dir });
        announced = true;
      }
      await delay(100, signal);
    }
  }
}

function initializedNoKeyFile(client: VaultClient, loc: KeyFileLocation, marker: InitMarker | undefined): SecretStoreError {
  const path = `${loc.dir}/${loc.file ?? 'resp-init.json'}`;
  const crashed =
    marker === undefined ? '' : ` (a previous bootstrap was interrupted during initialization of ${marker.node} at ${marker.time}, before the shares reached the disk)`;
  return new SecretStoreError(
    'STORE_INITIALIZED_NO_KEYFILE',
    `the secret store at ${client.address} is already initialized but there is no key file at ${path}${crashed}; ` +
      'restore the key file (or point TokenFolderPath/TokenFile at it); if its shares are lost the data cannot be unsealed: ' +
      'stop the store, move its data away and rerun to start a new one (see docs/bootstrap.md, "initialized but no key file")',
  );
}

/** Runs the boot flow once; resolves when the store is initialized, unsealed and provisioned. */
export async function runBootstrap(options: BootstrapOptions): Promise<BootstrapResult> {
  const { config, log, signal } = options;
  const started = performance.now();
  const loc = keyFileLocation(config);
  const ikm = new LazyIkm(options.ikmSource);
  const access: KeyFileAccess = { loc, ikm, format: config.keyFileFormat, revokeRootTokens: config.revokeRootTokens, log };
  const clients = await makeClients(config, log, signal);
  const primary = clients[0];
  if (primary === undefined) throw new SecretStoreError('CONFIG', 'no secret store address configured');
  log.info('bootstrap starting', {
    nodes: clients.map((c) => c.address).join(','),
    keyFile: `${loc.dir}/${loc.file ?? ''}`,
    encryption: ikm.configured ? 'on' : 'off',
    hook: ikm.configured ? ikm.description : undefined,
  });

  if (ikm.configured && config.keyFileFormat === 'edgex' && !config.revokeRootTokens) {
    // EdgeX's format has no encrypted root-token slot; a kept root token would sit there in plaintext (defect 7).
    throw new SecretStoreError('CONFIG', 'KeyFileFormat edgex cannot keep the root token encrypted: use KeyFileFormat v2, or RevokeRootTokens=true');
  }
  // Fail closed before touching anything when the file is encrypted and no hook is set (EdgeX defect 5).
  const existing = await inspectKeyFile(loc);
  if (existing?.encrypted === true && !ikm.configured) throw encryptedNoHook(existing.path);
  // EdgeX's service list and known-secret grammar are checked before the store is touched (EdgeX fails half-way).
  const edgexPlan: EdgexSetupPlan | undefined = config.edgex.enabled
    ? await prepareEdgexSetup(config, options.env ?? process.env, options.cwd ?? process.cwd(), log)
    : undefined;

  await waitForStore(primary, {
    intervalMs: config.intervalSeconds * 1000,
    timeoutMs: config.waitTimeoutSeconds * 1000,
    log,
    ...(signal === undefined ? {} : { signal }),
  });

  let secrets: InitSecrets | undefined;
  let rootToken: Buffer | undefined;
  try {
    return await withLockWaiting(loc, Math.max(config.waitTimeoutSeconds * 1000, 30_000), log, signal, async () => {
      // Re-read the state under the lock: another bootstrap may have initialized the store meanwhile.
      const health = await primary.health();
      const initialState = health.status === 501 ? 'uninitialized' : health.status === 503 ? 'sealed' : 'unsealed';
      if (health.status !== 501 && health.status !== 503 && health.status !== 200 && health.status !== 429) {
        throw new SecretStoreError('STORE_ERROR', `the secret store at ${primary.address} answered sys/health with HTTP ${health.status}`);
      }
      log.info('secret store state', { node: primary.address, state: initialState, status: health.status });
      let initialized = false;
      let rewritten: BootstrapResult['keyFileRewritten'];

      if (health.status === 501) {
        const stale = await inspectKeyFile(loc);
        if (stale !== undefined) {
          throw new SecretStoreError(
            'STORE_KEYFILE_MISMATCH',
            `the secret store at ${primary.address} is not initialized but a key file already exists at ${stale.path}; ` +
              'refusing to overwrite it: if the store was reset on purpose move the old key file away and rerun, otherwise check the address',
          );
        }
        // Fetch the IKM BEFORE init: a failing hook must stop us while the store is still untouched.
        await ikm.get();
        log.info('initializing the secret store', { node: primary.address, shares: config.secretShares, threshold: config.secretThreshold });
        await writeInitMarker(loc, primary.address);
        let init;
        try {
          init = await primary.init(config.secretShares, config.secretThreshold);
        } catch (err) {
          // A definite answer (an HTTP error or a malformed body) means no shares were handed out to us; a transport
          // failure after sending leaves it unknown, so the marker stays for the next run's diagnosis.
          if (isSecretStoreError(err, 'STORE_ERROR')) await removeInitMarker(loc);
          throw err;
        }
        const toSave: InitSecrets = { shares: init.shares, threshold: config.secretThreshold };
        if (!config.revokeRootTokens) toSave.rootToken = init.rootToken;
        else wipe(init.rootToken);
        secrets = toSave;
        // Durable and verified BEFORE any unseal (EdgeX defect 1); retried, as these shares exist nowhere else.
        await saveNewSecrets(access, toSave, signal);
        await removeInitMarker(loc);
        initialized = true;
      } else {
        const loaded = await loadSecrets(access);
        if (loaded === undefined) throw initializedNoKeyFile(primary, loc, await readInitMarker(loc));
        // A marker beside a readable key file is from a crash after the save: nothing was lost.
        await removeInitMarker(loc);
        secrets = loaded.secrets;
        rewritten = loaded.rewritten;
      }

      const unsealedNodes: string[] = [];
      for (const client of clients) {
        if ((await unsealNode(client, secrets.shares, log)) === 'unsealed') unsealedNodes.push(client.address);
      }

      // Root: the kept one when RevokeRootTokens is false and it still works, else a temporary one.
      let temporary = true;
      if (!config.revokeRootTokens && secrets.rootToken !== undefined) {
        const lookup = await primary.lookupSelf(secrets.rootToken.toString('utf8'));
        if (lookup?.policies.includes('root') === true) {
          rootToken = Buffer.from(secrets.rootToken);
          temporary = false;
        } else {
          log.warn('the stored root token is no longer valid; generating a new one');
        }
      }
      if (rootToken === undefined) {
        rootToken = await generateRootToken(primary, secrets.shares, log);
        log.info(temporary ? 'temporary root token generated' : 'root token generated', { node: primary.address });
        if (!config.revokeRootTokens) {
          // Kept root tokens live only in the key file, encrypted when a hook is set (EdgeX defect 7).
          wipe(secrets.rootToken);
          secrets.rootToken = Buffer.from(rootToken);
          await saveSecrets(access, secrets, 'key file saved with the new root token');
          temporary = false;
        }
      }
      const token = rootToken.toString('utf8');
      let revokedTemporary = false;
      try {
        const rootTokensRevoked = await revokeOtherRootTokens(primary, token, log);
        let edgex: EdgexSetupResult | undefined;
        let kvMount: KvMountOutcome;
        let issued: { path: string; accessor: string };
        if (edgexPlan !== undefined) {
          edgex = await applyEdgexSetup(edgexPlan, primary, token, log);
          kvMount = edgex.kvMount;
          issued = { path: edgex.adminTokenPath, accessor: edgex.adminTokenAccessor };
        } else {
          kvMount = await ensureKvMount(primary, token, config.kvVersion, log);
          issued = await issueAdminToken(primary, token, config.tokenProviderAdminTokenPath, log);
        }
        if (temporary) {
          await primary.revokeSelf(token);
          revokedTemporary = true;
          log.info('temporary root token revoked', { node: primary.address });
        }
        const result: BootstrapResult = {
          initialState,
          initialized,
          unsealedNodes,
          keyFileRewritten: rewritten,
          kvMount,
          adminTokenPath: issued.path,
          adminTokenAccessor: issued.accessor,
          rootTokensRevoked,
          totalMs: performance.now() - started,
          hookMs: ikm.hookMs,
          ...(edgex === undefined ? {} : { edgex }),
        };
        if (options.keepShares === true) result.shares = secrets.shares.map((s) => Buffer.from(s));
        log.info('bootstrap complete', {
          state: initialState,
          initialized,
          unsealed: unsealedNodes.length,
          ms: Math.round(result.totalMs * 10) / 10,
          hookMs: result.hookMs === undefined ? undefined : Math.round(result.hookMs * 10) / 10,
        });
        return result;
      } finally {
        if (temporary && !revokedTemporary) {
          // Best effort on failure paths; a leftover is revoked by the next run's root-token sweep.
          await primary.revokeSelf(token).catch(() => undefined);
        }
      }
    });
  } finally {
    wipe(rootToken);
    wipeSecrets(secrets);
    ikm.wipe();
  }
}
