/**
 * A small in-process fake of the Vault HTTP API subset the boot flow uses, for client and flow unit tests that need
 * fault injection (dropped connections, slow answers, odd statuses) the real `serve` cannot be made to produce.
 * Shares are random bytes (no Shamir): an unseal succeeds when `threshold` distinct issued shares were given.
 * End-to-end tests use the real `serve` process (test/helpers/serve.ts).
 *
 * Clusters: {@link FakeCluster} runs several fake nodes over ONE {@link FakeVaultData} (their shared storage, as
 * Vault's nodes share raft or etcd): initialized once for all, each node sealed on its own, one unsealed node active
 * and the others standbys (Vault's `sys/health` and `sys/leader` answers, requests forwarded to the active node), a
 * node stopped and restarted (sealed) on its port.
 */
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

interface Token {
  id: string;
  accessor: string;
  policies: string[];
  orphan: boolean;
  meta: Record<string, string>;
}

/** Fault hooks: return true when the request was handled (or dropped) by the hook. */
export type FakeHook = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean;

/** What the nodes of one store share: its storage (one fake node alone has its own). */
export class FakeVaultData {
  initialized = false;
  threshold = 0;
  shares: Buffer[] = [];
  tokens = new Map<string, Token>();
  policies = new Map<string, string>();
  mounts = new Map<string, { type: string; options: Record<string, string> }>([['sys/', { type: 'system', options: {} }]]);
  kv = new Map<string, unknown>();
  generateRoot: { nonce: string; otp: string; progress: Set<string> } | undefined;
  /** Every token this store ever handed out (root tokens from init and generate-root included), for secret scans. */
  issued: Token[] = [];
}

/** The fake server and its state (inspectable by tests). */
export class FakeVault {
  /** The storage: this node's own, or its cluster's (shared by every node). */
  readonly data: FakeVaultData;
  sealed = true;
  progress = new Set<string>();
  /** Requests seen: `METHOD path`. */
  requests: string[] = [];
  /** Requests this node (a standby) forwarded to the active node: `METHOD path`. */
  forwarded: string[] = [];
  hook: FakeHook | undefined;
  url = '';
  /** The cluster this node is a member of (undefined: a lone node without HA). */
  cluster: FakeCluster | undefined;
  private server: http.Server | undefined;
  private port = 0;

  constructor(data: FakeVaultData = new FakeVaultData()) {
    this.data = data;
  }

  get initialized(): boolean {
    return this.data.initialized;
  }
  set initialized(v: boolean) {
    this.data.initialized = v;
  }
  get threshold(): number {
    return this.data.threshold;
  }
  set threshold(v: number) {
    this.data.threshold = v;
  }
  get shares(): Buffer[] {
    return this.data.shares;
  }
  set shares(v: Buffer[]) {
    this.data.shares = v;
  }
  get tokens(): Map<string, Token> {
    return this.data.tokens;
  }
  get policies(): Map<string, string> {
    return this.data.policies;
  }
  get mounts(): Map<string, { type: string; options: Record<string, string> }> {
    return this.data.mounts;
  }
  get kv(): Map<string, unknown> {
    return this.data.kv;
  }
  get generateRoot(): FakeVaultData['generateRoot'] {
    return this.data.generateRoot;
  }
  set generateRoot(v: FakeVaultData['generateRoot']) {
    this.data.generateRoot = v;
  }
  get issued(): Token[] {
    return this.data.issued;
  }

  /** True while the server listens. */
  get running(): boolean {
    return this.server !== undefined;
  }

  /** Starts on 127.0.0.1 — on a port picked now, or on the port of an earlier start (a restart). */
  async start(): Promise<string> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.handle(req, res, Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this.url;
  }

  /** Stops the server (a node of a cluster loses its active role). */
  async stop(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    this.server = undefined;
    this.cluster?.lost(this);
    s.closeAllConnections();
    await new Promise<void>((resolve) => {
      s.close(() => {
        resolve();
      });
    });
  }

