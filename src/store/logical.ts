/**
 * Transport-independent request and response shapes for the store's logical backends (KV, tokens, policies, sys).
 * Handlers are plain functions of a {@link LogicalRequest}; the HTTP layer builds requests from sockets and renders
 * responses in Vault's envelope, so handlers are tested without any socket (as sigstore-js does).
 */

/** The ACL operation a request performs (Vault's logical.Operation). */
export type Operation = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list';

/** JSON object as parsed from a request body. */
export type JsonObject = Record<string, unknown>;

/** One request to a logical backend. */
export interface LogicalRequest {
  operation: Operation;
  /** Path relative to the backend's mount, without a leading `/` (lists end with `/`). */
  path: string;
  /** Parsed JSON body (empty object when none). */
  data: JsonObject;
  /** Query parameters (first value of each). */
  query: Record<string, string>;
  /**
   * The client's IP address as the socket saw it (no proxy headers are trusted), for CIDR-bound logins and tokens
   * and per-address login throttling; undefined when not known (handlers called without a socket).
   */
  remoteAddress?: string | undefined;
}

/** Authentication data returned in the envelope's `auth` (token creation, renewal). */
export interface LogicalAuth {
  client_token: string;
  accessor: string;
  /** Token policies plus identity policies (Vault's login answer); the token's own for token-store answers. */
  policies: string[];
  token_policies: string[];
  /** The entity's policies at login; absent when the token has no entity. */
  identity_policies?: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: string;
  orphan: boolean;
  mfa_requirement: null;
  num_uses: number;
}

/** What a handler returns; the HTTP layer renders it in Vault's logical envelope. */
export interface LogicalResponse {
  /** 200 with the envelope (default), 204 with no body, or 404 with the envelope (e.g. a deleted KV v2 version). */
  status?: 200 | 204 | 404;
  data?: JsonObject | null;
  auth?: LogicalAuth | null;
  warnings?: string[] | null;
  /** For `sys/mounts`, `sys/policy`, `sys/auth`: data keys are also copied to the top level of the JSON. */
  topLevelData?: boolean;
  /** A raw (non-envelope) JSON body, for the `sys/*` endpoints that answer without the envelope. */
  raw?: JsonObject;
  /**
   * A credential backend's successful login (Vault's `logical.Auth` before the core creates the token): the core
   * binds the alias to an entity, mints the token and answers with the `auth` block. Handlers never mint tokens.
   */
  login?: LoginPlan;
}

/** What a credential backend hands the core after checking a login's credentials. */
export interface LoginPlan {
  /** The alias name on the backend's mount (userpass: the user name), looked up or created with a new entity. */
  aliasName: string;
  /** Alias metadata (userpass: none). */
  aliasMetadata?: Record<string, string>;
  /** `token-` less display name, e.g. `userpass-<user>`. */
  displayName: string;
  /** Token metadata shown in `auth.metadata` (userpass: `{username}`). */
  metadata: Record<string, string>;
  /** The token's own policies before `default` is added (token_policies of the role or user). */
  policies: string[];
  /** Leave out `default` (token_no_default_policy). */
  noDefaultPolicy: boolean;
  /** Seconds; 0 = the mount's or system default. */
  ttl: number;
  /** Seconds; 0 = the mount's or system maximum. */
  maxTtl: number;
  /** Seconds; 0 = not periodic. */
  period: number;
  /** Seconds; 0 = none. */
  explicitMaxTtl: number;
  /** Uses allowed; 0 = unlimited. */
  numUses: number;
  /** CIDR blocks the token may be used from (empty = any). */
  boundCidrs: string[];
  /** The login path as Vault records it in the token, e.g. `auth/userpass/login/<user>`. */
  path: string;
}
