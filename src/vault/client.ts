/**
 * A small Vault/OpenBao HTTP client on `node:http`/`node:https` (Node 20's fetch cannot take a private CA without a
 * new dependency). Per-request timeouts; retries with exponential backoff on transport errors only — and only when
 * repeating the request is harmless (see {@link RequestOptions.idempotent}); lists as `GET ?list=true` like Vault's
 * Go client; every response body validated in ./types.ts. Tokens travel only in the `X-Vault-Token` header and are
 * never logged; secret request bodies are Buffers the caller wipes.
 */
import { SecretStoreError } from '../errors.js';
import { jsonWithSecretHex } from './secret-json.js';
import { VaultTransport, type RequestOptions, type VaultResponse } from './transport.js';
import {
  asObject,
  parseErrors,
  parseGenerateRoot,
  parseHealth,
  parseInitResponse,
  parseLeader,
  parseListKeys,
  parseMounts,
  parseSealStatus,
  parseTokenAuth,
  parseTokenLookup,
  type GenerateRootStatus,
  type HealthResponse,
  type InitResponse,
  type LeaderResponse,
  type MountInfo,
  type SealStatus,
  type TokenAuth,
  type TokenLookup,
} from './types.js';

export type { RequestOptions, VaultClientOptions, VaultResponse } from './transport.js';

/** A client for one node of a Vault-API secret store. */
export class VaultClient extends VaultTransport {
  /** Sends a request and fails with STORE_ERROR unless the status is one of `ok`. */
  async call(method: string, path: string, options: RequestOptions, ok: number[], what = path): Promise<VaultResponse> {
    const res = await this.request(method, path, options);
    if (!ok.includes(res.status)) throw this.statusError(res, what);
    return res;
  }

