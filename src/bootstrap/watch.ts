/**
 * The unseal daemon (`watch`; EdgeX issue #1944, defect 10): keeps every listed node unsealed. Each node is
 * checked every interval; a sealed node (restarted) is unsealed within one interval. The hook runs only when an
 * unseal is needed and no IKM is held yet: after the first successful decryption of the key file the IKM is KEPT in
 * memory (one Buffer, {@link KeptIkm}) for the life of the process and wiped when it stops — a hook may release the
 * IKM only once per boot (ikm-tpm2's per-boot limit), and a daemon that must unseal after every store restart
 * cannot run it again. The decrypted shares are never kept: the key file is read and decrypted afresh for each
 * unseal, so a file rewritten by bootstrap or the `keys` commands is picked up. If the kept IKM no longer opens the
 * file (KEYFILE_WRONG_IKM: rewrapped under another IKM), it is dropped and the next attempt runs the hook again.
 * The key file is only read, never rewritten (that is bootstrap's job), so watch can run beside it.
 *
 * Errors: a node that does not answer `sys/seal-status` (down, restarting) keeps being polled every interval — one
 * cheap GET, no hook, no secret — so that its restart is caught within one interval; it is logged once when it goes
 * down and once when it is back. Any other failure (the unseal is rejected, the hook or the key file fails, the node
 * is not initialized) backs off exponentially per node (interval × 2^(n−1), capped): repeating it at once would
 * flood the log (and, before an IKM is held, spend the hook's releases) without any chance of a different result.
 *
 * Clusters (`--addr` repeated): every node has its own seal, so every node is checked and unsealed on its own — a
 * node that restarts comes back sealed even while the others serve. Each node's role (active / standby / sealed /
 * down) is kept per node for /metrics; an unsealed node's role comes from one extra `sys/health` GET per check, only
 * when several nodes are watched.
 */
import { SecretStoreError, isSecretStoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SecretStoreConfig } from '../config/config.js';
import type { IkmSource } from '../vmk/ikm-hook.js';
import { inspectKeyFile, readKeyFile, withKeyFileLock, type InitSecrets } from '../keyfile/keyfile.js';
import type { VaultClient } from '../vault/client.js';
import { wipe } from '../crypto.js';
import { roleOf } from './cluster.js';
import { KNOWN_HEALTH } from './wait.js';
import { wipeIkmSource } from './ikm.js';
import { makeClients } from './nodes.js';
import { unsealNode } from './unseal.js';
import { encryptedNoHook, wipeSecrets } from './key-store.js';
import { keyFileLocation } from './flow.js';
import type { NodeState, WatchMetrics } from './metrics.js';
import { delay } from '../vault/transport.js';

/** Inputs of {@link runWatch}. */
export interface WatchOptions {
  config: SecretStoreConfig;
  /** A new IKM source per unseal (undefined = no hook). */
  ikmSource: () => IkmSource | undefined;
  metrics: WatchMetrics;
  log: Logger;
  /** Stops the loop. */
  signal: AbortSignal;
  /** Check interval in milliseconds. */
  intervalMs: number;
  /** Cap of the error backoff in milliseconds (default 5 minutes). */
  maxBackoffMs?: number;
  /** Stop after this many rounds (tests); forever by default. */
  maxRounds?: number;
  /** Time source and sleep (tests inject a virtual clock); real time by default. */
  clock?: WatchClock;
  /** The IKM holder (tests pass one to observe it); a new one by default, wiped when runWatch returns. */
  keptIkm?: KeptIkm;
}

/**
 * The IKM `watch` keeps after its first successful decryption of the key file, for the life of the process: one
 * Buffer, owned here, wiped by {@link KeptIkm.wipe} (runWatch's exit, or a key file it no longer opens).
 */
export class KeptIkm {
  private ikm: Buffer | undefined;

  /** True while an IKM is held. */
  get held(): boolean {
    return this.ikm !== undefined;
  }

  /** The held IKM (owned here: callers must not wipe or keep it), or undefined. */
  get(): Buffer | undefined {
    return this.ikm;
  }

