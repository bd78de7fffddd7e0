/**
 * The abandoned-init contract's store side (see src/bootstrap/init-control.ts): `sys/init` may carry the SHA-256 of
 * the boot flow's attempt id, recorded in the plaintext entry `core/init-attempt` before the seal configuration (so
 * it exists exactly when that init committed) and deleted by the first successful unseal. While it exists the
 * store provably holds nothing but what init wrote, and `sys/init/abandon` with the id itself erases the storage.
 */
import { constantTimeEqual, sha256 } from '../../crypto.js';
import { SecretStoreError } from '../../errors.js';
import { badRequest } from '../api-error.js';
import type { Storage } from '../storage/storage.js';
import { INIT_MARKER_PATH } from './init.js';
import { field } from './request-fields.js';
import { SEAL_CONFIG_PATH } from './seal-config.js';

/** Physical (plaintext) path of the recorded attempt hash: `{"sha256":"<64 hex>"}`. */
export const INIT_ATTEMPT_PATH = 'core/init-attempt';

/** The line logged when a store is reset (no secret in it). */
export const INIT_ABANDONED_MESSAGE = 'store reset: an initialization whose shares were lost was abandoned';

/** The 409 message when there is no recorded attempt. */
export const NO_RECORDED_ATTEMPT =
  'the store has been unsealed since its initialization (or has no recorded init attempt); it is not started over';

const HEX64 = /^[0-9a-f]{64}$/;

/** `sys/init`'s optional `init_attempt_sha256` (absent or null → undefined); anything but 64 lowercase hex → 400. */
export function parseInitAttemptField(req: Record<string, unknown>): string | undefined {
  const v = field(req, 'init_attempt_sha256');
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !HEX64.test(v)) throw badRequest('init_attempt_sha256 must be 64 lowercase hex digits');
  return v;
}

/** `sys/init/abandon`'s `init_attempt` (the id itself) as bytes; anything but 64 lowercase hex → 400. */
export function parseAbandonAttempt(req: Record<string, unknown>): Buffer {
  const v = field(req, 'init_attempt');
  if (typeof v !== 'string' || !HEX64.test(v)) throw badRequest('init_attempt must be 64 lowercase hex digits');
  return Buffer.from(v, 'hex');
}

/** Writes `core/init-attempt` (durable when the physical backend resolves). */
export async function writeInitAttempt(physical: Storage, sha256Hex: string): Promise<void> {
  await physical.put(INIT_ATTEMPT_PATH, Buffer.from(JSON.stringify({ sha256: sha256Hex }), 'utf8'));
}

/** Reads `core/init-attempt`: the recorded hash, or undefined when absent. Malformed → STORE_CORRUPT. */
export async function readInitAttempt(physical: Storage): Promise<string | undefined> {
  const raw = await physical.get(INIT_ATTEMPT_PATH);
  if (raw === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    doc = undefined;
  }
  const hex = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).sha256 : undefined;
  if (typeof hex !== 'string' || !HEX64.test(hex)) {
    throw new SecretStoreError('STORE_CORRUPT', `${INIT_ATTEMPT_PATH} in the data folder is malformed; restore the data folder from a backup`);
  }
  return hex;
}

/** Deletes `core/init-attempt` (durable when the physical backend resolves). */
export async function deleteInitAttempt(physical: Storage): Promise<void> {
  await physical.delete(INIT_ATTEMPT_PATH);
}

/** Whether SHA-256(`attempt`) equals the recorded hex hash, compared in constant time. */
export function attemptMatches(attempt: Buffer, recordedHex: string): boolean {
  const digest = sha256(attempt);
  try {
    return constantTimeEqual(digest, Buffer.from(recordedHex, 'hex'));
  } finally {
    digest.fill(0);
  }
}

/**
 * Erases the whole storage, crash-safely: the init marker first (a store with it and without a seal configuration is
 * cleared at the next open, or by the next init), then the seal configuration (the reset's commit point), then every
 * other entry, the marker last. Every put/delete of the physical backend is durable when it resolves.
 */
export async function eraseStore(physical: Storage): Promise<void> {
  await physical.put(INIT_MARKER_PATH, Buffer.from('{}\n'));
  await physical.delete(SEAL_CONFIG_PATH);
  await deleteAllBut(physical, INIT_MARKER_PATH);
  await physical.delete(INIT_MARKER_PATH);
}

/** Finishes an interrupted init or reset at open: no seal configuration but the marker → erase what is left. */
export async function finishInterruptedReset(physical: Storage): Promise<void> {
  if ((await physical.get(INIT_MARKER_PATH)) === undefined) return;
  await deleteAllBut(physical, INIT_MARKER_PATH);
  await physical.delete(INIT_MARKER_PATH);
}

async function deleteAllBut(physical: Storage, keep: string, prefix = ''): Promise<void> {
  for (const child of await physical.list(prefix)) {
    const key = prefix + child;
    if (child.endsWith('/')) await deleteAllBut(physical, keep, key);
    else if (key !== keep) await physical.delete(key);
  }
}
