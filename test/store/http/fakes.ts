/**
 * Small in-test fakes of the seal state machine and the logical layer, so the HTTP layer's own logic (routing, auth,
 * ACL enforcement, envelopes, errors) is tested independently of the real core. The real composition is tested in
 * test/store/server.test.ts.
 */
import { StoreApiError, notFound, sealedError } from '../../../src/store/api-error.js';
import type { CallerContext, LogicalBackend } from '../../../src/store/backend.js';
import type { LogicalRequest, LogicalResponse, Operation } from '../../../src/store/logical.js';
import { MemoryStorage, type Storage } from '../../../src/store/storage/storage.js';
import type { AclPort, JsonRecord, LogicalPort, RouteTarget, SealPort, TokenView } from '../../../src/store/http/ports.js';

/** A seal fake: initialized/sealed flags; unseal with key "good". */
export class FakeSeal implements SealPort {
  initialized = true;
  sealed = false;
  sealCalls = 0;
  lastInit: JsonRecord | undefined;

  sealStatus(): JsonRecord {
    return { type: 'shamir', initialized: this.initialized, sealed: this.sealed };
  }
  health(query: Record<string, string>): { status: number; body: JsonRecord } {
    if (query.activecode !== undefined && !/^\d+$/.test(query.activecode)) throw new StoreApiError(400, []);
    const status = this.sealed ? 503 : Number(query.activecode ?? '200');
    return { status, body: { initialized: this.initialized, sealed: this.sealed } };
  }
  async init(req: JsonRecord, createRootToken: (barrier: Storage) => Promise<string>): Promise<{ keys: Buffer[]; rootToken: string }> {
    if (this.initialized) throw new StoreApiError(400, 'Vault is already initialized');
    this.lastInit = req;
    const rootToken = await createRootToken(new MemoryStorage());
    this.initialized = true;
    this.sealed = true;
    return { keys: [Buffer.from([1, 2, 3])], rootToken };
  }
  unseal(req: JsonRecord): Promise<JsonRecord> {
    if (req.key !== 'good') return Promise.reject(new StoreApiError(400, "'key' must be a valid hex or base64 string"));
    this.sealed = false;
    return Promise.resolve(this.sealStatus());
  }
  seal(): Promise<void> {
    this.sealCalls++;
    this.sealed = true;
    return Promise.resolve();
  }
  generateRootStatus(): JsonRecord {
    return { started: false };
  }
  generateRootStart(): JsonRecord {
    return { started: true };
  }
  generateRootCancel(): void {
    /* nothing to cancel in the fake */
  }
  async generateRootUpdate(_req: JsonRecord, mint: () => Promise<string>): Promise<JsonRecord> {
    return { complete: true, minted: await mint() };
  }
  rekeyStatus(): JsonRecord {
    return { started: false };
  }
  rekeyInit(): JsonRecord {
    return { started: true };
  }
  rekeyCancel(): void {
    /* nothing to cancel in the fake */
  }
  rekeyUpdate(): Promise<JsonRecord> {
    return Promise.resolve({ complete: true });
  }
}

/** A fake ACL: exact path or `prefix*` rules mapping to capabilities. */
export class FakeAcl implements AclPort {
  private readonly rules: [string, string[]][];
  constructor(rules: Record<string, string[]>) {
    this.rules = Object.entries(rules);
  }
  capabilities(path: string): string[] {
    if (this.rules.some(([p]) => p === '*root*')) return ['root'];
    let best: string[] = [];
    let bestLen = -1;
    for (const [p, caps] of this.rules) {
      const match = p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : p === path || p === path.replace(/\/$/, '');
      if (match && p.length > bestLen) {
        best = caps;
        bestLen = p.length;
      }
    }
    return best;
  }
  allows(path: string, operation: Operation): boolean {
    const caps = this.capabilities(path);
    return caps.includes('root') || (!caps.includes('deny') && caps.includes(operation));
  }
  hasSudo(path: string): boolean {
    const caps = this.capabilities(path);
    return caps.includes('root') || caps.includes('sudo');
  }
}

/** A KV-v1-like backend over MemoryStorage, with an existence check. */
export class FakeKv implements LogicalBackend {
  readonly storage = new MemoryStorage();
  lastCaller: CallerContext | undefined;
  lastRequest: LogicalRequest | undefined;

  async handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    this.lastCaller = caller;
    this.lastRequest = req;
    switch (req.operation) {
      case 'read': {
        const v = await this.storage.get(req.path);
        if (v === undefined) throw notFound();
        return { data: JSON.parse(v.toString()) as JsonRecord };
      }
      case 'list': {
        const keys = await this.storage.list(req.path);
        if (keys.length === 0) throw notFound();
        return { data: { keys } };
      }
      case 'create':
      case 'update':
      case 'patch':
        await this.storage.put(req.path, Buffer.from(JSON.stringify(req.data)));
        return { status: 204 };
      case 'delete':
        await this.storage.delete(req.path);
        return { status: 204 };
    }
  }
  async exists(path: string): Promise<boolean | undefined> {
    return (await this.storage.get(path)) !== undefined;
  }
}

/** A fake logical layer: tokens → policies, policies → rules, one KV mount at `secret/`. */
export class FakeLogical implements LogicalPort {
  readonly tokens = new Map<string, { policies: string[]; num_uses: number }>();
  readonly policies = new Map<string, Record<string, string[]>>();
  readonly kv = new FakeKv();
  readonly consumed: string[] = [];
  minted = 0;

  constructor() {
    this.policies.set('root', { '*root*': [] });
    this.tokens.set('root-token', { policies: ['root'], num_uses: 0 });
  }
  resolveToken(token: string): Promise<TokenView | undefined> {
    return Promise.resolve(this.tokens.get(token));
  }
  consumeTokenUse(token: string): Promise<void> {
    this.consumed.push(token);
    const t = this.tokens.get(token);
    if (t !== undefined && t.num_uses > 0) {
      t.num_uses--;
      if (t.num_uses === 0) this.tokens.delete(token);
    }
    return Promise.resolve();
  }
  acl(policies: readonly string[]): Promise<AclPort> {
    const merged: Record<string, string[]> = {};
    for (const p of policies) Object.assign(merged, this.policies.get(p) ?? {});
    return Promise.resolve(new FakeAcl(merged));
  }
  isSudoProtected(path: string): boolean {
    return path === 'sys/seal' || path.startsWith('sys/raw');
  }
  route(path: string): RouteTarget | undefined {
    if (path.startsWith('secret/')) return { backend: this.kv, rest: path.slice('secret/'.length), mountType: 'kv' };
    return undefined;
  }
  mintRootToken(): Promise<string> {
    this.minted++;
    const t = `minted-${this.minted}`;
    this.tokens.set(t, { policies: ['root'], num_uses: 0 });
    return Promise.resolve(t);
  }
}

/** A fake "sealed" error for tests that need one. */
export const sealed = sealedError;