  /** Takes ownership of `ikm` (wiping any IKM held before). */
  keep(ikm: Buffer): void {
    if (this.ikm !== ikm) wipe(this.ikm);
    this.ikm = ikm;
  }

  /** Wipes and drops the held IKM. Safe to call more than once. */
  wipe(): void {
    wipe(this.ikm);
    this.ikm = undefined;
  }
}

/** The daemon's view of time. */
export interface WatchClock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const REAL_CLOCK: WatchClock = { now: () => Date.now(), sleep: delay };

/** The wait after the `failures`-th consecutive failure of a node (failures ≥ 1): interval × 2^(failures−1), capped. */
export function backoffMs(failures: number, intervalMs: number, maxBackoffMs: number): number {
  return Math.min(intervalMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30), Math.max(maxBackoffMs, intervalMs));
}

/** Checks one node and unseals it when needed. Throws on failure (the caller counts and backs off). */
export async function checkNode(client: VaultClient, options: Omit<WatchOptions, 'intervalMs' | 'signal' | 'maxRounds'>): Promise<void> {
  const state = options.metrics.node(client.address);
  let status;
  try {
    status = await client.sealStatus();
  } catch (err) {
    state.reachable = false;
    state.sealed = undefined;
    state.role = 'down';
    throw err;
  }
  state.reachable = true;
  state.lastCheck = Math.floor(Date.now() / 1000);
  state.sealed = status.sealed;
  state.role = !status.initialized ? 'uninitialized' : status.sealed ? 'sealed' : 'active';
  if (!status.initialized) {
    throw new SecretStoreError('STORE_NOT_INITIALIZED', `the secret store at ${client.address} is not initialized; run secretstore-setup bootstrap`);
  }
  if (!status.sealed) {
    if (options.config.nodes.length > 1) state.role = await nodeRole(client);
    return;
  }
  state.unsealAttempts++;
  options.log.info('node sealed; unsealing', { node: client.address });
  const loc = keyFileLocation(options.config);
  const kept = options.keptIkm ?? new KeptIkm();
  try {
    // Under the key-file lock: a bootstrap running now (it unseals too, and resets a partial unseal it finds) and
    // this daemon must not interleave their shares. Once the lock is ours, unsealNode re-reads the seal status.
    const outcome = await withKeyFileLock(loc, async () => {
      const summary = await inspectKeyFile(loc);
      if (summary === undefined) {
        throw new SecretStoreError('KEYFILE_NOT_FOUND', `no key file at ${loc.dir}/${loc.file ?? ''}; run secretstore-setup bootstrap first`);
      }
      const secrets = summary.encrypted ? await decryptWithIkm(loc, summary.path, options, kept) : (await readKeyFile(loc, undefined)).secrets;
      try {
        return await unsealNode(client, secrets.shares, options.log);
      } finally {
        wipeSecrets(secrets);
      }
    });
    state.sealed = false;
    state.role = options.config.nodes.length > 1 ? await nodeRole(client) : 'active';
    if (outcome === 'unsealed') state.lastUnsealSuccess = Math.floor(Date.now() / 1000);
  } catch (err) {
    state.unsealFailures++;
    throw err;
  } finally {
    if (options.keptIkm === undefined) kept.wipe(); // a holder of this call only
  }
}

/**
 * An unsealed cluster node's role from its health (`standby: true` or not). A failed read says `standby`, not
 * `active`: the role is for display and metrics, and claiming a node serves without knowing it would mislead.
 */
async function nodeRole(client: VaultClient): Promise<NodeState['role']> {
  try {
    const health = await client.health();
    return KNOWN_HEALTH.has(health.status) ? roleOf(health) : 'standby';
  } catch (err) {
    if (isSecretStoreError(err, 'ABORTED')) throw err;
    return 'standby';
  }
}

/**
 * Decrypts the encrypted key file with the kept IKM, or — when none is kept yet — with the hook's, which is kept
 * once it has decrypted the file. A kept IKM that no longer opens the file is dropped (the next attempt runs the hook).
 */
