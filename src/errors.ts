/**
 * The one error class of the project. Callers switch on `code`; the CLI maps codes to an exit status and prints
 * `message`, which must say what went wrong and what to do next — and never contain a secret.
 */

/** Every error code the project raises. Append new codes here (one per line, grouped by component). */
export type ErrorCode =
  // CLI and configuration
  | 'USAGE'
  | 'CONFIG'
  // IKM hook
  | 'HOOK_NOT_CONFIGURED'
  | 'HOOK_INVALID_PATH'
  | 'HOOK_FAILED'
  | 'HOOK_TIMEOUT'
  | 'HOOK_OUTPUT_TOO_LARGE'
  | 'HOOK_BAD_OUTPUT'
  | 'HOOK_ALREADY_USED'
  // envelopes and key files
  | 'KEYFILE_NOT_FOUND'
  | 'KEYFILE_MALFORMED'
  | 'KEYFILE_UNSUPPORTED'
  | 'KEYFILE_WRONG_IKM'
  | 'KEYFILE_TAMPERED'
  | 'KEYFILE_ENCRYPTED_NO_HOOK'
  | 'KEYFILE_PLAINTEXT'
  | 'KEYFILE_LOCKED'
  | 'KEYFILE_VERIFY_FAILED'
  | 'SALT_MISSING'
  | 'SALT_MALFORMED'
  | 'PROTECTED_FILE_MALFORMED'
  | 'SALT_PENDING'
  | 'KEYFILE_FORMAT_MISMATCH'
  // file system
  | 'IO'
  | 'UNSAFE_PERMISSIONS'
  // talking to a secret store
  | 'STORE_UNREACHABLE'
  | 'STORE_TIMEOUT'
  | 'STORE_ERROR'
  | 'STORE_NOT_INITIALIZED'
  | 'STORE_INITIALIZED_NO_KEYFILE'
  | 'UNSEAL_REJECTED'
  | 'ROOT_GENERATION_FAILED'
  // boot flow (bootstrap, watch, demo)
  | 'STORE_KEYFILE_MISMATCH'
  | 'ABORTED'
  | 'DEMO_FAILED'
  // embedded store core (barrier, durable storage)
  | 'STORE_CORRUPT'
  | 'STORE_LOCKED'
  // shared storage and HA (several store nodes on etcd)
  | 'STORE_UNAVAILABLE'
  | 'STORE_STANDBY'
  // anything that should never happen
  | 'INTERNAL'
  // recovery copies of the shares (keys escrow / keys recover)
  | 'ESCROW_BAD_RECIPIENT'
  | 'ESCROW_BAD_IDENTITY'
  | 'ESCROW_MALFORMED'
  | 'ESCROW_WRONG_IDENTITY';

/** Options of {@link SecretStoreError}. */
export interface SecretStoreErrorOptions {
  /** The underlying error, kept for debugging; its text is never shown to users by default. */
  cause?: unknown;
}

/** A domain error with a machine-readable `code` and a one-line, secret-free `message`. */
export class SecretStoreError extends Error {
  /** What kind of failure this is; stable, for callers and tests to switch on. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: SecretStoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SecretStoreError';
    this.code = code;
  }
}

/** True when `err` is a {@link SecretStoreError}, optionally of the given code. */
export function isSecretStoreError(err: unknown, code?: ErrorCode): err is SecretStoreError {
  return err instanceof SecretStoreError && (code === undefined || err.code === code);
}

/** A short description of a non-domain error for messages: its `code` (ENOENT, …) or class name, never its text. */
export function describeCause(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return typeof err;
}

/**
 * Whether an error code (from {@link describeCause}) is a TLS failure — certificate verification (`CERT_*`,
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `UNABLE_TO_GET_ISSUER_CERT*`, `SELF_SIGNED_CERT_IN_CHAIN`,
 * `DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`) or the protocol (`ERR_TLS_*`, `ERR_SSL_*`,
 * `EPROTO`): a configuration problem that waiting or retrying will not fix, unlike a refused or reset connection.
 */
export function isTlsFailure(code: string): boolean {
  return /^(ERR_TLS|ERR_SSL|EPROTO$)|CERT|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO/.test(code);
}
