/**
 * The KV secrets engine at `secret/` (EdgeX mounts KV v1 there; v2 configurable). Idempotent: an existing mount
 * of the right type and version is left alone; one of another kind is reported, never replaced (replacing would
 * destroy its data).
 */
import { isSecretStoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';

/** The mount point EdgeX uses. */
export const KV_MOUNT = 'secret';

/** Result of {@link ensureKvMount}. */
export type KvMountOutcome = 'mounted' | 'present' | 'conflict';

/** Makes sure KV `version` is mounted at `secret/`. */
export async function ensureKvMount(client: VaultClient, token: string, version: 1 | 2, log: Logger): Promise<KvMountOutcome> {
  const mounts = await client.listMounts(token);
  const existing = mounts.get(`${KV_MOUNT}/`);
  if (existing !== undefined) {
    const existingVersion = existing.version === undefined || existing.version === '' ? '1' : existing.version;
    if ((existing.type === 'kv' || existing.type === 'kv-v2') && (existing.type === 'kv-v2' ? '2' : existingVersion) === String(version)) {
      log.info('kv secrets engine ready', { mount: `${KV_MOUNT}/`, version, action: 'present' });
      return 'present';
    }
    log.warn('secret/ is mounted with another engine; left unchanged', { mount: `${KV_MOUNT}/`, type: existing.type, version: existingVersion });
    return 'conflict';
  }
  try {
    await client.enableMount(token, KV_MOUNT, 'kv', { version: String(version) }, 'EdgeX secrets (secretstore-setup)');
  } catch (err) {
    // Another writer mounted it between our read and write: fine if it is now there.
    if (!isSecretStoreError(err, 'STORE_ERROR') || !(await client.listMounts(token)).has(`${KV_MOUNT}/`)) throw err;
  }
  log.info('kv secrets engine ready', { mount: `${KV_MOUNT}/`, version, action: 'mounted' });
  return 'mounted';
}
