/**
 * EdgeX 4's `--longRun`: after the boot flow, serve the token re-issue endpoint (`PUT /api/v3/token/entityId/:id`).
 * Each request does what EdgeX's does — a temporary root token from the shares, EdgeX's admin token, the service's
 * token re-created through its token role (`createToken -entityId`), both tokens revoked — but with the shares the
 * boot flow decrypted once, kept in memory for the life of the process: EdgeX re-reads resp-init.json without
 * decrypting, so with EDGEX_IKM_HOOK its re-issue cannot work, and a hook may release the IKM only a few times per
 * boot anyway. The shares are wiped when the service stops.
 */
import { wipe } from '../crypto.js';
import type { Logger } from '../log.js';
import type { SecretStoreConfig } from '../config/config.js';
import type { VaultClient } from '../vault/client.js';
import { edgexAdminToken } from '../edgex/admin-token.js';
import { reissueServiceToken } from '../edgex/reissue/create-token.js';
import { startReissueServer, type ReissueServer } from '../edgex/reissue/reissue-server.js';
import { issueAdminToken } from '../edgex/token-issuer.js';
import type { TokenProviderSettings } from '../edgex/token-provider/provider-settings.js';
import { generateRootToken } from './root-token.js';
import { currentNode } from './cluster.js';
import { keyFileLocation, withLockWaiting } from './flow.js';

/** What {@link startLongRun} needs. */
export interface LongRunOptions {
  config: SecretStoreConfig;
  /** The configured nodes (one, or a cluster's). */
  clients: readonly VaultClient[];
  /** The node the boot found active: used alone for one node, and when no node of a cluster answers unsealed. */
  client: VaultClient;
  /** The decrypted shares (owned from now on: wiped by `close()`). */
  shares: Buffer[];
  provider: TokenProviderSettings;
  log: Logger;
  /** Listen address; default EdgeX's `Service.Host:Port`. */
  host?: string;
  port?: number;
}

/** The running re-issue service. */
export interface LongRun {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the re-issue service. */
export async function startLongRun(options: LongRunOptions): Promise<LongRun> {
  const { config, clients, shares, provider, log } = options;
  const warned = new Set<string>();
  // Root generation assumes the key-file lock: a bootstrap or watch running meanwhile must not cancel it (or be
  // cancelled by it). Re-issues already run one at a time (the server queues them).
  const reissue = (entityId: string): Promise<void> =>
    withLockWaiting(keyFileLocation(config), 30_000, log, undefined, () => reissueLocked(entityId));
  const reissueLocked = async (entityId: string): Promise<void> => {
    // A cluster may have failed over since the boot: each re-issue goes to the node that is active now.
    const client = await currentNode(clients, options.client, log, warned);
    const root = await generateRootToken(client, shares, log);
    const rootToken = root.toString('utf8');
    try {
      const admin = await issueAdminToken(client, rootToken, config.tokenProviderAdminTokenPath, log, edgexAdminToken(config.edgex.version));
      try {
        await reissueServiceToken(
          client,
          admin.token,
          entityId,
          { outputDir: provider.outputDir, outputFilename: provider.outputFilename, tokenTtl: provider.defaultTokenTtl },
          log,
        );
      } finally {
        await client.revokeSelf(admin.token).catch(() => undefined);
      }
    } finally {
      await client.revokeSelf(rootToken).catch(() => undefined);
      wipe(root);
    }
  };
  let server: ReissueServer;
  try {
    server = await startReissueServer({
      host: options.host ?? config.edgex.service.host,
      port: options.port ?? config.edgex.service.port,
      log: log.child({ component: 'reissue' }),
      reissue,
    });
  } catch (err) {
    wipe(...shares);
    throw err;
  }
  log.info('token re-issue service listening', { url: server.url });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      wipe(...shares);
    },
  };
}
