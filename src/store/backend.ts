/**
 * The contract between the store's HTTP layer and its logical backends (token auth, policies, mounts, KV v1/v2).
 * The HTTP layer authenticates the token, checks the ACL for `operation` on the full path, then calls the backend
 * that owns the path with the path relative to it. Backends see no sockets, headers or raw bytes.
 */
import type { LogicalRequest, LogicalResponse } from './logical.js';

/** Who is calling, as the HTTP layer established it (after token lookup and ACL check). */
export interface CallerContext {
  /** The caller's token id (needed by `lookup-self`, `revoke-self`, `renew-self`, child creation). */
  clientToken: string;
  /** The policies attached to the caller's token. */
  policies: readonly string[];
  /** True when the caller holds `sudo` on the requested path (or is root). */
  sudo: boolean;
  /** True when the caller's token has the `root` policy. */
  root: boolean;
  /** The entity the caller's token is bound to, `''` when none (and for unauthenticated requests). */
  entityId?: string;
}

/** A logical backend mounted at some path prefix. */
export interface LogicalBackend {
  /** Handles one authorized request; throws StoreApiError for Vault-shaped errors. */
  handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse>;
  /**
   * Whether the item at `path` exists, for paths where Vault distinguishes `create` from `update` in the ACL
   * (e.g. KV data). `undefined` when the backend has no existence check for that path (then POST/PUT is `update`).
   */
  exists?(path: string): Promise<boolean | undefined>;
  /** Drops whatever the backend keeps decoded in memory (called when the store seals). */
  forget?(): void;
  /**
   * Whether `path` (relative to the backend) is served without a token (Vault's `PathsSpecial.Unauthenticated`:
   * `login/*` of a credential backend, the OIDC discovery documents). A token sent there is ignored.
   */
  isUnauthenticated?(path: string): boolean;
}

/** The caller of an unauthenticated path: no token, no policies. */
export const ANONYMOUS_CALLER: CallerContext = Object.freeze({ clientToken: '', policies: Object.freeze([]), sudo: false, root: false, entityId: '' });
