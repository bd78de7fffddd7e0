/**
 * The store's API as `serve` composes it, without sockets: StoreApi over a real SealManager and, once unsealed, the
 * real LogicalLayer, all on memory storage. Records every unexpected (non-Vault) error the API reports, so tests can
 * assert that client mistakes never reach the 500 path.
 */
import assert from 'node:assert/strict';
import { StoreApi } from '../../../src/store/http/api.js';
import { LogicalLayer } from '../../../src/store/http/logical-layer.js';
import type { ApiRequest } from '../../../src/store/http/request.js';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';

/** What a harness call answers. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A store at one point of its life: uninitialized, sealed, or unsealed (with its root token). */
export interface StoreHarness {
  api: StoreApi;
  seal: SealManager;
  /** hex shares (empty when uninitialized). */
  keys: string[];
  /** The root token ('' unless unsealed). */
  root: string;
  /** Unexpected errors the API reported (each one a 500 'internal error'). */
  internal: unknown[];
  /** Sends `body` as is when it is a string or Buffer, else as JSON. */
  call(method: string, path: string, body?: unknown, token?: string): Promise<Answer>;
}

/** The body bytes of a call: strings and Buffers as given, anything else as JSON, nothing → empty. */
export function bodyBytes(body: unknown): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
}

/** A fresh store in `state`; `shares`/`threshold` of the init (default 1/1). */
export async function storeHarness(state: 'uninitialized' | 'sealed' | 'unsealed', shares = 1, threshold = 1): Promise<StoreHarness> {
  const seal = await SealManager.open(new MemoryStorage(), { version: '1.15.0-test', storageType: 'inmem' });
  let logical: LogicalLayer | undefined;
  seal.onUnseal(async (barrier) => {
    logical = await LogicalLayer.open(barrier);
  });
  seal.onSeal(() => {
    logical = undefined;
  });
  const internal: unknown[] = [];
  const api = new StoreApi({
    seal,
    logical: () => logical,
    createRootToken: async (barrier) => (await LogicalLayer.open(barrier)).tokens.createRoot(),
    onInternalError: (err) => internal.push(err),
  });
  const call: StoreHarness['call'] = async (method, path, body, token) => {
    const req: ApiRequest = { method, target: '/v1/' + path, headers: { 'x-vault-token': token }, body: bodyBytes(body), remoteAddress: '127.0.0.1' };
    const { result } = await api.handle(req);
    return { status: result.status, body: (result.body ?? {}) as Record<string, unknown> };
  };
  const h: StoreHarness = { api, seal, keys: [], root: '', internal, call };
  if (state === 'uninitialized') return h;
  const init = await call('PUT', 'sys/init', { secret_shares: shares, secret_threshold: threshold });
  assert.equal(init.status, 200);
  h.keys = init.body.keys as string[];
  if (state === 'sealed') return h;
  for (const key of h.keys.slice(0, threshold)) await call('PUT', 'sys/unseal', { key });
  assert.equal(seal.sealed, false);
  h.root = init.body.root_token as string;
  return h;
}

/** `depth` nested containers (`[[[…]]]`, alternating with objects when `mixed`), as JSON text. */
export function nested(depth: number, mixed = false): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const obj = mixed && i % 2 === 1;
    open += obj ? '{"k":' : '[';
    close = (obj ? '}' : ']') + close;
  }
  // An object level needs a value inside: the innermost one gets a number.
  return mixed && depth % 2 === 0 ? open + '1' + close : open + close;
}
