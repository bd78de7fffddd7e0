/**
 * The settings of the etcd storage backend, checked once at open so that a typo fails `serve` at start with a
 * CONFIG error naming the option, instead of as a failed request later. Vault's storage "etcd" names in brackets.
 */
import { SecretStoreError } from '../../../errors.js';

/** Settings of {@link openEtcdStorage} (see docs/etcd-storage.md). */
export interface EtcdStorageOptions {
  /** Client URLs of the etcd members, e.g. `['http://127.0.0.1:2379', …]`; https too (Vault's `address`). */
  endpoints: string[];
  /** Key prefix in etcd, ending with `/`, e.g. `vault/` (Vault's `path`): every node of one cluster uses the same. */
  prefix: string;
  /**
   * PEM: the CA that signed etcd's server certificate, and a client certificate and key (Vault's `tls_*_file`).
   * Read once at open (into an OpenSSL context): the caller may wipe the key buffer once the open resolved.
   */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** etcd user and password (Vault's `username`/`password`); the token etcd returns travels in a header only. */
  username?: string;
  password?: string;
  /** Bound of every etcd call, in ms (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
  /** TTL of the HA lock's lease, in seconds (default {@link DEFAULT_LEASE_TTL_SECONDS}; Vault's `lock_timeout`). */
  leaseTtlSeconds?: number;
}

/** Default bound of one etcd call: above etcd's own leader-election time, so a re-election does not fail calls. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/**
 * Default HA lease TTL. A killed holder's lease expires at most 3 s after its last keepalive; etcd's expiry check
 * (every 500 ms) and a standby's poll (250 ms) add under 1 s: a fail-over within 5 s in the worst case. etcd raises
 * a TTL below its minimum (1.5 × its election timeout: 2 s with etcd's defaults), so 2 is the useful lowest.
 */
export const DEFAULT_LEASE_TTL_SECONDS = 3;

/** The checked, filled-in settings. */
export interface ResolvedEtcdOptions {
  endpoints: URL[];
  prefix: string;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  credentials: { username: string; password: string } | undefined;
  requestTimeoutMs: number;
  leaseTtlSeconds: number;
}

function configError(message: string): SecretStoreError {
  return new SecretStoreError('CONFIG', message);
}

/** Checks `options`; CONFIG errors name the offending option and never echo a password. */
export function resolveEtcdOptions(options: EtcdStorageOptions): ResolvedEtcdOptions {
  if (options.endpoints.length === 0) throw configError('no etcd endpoint given; pass --etcd-endpoints URL[,URL…]');
  const endpoints = options.endpoints.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw configError(`the etcd endpoint "${text}" is not a valid URL; use e.g. http://127.0.0.1:2379`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw configError(`the etcd endpoint "${text}" must use http or https`);
    }
    if (url.username !== '' || url.password !== '') {
      throw configError('an etcd endpoint must not carry credentials; use the etcd username and password options');
    }
    if (url.search !== '' || url.hash !== '') throw configError(`the etcd endpoint "${text}" must not have a query or fragment`);
    return url;
  });
  const prefix = options.prefix;
  if (prefix === '' || prefix === '/' || !prefix.endsWith('/') || Buffer.from(prefix, 'utf8').toString('utf8') !== prefix) {
    throw configError(`the etcd prefix "${prefix}" must be non-empty and end with "/", e.g. vault/`);
  }
  if ((options.username === undefined) !== (options.password === undefined)) {
    throw configError('give both the etcd username and the etcd password, or neither');
  }
  if (options.username === '') throw configError('the etcd username is empty');
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs < 100 || requestTimeoutMs > 600_000) {
    throw configError(`the etcd request timeout must be 100 to 600000 ms, got ${requestTimeoutMs}`);
  }
  const leaseTtlSeconds = options.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
  if (!Number.isInteger(leaseTtlSeconds) || leaseTtlSeconds < 2 || leaseTtlSeconds > 3600) {
    throw configError(`the etcd HA lease TTL must be 2 to 3600 seconds, got ${leaseTtlSeconds}`);
  }
  if ((options.tls?.cert === undefined) !== (options.tls?.key === undefined)) {
    throw configError('give both the etcd client certificate and its key, or neither');
  }
  return {
    endpoints,
    prefix,
    tls: { ...options.tls },
    credentials: options.username === undefined || options.password === undefined ? undefined : { username: options.username, password: options.password },
    requestTimeoutMs,
    leaseTtlSeconds,
  };
}
