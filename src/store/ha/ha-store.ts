/**
 * The embedded store composed over shared storage with HA (server.ts composes the folder backend itself): shared
 * storage → seal state machine (cluster-aware) → HA node (standby/active; the logical layer exists only while
 * active) → the HTTP API, with request forwarding from a standby to the active node.
 */
import { SecretStoreError, describeCause } from '../../errors.js';
import type { Logger } from '../../log.js';
import { VERSION } from '../../version.js';
import { StoreApi } from '../http/api.js';
import type { ForwardingHooks } from '../http/http-server.js';
import { LogicalLayer } from '../http/logical-layer.js';
import type { ReadCacheLimits } from '../read-cache.js';
import { INIT_ABANDONED_MESSAGE } from '../seal/init-attempt.js';
import { SealManager } from '../seal/seal-manager.js';
import type { SharedStorage } from '../storage/shared-storage.js';
import { HaNode, type HaNodeOptions } from './ha-node.js';
import { Forwarder, type ForwarderOptions } from './forwarder.js';
import { leaderStatus } from './leader-info.js';

/** How a store node joins a cluster over shared storage. */
export interface SharedStoreOptions {
  /** The opened shared storage; the store closes it. */
  storage: SharedStorage;
  /** Reported as `storage_type` (default `etcd`). */
  storageType?: string | undefined;
  /**
   * The URL other nodes forward to (Vault's `api_addr`). Default: the listener's own URL, when the listen host is a
   * specific address (a wildcard such as 0.0.0.0 names no address another node could use).
   */
  apiAddr?: string | undefined;
  forwarding?: ForwarderOptions | undefined;
  node?: HaNodeOptions | undefined;
}

/** What the server needs from a composed store (folder or shared). */
export interface ComposedStore {
  seal: SealManager;
  api: StoreApi;
  forwarding?: ForwardingHooks | undefined;
  /** Called once the listener is bound, with its URL. */
  listening(url: string): void;
  /** Seals (wiping keys), stops the HA node, closes the storage. */
  close(): Promise<void>;
}

/** The hosts a listener can be bound to that name no address other nodes could reach it at. */
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]', '']);

/** Composes an HA store node over `options.storage` (sealed; standby once unsealed). */
export async function openHaStore(
  options: SharedStoreOptions,
  common: { host: string; readCache?: ReadCacheLimits | undefined; log: Logger },
): Promise<ComposedStore> {
  const { storage } = options;
  const log = common.log;
  if (options.apiAddr === undefined && WILDCARD_HOSTS.has(common.host)) {
    throw new SecretStoreError('USAGE', `the listen address ${common.host} names no address other nodes can forward to; give --api-addr URL`);
  }
  const node = new HaNode(storage, log.child({ component: 'ha' }), { readCache: common.readCache, ...options.node });
  let seal: SealManager | undefined;
  try {
    seal = await SealManager.open(storage, { version: VERSION, storageType: options.storageType ?? 'etcd', cluster: node.coordination() });
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
  node.attach(seal);
  seal.onUnseal(() => {
    log.info('unsealed');
    return Promise.resolve();
  });
  seal.onSeal(() => {
    log.info('sealed');
  });
  seal.onInitAbandoned(() => {
    log.info(INIT_ABANDONED_MESSAGE);
  });
  const api = new StoreApi({
    seal,
    logical: () => node.logical(),
    // At init the barrier is open only for this callback: set up policies and mounts, then the root token.
    createRootToken: async (barrier) => (await LogicalLayer.open(barrier)).tokens.createRoot(),
    onInternalError: (err) => {
      log.error('internal error', { cause: err instanceof SecretStoreError ? err.message : describeCause(err) });
    },
    ha: {
      refreshSeal: () => seal.refresh(),
      leader: () => leaderStatus(node),
      isStandby: () => node.role === 'standby',
      stepDown: () => node.stepDownNow(),
    },
  });
  const forwarder = new Forwarder(node, log.child({ component: 'forward' }), options.forwarding);
  const sealManager = seal;
  let closed: Promise<void> | undefined;
  return {
    seal,
    api,
    forwarding: forwarder,
    listening: (url) => {
      node.setApiAddr(options.apiAddr ?? url);
    },
    close: () => {
      closed ??= (async () => {
        if (!sealManager.sealed) await sealManager.seal();
        await sealManager.close();
        await node.close();
        forwarder.close();
        await storage.close();
      })();
      return closed;
    },
  };
}
