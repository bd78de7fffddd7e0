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
 *
 * Crash safety: what a killed run left in the key folder is removed first (temp files of the marker, the key file
 * and the lock; a key-file temp that holds the whole shares is adopted instead when no key file exists). On first
 * boot everything the key-file write does not need the shares for is done before `sys/init`, so that between the
 * answer and the key file's fsync there is nothing but the write (synchronous: no await, no log line).
 *
 * Store restarts: when the store stops answering, or answers with a state behind what this run established (sealed
 * again after the unseal), the run goes back to waiting — within the same WaitTimeout budget — and resumes from the
 * store's state with the shares it holds: it never initializes an initialized store and never drops the shares.
 *
 * Clusters (`--addr` repeated; docs/bootstrap.md, "Clusters"): the state is read from every node. The cluster is
 * initialized as soon as one node says so, and then never initialized again; otherwise init goes through the first
 * node (configured order) that answers, and a refusal because someone else initialized it first falls back to the
 * key file. After the key file is saved every node that answers is unsealed; a node that is down (or not a member
 * yet) is reported with its address and does not fail the boot as long as one node ends unsealed and an ACTIVE node
 * is found among the configured ones (./cluster.ts) within WaitTimeout. Everything after the unseal (root token,
 * sweeps, EdgeX duties or KV + token-issuing token, revocation) goes to that active node; if it goes away or loses
 * the role meanwhile, the run resumes through whichever configured node is active next.
 */
import { SecretStoreError, isSecretStoreError } from '../errors.js';
import { constantTimeEqual, randomBytes, wipe } from '../crypto.js';
import type { Logger } from '../log.js';
import type { SecretStoreConfig } from '../config/config.js';
import type { IkmSource } from '../vmk/ikm-hook.js';
import {
  inspectKeyFile,
  prepareFirstKeyFile,
  removeCrashLeftovers,
  withKeyFileLock,
  type InitSecrets,
  type KeyFileLocation,
} from '../keyfile/keyfile.js';
import type { VaultClient } from '../vault/client.js';
import type { InitResponse } from '../vault/types.js';
import { LazyIkm } from './ikm.js';
import { makeClients } from './nodes.js';
import { KNOWN_HEALTH, StoreWaiter, type StoreExpectation } from './wait.js';
import { findActive, isUnsealedRole, probeNode, probeNodes, roleOf, type NodeProbe } from './cluster.js';
import { delay } from '../vault/transport.js';
import { unsealNode } from './unseal.js';
import {
  encryptedNoHook,
  loadSecrets,
  recoverInterruptedSave,
  reportAndVerify,
  saveNewSecrets,
  saveSecrets,
  warnPlaintext,
  wipeSecrets,
  type KeyFileAccess,
} from './key-store.js';
import { generateRootToken, revokeOtherRootTokens } from './root-token.js';
import { ensureKvMount, type KvMountOutcome } from '../edgex/kv-mount.js';
import { issueAdminToken } from '../edgex/token-issuer.js';
import { settleAll } from '../settle.js';
import { INIT_MARKER, readInitMarker, removeInitMarker, writeInitMarker, type InitMarker } from './init-marker.js';
import { INIT_ATTEMPT_BYTES, attemptHash, httpInitControl, type StoreInitControl } from './init-control.js';
// EdgeX's duties (src/edgex/edgex-setup.ts and the ~25 modules under it) load only for an EdgeX configuration.
import type { EdgexSetupPlan, EdgexSetupResult, applyEdgexSetup } from '../edgex/edgex-setup.js';
import { monotonicMs } from '../clock.js';

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
  /**
   * How the flow initializes the store and, for a store that records init attempts (the embedded store's contract,
   * ./init-control.ts), starts over one whose init answer was lost. Default: that contract over HTTP.
   */
  initControl?: (client: VaultClient) => StoreInitControl;
}

/**
 * A configured node the run did not unseal, reported instead of failing the boot (clusters only): `down` (it did not
 * answer), `uninitialized` (not a member of the initialized cluster yet, e.g. a raft node that has not joined), or
 * `failed` (it answered, but the unseal failed otherwise). `error` never holds a secret.
 */
