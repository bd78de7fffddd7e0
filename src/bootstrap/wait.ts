/**
 * Waiting for the store at boot: it may start after us. Polls `sys/health` every interval with a visible progress
 * line, until it answers with a state the flow knows, or the deadline passes — then a clear failure, never a loop
 * forever.
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
    if (elapsed >= options.timeoutMs) {
      throw new SecretStoreError(
        'STORE_UNREACHABLE',
        `the secret store at ${client.address} was not ready after ${Math.round(elapsed / 1000)} s (${last}); start it, or check the address and WaitTimeout`,
      );
    }
    options.log.info('waiting for the secret store', {
      node: client.address,
      attempt,
      elapsedS: Math.round(elapsed / 1000),
      timeoutS: Math.round(options.timeoutMs / 1000),
      last,
    });
    await delay(Math.min(options.intervalMs, Math.max(0, options.timeoutMs - elapsed)), options.signal);
  }
}