  /** Seals (as a restart would). */
  seal(): void {
    this.sealed = true;
    this.progress.clear();
    this.cluster?.lost(this);
  }

  private send(res: http.ServerResponse, status: number, body?: unknown): true {
    if (body === undefined) res.writeHead(status).end();
    else res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    return true;
  }

  private newToken(policies: string[], orphan: boolean, meta: Record<string, string> = {}): Token {
    const t: Token = { id: `hvs.${randomBytes(12).toString('hex')}`, accessor: randomBytes(8).toString('hex'), policies, orphan, meta };
    this.tokens.set(t.id, t);
    this.issued.push(t);
    return t;
  }

  private status(): Record<string, unknown> {
    return {
      type: 'shamir',
      initialized: this.initialized,
      sealed: this.sealed,
      t: this.threshold,
      n: this.shares.length,
      progress: this.sealed ? this.progress.size : 0,
      nonce: '',
      version: 'fake',
    };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1\//, '');
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${path}`);
    if (this.hook?.(req, res, path) === true) return true;
    let body: Record<string, unknown> = {};
    if (raw.length > 0) body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    const token = this.tokens.get(String(req.headers['x-vault-token'] ?? ''));
    const isRoot = token?.policies.includes('root') === true;
    const key = (): string => (typeof body.key === 'string' ? body.key : '');

    const cluster = this.cluster;
    if (path === 'sys/health') {
      if (cluster !== undefined) {
        // Vault's codes: 501 uninitialized, 503 sealed, 200 active, 429 standby (200 with standbyok=true).
        const standby = this.sealed || cluster.active !== this;
        const code = !this.initialized ? 501 : this.sealed ? 503 : !standby ? 200 : url.searchParams.get('standbyok') === 'true' ? 200 : 429;
        return this.send(res, code, { initialized: this.initialized, sealed: this.sealed, standby, performance_standby: false, version: 'fake', cluster_name: 'fake-cluster' });
      }
      const code = !this.initialized ? 501 : this.sealed ? 503 : 200;
      return this.send(res, code, { initialized: this.initialized, sealed: this.sealed, standby: this.sealed, version: 'fake' });
    }
    if (path === 'sys/leader' && method === 'GET') {
      if (cluster === undefined) return this.send(res, 200, { ha_enabled: false, is_self: false, active_time: '0001-01-01T00:00:00Z', leader_address: '', leader_cluster_address: '', performance_standby: false });
      // Vault answers a sealed node's sys/leader with an error.
      if (this.sealed) return this.send(res, 500, { errors: ['Vault is sealed'] });
      const leader = cluster.leaderAddress ?? cluster.active?.url ?? '';
      return this.send(res, 200, { ha_enabled: true, is_self: cluster.active === this, active_time: '0001-01-01T00:00:00Z', leader_address: leader, leader_cluster_address: leader, performance_standby: false });
    }
    if (path === 'sys/seal-status') return this.send(res, 200, this.status());
    if (path === 'sys/init' && method === 'PUT') {
      if (this.initialized) return this.send(res, 400, { errors: ['Vault is already initialized'] });
      const n = Number(body.secret_shares);
      this.threshold = Number(body.secret_threshold);
      this.shares = Array.from({ length: n }, () => randomBytes(33));
      this.initialized = true;
      const root = this.newToken(['root'], true);
      return this.send(res, 200, {
        keys: this.shares.map((s) => s.toString('hex')),
        keys_base64: this.shares.map((s) => s.toString('base64')),
        root_token: root.id,
      });
    }
    if (path === 'sys/unseal') {
      if (body.reset === true) {
        this.progress.clear();
        return this.send(res, 200, this.status());
      }
      if (!this.sealed) return this.send(res, 200, this.status());
      this.progress.add(key());
      if (this.progress.size >= this.threshold) {
        const ok = [...this.progress].every((k) => this.shares.some((s) => s.toString('hex') === k));
        this.progress.clear();
        if (!ok) return this.send(res, 400, { errors: ['unable to retrieve stored keys: invalid key'] });
        this.sealed = false;
        cluster?.unsealed(this);
      }
      return this.send(res, 200, this.status());
    }
    if (this.sealed) return this.send(res, 503, { errors: ['Vault is sealed'] });
    if (cluster !== undefined && cluster.active !== this) {
      // A standby forwards every other request to the active node (Vault's request forwarding); here both read the
      // same data, so forwarding is answering from it — and recording that it was forwarded.
      if (cluster.active === undefined) return this.send(res, 500, { errors: ['local node not active but active cluster node not found'] });
      this.forwarded.push(`${method} ${path}`);
    }
    if (path === 'sys/generate-root/attempt') {
      if (method === 'GET') {
        const g = this.generateRoot;
        return this.send(res, 200, { started: g !== undefined, nonce: g?.nonce ?? '', progress: g?.progress.size ?? 0, required: this.threshold, complete: false, encoded_token: '', otp: '', otp_length: 28 });
      }
      if (method === 'DELETE') {
        this.generateRoot = undefined;
        return this.send(res, 204);
      }
      if (this.generateRoot !== undefined) return this.send(res, 400, { errors: ['root generation already in progress'] });
      this.generateRoot = { nonce: randomBytes(8).toString('hex'), otp: randomBytes(14).toString('hex'), progress: new Set() };
      return this.send(res, 200, { started: true, nonce: this.generateRoot.nonce, progress: 0, required: this.threshold, complete: false, encoded_token: '', otp: this.generateRoot.otp, otp_length: 28 });
    }
    if (path === 'sys/generate-root/update') {
      const g = this.generateRoot;
      if (g === undefined || body.nonce !== g.nonce) return this.send(res, 400, { errors: ['incorrect nonce supplied'] });
      g.progress.add(key());
      if (g.progress.size < this.threshold) {
        return this.send(res, 200, { started: true, nonce: g.nonce, progress: g.progress.size, required: this.threshold, complete: false, encoded_token: '', otp: '', otp_length: 28 });
      }
      this.generateRoot = undefined;
      const ok = [...g.progress].every((k) => this.shares.some((s) => s.toString('hex') === k));
      if (!ok) return this.send(res, 400, { errors: ['root generation aborted'] });
      const t = this.newToken(['root'], true);
      // Token ids here are 4 + 24 = 28 characters, the OTP length.
      const id = `hvs.${t.id.slice(4, 28)}`;
      this.tokens.delete(t.id);
      t.id = id;
      this.tokens.set(id, t);
      const otp = Buffer.from(g.otp);
      const enc = Buffer.from(id).map((b, i) => b ^ (otp[i] ?? 0));
      return this.send(res, 200, { started: true, nonce: g.nonce, progress: this.threshold, required: this.threshold, complete: true, encoded_token: Buffer.from(enc).toString('base64').replace(/=+$/, ''), otp: '', otp_length: 28 });
    }
    if (token === undefined) return this.send(res, 403, { errors: ['permission denied'] });
    const lookup = (t: Token): Record<string, unknown> => ({ data: { accessor: t.accessor, policies: t.policies, path: 'auth/token/create', display_name: 'token', id: t.id } });
    if (path === 'auth/token/lookup-self') return this.send(res, 200, lookup(token));
    if (path === 'auth/token/revoke-self') {
      this.tokens.delete(token.id);
      return this.send(res, 204);
    }
    if (path === 'auth/token/accessors' && url.searchParams.get('list') === 'true') {
      if (!isRoot) return this.send(res, 403, { errors: ['permission denied'] });
      return this.send(res, 200, { data: { keys: [...this.tokens.values()].map((t) => t.accessor) } });
    }
    if (path === 'auth/token/lookup-accessor') {
      const t = [...this.tokens.values()].find((x) => x.accessor === body.accessor);
      return t === undefined ? this.send(res, 400, { errors: ['invalid accessor'] }) : this.send(res, 200, lookup(t));
    }
    if (path === 'auth/token/revoke-accessor') {
      const t = [...this.tokens.values()].find((x) => x.accessor === body.accessor);
      if (t !== undefined) this.tokens.delete(t.id);
      return this.send(res, 204);
    }
    if (path === 'auth/token/create' || path === 'auth/token/create-orphan') {
      const policies = Array.isArray(body.policies) ? (body.policies as string[]) : token.policies;
      const t = this.newToken([...policies, 'default'], path.endsWith('orphan'));
      return this.send(res, 200, { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: { client_token: t.id, accessor: t.accessor, policies: t.policies, token_policies: t.policies, metadata: null, lease_duration: 3600, renewable: true, entity_id: '', token_type: 'service', orphan: t.orphan, mfa_requirement: null, num_uses: 0 } });
    }
    if (path.startsWith('sys/policies/acl/')) {
      this.policies.set(path.slice('sys/policies/acl/'.length), String(body.policy));
      return this.send(res, 204);
    }
    if (path === 'sys/mounts' && method === 'GET') {
      const data: Record<string, unknown> = {};
      for (const [k, v] of this.mounts) data[k] = { type: v.type, options: v.options };
      return this.send(res, 200, { ...data, data });
    }
    if (path.startsWith('sys/mounts/') && method === 'POST') {
      const p = `${path.slice('sys/mounts/'.length)}/`;
      if (this.mounts.has(p)) return this.send(res, 400, { errors: [`path is already in use at ${p}`] });
      this.mounts.set(p, { type: String(body.type), options: (body.options ?? {}) as Record<string, string> });
      return this.send(res, 204);
    }
    if (path.startsWith('secret/')) {
      if (method === 'GET') {
        const v = this.kv.get(path);
        return v === undefined ? this.send(res, 404, { errors: [] }) : this.send(res, 200, { data: v });
      }
      this.kv.set(path, body);
      return this.send(res, 204);
    }
    return this.send(res, 404, { errors: ['no handler'] });
  }
}

/**
 * Several fake nodes of one cluster over one {@link FakeVaultData}. The active node is the first unsealed running
 * node to become so (`autoElect`), as a node that takes the HA lock; it keeps the role until it is sealed or stopped,
 * or a test moves it ({@link FakeCluster.makeActive}). `leaderAddress` overrides what `sys/leader` names.
 */
export class FakeCluster {
  readonly data = new FakeVaultData();
  readonly nodes: FakeVault[];
  active: FakeVault | undefined;
  /** What sys/leader answers as `leader_address` instead of the active node's URL (a misadvertised api_addr). */
  leaderAddress: string | undefined;
  /** When false, no node takes the active role by itself (tests move it with makeActive). */
  autoElect = true;

  constructor(size: number) {
    this.nodes = Array.from({ length: size }, () => {
      const node = new FakeVault(this.data);
      node.cluster = this;
      return node;
    });
  }

  /** Starts every node; resolves with their URLs. */
  async start(): Promise<string[]> {
    return Promise.all(this.nodes.map((n) => n.start()));
  }

  /** Stops every node. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  /** The nodes' URLs, in order. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Stops `node` as a crash would: it loses its seal and its active role. */
  async kill(node: FakeVault): Promise<void> {
    node.sealed = true;
    node.progress.clear();
    await node.stop();
  }

  /** Restarts a stopped node on its port: sealed, as a store starts. */
  async restart(node: FakeVault): Promise<void> {
    node.sealed = true;
    node.progress.clear();
    await node.start();
  }

  /** Moves the active role to `node` (undefined: no node is active), as a step-down and a takeover would. */
  makeActive(node: FakeVault | undefined): void {
    this.active = node;
  }

  /** Called by a node that was just unsealed. */
  unsealed(node: FakeVault): void {
    if (this.active === undefined && this.autoElect) this.active = node;
  }

  /** Called by a node that was sealed or stopped: if it was active, the next unsealed running node takes over. */
  lost(node: FakeVault): void {
    if (this.active !== node) return;
    this.active = this.autoElect ? this.nodes.find((n) => n !== node && n.running && !n.sealed) : undefined;
  }
}
