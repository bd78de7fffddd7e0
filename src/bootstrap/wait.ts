/**
 * Waiting for the store at boot: it may start after us. Polls `sys/health` every interval with a visible progress
 * line, until it answers with a state the flow knows, or the deadline passes — then a clear failure, never a loop
 * forever.
 *
 * The store may also restart while the flow runs (an update, a crash, a supervisor's restart): {@link StoreWaiter}
 * tells such an outage from a real failure and waits for the store again. All the waits of one run share one
 * WaitTimeout budget, and a run resumes at most {@link MAX_STORE_RESUMES} times, so a flapping store still ends in
 * a clear failure.
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

  constructor(options: WaitOptions) {
    this.options = options;
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

  /**
   * Called with the error of a call to `client`, after the flow had established `expected` about it. When the error
   * means the store went away — it does not answer (refused, reset, timed out), or it answers with a state behind
   * what was established (sealed again: it restarted; uninitialized: its data is gone) — logs it, waits for the
   * store again and resolves true: the caller resumes from the store's state. Otherwise (a real failure) resolves
   * false and the caller rethrows `err`.
   */
  async resumeAfter(err: unknown, client: VaultClient, expected: StoreExpectation): Promise<boolean> {
    if (!isSecretStoreError(err)) return false;
    let state: 'unreachable' | 'sealed' | 'uninitialized' | undefined;
    if (err.code === 'STORE_UNREACHABLE' || err.code === 'STORE_TIMEOUT') {
      state = 'unreachable';
    } else if (err.code === 'STORE_ERROR' && expected !== 'reachable') {
      try {
        const health = await client.health();
        if (health.status === 501) state = 'uninitialized';
        else if (health.status === 503 && expected === 'unsealed') state = 'sealed';
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
    await this.wait(client);
    return true;
  }
}
