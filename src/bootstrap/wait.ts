/**
 * Waiting for the store at boot: it may start after us. Polls `sys/health` every interval with a visible progress
 * line, until it answers with a state the flow knows, or the deadline passes — then a clear failure, never a loop
 * forever.
 *
 * The store may also restart while the flow runs (an update, a crash, a supervisor's restart): {@link StoreWaiter}
 * tells such an outage from a real failure and waits for the store again. All the waits of one run share one
 * WaitTimeout budget, and a run resumes at most {@link MAX_STORE_RESUMES} times, so a flapping store still ends in
 * a clear failure.
 *
 * Several nodes of one cluster (`--addr` repeated): the run waits for ANY of them ({@link waitForAnyStore}) — a
 * cluster whose first node is down can still boot — and, after an outage mid-run, for any of them again (the active
 * node may be the one that went away; another takes over). With one node every message is the single-node one.
 */
import { SecretStoreError, isSecretStoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';
import type { HealthResponse } from '../vault/types.js';
import { delay } from '../vault/transport.js';

/** Health states the flow acts on: active, standby, uninitialized, sealed. */
export const KNOWN_HEALTH = new Set([200, 429, 501, 503]);

/** Settings of {@link waitForStore}. */
export interface WaitOptions {
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
  signal?: AbortSignal;
  /** Time already spent waiting by earlier waits of the same run (counted in messages and progress lines). */
  waitedBeforeMs?: number;
}

/** Polls `client.health()` until it answers 200/429/501/503; STORE_UNREACHABLE after `timeoutMs`. */
export async function waitForStore(client: VaultClient, options: WaitOptions): Promise<HealthResponse> {
  const started = Date.now();
  let attempt = 0;
  for (;;) {
    attempt++;
    let last: string;
    try {
      const health = await client.health();
      if (KNOWN_HEALTH.has(health.status)) {
        if (attempt > 1) options.log.info('secret store reachable', { node: client.address, status: health.status, attempts: attempt });
        return health;
      }
      last = `HTTP ${health.status}`;
    } catch (err) {
      if (isSecretStoreError(err, 'ABORTED')) throw err;
      if (!isSecretStoreError(err, 'STORE_UNREACHABLE') && !isSecretStoreError(err, 'STORE_TIMEOUT') && !isSecretStoreError(err, 'STORE_ERROR')) {
        throw err;
      }
      last = err.message;
    }
    const elapsed = Date.now() - started;
    const before = options.waitedBeforeMs ?? 0;
    if (elapsed >= options.timeoutMs) {
      throw new SecretStoreError(
        'STORE_UNREACHABLE',
        `the secret store at ${client.address} was not ready after ${Math.round((before + elapsed) / 1000)} s (${last}); start it, or check the address and WaitTimeout`,
      );
    }
    options.log.info('waiting for the secret store', {
      node: client.address,
      attempt,
      elapsedS: Math.round((before + elapsed) / 1000),
      timeoutS: Math.round((before + options.timeoutMs) / 1000),
      last,
    });
    await delay(Math.min(options.intervalMs, Math.max(0, options.timeoutMs - elapsed)), options.signal);
  }
}

/**
 * Polls every node's `sys/health` until one answers 200/429/501/503 (resolves with that node and its answer); one
 * node is exactly {@link waitForStore}. STORE_UNREACHABLE after `timeoutMs`, naming every node and why it was not
 * ready.
 */
export async function waitForAnyStore(clients: readonly VaultClient[], options: WaitOptions): Promise<{ client: VaultClient; health: HealthResponse }> {
  const only = clients[0];
  if (only === undefined) throw new SecretStoreError('CONFIG', 'no secret store address configured');
  if (clients.length === 1) return { client: only, health: await waitForStore(only, options) };
  const started = Date.now();
  const nodes = clients.map((c) => c.address).join(', ');
  let attempt = 0;
  for (;;) {
    attempt++;
    const answers = await Promise.all(
      clients.map(async (client) => {
        try {
          const health = await client.health({ retries: 0 }); // polled anyway: a node that is down costs one refused connection
          return KNOWN_HEALTH.has(health.status) ? { client, health } : { client, last: `HTTP ${health.status}` };
        } catch (err) {
          if (isSecretStoreError(err, 'ABORTED')) throw err;
          if (!isSecretStoreError(err, 'STORE_UNREACHABLE') && !isSecretStoreError(err, 'STORE_TIMEOUT') && !isSecretStoreError(err, 'STORE_ERROR')) throw err;
          return { client, last: err.message };
        }
      }),
    );
    for (const a of answers) {
      if (a.health !== undefined) {
        if (attempt > 1) options.log.info('secret store reachable', { node: a.client.address, status: a.health.status, attempts: attempt });
        return { client: a.client, health: a.health };
      }
    }
    const last = answers.map((a) => a.last ?? '').join('; ');
    const elapsed = Date.now() - started;
    const before = options.waitedBeforeMs ?? 0;
    if (elapsed >= options.timeoutMs) {
      throw new SecretStoreError(
        'STORE_UNREACHABLE',
        `none of the secret store nodes (${nodes}) was ready after ${Math.round((before + elapsed) / 1000)} s (${last}); start them, or check the addresses and WaitTimeout`,
      );
    }
    options.log.info('waiting for the secret store', {
      nodes,
      attempt,
      elapsedS: Math.round((before + elapsed) / 1000),
      timeoutS: Math.round((before + options.timeoutMs) / 1000),
      last,
    });
    await delay(Math.min(options.intervalMs, Math.max(0, options.timeoutMs - elapsed)), options.signal);
  }
}

/** How often one run may go back to waiting after the store went away mid-run. */
export const MAX_STORE_RESUMES = 10;

/** What the flow had established about a node when a call to it failed: it answered, it is initialized, it is unsealed. */
export type StoreExpectation = 'reachable' | 'initialized' | 'unsealed';

/**
 * The waits of one boot-flow run: the first one, and one after each outage of the store mid-run. They share one
 * WaitTimeout budget (`timeoutMs`), so the run never waits longer in all than WaitTimeout.
 */
export class StoreWaiter {
  private readonly options: WaitOptions;
  private waitedMs = 0;
  private resumes = 0;
  /** Errors that say the budget is spent: never a reason to wait again. */
  private readonly spent = new WeakSet<object>();

  constructor(options: WaitOptions) {
    this.options = options;
  }

  /** The pause between two polls. */
  get intervalMs(): number {
    return this.options.intervalMs;
  }

  /** Times the run went back to waiting. */
  get resumed(): number {
    return this.resumes;
  }

  /** Waits for `client` within what is left of the budget. */
  async wait(client: VaultClient): Promise<HealthResponse> {
    const started = Date.now();
    try {
      return await waitForStore(client, { ...this.options, timeoutMs: Math.max(0, this.options.timeoutMs - this.waitedMs), waitedBeforeMs: this.waitedMs });
    } finally {
      this.waitedMs += Date.now() - started;
    }
  }

  /** Waits for any of `clients` within what is left of the budget (one client: {@link wait}). */
  async waitAny(clients: readonly VaultClient[]): Promise<{ client: VaultClient; health: HealthResponse }> {
    const started = Date.now();
    try {
      return await waitForAnyStore(clients, { ...this.options, timeoutMs: Math.max(0, this.options.timeoutMs - this.waitedMs), waitedBeforeMs: this.waitedMs });
    } finally {
      this.waitedMs += Date.now() - started;
    }
  }

  /**
   * Polls `attempt` every interval, within what is left of the budget, until it finds what it looks for (`found`);
   * each miss says why (`last`, for the progress line and the final error). STORE_UNREACHABLE after the budget,
   * with `failure` (the time waited in seconds, the last miss) as its message. Used for what comes after a node
   * answers: an active node of a cluster.
   */
  async poll<T>(
    what: string,
    attempt: () => Promise<{ found: T } | { last: string }>,
    failure: (waitedS: number, last: string) => string,
    everyMs = this.options.intervalMs,
  ): Promise<T> {
    const started = Date.now();
    let n = 0;
    let logged = -Infinity;
    try {
      for (;;) {
        n++;
        const outcome = await attempt();
        if ('found' in outcome) {
          if (n > 1) this.options.log.info(`${what}: found`, { attempts: n });
          return outcome.found;
        }
        const elapsed = Date.now() - started;
        const left = this.options.timeoutMs - this.waitedMs - elapsed;
        if (left <= 0) {
          const err = new SecretStoreError('STORE_UNREACHABLE', failure(Math.round((this.waitedMs + elapsed) / 1000), outcome.last));
          this.spent.add(err);
          throw err;
        }
        // One progress line per store-wait interval at most, however often it looks.
        if (elapsed - logged >= this.options.intervalMs) {
          logged = elapsed;
          this.options.log.info(`waiting for ${what}`, {
            attempt: n,
            elapsedS: Math.round((this.waitedMs + elapsed) / 1000),
            timeoutS: Math.round(this.options.timeoutMs / 1000),
            last: outcome.last,
          });
        }
        await delay(Math.min(everyMs, left), this.options.signal);
      }
    } finally {
      this.waitedMs += Date.now() - started;
    }
  }

  /**
   * Called with the error of a call to `client`, after the flow had established `expected` about it. When the error
   * means the store went away — it does not answer (refused, reset, timed out), or it answers with a state behind
   * what was established (sealed again: it restarted; uninitialized: its data is gone) — logs it, waits for the
   * store again and resolves true: the caller resumes from the store's state. Otherwise (a real failure) resolves
   * false and the caller rethrows `err`.
   *
   * With the nodes of a cluster (`cluster`, two or more): a node the run used as the active one that now answers as a
   * standby lost the active role — that too is a resume; and the run waits for ANY node, not for the one that went
   * away: another node takes over the active role, and the run resumes through it.
   */
  async resumeAfter(err: unknown, client: VaultClient, expected: StoreExpectation, cluster: readonly VaultClient[] = [client]): Promise<boolean> {
    if (!isSecretStoreError(err) || this.spent.has(err)) return false;
    let state: 'unreachable' | 'sealed' | 'uninitialized' | 'standby' | undefined;
    if (err.code === 'STORE_UNREACHABLE' || err.code === 'STORE_TIMEOUT') {
      state = 'unreachable';
    } else if (err.code === 'STORE_ERROR' && expected !== 'reachable') {
      try {
        const health = await client.health();
        if (health.status === 501) state = 'uninitialized';
        else if (health.status === 503 && expected === 'unsealed') state = 'sealed';
        else if (health.standby && expected === 'unsealed' && cluster.length > 1) state = 'standby';
      } catch (probe) {
        if (isSecretStoreError(probe, 'STORE_UNREACHABLE') || isSecretStoreError(probe, 'STORE_TIMEOUT')) state = 'unreachable';
      }
    }
    if (state === undefined) return false;
    if (this.resumes >= MAX_STORE_RESUMES) {
      throw new SecretStoreError(
        'STORE_UNREACHABLE',
        `the secret store at ${client.address} went away ${this.resumes + 1} times during this bootstrap (last: ${err.message}); check why it keeps restarting, then rerun`,
        { cause: err },
      );
    }
    this.resumes++;
    this.options.log.warn('the secret store went away during bootstrap; waiting for it, then resuming from its state', {
      node: client.address,
      state,
      code: err.code,
      error: err.message,
    });
    if (cluster.length > 1) await this.waitAny(cluster);
    else await this.wait(client);
    return true;
  }
}
