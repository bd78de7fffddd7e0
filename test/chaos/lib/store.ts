/**
 * Driving a `serve` store directly from a part (without `bootstrap`): init, unseal, and small helpers. The shares
 * and root token stay in the part's memory only (they are also added to its leak scan).
 */
import { dataOf, type HttpOptions, type HttpResult, type StoreClient } from './http.js';
import { sleep } from './util.js';

/** What init handed out. */
export interface StoreKeys {
  keys: string[];
  rootToken: string;
}

/** Throws unless `r` is 2xx (with the store's error text). */
export function expectOk(r: HttpResult, what: string): HttpResult {
  if (r.status < 200 || r.status > 299) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  return r;
}

/** `PUT sys/init` (shares/threshold) → keys and root token. */
export async function initStore(c: StoreClient, shares = 3, threshold = 2): Promise<StoreKeys> {
  const r = expectOk(await c.api('PUT', 'sys/init', { body: { secret_shares: shares, secret_threshold: threshold } }), 'sys/init');
  const b = r.body as { keys?: string[]; root_token?: string };
  if (b.keys === undefined || b.root_token === undefined) throw new Error('sys/init: no keys in the answer');
  return { keys: b.keys, rootToken: b.root_token };
}

/** Unseals with the shares (threshold many are enough); throws unless the store ends unsealed. */
export async function unsealStore(c: StoreClient, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const r = expectOk(await c.api('PUT', 'sys/unseal', { body: { key } }), 'sys/unseal');
    if ((r.body as { sealed?: boolean }).sealed === false) return;
  }
  throw new Error('sys/unseal: still sealed after every share');
}

/** Polls `sys/health` until it answers one of `statuses` (or throws after `timeoutMs`). */
export async function waitHealth(c: StoreClient, statuses: readonly number[], timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (;;) {
    try {
      last = (await c.api('GET', 'sys/health', { timeoutMs: 2000 })).status;
      if (statuses.includes(last)) return last;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`sys/health did not answer ${statuses.join('/')} within ${timeoutMs} ms (last ${last})`);
    await sleep(50);
  }
}

/** `sys/health` status, or 0 when no answer. */
export async function healthStatus(c: StoreClient): Promise<number> {
  try {
    return (await c.api('GET', 'sys/health', { timeoutMs: 3000 })).status;
  } catch {
    return 0;
  }
}

/** Creates a token with `root`; returns its id and accessor. */
export async function createToken(c: StoreClient, root: string, body: Record<string, unknown>, path = 'auth/token/create'): Promise<{ token: string; accessor: string }> {
  const r = expectOk(await c.api('POST', path, { token: root, body }), path);
  const auth = (r.body as { auth?: { client_token?: string; accessor?: string } }).auth;
  if (auth?.client_token === undefined || auth.accessor === undefined) throw new Error(`${path}: no auth in the answer`);
  return { token: auth.client_token, accessor: auth.accessor };
}

/** A 2xx request or an Error. */
export async function must(c: StoreClient, method: string, path: string, options: HttpOptions): Promise<HttpResult> {
  return expectOk(await c.api(method, path, options), `${method} ${path}`);
}

/** `data.keys` of a LIST (empty on 404). */
export async function listKeys(c: StoreClient, path: string, token: string): Promise<string[]> {
  const r = await c.api('LIST', path, { token });
  if (r.status === 404) return [];
  expectOk(r, `LIST ${path}`);
  const keys = dataOf(r)?.keys;
  return Array.isArray(keys) ? keys.map(String) : [];
}
