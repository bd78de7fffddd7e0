/**
 * The embedded store, composed: durable storage → seal state machine (SealManager) → on unseal, a bounded cache of
 * decrypted entries over the barrier, and the logical layer (tokens, policies, mounts) over that cache → the HTTP
 * API and its listener. On seal the cache is wiped and the logical layer dropped; on close the listener drains, the
 * store seals (wiping keys) and the storage closes. Over shared storage (etcd) the node is composed with HA instead
 * (src/store/ha/ha-store.ts): the logical layer exists only while it is the active node.
 */
import { SecretStoreError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { StoreApi } from './http/api.js';
import { StoreHttpServer, type TlsMaterial } from './http/http-server.js';
import { LogicalLayer } from './http/logical-layer.js';
import { ReadCache, type ReadCacheLimits } from './read-cache.js';
import { SealManager } from './seal/seal-manager.js';
import { INIT_ABANDONED_MESSAGE } from './seal/init-attempt.js';
import { DURABLE_STORAGE_TYPE, openDurableStorage } from './storage/durable.js';
import { openHaStore, type ComposedStore, type SharedStoreOptions } from './ha/ha-store.js';

/** Options of {@link StoreServer.start}. */
export interface StoreServerOptions {
  /** Data folder (created 0700 by the storage when missing); the default backend. */
  dataDir?: string | undefined;
  /** Shared storage (etcd) with HA instead of a data folder. */
  shared?: SharedStoreOptions | undefined;
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls?: TlsMaterial | undefined;
  /** Largest request body (default 32 MiB, as Vault). */
  maxBodyBytes?: number;
  /** Bounds of the decrypted-entry cache (defaults: 4096 entries, 16 MiB); `{ maxEntries: 0 }` turns it off. */
  readCache?: ReadCacheLimits;
  log: Logger;
}

/** A running embedded store. */
export class StoreServer {
  private readonly store: ComposedStore;
  private readonly seal: SealManager;
  private readonly http: StoreHttpServer;
  private closed: Promise<void> | undefined;

  private constructor(store: ComposedStore, http: StoreHttpServer) {
    this.store = store;
    this.seal = store.seal;
    this.http = http;
  }

  /** `http://HOST:PORT` (or https) with the real port. */
  get url(): string {
    return this.http.url;
  }
  /** The bound port. */
  get port(): number {
    return this.http.port;
  }
  /** Whether the store is sealed right now. */
  get sealed(): boolean {
    return this.seal.sealed;
  }
  /** Whether the store has been initialized. */
  get initialized(): boolean {
    return this.seal.initialized;
  }

  /** Opens the storage (sealed) and starts listening. */
  static async start(options: StoreServerOptions): Promise<StoreServer> {
    const log = options.log.child({ component: 'store' });
    const store =
      options.shared === undefined
        ? await openFolderStore(requireDataDir(options.dataDir), options.readCache, log)
        : await openHaStore(options.shared, { host: options.host, readCache: options.readCache, log });
    try {
      let http: StoreHttpServer;
      try {
        http = await StoreHttpServer.listen({
          host: options.host,
          port: options.port,
          api: store.api,
          log: log.child({ component: 'http' }),
          tls: options.tls,
          maxBodyBytes: options.maxBodyBytes,
          forwarding: store.forwarding,
        });
      } catch (err) {
        throw new SecretStoreError(
          'IO',
          `cannot listen on ${options.host}:${options.port} (${describeCause(err)}); pick another --listen address or stop what uses it`,
          { cause: err },
        );
      }
      store.listening(http.url);
      return new StoreServer(store, http);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** Graceful stop: drain HTTP, seal (wipes keys), close the storage. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.http.close();
      await this.store.close();
    })();
    return this.closed;
  }
}

function requireDataDir(dataDir: string | undefined): string {
  if (dataDir === undefined || dataDir === '') throw new SecretStoreError('USAGE', 'a data folder is required for the file storage');
  return dataDir;
}

/** The single-node store over a data folder: the logical layer is built on every unseal, dropped on seal. */
async function openFolderStore(dataDir: string, readCache: ReadCacheLimits | undefined, log: Logger): Promise<ComposedStore> {
  const storage = await openDurableStorage(dataDir);
  let seal: SealManager;
  try {
    seal = await SealManager.open(storage, { version: VERSION, storageType: DURABLE_STORAGE_TYPE });
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
  let logical: LogicalLayer | undefined;
  let cache: ReadCache | undefined;
  seal.onUnseal(async (barrier) => {
    // Every logical writer goes through this one cache, so its invalidation sees every write.
    cache = new ReadCache(barrier, readCache);
    logical = await LogicalLayer.open(cache);
    log.info('unsealed');
  });
  seal.onInitAbandoned(() => {
    log.info(INIT_ABANDONED_MESSAGE);
  });
  seal.onSeal(() => {
    cache?.wipe();
    cache = undefined;
    logical?.tokens.forgetSecrets();
    logical?.forgetCaches();
    logical = undefined;
    log.info('sealed');
  });
  const api = new StoreApi({
    seal,
    logical: () => logical,
    // At init the barrier is open only for this callback: set up policies and mounts, then the root token.
    createRootToken: async (barrier) => (await LogicalLayer.open(barrier)).tokens.createRoot(),
    onInternalError: (err) => {
      // A SecretStoreError's message is secret-free by rule and says what failed (e.g. the disk is full); of
      // anything else only its class is logged (its message could carry data we cannot vet).
      log.error('internal error', { cause: err instanceof SecretStoreError ? err.message : describeCause(err) });
    },
  });
  let closed: Promise<void> | undefined;
  return {
    seal,
    api,
    listening: () => undefined,
    close: () => {
      closed ??= (async () => {
        if (!seal.sealed) await seal.seal();
        await seal.close();
        await storage.close();
      })();
      return closed;
    },
  };
}