async function decryptWithIkm(
  loc: ReturnType<typeof keyFileLocation>,
  path: string,
  options: Pick<WatchOptions, 'ikmSource' | 'log'>,
  kept: KeptIkm,
): Promise<InitSecrets> {
  const held = kept.get();
  if (held !== undefined) {
    try {
      return (await readKeyFile(loc, held)).secrets;
    } catch (err) {
      if (isSecretStoreError(err, 'KEYFILE_WRONG_IKM')) {
        kept.wipe();
        options.log.warn('the kept IKM no longer opens the key file; it was dropped and the hook runs at the next attempt', { path });
      }
      throw err;
    }
  }
  const source = options.ikmSource();
  if (source === undefined) throw encryptedNoHook(path);
  let ikm: Buffer | undefined;
  try {
    ikm = await source.getIkm();
  } finally {
    wipeIkmSource(source); // the source's own cache: the copy we got is the only one left
  }
  try {
    const { secrets } = await readKeyFile(loc, ikm);
    kept.keep(ikm);
    options.log.info('IKM kept in memory for the life of the process (the hook will not run again)', { path });
    return secrets;
  } catch (err) {
    wipe(ikm);
    throw err;
  }
}

/** Runs the daemon until `signal` fires (resolves then) or `maxRounds` rounds have run. */
export async function runWatch(options: WatchOptions): Promise<void> {
  const kept = options.keptIkm ?? new KeptIkm();
  try {
    await watchLoop({ ...options, keptIkm: kept });
  } finally {
    kept.wipe();
  }
}

async function watchLoop(options: WatchOptions & { keptIkm: KeptIkm }): Promise<void> {
  const clients = makeClients(options.config, options.log, options.signal);
  const clock = options.clock ?? REAL_CLOCK;
  const maxBackoff = options.maxBackoffMs ?? 300_000;
  /** Consecutive failures other than "not answering", per node (they drive the backoff). */
  const failures = new Map<string, number>();
  const nextAt = new Map<string, number>();
  const down = new Set<string>();
  options.log.info('watch starting', { nodes: clients.map((c) => c.address).join(','), intervalMs: options.intervalMs });
  for (let round = 0; options.maxRounds === undefined || round < options.maxRounds; round++) {
    if (options.signal.aborted) break;
    const now = clock.now();
    await Promise.all(
      clients.map(async (client) => {
        if ((nextAt.get(client.address) ?? 0) > now) return;
        const state = options.metrics.node(client.address);
        try {
          await checkNode(client, options);
          const wasDown = down.delete(client.address);
          if (wasDown || (failures.get(client.address) ?? 0) > 0) options.log.info('node healthy again', { node: client.address });
          failures.set(client.address, 0);
          nextAt.set(client.address, 0);
        } catch (err) {
          if (isSecretStoreError(err, 'ABORTED')) return;
          state.checkErrors++;
          const code = isSecretStoreError(err) ? err.code : 'INTERNAL';
          const error = isSecretStoreError(err) ? err.message : describeUnexpected(err);
          if (!state.reachable) {
            // Not answering: poll again next round (a restart must be caught within one interval); log the transition only.
            nextAt.set(client.address, 0);
            if (!down.has(client.address)) {
              down.add(client.address);
              options.log.warn('node not answering; polling every interval', { node: client.address, code, error, intervalMs: options.intervalMs });
            }
            return;
          }
          down.delete(client.address);
          const n = (failures.get(client.address) ?? 0) + 1;
          failures.set(client.address, n);
          const backoff = backoffMs(n, options.intervalMs, maxBackoff);
          nextAt.set(client.address, clock.now() + backoff);
          options.log.error('node check failed', { node: client.address, code, error, failures: n, retryInMs: backoff });
        }
      }),
    );
    try {
      await clock.sleep(options.intervalMs, options.signal);
    } catch {
      break;
    }
  }
  options.log.info('watch stopped');
}

function describeUnexpected(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
