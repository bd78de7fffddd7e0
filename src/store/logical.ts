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
}

/** Authentication data returned in the envelope's `auth` (token creation, renewal). */
export interface LogicalAuth {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
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
}