  /** A STORE_ERROR (or a more specific code) for an unexpected status, with the store's sanitized message. */
  statusError(res: VaultResponse, what: string): SecretStoreError {
    const errors = parseErrors(res.body);
    const detail = errors.length > 0 ? `: ${errors.join('; ')}` : '';
    if (res.status === 503) {
      return new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} is sealed (HTTP 503 on ${what})${detail}`);
    }
    if (res.status === 403) {
      return new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} denied ${what} (HTTP 403)${detail}`);
    }
    return new SecretStoreError('STORE_ERROR', `the secret store at ${this.address} answered HTTP ${res.status} to ${what}${detail}`);
  }

  /**
   * `GET sys/health?standbyok=true&perfstandbyok=true`: the status code is the state (200/429/501/503/…); `standby`
   * tells a standby from the active node. `retries` overrides the client's (0 for probes that are polled anyway).
   */
  async health(options: { retries?: number } = {}): Promise<HealthResponse> {
    const res = await this.request('GET', 'sys/health', { query: { standbyok: 'true', perfstandbyok: 'true' }, ...(options.retries === undefined ? {} : { retries: options.retries }) });
    return parseHealth(res.status, res.body);
  }

  /**
   * `GET sys/leader` (unauthenticated): HA on or off, whether this node is the active one, and the active node's
   * address. A sealed Vault node answers it with an error (5xx): that is a STORE_ERROR like any other status.
   */
  async leader(): Promise<LeaderResponse> {
    const res = await this.call('GET', 'sys/leader', {}, [200]);
    return parseLeader(res.body);
  }

  /** `GET sys/seal-status`. */
  async sealStatus(): Promise<SealStatus> {
    const res = await this.call('GET', 'sys/seal-status', {}, [200]);
    return parseSealStatus(res.body);
  }

  /** `PUT sys/init`. Never retried after it may have been sent: a second init would answer "already initialized". */
  async init(secretShares: number, secretThreshold: number): Promise<InitResponse> {
    const res = await this.call(
      'PUT',
      'sys/init',
      { body: { secret_shares: secretShares, secret_threshold: secretThreshold }, idempotent: false },
      [200],
    );
    return parseInitResponse(res.body, secretShares);
  }

  /**
   * `PUT sys/unseal` with one share. Resolves to the new seal status; a 400 (a share the store rejects) becomes
   * UNSEAL_REJECTED. Idempotent: the store ignores a share it already has.
   */
  async unseal(share: Uint8Array): Promise<SealStatus> {
    const body = jsonWithSecretHex({}, 'key', share);
    try {
      const res = await this.request('PUT', 'sys/unseal', { body, idempotent: true });
      if (res.status === 400) {
        const errors = parseErrors(res.body);
        throw new SecretStoreError(
          'UNSEAL_REJECTED',
          `the secret store at ${this.address} rejected the unseal key shares (${errors[0] ?? 'HTTP 400'}); the key file does not belong to this store's data — do not retry, check TokenFolderPath and the store's data folder`,
        );
      }
      if (res.status !== 200) throw this.statusError(res, 'sys/unseal');
      return parseSealStatus(res.body, 'sys/unseal');
    } finally {
      body.fill(0);
    }
  }

  /** `PUT sys/unseal {"reset":true}`: drops a partial unseal attempt (left by a crash or another client). */
  async unsealReset(): Promise<SealStatus> {
    const res = await this.call('PUT', 'sys/unseal', { body: { reset: true }, idempotent: true }, [200]);
    return parseSealStatus(res.body, 'sys/unseal');
  }

  /** `GET sys/generate-root/attempt`. */
  async generateRootStatus(): Promise<GenerateRootStatus> {
    const res = await this.call('GET', 'sys/generate-root/attempt', {}, [200]);
    return parseGenerateRoot(res.body);
  }

  /** `PUT sys/generate-root/attempt` without an OTP: the store generates one and returns it once. */
  async generateRootStart(): Promise<GenerateRootStatus> {
    const res = await this.call('PUT', 'sys/generate-root/attempt', { body: {}, idempotent: false }, [200]);
    return parseGenerateRoot(res.body);
  }

  /** `DELETE sys/generate-root/attempt`. */
  async generateRootCancel(): Promise<void> {
    await this.call('DELETE', 'sys/generate-root/attempt', {}, [200, 204]);
  }

  /** `PUT sys/generate-root/update` with one share. */
  async generateRootUpdate(share: Uint8Array, nonce: string): Promise<GenerateRootStatus> {
    const body = jsonWithSecretHex({ nonce }, 'key', share);
    try {
      const res = await this.call('PUT', 'sys/generate-root/update', { body, idempotent: false }, [200]);
      return parseGenerateRoot(res.body, 'sys/generate-root/update');
    } finally {
      body.fill(0);
    }
  }

  /** `GET auth/token/lookup-self`; `undefined` when the token is not valid (403). */
  async lookupSelf(token: string): Promise<TokenLookup | undefined> {
    const res = await this.request('GET', 'auth/token/lookup-self', { token });
    if (res.status === 403) return undefined;
    if (res.status !== 200) throw this.statusError(res, 'auth/token/lookup-self');
    return parseTokenLookup(res.body, 'auth/token/lookup-self');
  }

  /** `GET auth/token/accessors?list=true` (needs sudo). */
  async listAccessors(token: string): Promise<string[]> {
    const res = await this.request('GET', 'auth/token/accessors', { token, query: { list: 'true' } });
    if (res.status === 404) return [];
    if (res.status !== 200) throw this.statusError(res, 'auth/token/accessors');
    return parseListKeys(res.body, 'auth/token/accessors');
  }

  /** `POST auth/token/lookup-accessor`; `undefined` when the accessor no longer exists. */
  async lookupAccessor(token: string, accessor: string): Promise<TokenLookup | undefined> {
    const res = await this.request('POST', 'auth/token/lookup-accessor', { token, body: { accessor }, idempotent: true });
    if (res.status === 400 || res.status === 404) return undefined;
    if (res.status !== 200) throw this.statusError(res, 'auth/token/lookup-accessor');
    return parseTokenLookup(res.body, 'auth/token/lookup-accessor');
  }

  /** `POST auth/token/revoke-accessor`. An accessor already gone is not an error. */
  async revokeAccessor(token: string, accessor: string): Promise<void> {
    const res = await this.request('POST', 'auth/token/revoke-accessor', { token, body: { accessor }, idempotent: true });
    if (res.status === 200 || res.status === 204 || res.status === 400) return;
    throw this.statusError(res, 'auth/token/revoke-accessor');
  }

  /** `POST auth/token/revoke-self`. */
  async revokeSelf(token: string): Promise<void> {
    await this.call('POST', 'auth/token/revoke-self', { token, body: {}, idempotent: true }, [200, 204]);
  }

  /**
   * `POST auth/token/create` or `create-orphan`: returns the validated auth block and the raw response body
   * (what EdgeX writes to the token file).
   */
  async createToken(
    token: string,
    request: Record<string, unknown>,
    orphan: boolean,
  ): Promise<{ auth: TokenAuth; response: Record<string, unknown> }> {
    const path = orphan ? 'auth/token/create-orphan' : 'auth/token/create';
    const res = await this.call('POST', path, { token, body: request, idempotent: false }, [200]);
    const auth = parseTokenAuth(res.body, path);
    return { auth, response: asObject(res.body, path) };
  }

  /** `PUT sys/policies/acl/<name>`. */
  async putPolicy(token: string, name: string, policy: string): Promise<void> {
    await this.call('PUT', `sys/policies/acl/${encodeURIComponent(name)}`, { token, body: { policy }, idempotent: true }, [200, 204]);
  }

  /** `GET sys/mounts`. */
  async listMounts(token: string): Promise<Map<string, MountInfo>> {
    const res = await this.call('GET', 'sys/mounts', { token }, [200]);
    return parseMounts(res.body);
  }

  /** `POST sys/mounts/<path>`. */
  async enableMount(token: string, path: string, type: string, options: Record<string, string>, description: string): Promise<void> {
    await this.call('POST', `sys/mounts/${path}`, { token, body: { type, options, description }, idempotent: false }, [200, 204]);
  }

  /** Reads a logical path; `undefined` on 404. */
  async read(token: string, path: string): Promise<unknown> {
    const res = await this.request('GET', path, { token });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.statusError(res, path);
    return res.body;
  }

  /** Writes a logical path (POST). */
  async write(token: string, path: string, body: Record<string, unknown>): Promise<unknown> {
    const res = await this.call('POST', path, { token, body, idempotent: true }, [200, 204]);
    return res.body;
  }
}
