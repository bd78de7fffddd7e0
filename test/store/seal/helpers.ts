/** Shared fixtures for the seal tests: a store over MemoryStorage and a root-token minter writing through the barrier. */
import assert from 'node:assert/strict';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { randomBase62 } from '../../../src/store/seal/generate-root.js';
import { MemoryStorage, type Storage } from '../../../src/store/storage/storage.js';
import { StoreApiError } from '../../../src/store/api-error.js';

/** Options every test store uses. */
export const OPTIONS = { version: '1.15.0-test', storageType: 'inmem' };

/** A fresh root token id (`hvs.` + 24 base62), stored through `barrier` so the test can check it was encrypted. */
export async function mintToken(barrier: Storage): Promise<string> {
  const token = `hvs.${randomBase62(24)}`;
  await barrier.put(`auth/token/id/${token.slice(4)}`, Buffer.from(JSON.stringify({ policies: ['root'] })));
  return token;
}

/** An initialized (sealed) store with its shares as hex strings. */
export async function initializedStore(shares: number, threshold: number, physical: Storage = new MemoryStorage()) {
  const manager = await SealManager.open(physical, OPTIONS);
  const result = await manager.init({ secret_shares: shares, secret_threshold: threshold }, mintToken);
  return { manager, physical, keys: result.keys.map((k) => k.toString('hex')), rootToken: result.rootToken };
}

/** Unseals with the first `threshold` keys and asserts success. */
export async function unsealWith(manager: SealManager, keys: string[]): Promise<Record<string, unknown>> {
  let status: Record<string, unknown> = {};
  for (const key of keys) status = await manager.unseal({ key });
  assert.equal(status.sealed, false);
  return status;
}

/** Asserts `p` rejects with a StoreApiError of `status` whose errors are exactly `errors`. */
export async function rejectsApi(p: Promise<unknown>, status: number, errors: string[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => checkApiError(err, status, errors));
}

/** Asserts `fn` throws a StoreApiError of `status` whose errors are exactly `errors`. */
export function throwsApi(fn: () => unknown, status: number, errors: string[]): void {
  assert.throws(fn, (err: unknown) => checkApiError(err, status, errors));
}

function checkApiError(err: unknown, status: number, errors: string[]): boolean {
  assert.ok(err instanceof StoreApiError, `expected StoreApiError, got ${String(err)}`);
  assert.equal(err.status, status);
  assert.deepEqual(err.errors, errors);
  return true;
}
