/**
 * `PUT sys/init`: request parsing and validation with Vault's messages, and the key ceremony itself — unseal key U
 * (32 random bytes, split into shares unless there is one share), root key R, keyring under R, R stored under U,
 * seal configuration written LAST as the commit point (a crash before it leaves the store uninitialized and a
 * later init starts over from an empty namespace).
 */
import { AES_KEY_LENGTH, randomBytes, wipe } from '../../crypto.js';
import { StoreApiError, badRequest } from '../api-error.js';
import type { Barrier } from '../barrier.js';
import { split } from '../shamir.js';
import type { Storage } from '../storage/storage.js';
import { intField, stringArrayField, stringField } from './request-fields.js';
import { newSealConfig, sealConfigProblem, writeSealConfig, type SealConfig } from './seal-config.js';
import { writeStoredKeys } from './stored-keys.js';
import { parseInitAttemptField, writeInitAttempt } from './init-attempt.js';

/** A validated init request. */
export interface InitParams {
  shares: number;
  threshold: number;
  /** SHA-256 (64 lowercase hex) of the boot flow's attempt id, recorded at `core/init-attempt` (see init-attempt.ts). */
  attemptSha256?: string | undefined;
}

/** Parses and validates `sys/init`'s body; throws 400 with Vault's messages. */
export function parseInitRequest(req: Record<string, unknown>): InitParams {
  const shares = intField(req, 'InitRequest', 'secret_shares');
  const threshold = intField(req, 'InitRequest', 'secret_threshold');
  const pgpKeys = stringArrayField(req, 'InitRequest', 'pgp_keys');
  const rootTokenPgpKey = stringField(req, 'InitRequest', 'root_token_pgp_key');
  intField(req, 'InitRequest', 'stored_shares');
  const problem = sealConfigProblem(shares, threshold, pgpKeys.length);
  if (problem !== undefined) throw badRequest(`invalid seal configuration: ${problem}`);
  if (pgpKeys.length > 0) throw badRequest('pgp_keys are not supported by this server; omit them to receive the shares in clear');
  if (rootTokenPgpKey !== '') throw badRequest('root_token_pgp_key is not supported by this server; omit it');
  const attemptSha256 = parseInitAttemptField(req);
  return { shares, threshold, attemptSha256 };
}

/** Deletes every entry under `prefix` (leftovers of an init that crashed before its commit point). */
export async function deleteAll(physical: Storage, prefix = ''): Promise<void> {
  for (const child of await physical.list(prefix)) {
    if (child.endsWith('/')) await deleteAll(physical, prefix + child);
    else await physical.delete(prefix + child);
  }
}

/**
 * Written (plaintext, no secret) before anything else of an init, and removed after its commit point. Storage that
 * holds entries but neither a seal configuration nor this marker is not an interrupted init: it is someone's data
 * whose seal configuration was lost (a partial restore, a deleted file), and init must not wipe it.
 */
export const INIT_MARKER_PATH = 'core/init-in-progress';

/** Clears the leftovers of an interrupted init, or refuses when the storage holds data that no init of ours wrote. */
async function clearForInit(physical: Storage): Promise<void> {
  if ((await physical.list('')).length === 0) return;
  if ((await physical.get(INIT_MARKER_PATH)) === undefined) {
    throw new StoreApiError(
      500,
      'storage holds data but no seal configuration; refusing to initialize over it: restore core/seal-config from a ' +
        'backup, or move the data folder aside to start a new store',
    );
  }
  await deleteAll(physical);
}

/** Output of {@link initializeStore}. */
export interface InitOutcome {
  /** Shares of U (or U itself when there is one share); the caller hands them out and wipes them. */
  keys: Buffer[];
  config: SealConfig;
}

/**
 * Runs the key ceremony over `physical` through `barrier`; `whileUnsealed` runs with the barrier unsealed (cluster
 * info, root token). Leaves the barrier SEALED and every key wiped except the returned shares.
 */
export async function initializeStore(
  physical: Storage,
  barrier: Barrier,
  params: InitParams,
  whileUnsealed: (barrier: Storage) => Promise<void>,
): Promise<InitOutcome> {
  await clearForInit(physical);
  await physical.put(INIT_MARKER_PATH, Buffer.from('{}\n'));
  // Before the commit point, so the recorded attempt exists exactly when this init committed.
  if (params.attemptSha256 !== undefined) await writeInitAttempt(physical, params.attemptSha256);
  const unsealKey = randomBytes(AES_KEY_LENGTH);
  const rootKey = randomBytes(AES_KEY_LENGTH);
  let keys: Buffer[] = [];
  try {
    keys = params.shares === 1 ? [Buffer.from(unsealKey)] : split(unsealKey, params.shares, params.threshold);
    await barrier.initialize(rootKey);
    await writeStoredKeys(physical, unsealKey, rootKey);
    await whileUnsealed(barrier);
    const config = newSealConfig(params.shares, params.threshold);
    await writeSealConfig(physical, config);
    // Past the commit point: a crash before this delete leaves a stale marker that nothing reads once initialized.
    await physical.delete(INIT_MARKER_PATH);
    return { keys, config };
  } catch (err) {
    wipe(...keys);
    throw err;
  } finally {
    barrier.seal();
    wipe(unsealKey, rootKey);
  }
}
