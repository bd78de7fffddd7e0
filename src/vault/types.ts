/**
 * Typed views of the Vault/OpenBao HTTP API responses the boot flow uses, and the validators that build them from
 * untrusted JSON. Every field is checked for type before use (no blind casts); a malformed response becomes a
 * STORE_ERROR naming the endpoint and the field, never an uncaught TypeError.
 */
import { SecretStoreError } from '../errors.js';

/** `GET sys/health`: the HTTP status is the state (200 active, 429 standby, 501 uninitialized, 503 sealed). */
export interface HealthResponse {
  /** The HTTP status the store answered with. */
  status: number;
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
}

/**
 * `GET sys/leader`: which node of an HA cluster is active. `leaderAddress` is the active node's `api_addr` as the
 * cluster advertises it — an address the caller must check against its own list before trusting it with a token.
 */
export interface LeaderResponse {
  /** The store runs with HA (false: a single node; the other fields then say nothing). */
  haEnabled: boolean;
  /** The node that answered is the active one. */
  isSelf: boolean;
  /** The active node's API address (empty while there is none, or without HA). */
  leaderAddress: string;
}

/** `GET sys/seal-status` (also returned by `sys/unseal`). */
export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  /** Threshold: shares needed to unseal (0 when uninitialized). */
  t: number;
  /** Number of shares. */
  n: number;
  /** Shares accepted so far in the current unseal attempt. */
  progress: number;
  version: string;
}

/** `PUT sys/init`: the unseal key shares (decoded from hex) and the initial root token, as Buffers the caller wipes. */
export interface InitResponse {
  shares: Buffer[];
  rootToken: Buffer;
}

/** `sys/generate-root/attempt` and `/update`. */
export interface GenerateRootStatus {
  started: boolean;
  nonce: string;
  progress: number;
  required: number;
  complete: boolean;
  /** base64 (raw) of token XOR otp; empty until complete. */
  encodedToken: string;
  /** The one-time pad, returned once when the attempt is started without one; empty otherwise. */
  otp: string;
  otpLength: number;
}

/** The `auth` block of a token-create response. */
export interface TokenAuth {
  clientToken: string;
  accessor: string;
  policies: string[];
  leaseDuration: number;
  renewable: boolean;
}

/** `auth/token/lookup*` data (the fields we use). */
export interface TokenLookup {
  accessor: string;
  policies: string[];
  path: string;
  displayName: string;
}

/** One entry of `GET sys/mounts`. */
export interface MountInfo {
  type: string;
  /** `options.version` when present (KV: "1" or "2"). */
  version: string | undefined;
}

type Json = Record<string, unknown>;

function malformed(what: string, field: string): SecretStoreError {
  return new SecretStoreError('STORE_ERROR', `malformed response from the store to ${what}: bad or missing "${field}"`);
}

/** The value as a JSON object, or a STORE_ERROR. */
export function asObject(value: unknown, what: string, field = '(body)'): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(what, field);
  return value as Json;
}

function bool(o: Json, key: string, what: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw malformed(what, key);
  return v;
}

function optBool(o: Json, key: string, what: string, fallback: boolean): boolean {
  return o[key] === undefined || o[key] === null ? fallback : bool(o, key, what);
}

function int(o: Json, key: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw malformed(what, key);
  return v;
}

function str(o: Json, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw malformed(what, key);
  return v;
}

function optStr(o: Json, key: string, what: string): string {
  return o[key] === undefined || o[key] === null ? '' : str(o, key, what);
}

function strArray(o: Json, key: string, what: string, allowNull = false): string[] {
  const v = o[key];
  if (allowNull && (v === undefined || v === null)) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw malformed(what, key);
  return v;
}

/** Validates a `sys/health` body (the status comes from HTTP). HEAD or empty bodies are not accepted here. */
export function parseHealth(status: number, body: unknown): HealthResponse {
  const what = 'sys/health';
  const o = asObject(body, what);
  return {
    status,
    initialized: bool(o, 'initialized', what),
    sealed: bool(o, 'sealed', what),
    standby: optBool(o, 'standby', what, false),
    version: optStr(o, 'version', what),
  };
}

/** Validates a `sys/leader` body (Vault's other fields — active time, raft indexes, cluster address — are not used). */
export function parseLeader(body: unknown): LeaderResponse {
  const what = 'sys/leader';
  const o = asObject(body, what);
  return {
    haEnabled: bool(o, 'ha_enabled', what),
    isSelf: optBool(o, 'is_self', what, false),
    leaderAddress: optStr(o, 'leader_address', what),
  };
}

/** Validates a seal-status body. */
export function parseSealStatus(body: unknown, what = 'sys/seal-status'): SealStatus {
  const o = asObject(body, what);
  return {
    initialized: bool(o, 'initialized', what),
    sealed: bool(o, 'sealed', what),
    t: int(o, 't', what, 0, 255),
    n: int(o, 'n', what, 0, 255),
    progress: int(o, 'progress', what, 0, 255),
    version: optStr(o, 'version', what),
  };
}

