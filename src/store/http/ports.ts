/**
 * What the HTTP layer needs from the store's core (seal state) and logical layer (tokens, policies, mounts), stated
 * as small structural interfaces. The real classes (SealManager, TokenStore, PolicyStore, MountTable) satisfy them;
 * tests can also drive the HTTP layer with small fakes. Nothing here knows about sockets.
 */
import type { Storage } from '../storage/storage.js';
import type { LogicalBackend } from '../backend.js';
import type { LoginPlan, LogicalResponse, Operation } from '../logical.js';

/** A JSON object as the seal endpoints take and return it. */
export type JsonRecord = Record<string, unknown>;

/** The seal state machine (`SealManager`): init, unseal, seal, status, health, generate-root, rekey. */
export interface SealPort {
  readonly initialized: boolean;
  readonly sealed: boolean;
  sealStatus(): JsonRecord;
  health(query: Record<string, string>): { status: number; body: JsonRecord };
  init(req: JsonRecord, createRootToken: (barrier: Storage) => Promise<string>): Promise<{ keys: Buffer[]; rootToken: string }>;
  unseal(req: JsonRecord): Promise<JsonRecord>;
  seal(): Promise<void>;
  generateRootStatus(): JsonRecord;
  generateRootStart(req: JsonRecord): JsonRecord;
  generateRootCancel(): void;
  generateRootUpdate(req: JsonRecord, mintRootToken: () => Promise<string>): Promise<JsonRecord>;
  rekeyStatus(): JsonRecord;
  rekeyInit(req: JsonRecord): JsonRecord;
  rekeyCancel(): void;
  rekeyUpdate(req: JsonRecord): Promise<JsonRecord>;
  /**
   * `PUT sys/init/abandon {init_attempt}` (src/bootstrap/init-control.ts): erases a store whose init's shares were
   * lost. Optional so that test doubles need not implement it; a seal without it answers 404.
   */
  abandonInit?(req: JsonRecord): Promise<JsonRecord>;
}

/** The fields of a token entry the HTTP layer reads. */
export interface TokenView {
  policies: readonly string[];
  /** Uses left for a use-limited token; 0 = unlimited (then no use accounting is needed). */
  num_uses: number;
  /** The entity the token belongs to (absent or `''` for none). */
  entity_id?: string;
  /** CIDR blocks the token may be used from (absent or empty for anywhere). */
  bound_cidrs?: readonly string[];
}

/** The ACL compiled from a token's policies. */
export interface AclPort {
  allows(path: string, operation: Operation): boolean;
  hasSudo(path: string, operation?: Operation): boolean;
  capabilities(path: string): string[];
}

/** Where a logical path is served: the backend, the path relative to it, and the mount's type for the envelope. */
export interface RouteTarget {
  backend: LogicalBackend;
  /** Path relative to the backend (what it receives in LogicalRequest.path). */
  rest: string;
  /** `mount_type` of the envelope (`kv`, `token`, `system`, …). */
  mountType: string;
  /** For an auth method: its accessor (a login binds its alias on it) and its lease settings. */
  authMount?: { accessor: string; defaultLeaseTtl: number; maxLeaseTtl: number };
}

/** The logical layer that exists only while unsealed: token auth, ACLs and routing of every authenticated path. */
export interface LogicalPort {
  /** The token entry for `token`, or undefined when it is unknown, expired or revoked. */
  resolveToken(token: string): Promise<TokenView | undefined>;
  /**
   * Optional fast path: the entry when it can be decided from memory alone; undefined means "ask
   * {@link resolveToken}", never "invalid".
   */
  resolveTokenCached?(token: string): TokenView | undefined;
  /** Records one use of a token with `num_uses` (revoked when exhausted). */
  consumeTokenUse(token: string): Promise<void>;
  /** The ACL for a token's policies. */
  acl(policies: readonly string[]): Promise<AclPort>;
  /** Optional fast path: the ACL when already compiled; undefined means "ask {@link acl}". */
  aclCached?(policies: readonly string[]): AclPort | undefined;
  /** Whether `path` needs `sudo` for `operation` (Vault's root-protected paths). */
  isSudoProtected(path: string, operation: Operation): boolean;
  /** The backend serving `path` (no leading `/`, list paths end with `/`), or undefined when no route matches. */
  route(path: string): RouteTarget | undefined;
  /** A new root token (generate-root). */
  mintRootToken(): Promise<string>;
  /**
   * The policies the ACL check grants a token: its own, plus its entity's (re-read on every request, so a change to
   * the entity takes effect at once). Undefined when the token's entity is disabled (every request is denied). The
   * same frozen array is returned until something changes, so callers may cache by identity. Absent in fakes: the
   * token's own policies then.
   */
  effectivePolicies?(token: TokenView): readonly string[] | undefined;
  /** Turns a credential backend's login into a token and the `auth` answer (absent in fakes: logins unsupported). */
  completeLogin?(plan: LoginPlan, target: RouteTarget): Promise<LogicalResponse>;
}
