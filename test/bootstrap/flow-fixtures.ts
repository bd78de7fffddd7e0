/**
 * Shared fixtures of the fake-store flow tests (restart, crash recovery, start-over): a FakeVault, a temp key folder,
 * a config, a fixed IKM, captured log lines, and a test double of the embedded store's init-attempt contract
 * (src/bootstrap/init-control.ts) over the fake's state.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FakeVault } from '../helpers/fake-vault.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { Logger } from '../../src/log.js';
import { resolveConfig, type SecretStoreConfig } from '../../src/config/config.js';
import { runBootstrap, type BootstrapOptions, type BootstrapResult } from '../../src/bootstrap/flow.js';
import type { IkmSource } from '../../src/vmk/ikm-hook.js';
import { VaultClient } from '../../src/vault/client.js';
import type { InitResponse } from '../../src/vault/types.js';
import { attemptHash, type StoreInitControl } from '../../src/bootstrap/init-control.js';

/** An IKM source returning a fixed IKM, counting its calls. */
export class FixedIkm implements IkmSource {
  readonly description = 'test IKM';
  calls = 0;
  private readonly ikm: Buffer;
  constructor(ikm: Buffer) {
    this.ikm = ikm;
  }
  getIkm(): Promise<Buffer> {
    this.calls++;
    return Promise.resolve(Buffer.from(this.ikm));
  }
}

/**
 * The embedded store's init-attempt contract, played over a FakeVault: init records SHA-256(attempt) before the
 * store answers (as the store would write it before its commit point), the record lasts until the store is first
 * unsealed, and abandonInit erases the fake's state when the contract's conditions hold.
 */
export class FakeInitControl implements StoreInitControl {
  supported = true;
  recorded: string | undefined;
  /** Set when the store has been unsealed since its init (the test says so, or the fake is seen unsealed). */
  everUnsealed = false;
  resets = 0;
  readonly inits: (string | undefined)[] = [];
  private readonly fake: FakeVault;
  private readonly client: VaultClient;

  constructor(fake: FakeVault) {
    this.fake = fake;
    this.client = new VaultClient({ address: fake.url });
  }

  recordsInitAttempts(): Promise<boolean> {
    return Promise.resolve(this.supported);
  }

  async init(shares: number, threshold: number, attempt: Buffer | undefined): Promise<InitResponse> {
    const hash = attempt === undefined ? undefined : attemptHash(attempt);
    this.inits.push(hash);
    if (!this.fake.initialized) {
      this.recorded = hash;
      this.everUnsealed = false;
    }
    return this.client.init(shares, threshold);
  }

  private observe(): void {
    if (this.fake.initialized && !this.fake.sealed) this.everUnsealed = true;
  }

  recordedInitAttempt(): Promise<string | undefined> {
    this.observe();
    return Promise.resolve(this.fake.initialized && !this.everUnsealed ? this.recorded : undefined);
  }

  async abandonInit(attempt: Buffer): Promise<string | undefined> {
    this.observe();
    if (!this.fake.initialized) return 'HTTP 400: the store is not initialized';
    const recorded = await this.recordedInitAttempt();
    if (recorded === undefined) return 'HTTP 409: the store has been unsealed since its initialization';
    if (recorded !== attemptHash(attempt)) return 'HTTP 403: init attempt mismatch';
    const f = this.fake;
    f.initialized = false;
    f.sealed = true;
    f.threshold = 0;
    f.shares = [];
    f.progress.clear();
    f.tokens.clear();
    f.policies.clear();
    f.kv.clear();
    f.generateRoot = undefined;
    for (const k of [...f.mounts.keys()]) if (k !== 'sys/') f.mounts.delete(k);
    this.recorded = undefined;
    this.resets++;
    return undefined;
  }
}

/** A fake store, a key folder and a config around them. */
export interface FlowFixture {
  fake: FakeVault;
  dir: string;
  keysDir: string;
  config: SecretStoreConfig;
  ikm: Buffer;
  lines: string[];
  /** Called with each log line as it is logged (after it is recorded in `lines`). */
  onLine: ((line: string) => void) | undefined;
  run(extra?: Partial<BootstrapOptions>): Promise<BootstrapResult>;
  close(): Promise<void>;
}

/** Starts a fake and a temp folder; `settings` are SecretStore keys (WaitTimeout 10 unless given). */
export async function flowFixture(settings: Record<string, unknown> = {}): Promise<FlowFixture> {
  const fake = new FakeVault();
  const url = await fake.start();
  const dir = await makeTempDir('sss-flowfx-');
  const keysDir = join(dir, 'assets');
  const config = resolveConfig(
    { TokenFolderPath: keysDir, TokenProviderAdminTokenPath: join(dir, 'run', 'token.json'), WaitTimeout: 10, ...settings },
    { addrs: [url] },
    {},
    dir,
  );
  const ikm = randomBytes(32);
  const lines: string[] = [];
  const fx: FlowFixture = {
    fake,
    dir,
    keysDir,
    config,
    ikm,
    lines,
    onLine: undefined,
    run: (extra = {}) => {
      const log = new Logger({
        level: 'debug',
        sink: (l) => {
          lines.push(l);
          fx.onLine?.(l);
        },
      });
      return runBootstrap({ config, log, ikmSource: new FixedIkm(ikm), ...extra });
    },
    close: async () => {
      await fake.stop();
      await removeTempDir(dir);
    },
  };
  return fx;
}

/** How many requests `what` (e.g. `PUT sys/init`) the fake has seen. */
export function count(fake: FakeVault, what: string): number {
  return fake.requests.filter((r) => r === what).length;
}