export interface NodeLeft {
  address: string;
  state: 'down' | 'uninitialized' | 'failed';
  error: string;
}

/** What a run did, for the command's summary line, tests and the bench. */
export interface BootstrapResult {
  /**
   * The state the store was found in: one node's state; a cluster's is `uninitialized` when no node that answered
   * was initialized, `unsealed` when one of them was unsealed, else `sealed`.
   */
  initialState: 'uninitialized' | 'sealed' | 'unsealed';
  /** This run initialized the store. */
  initialized: boolean;
  /** Nodes this run unsealed. */
  unsealedNodes: string[];
  /** The node everything after the unseal went to: the only node, or the cluster's active node. */
  activeNode: string;
  /** Configured nodes left not unsealed by the last unseal pass (clusters only; empty for one node). */
  nodesLeft: NodeLeft[];
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

/**
 * Runs `fn` under the inter-process key-file lock, waiting (up to `timeoutMs`) while another process holds it. `fn`
 * learns whether the lock was taken at once (`waited` false): then no other holder ran between the caller's last
 * look at the store and `fn`, so what the caller read before may still be used.
 */
export async function withLockWaiting<T>(
  loc: KeyFileLocation,
  timeoutMs: number,
  log: Logger,
  signal: AbortSignal | undefined,
  fn: (waited: boolean) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let announced = false;
  let waited = false;
  for (;;) {
    try {
      return await withKeyFileLock(loc, () => fn(waited));
    } catch (err) {
      if (!isSecretStoreError(err, 'KEYFILE_LOCKED')) throw err;
      if (Date.now() - started > timeoutMs) throw err;
      waited = true;
      if (!announced) {
        log.info('waiting for another bootstrap holding the key-file lock', { dir: loc.dir });
        announced = true;
      }
      await delay(100, signal);
    }
  }
}

function initializedNoKeyFile(client: VaultClient, loc: KeyFileLocation, marker: InitMarker | undefined, notStartedOver?: string): SecretStoreError {
  const path = `${loc.dir}/${loc.file ?? 'resp-init.json'}`;
  const crashed =
    marker === undefined ? '' : ` (a previous bootstrap was interrupted during initialization of ${marker.node} at ${marker.time}, before the shares reached the disk)`;
  const why = notStartedOver === undefined ? '' : `; it was not started over automatically: ${notStartedOver}`;
  return new SecretStoreError(
    'STORE_INITIALIZED_NO_KEYFILE',
    `the secret store at ${client.address} is already initialized but there is no key file at ${path}${crashed}${why}; ` +
      'restore the key file (or point TokenFolderPath/TokenFile at it); if its shares are lost the data cannot be unsealed: ' +
      'stop the store, move its data away and rerun to start a new one (see docs/bootstrap.md, "initialized but no key file")',
  );
}

/** What one run needs, shared by its steps. */
interface FlowContext {
  options: BootstrapOptions;
  config: SecretStoreConfig;
  log: Logger;
  signal: AbortSignal | undefined;
  loc: KeyFileLocation;
  ikm: LazyIkm;
  access: KeyFileAccess;
  clients: VaultClient[];
  /** The first configured node (the only one, without a cluster). */
  primary: VaultClient;
  /** Several nodes: the cluster rules apply (probe all, unseal all, post-unseal work on the active node). */
  cluster: boolean;
  /** The init-attempt contract of one node (the one init goes to, or the one an interrupted init went to). */
  controlFor: (client: VaultClient) => StoreInitControl;
  waiter: StoreWaiter;
  /** EdgeX's duties, checked before the store is touched, and how to apply them (an EdgeX configuration only). */
  edgex: { plan: EdgexSetupPlan; apply: typeof applyEdgexSetup } | undefined;
  started: number;
}

/** What one run has established so far; kept across the attempts of a run (the store may restart in between). */
interface RunState {
  initialState: BootstrapResult['initialState'] | undefined;
  initialized: boolean;
  rewritten: BootstrapResult['keyFileRewritten'];
  /** The shares (and kept root token), once initialized or loaded: never dropped, never re-fetched by a resume. */
  secrets: InitSecrets | undefined;
  rootToken: Buffer | undefined;
  unsealedNodes: string[];
  /** The node being talked to and what was established about it, for {@link StoreWaiter.resumeAfter}. */
  node: VaultClient;
  expected: StoreExpectation;
  /** The store was started over once in this run (never twice). */
  startedOver: boolean;
  /**
   * The init attempt id of this run (when the store records attempts), reused if init must be sent again, so that
   * whichever of its inits the store took, the marker names it.
   */
  initAttempt: Buffer | undefined;
  /** An init of this run may have reached the store although its answer was lost (a transport failure). */
  initUncertain: boolean;
  /** The node that just refused this run's init with an HTTP error (someone else may have initialized the cluster). */
  initRefused: VaultClient | undefined;
  /** Nodes the last unseal pass left sealed (clusters). */
  nodesLeft: NodeLeft[];
  /**
   * The single node's last `sys/health` in this pass said sealed (or this run's init just answered): its unseal skips
   * the `sys/seal-status` read (./unseal.ts, `knownSealed`).
   */
  knownSealed: boolean;
}

/**
 * First boot: init and save the shares. Everything the key-file write does not need the shares for (the hook, the
 * folder, stale temp files, the edgex salt, the temp file itself, the init marker) is done BEFORE `sys/init`, so the
 * first-boot window — from the store's answer to the key file's fsync, during which the shares exist only in this
 * process — holds nothing but the write, run synchronously (docs/bootstrap.md, "The first-boot window").
 */
async function firstBoot(ctx: FlowContext, run: RunState, target: VaultClient): Promise<InitSecrets> {
  const { config, log, loc, access, ikm } = ctx;
  const control = ctx.controlFor(target);
  const stale = await inspectKeyFile(loc);
  if (stale !== undefined) {
    throw new SecretStoreError(
      'STORE_KEYFILE_MISMATCH',
      `the secret store at ${target.address} is not initialized but a key file already exists at ${stale.path}; ` +
        'refusing to overwrite it: if the store was reset on purpose move the old key file away and rerun, otherwise check the address',
    );
  }
  // Fetch the IKM BEFORE init: a failing hook must stop us while the store is still untouched.
  const key = await ikm.get();
  if (key === undefined) warnPlaintext(access);
  const prepared = prepareFirstKeyFile(loc, key === undefined ? { format: 'plaintext' } : { format: config.keyFileFormat, ikm: key });
  try {
    if (run.initAttempt === undefined && (await control.recordsInitAttempts())) run.initAttempt = randomBytes(INIT_ATTEMPT_BYTES);
    const attempt = run.initAttempt;
    log.info('initializing the secret store', { node: target.address, shares: config.secretShares, threshold: config.secretThreshold });
    writeInitMarker(loc, target.address, attempt);
    let init: InitResponse;
    try {
      init = await control.init(config.secretShares, config.secretThreshold, attempt);
    } catch (err) {
      // A definite answer (an HTTP error or a malformed body) means no shares were handed out to us — unless an
      // earlier init of this run was lost on the way back: then this answer ("already initialized") may be about
      // that one, and the marker stays. A transport failure after sending leaves it unknown: the marker stays for
      // the diagnosis (and the proof of an embedded store's start-over).
      if (!isSecretStoreError(err, 'STORE_ERROR')) run.initUncertain = true;
      else {
        run.initRefused = target;
        if (!run.initUncertain) removeInitMarker(loc);
      }
      throw err;
    }
    // ── The first-boot window opens: the shares exist only in this process. Until it closes: no await, no log. ──
    const answered = monotonicMs();
    const toSave: InitSecrets = { shares: init.shares, threshold: config.secretThreshold };
    if (!config.revokeRootTokens) toSave.rootToken = init.rootToken;
    else wipe(init.rootToken);
    let failure: Error | undefined;
    try {
      wipe(prepared.commitSync(toSave)); // encrypt, write, fsync, rename, fsync the folder
    } catch (err) {
      failure = err instanceof Error ? err : new SecretStoreError('INTERNAL', 'the key-file write failed');
    }
    const windowMs = monotonicMs() - answered;
    // ── The window is closed (or the write failed: then the retries below, the shares still in memory). ──
    try {
      // Durable and verified BEFORE any unseal (EdgeX defect 1); retried, as these shares exist nowhere else.
      await saveNewSecrets(access, toSave, ctx.signal, async () => {
        if (failure !== undefined) throw failure;
        const written = { path: prepared.path, format: prepared.format, encrypted: prepared.format !== 'plaintext', shares: toSave.shares.length };
        return reportAndVerify(access, toSave, 'key file saved', { ...written, windowMs: Math.round(windowMs * 1000) / 1000 });
      });
    } catch (err) {
      wipeSecrets(toSave);
      throw err;
    }
    removeInitMarker(loc);
    return toSave;
  } finally {
    prepared.discard();
  }
}

/**
 * The store is initialized and there is no key file, but our interrupted run's marker is there: starts the store
 * over when it can prove that nothing but that init happened (./init-control.ts). Resolves `done` when it did, else
 * why not (no `why` when the interrupted init carried no attempt id: Vault/OpenBao, reported as before).
 */
async function startOverAbandonedInit(ctx: FlowContext, node: VaultClient, marker: InitMarker | undefined): Promise<{ done: boolean; why?: string }> {
  const { log, loc } = ctx;
  if (marker?.attempt === undefined) return { done: false };
  // The proof is asked of the node the interrupted init went to (one of a cluster's nodes, sharing its storage).
  const initNode = ctx.cluster ? (ctx.clients.find((c) => c.address === marker.node) ?? node) : node;
  const control = ctx.controlFor(initNode);
  if (!(await control.recordsInitAttempts())) return { done: false, why: `the store at ${initNode.address} does not record init attempts (not the embedded store)` };
  if (marker.node !== initNode.address) return { done: false, why: `the interrupted init went to ${marker.node}` };
  const attempt = Buffer.from(marker.attempt, 'hex');
  try {
    const recorded = await control.recordedInitAttempt();
    if (recorded === undefined) return { done: false, why: 'the store has been unsealed since its initialization, so it may hold data' };
    if (!constantTimeEqual(Buffer.from(recorded), Buffer.from(attemptHash(attempt)))) {
      return { done: false, why: 'the store was initialized by another request than the interrupted one' };
    }
    const refused = await control.abandonInit(attempt);
    if (refused !== undefined) return { done: false, why: `the store refused to start over (${refused})` };
  } finally {
    wipe(attempt);
  }
  log.warn('the secret store was started over: a bootstrap interrupted before its key file reached the disk had initialized it, and it was never unsealed since, so it held no data; initializing it again', {
    node: initNode.address,
    interrupted: marker.time,
  });
  removeInitMarker(loc);
  return { done: true };
}

/**
 * The store is initialized: load and decrypt the key file into `run`. Without one: adopt a whole temp file left by
 * an interrupted save, else start an embedded store over (false: the store is uninitialized again), else fail with
 * STORE_INITIALIZED_NO_KEYFILE saying what happened and what to do.
 */
async function loadExisting(ctx: FlowContext, run: RunState, node: VaultClient): Promise<boolean> {
  const { access, loc } = ctx;
  let loaded = await loadSecrets(access);
  if (loaded === undefined && (await recoverInterruptedSave(access))) loaded = await loadSecrets(access);
  if (loaded === undefined) {
    const marker = readInitMarker(loc);
    if (!run.startedOver) {
      const outcome = await startOverAbandonedInit(ctx, node, marker);
      if (outcome.done) {
        run.startedOver = true;
        // A new store life: its init gets a fresh attempt id, and nothing of the abandoned one is uncertain any more.
        wipe(run.initAttempt);
        run.initAttempt = undefined;
        run.initUncertain = false;
        return false;
      }
      throw initializedNoKeyFile(node, loc, marker, outcome.why);
    }
    throw initializedNoKeyFile(node, loc, marker);
  }
  // A marker beside a readable key file is from a crash after the save: nothing was lost.
  removeInitMarker(loc);
  run.secrets = loaded.secrets;
  run.rewritten = loaded.rewritten;
  return true;
}

/**
 * Unseals every node. One node: its failure is the run's. A cluster: all nodes at once (each has its own seal); a
 * node that does not answer, is not initialized (not a member yet) or fails otherwise is recorded in
 * `run.nodesLeft` and logged with its address, and the boot goes on — unless no node ends unsealed (the first
 * failure is then the run's, so that an outage of every node is waited out like one node's). Shares the store
 * rejects (UNSEAL_REJECTED: another store's key file) stop the run at once, whichever node says so.
 */
async function unsealEvery(ctx: FlowContext, run: RunState, secrets: InitSecrets): Promise<void> {
  const { log, clients } = ctx;
  const note = (client: VaultClient): void => {
    if (!run.unsealedNodes.includes(client.address)) run.unsealedNodes.push(client.address);
  };
  run.expected = 'initialized';
  if (!ctx.cluster) {
    run.node = ctx.primary;
    const knownSealed = run.knownSealed;
    run.knownSealed = false; // only once: a resumed pass reads the state again
    if ((await unsealNode(ctx.primary, secrets.shares, log, { knownSealed })) === 'unsealed') note(ctx.primary);
    run.nodesLeft = [];
    return;
  }
  const outcomes = await Promise.all(
    clients.map(async (client) => {
      try {
        // Health first: it is answered by the node itself, whereas an unsealed standby may forward seal-status to
        // the active node (and fail it while the cluster elects one). A node already unsealed is left alone; any
        // other answer (or none) goes on to the unseal, which says what is wrong with the node.
        const probe = await probeNode(client);
        if (isUnsealedRole(probe.role)) return { client, outcome: 'already-unsealed' as const };
        if (!probe.answered) return { client, err: new SecretStoreError('STORE_UNREACHABLE', probe.error ?? `the secret store at ${client.address} does not answer`) };
        // Just said sealed: the unseal's first answer says the rest (no seal-status read).
        return { client, outcome: await unsealNode(client, secrets.shares, log, { knownSealed: probe.role === 'sealed' }) };
      } catch (err) {
        return { client, err };
      }
    }),
  );
  const left: NodeLeft[] = [];
  let unsealed = 0;
  let first: { client: VaultClient; err: unknown } | undefined;
  for (const o of outcomes) {
    if (o.outcome !== undefined) {
      unsealed++;
      if (o.outcome === 'unsealed') note(o.client);
      continue;
    }
    const err = o.err;
    if (!isSecretStoreError(err) || err.code === 'ABORTED' || err.code === 'UNSEAL_REJECTED') {
      run.node = o.client;
      throw err;
    }
    first ??= { client: o.client, err };
    const state = err.code === 'STORE_UNREACHABLE' || err.code === 'STORE_TIMEOUT' ? 'down' : err.code === 'STORE_NOT_INITIALIZED' ? 'uninitialized' : 'failed';
    left.push({ address: o.client.address, state, error: err.message });
  }
  if (unsealed === 0 && first !== undefined) {
    run.node = first.client;
    throw first.err;
  }
  for (const l of left) {
    log.warn('node not unsealed; the boot goes on with the others (watch unseals it once it answers)', { node: l.address, state: l.state, error: l.error });
  }
  run.nodesLeft = left;
}

/** The longest pause between two looks for the active node of a cluster. */
const ACTIVE_POLL_MS = 200;

/**
 * The node everything after the unseal goes to. One node: that node (a standby forwards, a load balancer's address
 * is one address). A cluster: the configured node that is active (./cluster.ts, {@link findActive}), waited for
 * within what is left of WaitTimeout — a cluster elects its active node a moment after the unseal.
 */
async function activeNode(ctx: FlowContext): Promise<VaultClient> {
  if (!ctx.cluster) return ctx.primary;
  const warned = new Set<string>();
  const addresses = ctx.clients.map((c) => c.address).join(', ');
  const active = await ctx.waiter.poll(
    'an active node of the cluster',
    () => findActive(ctx.clients, ctx.log, warned),
    (waitedS, last) =>
      `no configured node of the secret store cluster (${addresses}) was active after ${waitedS} s (${last}); ` +
      'check the nodes and their HA storage, and that the active node\'s address is one of the --addr addresses',
    // An election takes a moment after the unseal: look more often than the store wait's interval.
    Math.min(ctx.waiter.intervalMs, ACTIVE_POLL_MS),
  );
  ctx.log.info('active node', { node: active.address });
  return active;
}

/** With the shares in hand: unseal every node, root token, provisioning (on the active node), revoke the temporary root. */
async function provision(ctx: FlowContext, run: RunState, secrets: InitSecrets): Promise<BootstrapResult> {
  const { config, log, options, ikm } = ctx;
  await unsealEvery(ctx, run, secrets);
  run.expected = 'unsealed';
  const primary = await activeNode(ctx);
  run.node = primary;

  // Root: the kept one when RevokeRootTokens is false and it still works, else a temporary one. A temporary one
  // left by an earlier attempt of this run (the store went away) is revoked by the sweep below.
  wipe(run.rootToken);
  run.rootToken = undefined;
  let rootToken: Buffer | undefined;
  let temporary = true;
  if (!config.revokeRootTokens && secrets.rootToken !== undefined) {
    const lookup = await primary.lookupSelf(secrets.rootToken.toString('utf8'));
    if (lookup?.policies.includes('root') === true) {
      rootToken = run.rootToken = Buffer.from(secrets.rootToken);
      temporary = false;
    } else {
      log.warn('the stored root token is no longer valid; generating a new one');
    }
  }
  if (rootToken === undefined) {
    rootToken = run.rootToken = await generateRootToken(primary, secrets.shares, log);
    log.info(temporary ? 'temporary root token generated' : 'root token generated', { node: primary.address });
    if (!config.revokeRootTokens) {
      // Kept root tokens live only in the key file, encrypted when a hook is set (EdgeX defect 7).
      wipe(secrets.rootToken);
      secrets.rootToken = Buffer.from(rootToken);
      await saveSecrets(ctx.access, secrets, 'key file saved with the new root token');
      temporary = false;
    }
  }
  const token = rootToken.toString('utf8');
  let revokedTemporary = false;
  try {
    // The root-token sweep and the provisioning do not depend on each other: they run at once (a sealed boot's
    // critical path is its round trips; docs/packaging.md, "Start-up"). A token the provisioning creates meanwhile
    // may show up in the sweep's accessor list: it is looked up, is not root, and is kept; an accessor it revokes
    // meanwhile reads as gone. The temporary root token is revoked only once both have settled.
    const edgexSetup = ctx.edgex;
    const [rootTokensRevoked, provisioned] = await settleAll([
      revokeOtherRootTokens(primary, token, log),
      edgexSetup !== undefined
        ? edgexSetup.apply(edgexSetup.plan, primary, token, log).then((edgex) => ({
            edgex,
            kvMount: edgex.kvMount,
            issued: { path: edgex.adminTokenPath, accessor: edgex.adminTokenAccessor },
          }))
        : settleAll([
            ensureKvMount(primary, token, config.kvVersion, log),
            issueAdminToken(primary, token, config.tokenProviderAdminTokenPath, log),
          ] as const).then(([kvMount, issued]) => ({ edgex: undefined, kvMount, issued })),
    ] as const);
    const { edgex, kvMount, issued } = provisioned;
    if (temporary) {
      await primary.revokeSelf(token);
      revokedTemporary = true;
      log.info('temporary root token revoked', { node: primary.address });
    }
    const result: BootstrapResult = {
      initialState: run.initialState ?? 'unsealed',
      initialized: run.initialized,
      unsealedNodes: run.unsealedNodes,
      activeNode: primary.address,
      nodesLeft: run.nodesLeft,
      keyFileRewritten: run.rewritten,
      kvMount,
      adminTokenPath: issued.path,
      adminTokenAccessor: issued.accessor,
      rootTokensRevoked,
      totalMs: monotonicMs() - ctx.started,
      hookMs: ikm.hookMs,
      ...(edgex === undefined ? {} : { edgex }),
    };
    if (options.keepShares === true) result.shares = secrets.shares.map((s) => Buffer.from(s));
    log.info('bootstrap complete', {
      state: result.initialState,
      initialized: run.initialized,
      unsealed: run.unsealedNodes.length,
      active: ctx.cluster ? primary.address : undefined,
      notUnsealed: run.nodesLeft.length > 0 ? run.nodesLeft.map((n) => `${n.address} (${n.state})`).join(', ') : undefined,
      ms: Math.round(result.totalMs * 10) / 10,
      hookMs: result.hookMs === undefined ? undefined : Math.round(result.hookMs * 10) / 10,
    });
    return result;
  } finally {
    if (temporary && !revokedTemporary) {
      // Best effort on failure paths; a leftover is revoked by the next run's (or the next attempt's) root-token sweep.
      await primary.revokeSelf(token).catch(() => undefined);
    }
  }
}

/** Runs the boot flow once; resolves when the store is initialized, unsealed and provisioned. */
export async function runBootstrap(options: BootstrapOptions): Promise<BootstrapResult> {
  const { config, log, signal } = options;
  const started = monotonicMs();
  const loc = keyFileLocation(config);
  const ikm = new LazyIkm(options.ikmSource);
  const access: KeyFileAccess = { loc, ikm, format: config.keyFileFormat, revokeRootTokens: config.revokeRootTokens, log };
  const clients = makeClients(config, log, signal);
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
  let edgex: FlowContext['edgex'];
  if (config.edgex.enabled) {
    const { applyEdgexSetup, prepareEdgexSetup } = await import('../edgex/edgex-setup.js');
    edgex = { plan: await prepareEdgexSetup(config, options.env ?? process.env, options.cwd ?? process.cwd(), log), apply: applyEdgexSetup };
  }

  const waiter = new StoreWaiter({
    intervalMs: config.intervalSeconds * 1000,
    timeoutMs: config.waitTimeoutSeconds * 1000,
    log,
    ...(signal === undefined ? {} : { signal }),
  });
  const reached = await waiter.waitAny(clients);
  // The store answered initialized and there is a key file: every path from here reads it (decrypt, or migrate to
  // encrypted), so the hook is started as soon as the lock is held and runs while the folder is cleaned. Not
  // earlier: a store that is not up yet, an uninitialized one beside a key file (refused) or a lock never obtained
  // must not cost one of the hook's limited releases (docs/bootstrap.md, "The state machine").
  const prefetchIkm = existing !== undefined && ikm.configured && reached.health.status !== 501;

  const makeControl = options.initControl ?? httpInitControl;
  const controls = new Map<VaultClient, StoreInitControl>();
  const ctx: FlowContext = {
    options,
    config,
    log,
    signal,
    loc,
    ikm,
    access,
    clients,
    primary,
    cluster: clients.length > 1,
    controlFor: (client) => {
      let control = controls.get(client);
      if (control === undefined) {
        control = makeControl(client);
        controls.set(client, control);
      }
      return control;
    },
    waiter,
    edgex,
    started,
  };
  const run: RunState = {
    initialState: undefined,
    initialized: false,
    rewritten: undefined,
    secrets: undefined,
    rootToken: undefined,
    unsealedNodes: [],
    node: primary,
    expected: 'reachable',
    startedOver: false,
    initAttempt: undefined,
    initUncertain: false,
    initRefused: undefined,
    nodesLeft: [],
    knownSealed: false,
  };
  try {
    return await withLockWaiting(loc, Math.max(config.waitTimeoutSeconds * 1000, 30_000), log, signal, async (waited) => {
      if (prefetchIkm) ikm.prefetch();
      // What a killed run left behind (temp files of the marker, the key file, the lock) goes first.
      const leftovers = removeCrashLeftovers(loc, [INIT_MARKER]);
      if (leftovers > 0) log.info('removed temporary files left by an interrupted run', { dir: loc.dir, files: leftovers });
      let initRetries = 0;
      // The wait's answer stands for the first pass when it said initialized and the lock was free: no other
      // bootstrap ran in between, and an initialized store stays initialized (a state that moved on — unsealed by
      // someone else — is handled by the unseal). An uninitialized answer is always read again under the lock: the
      // decision to init must not rest on a stale answer.
      let known = !waited && !ctx.cluster && reached.health.status !== 501 ? reached.health : undefined;
      for (;;) {
        run.node = primary;
        run.expected = 'reachable';
        try {
          // Re-read the state under the lock: another bootstrap may have initialized the store meanwhile (and, after
          // the store went away, this is where the run resumes from its new state). A cluster: every node's.
          let probes: NodeProbe[];
          if (!ctx.cluster) {
            const health = known ?? (await primary.health());
            known = undefined;
            if (!KNOWN_HEALTH.has(health.status)) {
              throw new SecretStoreError('STORE_ERROR', `the secret store at ${primary.address} answered sys/health with HTTP ${health.status}`);
            }
            probes = [{ client: primary, role: roleOf(health), health, answered: true }];
          } else {
            probes = await probeNodes(clients);
            if (probes.every((p) => p.health === undefined)) {
              throw new SecretStoreError('STORE_UNREACHABLE', `no node of the secret store cluster answers (${probes.map((p) => p.error ?? p.role).join('; ')})`);
            }
          }
          const answered = probes.filter((p) => p.health !== undefined);
          run.knownSealed = !ctx.cluster && probes[0]?.health?.status === 503;
          for (const p of probes) {
            const status = p.health?.status;
            if (status === undefined) log.warn('secret store node not answering', { node: p.client.address, error: p.error });
            else {
              const state = status === 501 ? 'uninitialized' : status === 503 ? 'sealed' : 'unsealed';
              log.info('secret store state', { node: p.client.address, state, status, role: ctx.cluster ? p.role : undefined });
            }
          }
          // One initialized node means an initialized cluster (they share storage): never init again.
          const initializedNode = answered.find((p) => p.role !== 'uninitialized');
          run.initialState ??= initializedNode === undefined ? 'uninitialized' : answered.some((p) => isUnsealedRole(p.role)) ? 'unsealed' : 'sealed';
          if (run.secrets === undefined) {
            if (initializedNode === undefined) {
              const target = answered[0]?.client ?? primary; // the first node, in the configured order, that answered
              run.node = target;
              run.secrets = await firstBoot(ctx, run, target);
              run.initialized = true;
              run.knownSealed = !ctx.cluster; // a store answers init initialized and sealed
            } else {
              run.node = initializedNode.client;
              run.expected = 'initialized';
              if (!(await loadExisting(ctx, run, initializedNode.client))) continue; // started over: the store is uninitialized again
            }
          } else if (initializedNode === undefined) {
            // We hold this store's shares, but it came back uninitialized: its data was reset or replaced meanwhile.
            throw new SecretStoreError(
              'STORE_KEYFILE_MISMATCH',
              `the secret store at ${answered.map((p) => p.client.address).join(', ')} came back uninitialized after it went away during this bootstrap: its data was reset or replaced; ` +
                'the key file is left untouched: restore the store\'s data folder, or, if the reset was intended, move the key file away and rerun',
            );
          }
          const secrets = run.secrets;
          if (secrets === undefined) throw new SecretStoreError('INTERNAL', 'no shares after init or load');
          return await provision(ctx, run, secrets);
        } catch (err) {
          const refused = run.initRefused;
          run.initRefused = undefined;
          if (run.secrets === undefined && run.initUncertain && isSecretStoreError(err, 'STORE_ERROR') && initRetries++ < 3) {
            // An init refused after an earlier one of this run was lost on the way back: re-read the store's state
            // (initialized: no key file — reported, or an embedded store started over; still uninitialized: init).
            continue;
          }
          if (run.secrets === undefined && refused !== undefined && isSecretStoreError(err, 'STORE_ERROR') && initRetries++ < 3) {
            // Refused ("already initialized") and the node now says it is initialized: another client (a bootstrap
            // on another machine, another node's) initialized the cluster first. Never init again: go on as with any
            // initialized store — with the key file.
            const now = await probeNode(refused);
            if (now.role !== 'uninitialized' && now.role !== 'down') {
              log.warn('init refused: the secret store was initialized by someone else meanwhile; going on with the key file', { node: refused.address });
              continue;
            }
          }
          if (!(await waiter.resumeAfter(err, run.node, run.expected, clients))) throw err;
        }
      }
    });
  } finally {
    wipe(run.initAttempt);
    wipe(run.rootToken);
    wipeSecrets(run.secrets);
    ikm.wipe();
  }
}
