/**
 * The embedded store, composed: durable storage → seal state machine (SealManager) → on unseal, a bounded cache of
 * decrypted entries over the barrier, and the logical layer (tokens, policies, mounts) over that cache → the HTTP
 * API and its listener. On seal the cache is wiped and the logical layer dropped; on close the listener drains, the
 * store seals (wiping keys) and the storage closes.
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
import type { Storage } from './storage/storage.js';

/** Options of {@link StoreServer.start}. */
export interface StoreServerOptions {
  /** Data folder (created 0700 by the storage when missing). */
  dataDir: string;
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

/** The storage handle the server owns. */
type DurableStorage = Storage & { close(): Promise<void> };

/** A running embedded store. */
export class StoreServer {
  private readonly storage: DurableStorage;
  private readonly seal: SealManager;
  private readonly http: StoreHttpServer;
  private closed: Promise<void> | undefined;

  private constructor(storage: DurableStorage, seal: SealManager, http: StoreHttpServer) {
    this.storage = storage;
    this.seal = seal;
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
    const storage = await openDurableStorage(options.dataDir);
    let seal: SealManager | undefined;
    try {
      seal = await SealManager.open(storage, { version: VERSION, storageType: DURABLE_STORAGE_TYPE });
      let logical: LogicalLayer | undefined;
      let cache: ReadCache | undefined;
      seal.onUnseal(async (barrier) => {
        // Every logical writer goes through this one cache, so its invalidation sees every write.
        cache = new ReadCache(barrier, options.readCache);
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
      let http: StoreHttpServer;
      try {
        http = await StoreHttpServer.listen({
          host: options.host,
          port: options.port,
          api,
          log: log.child({ component: 'http' }),
          tls: options.tls,
          maxBodyBytes: options.maxBodyBytes,
        });
      } catch (err) {
        throw new SecretStoreError(
          'IO',
          `cannot listen on ${options.host}:${options.port} (${describeCause(err)}); pick another --listen address or stop what uses it`,
          { cause: err },
        );
      }
      return new StoreServer(storage, seal, http);
    } catch (err) {
      await seal?.close().catch(() => undefined);
      await storage.close().catch(() => undefined);
      throw err;
    }
  }

  /** Graceful stop: drain HTTP, seal (wipes keys), close the storage. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.http.close();
      if (!this.seal.sealed) await this.seal.seal();
      await this.seal.close();
      await this.storage.close();
    })();
    return this.closed;
  }
}
