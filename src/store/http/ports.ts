/**
 * What the HTTP layer needs from the store's core (seal state) and logical layer (tokens, policies, mounts), stated
 * as small structural interfaces. The real classes (SealManager, TokenStore, PolicyStore, MountTable) satisfy them;
 * tests can also drive the HTTP layer with small fakes. Nothing here knows about sockets.
 */
import type { Storage } from '../storage/storage.js';
import type { LogicalBackend } from '../backend.js';
import type { Operation } from '../logical.js';

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
}

/** The fields of a token entry the HTTP layer reads. */
export interface TokenView {
  policies: readonly string[];
  /** Uses left for a use-limited token; 0 = unlimited (then no use accounting is needed). */
  num_uses: number;
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
}