/** Decodes a hex string exactly (even length, hex digits only) to a Buffer, or returns undefined. */
export function decodeHexExact(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text)) return undefined;
  return Buffer.from(text, 'hex');
}

/**
 * Validates a `sys/init` response: 1..255 shares of 16..33 bytes each, all the same length, with `keys_base64`
 * (when present) agreeing with `keys`, and a non-empty root token.
 */
export function parseInitResponse(body: unknown, expectedShares: number): InitResponse {
  const what = 'sys/init';
  const o = asObject(body, what);
  const keys = strArray(o, 'keys', what);
  const b64 = o.keys_base64 === undefined ? undefined : strArray(o, 'keys_base64', what);
  const rootText = str(o, 'root_token', what);
  if (keys.length !== expectedShares || keys.length < 1 || keys.length > 255) throw malformed(what, 'keys');
  if (b64 !== undefined && b64.length !== keys.length) throw malformed(what, 'keys_base64');
  const shares: Buffer[] = [];
  try {
    for (let i = 0; i < keys.length; i++) {
      const share = decodeHexExact(keys[i] ?? '');
      if (share === undefined || share.length < 16 || share.length > 33) throw malformed(what, `keys[${i}]`);
      shares.push(share);
      if (share.length !== shares[0]?.length) throw malformed(what, 'keys (unequal lengths)');
      if (b64 !== undefined) {
        const alt = Buffer.from(b64[i] ?? '', 'base64');
        const same = alt.equals(share);
        alt.fill(0);
        if (!same) throw malformed(what, `keys_base64[${i}]`);
      }
    }
    if (rootText.length === 0) throw malformed(what, 'root_token');
    return { shares, rootToken: Buffer.from(rootText, 'utf8') };
  } catch (err) {
    for (const s of shares) s.fill(0);
    throw err;
  }
}

/** Validates a generate-root status (attempt or update). */
export function parseGenerateRoot(body: unknown, what = 'sys/generate-root'): GenerateRootStatus {
  const o = asObject(body, what);
  const encoded = optStr(o, 'encoded_token', what);
  return {
    started: bool(o, 'started', what),
    nonce: optStr(o, 'nonce', what),
    progress: int(o, 'progress', what, 0, 255),
    required: int(o, 'required', what, 0, 255),
    complete: bool(o, 'complete', what),
    encodedToken: encoded !== '' ? encoded : optStr(o, 'encoded_root_token', what),
    otp: optStr(o, 'otp', what),
    otpLength: o.otp_length === undefined ? 0 : int(o, 'otp_length', what, 0, 1024),
  };
}

/** Validates the `auth` block of a token-create (or login) response. */
export function parseTokenAuth(body: unknown, what = 'auth/token/create'): TokenAuth {
  const o = asObject(body, what);
  const auth = asObject(o.auth, what, 'auth');
  const token = str(auth, 'client_token', what);
  if (token.length === 0) throw malformed(what, 'auth.client_token');
  return {
    clientToken: token,
    accessor: str(auth, 'accessor', what),
    policies: strArray(auth, 'policies', what, true),
    leaseDuration: int(auth, 'lease_duration', what),
    renewable: optBool(auth, 'renewable', what, false),
  };
}

/** Validates a token lookup response (`data` block). */
export function parseTokenLookup(body: unknown, what = 'auth/token/lookup'): TokenLookup {
  const o = asObject(body, what);
  const data = asObject(o.data, what, 'data');
  return {
    accessor: optStr(data, 'accessor', what),
    policies: strArray(data, 'policies', what, true),
    path: optStr(data, 'path', what),
    displayName: optStr(data, 'display_name', what),
  };
}

/** Validates a list response: `data.keys` as strings. */
export function parseListKeys(body: unknown, what: string): string[] {
  const o = asObject(body, what);
  const data = asObject(o.data, what, 'data');
  return strArray(data, 'keys', what);
}

/** Validates `GET sys/mounts`: a map from mount path (with trailing `/`) to its type and KV version. */
export function parseMounts(body: unknown): Map<string, MountInfo> {
  const what = 'sys/mounts';
  const o = asObject(body, what);
  // Vault copies the data keys to the top level too; prefer `data` when present.
  const source = o.data !== undefined && o.data !== null ? asObject(o.data, what, 'data') : o;
  const mounts = new Map<string, MountInfo>();
  for (const [path, value] of Object.entries(source)) {
    if (!path.endsWith('/') || typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const entry = value as Json;
    const type = str(entry, 'type', what);
    let version: string | undefined;
    if (entry.options !== undefined && entry.options !== null) {
      const options = asObject(entry.options, what, `${path}.options`);
      if (typeof options.version === 'string') version = options.version;
    }
    mounts.set(path, { type, version });
  }
  return mounts;
}

/** The `errors` array of an error response, sanitized for messages (control characters stripped, capped). */
export function parseErrors(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  const errors = (body as Json).errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is string => typeof e === 'string')
    .slice(0, 4)
    .map((e) => e.replace(/[\p{Cc}]/gu, ' ').slice(0, 200));
}
