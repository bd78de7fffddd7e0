/**
 * Starting over an embedded store whose init answer was lost. `sys/init` hands the shares out once; if the process
 * dies between that answer and the key file's fsync (the first-boot window), nobody will ever unseal that store.
 * Against Vault or OpenBao only an operator can decide what to do (their data folder may hold anything). The
 * embedded store (`secretstore-setup serve`) can do better when it can PROVE that nothing but that init happened:
 *
 * - the boot flow draws a random 32-byte attempt id before init, writes it into its init marker (0600, beside the
 *   key file), and sends its SHA-256 with `sys/init`;
 * - the store records that hash with its seal configuration and deletes it at the first successful unseal;
 * - the next boot, finding the store initialized, no key file and the marker, reads the recorded hash from
 *   `sys/seal-status`: equal to the marker's attempt hashed, it proves (1) this store's init is the one our
 *   interrupted run sent — nobody else knows the id — and (2) the store was never unsealed since, so the barrier
 *   never opened and the store holds nothing beyond what init wrote (seal configuration, keyring, root key, the
 *   init's own root token and cluster name): no data;
 * - the flow then asks the store to erase its storage (the store owns its data folder, holds its lock, and checks
 *   the same conditions again atomically), logs one line, and initializes it afresh.
 *
 * STORE-SIDE CONTRACT (src/store is not the boot flow's code; until the store implements this, recordsInitAttempts()
 * is false and every boot behaves as against Vault):
 *
 * 1. `PUT /v1/sys/init` accepts an optional field `init_attempt_sha256`: 64 lowercase hex digits (anything else:
 *    400 `{"errors":["init_attempt_sha256 must be 64 lowercase hex digits"]}`). The store writes it to a plaintext
 *    storage entry (e.g. `core/init-attempt` = `{"sha256":"<hex>"}`) before `core/seal-config` (init's commit point),
 *    so it exists exactly when the init committed. Vault and OpenBao ignore unknown init fields, but the flow sends
 *    it only to a store advertising support (2).
 * 2. `GET /v1/sys/seal-status` adds `"init_attempt_supported": true` (always, in every state), and
 *    `"init_attempt_sha256": "<hex>"` while that entry exists.
 * 3. The first successful unseal deletes the entry durably BEFORE its answer is sent and before any logical write
 *    (so "entry present" ⇒ "never unsealed since init" ⇒ "no data"). Rekey and generate-root need an unsealed store,
 *    so nothing else can change the store meanwhile.
 * 4. `PUT /v1/sys/init/abandon` with body `{"init_attempt":"<64 lowercase hex: the attempt id itself>"}`,
 *    unauthenticated (like `sys/init`), allowed while sealed; under the seal state machine's mutex:
 *    - not initialized → 400 `{"errors":["the store is not initialized"]}`;
 *    - no recorded attempt (unsealed since init, or initialized without one) → 409
 *      `{"errors":["the store has been unsealed since its initialization (or has no recorded init attempt); it is not started over"]}`;
 *    - SHA-256(init_attempt) ≠ the recorded hash (constant-time compare) → 403 `{"errors":["init attempt mismatch"]}`;
 *    - else: write `core/init-in-progress` (so a crash mid-way leaves a store the next init clears), delete
 *      `core/seal-config` (the commit point of the reset), delete every other entry, sync; drop any in-memory
 *      state; log one line ("store reset: an initialization whose shares were lost was abandoned"); answer 200
 *      `{"initialized":false}`. The store then answers 501 and accepts a new `sys/init`.
 *
 * The boot flow reaches the store only through {@link StoreInitControl}, so tests use a double until the store
 * implements the contract.
 */
import { sha256 } from '../crypto.js';
import type { VaultClient } from '../vault/client.js';
import { asObject, parseErrors, parseInitResponse, type InitResponse } from '../vault/types.js';

/** Length of an init attempt id in bytes. */
export const INIT_ATTEMPT_BYTES = 32;

/** The boot flow's view of a store's init and of the abandoned-init contract (see the module comment). */
export interface StoreInitControl {
  /** True when the store records init attempts (the contract above); false for Vault/OpenBao. */
  recordsInitAttempts(): Promise<boolean>;
  /** `PUT sys/init`, carrying SHA-256(`attempt`) when given. Never retried after it may have been sent. */
  init(shares: number, threshold: number, attempt: Buffer | undefined): Promise<InitResponse>;
  /** The recorded attempt hash (64 hex) while the store is initialized and was never unsealed since; else undefined. */
  recordedInitAttempt(): Promise<string | undefined>;
  /** Asks the store to start over: undefined when it did, else its reason for refusing. */
  abandonInit(attempt: Buffer): Promise<string | undefined>;
}

/** SHA-256 of an attempt id, as the store records it. */
export function attemptHash(attempt: Buffer): string {
  return sha256(attempt).toString('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The contract over HTTP, through `client`. */
export function httpInitControl(client: VaultClient): StoreInitControl {
  const sealStatus = async (): Promise<Record<string, unknown>> => {
    const res = await client.call('GET', 'sys/seal-status', {}, [200]);
    return asObject(res.body, 'sys/seal-status');
  };
  return {
    recordsInitAttempts: async () => (await sealStatus()).init_attempt_supported === true,
    init: async (shares, threshold, attempt) => {
      if (attempt === undefined) return client.init(shares, threshold);
      const res = await client.call(
        'PUT',
        'sys/init',
        { body: { secret_shares: shares, secret_threshold: threshold, init_attempt_sha256: attemptHash(attempt) }, idempotent: false },
        [200],
      );
      return parseInitResponse(res.body, shares);
    },
    recordedInitAttempt: async () => {
      const v = (await sealStatus()).init_attempt_sha256;
      return typeof v === 'string' && HEX64.test(v) ? v : undefined;
    },
    abandonInit: async (attempt) => {
      const body = Buffer.from(JSON.stringify({ init_attempt: attempt.toString('hex') }));
      try {
        // Not idempotent: a second request after a lost answer would be refused (not initialized) although it worked.
        const res = await client.request('PUT', 'sys/init/abandon', { body, idempotent: false });
        if (res.status === 200) return undefined;
        const errors = parseErrors(res.body);
        return errors.length > 0 ? `HTTP ${res.status}: ${errors.join('; ')}` : `HTTP ${res.status}`;
      } finally {
        body.fill(0);
      }
    },
  };
}
