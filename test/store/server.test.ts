/**
 * The composed store (durable storage → SealManager → tokens/policies/mounts → HTTP) started in-process on port 0
 * over a temp data folder: every endpoint family and its error paths, over real HTTP.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../src/log.js';
import { StoreServer } from '../../src/store/server.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { call, type CallOptions, type TestResponse } from './http/client.js';

type Json = Record<string, unknown>;

let dir = '';
let server: StoreServer;
let keys: string[] = [];
let keysB64: string[] = [];
let root = '';
const logLines: string[] = [];

const api = (method: string, path: string, options: CallOptions = {}): Promise<TestResponse> => call(server.url, method, `/v1/${path}`, options);
const asRoot = (method: string, path: string, body?: unknown): Promise<TestResponse> =>
  api(method, path, body === undefined ? { token: root } : { token: root, body });
const json = (r: TestResponse): Json => r.json as Json;
const data = (r: TestResponse): Json => json(r).data as Json;

async function unsealAll(): Promise<void> {
  for (const k of keys.slice(0, 2)) await api('PUT', 'sys/unseal', { body: { key: k } });
}

before(async () => {
  dir = await makeTempDir();
  server = await StoreServer.start({ dataDir: dir, host: '127.0.0.1', port: 0, log: new Logger({ sink: (l) => logLines.push(l) }) });
});

after(async () => {
  await server.close();
  await removeTempDir(dir);
});

test('uninitialized: seal-status, health 501, init validation, unseal refused, logical paths 503', async () => {
  const st = json(await api('GET', 'sys/seal-status'));
  assert.equal(st.initialized, false);
  assert.equal(st.sealed, true);
  assert.equal(st.t, 0);
  assert.equal((await api('GET', 'sys/health')).status, 501);
  assert.equal((await api('GET', 'sys/health?uninitcode=299')).status, 299);
  assert.deepEqual(json(await api('GET', 'sys/init')), { initialized: false });
  assert.deepEqual(json(await api('PUT', 'sys/init', { body: { secret_shares: 0, secret_threshold: 1 } })), {
    errors: ['invalid seal configuration: shares must be at least one'],
  });
  assert.deepEqual(json(await api('PUT', 'sys/init', { body: { secret_shares: 2, secret_threshold: 3 } })), {
    errors: ['invalid seal configuration: threshold cannot be larger than shares'],
  });
  assert.deepEqual(json(await api('PUT', 'sys/unseal', { body: { key: 'aa'.repeat(32) } })), { errors: ['Vault is not initialized'] });
  const sealed = await api('GET', 'secret/x', { token: 'whatever' });
  assert.equal(sealed.status, 503);
  assert.deepEqual(sealed.json, { errors: ['Vault is sealed'] });
  assert.deepEqual(json(await api('GET', 'sys/generate-root/attempt')), { errors: ['server is not yet initialized'] });
});

test('init 3/2, then sealed until unsealed; unseal progress, errors, reset', async () => {
  const init = await api('PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
  assert.equal(init.status, 200);
  const body = json(init);
  keys = body.keys as string[];
  keysB64 = body.keys_base64 as string[];
  root = body.root_token as string;
  assert.equal(keys.length, 3);
  assert.equal(keysB64.length, 3);
  assert.match(root, /^hvs\./);
  assert.deepEqual(json(await api('POST', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } })), { errors: ['Vault is already initialized'] });
  assert.equal((await api('GET', 'sys/health')).status, 503);
  assert.equal((await api('GET', 'sys/health?sealedcode=200')).status, 200);
  assert.deepEqual(json(await api('GET', 'sys/health?sealedcode=x')), { errors: [] });
  assert.equal((await asRoot('GET', 'auth/token/lookup-self')).status, 503);
  assert.deepEqual(json(await api('PUT', 'sys/unseal', { body: {} })), {
    errors: ["'key' must be specified in request body as JSON, or 'reset' set to true"],
  });
  assert.deepEqual(json(await api('PUT', 'sys/unseal', { body: { key: 'ThisKeyIsNeitherB64NorHex' } })), {
    errors: ["'key' must be a valid hex or base64 string"],
  });
  const p1 = json(await api('PUT', 'sys/unseal', { body: { key: keys[0] } }));
  assert.equal(p1.progress, 1);
  assert.equal(json(await api('PUT', 'sys/unseal', { body: { reset: true } })).progress, 0);
  await api('PUT', 'sys/unseal', { body: { key: keysB64[1] } });
  const done = json(await api('PUT', 'sys/unseal', { body: { Key: keys[2] } }));
  assert.equal(done.sealed, false);
  assert.equal(typeof done.cluster_id, 'string');
  assert.deepEqual(json(await api('PUT', 'sys/unseal', { body: { reset: true } })), { errors: ['vault is unsealed'] });
  const health = await api('GET', 'sys/health');
  assert.equal(health.status, 200);
  assert.equal(json(health).sealed, false);
  assert.equal((await api('HEAD', 'sys/health?activecode=202')).status, 202);
  const leader = json(await api('GET', 'sys/leader'));
  assert.equal(leader.ha_enabled, false);
});

test('sys/mounts: mount KV v1 and v2, conflict, list with top-level copy, ui mounts, unmount', async () => {
  assert.equal((await asRoot('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } })).status, 204);
  assert.equal((await asRoot('POST', 'sys/mounts/kv1', { type: 'kv' })).status, 204);
  assert.deepEqual(json(await asRoot('POST', 'sys/mounts/secret', { type: 'kv' })), { errors: ['path is already in use at secret/'] });
  const mounts = await asRoot('GET', 'sys/mounts');
  assert.equal(mounts.status, 200);
  assert.equal((json(mounts)['secret/'] as Json).type, 'kv');
  assert.deepEqual(((data(mounts)['secret/'] as Json).options as Json).version, '2');
  const ui = data(await asRoot('GET', 'sys/internal/ui/mounts/secret/data/x'));
  assert.equal(ui.path, 'secret/');
  assert.deepEqual((ui.options as Json).version, '2');
  assert.equal((await asRoot('POST', 'sys/mounts/gone', { type: 'kv' })).status, 204);
  assert.equal((await asRoot('DELETE', 'sys/mounts/gone')).status, 204);
  assert.equal((await asRoot('GET', 'gone/x')).status, 404);
});

test('KV v2 over HTTP: versions, cas, patch content type, metadata, list, soft delete, undelete, destroy', async () => {
  const w = await asRoot('POST', 'secret/data/app/cfg', { data: { a: '1' } });
  assert.equal(data(w).version, 1);
  await asRoot('PUT', 'secret/data/app/cfg', { data: { a: '2' }, options: { cas: 1 } });
  assert.deepEqual(json(await asRoot('PUT', 'secret/data/app/cfg', { data: { a: '3' }, options: { cas: 1 } })), {
    errors: ['check-and-set parameter did not match the current version'],
  });
  assert.deepEqual(data(await asRoot('GET', 'secret/data/app/cfg?version=1')).data, { a: '1' });
  const badPatch = await api('PATCH', 'secret/data/app/cfg', { token: root, body: { data: { b: '1' } }, headers: { 'Content-Type': 'application/json' } });
  assert.equal(badPatch.status, 415);
  const patch = await api('PATCH', 'secret/data/app/cfg', { token: root, body: { data: { b: '1' } }, headers: { 'Content-Type': 'application/merge-patch+json' } });
  assert.equal(patch.status, 200);
  assert.deepEqual(data(await asRoot('GET', 'secret/data/app/cfg')).data, { a: '2', b: '1' });
  const list = await api('LIST', 'secret/metadata/app', { token: root });
  assert.deepEqual(data(list).keys, ['cfg']);
  assert.deepEqual(data(await asRoot('GET', 'secret/metadata/app/?list=true')).keys, ['cfg']);
  assert.equal((await api('LIST', 'secret/metadata/none', { token: root })).status, 404);
  assert.equal(data(await asRoot('GET', 'secret/metadata/app/cfg')).current_version, 3);
  assert.equal((await asRoot('DELETE', 'secret/data/app/cfg')).status, 204);
  const deleted = await asRoot('GET', 'secret/data/app/cfg');
  assert.equal(deleted.status, 404);
  assert.equal(data(deleted).data, null);
  assert.equal((await asRoot('POST', 'secret/undelete/app/cfg', { versions: [3] })).status, 204);
  assert.equal((await asRoot('GET', 'secret/data/app/cfg')).status, 200);
  assert.equal((await asRoot('POST', 'secret/destroy/app/cfg', { versions: [1] })).status, 204);
  assert.equal((await asRoot('GET', 'secret/data/app/cfg?version=1')).status, 404);
  assert.deepEqual(json(await asRoot('GET', 'secret/data/missing')), { errors: [] });
});

test('KV v1: write/read/list/delete with the body as data', async () => {
  assert.equal((await asRoot('PUT', 'kv1/edgex/core', { username: 'u', password: 'p' })).status, 204);
  assert.deepEqual(data(await asRoot('GET', 'kv1/edgex/core')), { username: 'u', password: 'p' });
  assert.deepEqual(data(await api('LIST', 'kv1/edgex', { token: root })).keys, ['core']);
  assert.equal((await asRoot('DELETE', 'kv1/edgex/core')).status, 204);
  assert.equal((await asRoot('GET', 'kv1/edgex/core')).status, 404);
});

test('policies: sys/policies/acl and legacy sys/policy, root and default protected, bad policy 400', async () => {
  const rules = 'path "secret/data/ro/*" { capabilities = ["read"] }\npath "kv1/*" { capabilities = ["create", "read"] }';
  assert.equal((await asRoot('PUT', 'sys/policies/acl/RO', { policy: rules })).status, 204);
  assert.deepEqual(data(await api('LIST', 'sys/policies/acl', { token: root })).keys, ['default', 'ro', 'root']);
  assert.deepEqual(data(await asRoot('GET', 'sys/policies/acl/ro')), { name: 'ro', policy: rules });
  const legacy = json(await asRoot('GET', 'sys/policy'));
  assert.deepEqual(legacy.policies, ['default', 'ro', 'root']);
  assert.equal(json(await asRoot('GET', 'sys/policy/ro')).rules, rules);
  assert.deepEqual(json(await asRoot('PUT', 'sys/policies/acl/root', { policy: rules })), { errors: ['cannot update "root" policy'] });
  assert.deepEqual(json(await asRoot('DELETE', 'sys/policies/acl/default')), { errors: ['cannot delete default policy'] });
  assert.deepEqual(json(await asRoot('PUT', 'sys/policies/acl/x', { policy: '' })), { errors: ["'policy' parameter not supplied or empty"] });
  const bad = await asRoot('PUT', 'sys/policies/acl/x', { policy: 'path "a" { capabilities = ["fly"] }' });
  assert.equal(bad.status, 400);
  assert.match((json(bad).errors as string[])[0] ?? '', /path "a": invalid capability "fly"$/);
  assert.equal((await asRoot('PUT', 'sys/policy/tmp', { rules })).status, 204);
  assert.equal((await asRoot('DELETE', 'sys/policies/acl/tmp')).status, 204);
});

test('tokens: create with policies, ACL enforcement (create vs update, sudo), lookup, accessors, renew, revoke, num_uses', async () => {
  const created = json(await asRoot('POST', 'auth/token/create', { policies: ['ro'], ttl: '1h' }));
  const auth = created.auth as Json;
  const t = auth.client_token as string;
  assert.deepEqual(auth.policies, ['default', 'ro']);
  // Bearer works too.
  const self = await api('GET', 'auth/token/lookup-self', { headers: { Authorization: `Bearer ${t}` } });
  assert.deepEqual(data(self).policies, ['default', 'ro']);
  await asRoot('POST', 'secret/data/ro/item', { data: { v: 1 } });
  assert.equal((await api('GET', 'secret/data/ro/item', { token: t })).status, 200);
  assert.deepEqual(json(await api('POST', 'secret/data/ro/item', { token: t, body: { data: {} } })), { errors: ['permission denied'] });
  // kv1/*: create but not update: a new item is allowed, overwriting is not.
  assert.equal((await api('PUT', 'kv1/new', { token: t, body: { a: 1 } })).status, 204);
  assert.equal((await api('PUT', 'kv1/new', { token: t, body: { a: 2 } })).status, 403);
  // sudo-protected: accessors list and sys/seal.
  assert.equal((await api('LIST', 'auth/token/accessors', { token: t })).status, 403);
  const accessors = data(await api('LIST', 'auth/token/accessors', { token: root })).keys as string[];
  assert.ok(accessors.includes(auth.accessor as string));
  assert.equal((await api('PUT', 'sys/seal', { token: t })).status, 403);
  // default policy: renew-self and capabilities-self.
  const renewed = json(await api('POST', 'auth/token/renew-self', { token: t, body: { increment: '30m' } }));
  assert.equal((renewed.auth as Json).client_token, t);
  const caps = json(await api('POST', 'sys/capabilities-self', { token: t, body: { paths: ['secret/data/ro/x', 'sys/mounts'] } }));
  assert.deepEqual((caps.data as Json)['secret/data/ro/x'], ['read']);
  assert.deepEqual((caps.data as Json)['sys/mounts'], ['deny']);
  assert.deepEqual(data(await asRoot('POST', 'auth/token/lookup-accessor', { accessor: auth.accessor })).policies, ['default', 'ro']);
  assert.deepEqual(data(await asRoot('POST', 'auth/token/lookup', { token: t })).id, t);
  // renew of a root token is refused.
  assert.deepEqual(json(await asRoot('POST', 'auth/token/renew-self')), { errors: ['lease is not renewable'] });
  // num_uses: 2 uses, then gone.
  const limited = ((json(await asRoot('POST', 'auth/token/create', { policies: ['ro'], num_uses: 2 })).auth as Json).client_token) as string;
  assert.equal((await api('GET', 'secret/data/ro/item', { token: limited })).status, 200);
  assert.equal((await api('GET', 'secret/data/ro/item', { token: limited })).status, 200);
  assert.deepEqual(json(await api('GET', 'secret/data/ro/item', { token: limited })), { errors: ['permission denied', 'invalid token'] });
  // revoke-self and revoke.
  assert.equal((await api('POST', 'auth/token/revoke-self', { token: t })).status, 204);
  assert.equal((await api('GET', 'auth/token/lookup-self', { token: t })).status, 403);
  const other = ((json(await asRoot('POST', 'auth/token/create-orphan', { policies: ['ro'] })).auth as Json).client_token) as string;
  assert.equal((await asRoot('POST', 'auth/token/revoke', { token: other })).status, 204);
  assert.equal((await api('GET', 'auth/token/lookup-self', { token: other })).status, 403);
});

test('sys/auth and sys/internal/ui/mounts: any capability on the mount path is enough, none is 403', async () => {
  const auths = json(await asRoot('GET', 'sys/auth'));
  assert.equal((auths['token/'] as Json).type, 'token');
  const t = ((json(await asRoot('POST', 'auth/token/create', { policies: ['ro'] })).auth as Json).client_token) as string;
  const ok = await api('GET', 'sys/internal/ui/mounts/secret/data/ro/x', { token: t });
  assert.equal(ok.status, 200);
  assert.equal(data(ok).type, 'kv');
  assert.deepEqual(json(await api('GET', 'sys/internal/ui/mounts/secret/data/other', { token: t })), { errors: ['permission denied'] });
  assert.equal((await api('GET', 'sys/internal/ui/mounts/secret/data/ro/x')).status, 403);
});

test('routing and method errors: unknown route, unsupported method, malformed JSON, sys endpoints method checks', async () => {
  assert.deepEqual(json(await asRoot('GET', 'nowhere/x')), { errors: ['no handler for route "nowhere/x". route entry not found.'] });
  assert.equal((await api('TRACE', 'secret/data/x', { token: root })).status, 405);
  assert.deepEqual(json(await api('POST', 'secret/data/x', { token: root, body: '{nope' })), { errors: ['error parsing JSON'] });
  assert.equal((await api('POST', 'sys/seal-status')).status, 405);
  assert.equal((await api('GET', 'sys/unseal')).status, 405);
  assert.equal((await api('GET', 'secret/data/x')).status, 403);
});

test('generate-root errors and cancel; rekey to 1/1 changes the shares', async () => {
  const status = json(await api('GET', 'sys/generate-root/attempt'));
  assert.equal(status.started, false);
  assert.equal(status.otp_length, 28);
  assert.deepEqual(json(await api('PUT', 'sys/generate-root/attempt', { body: { otp: 'short' } })), { errors: ['OTP string has incorrect length'] });
  const started = json(await api('PUT', 'sys/generate-root/attempt', { body: {} }));
  assert.equal(started.started, true);
  assert.deepEqual(json(await api('PUT', 'sys/generate-root/attempt', { body: {} })), { errors: ['root generation already in progress'] });
  const wrongNonce = json(await api('PUT', 'sys/generate-root/update', { body: { key: keys[0], nonce: 'x' } }));
  assert.deepEqual(wrongNonce, { errors: [`incorrect nonce supplied; nonce for this root generation operation is "${String(started.nonce)}"`] });
  assert.equal((await api('DELETE', 'sys/generate-root/attempt')).status, 204);
  assert.equal(json(await api('GET', 'sys/generate-root/attempt')).started, false);

  const rk = json(await api('PUT', 'sys/rekey/init', { body: { secret_shares: 1, secret_threshold: 1 } }));
  assert.equal(rk.started, true);
  assert.equal(json(await api('GET', 'sys/rekey/init')).started, true);
  await api('PUT', 'sys/rekey/update', { body: { key: keys[1], nonce: rk.nonce } });
  const fin = json(await api('PUT', 'sys/rekey/update', { body: { key: keys[2], nonce: rk.nonce } }));
  assert.equal(fin.complete, true);
  const newKeys = fin.keys as string[];
  assert.equal(newKeys.length, 1);
  // Seal, then the old shares no longer open the store and the new key does.
  assert.equal((await api('PUT', 'sys/seal', { token: root })).status, 204);
  assert.equal((await api('PUT', 'sys/seal', { token: root })).status, 204);
  const old = await api('PUT', 'sys/unseal', { body: { key: keys[0] } });
  assert.equal(old.status, 400);
  assert.equal(json(await api('PUT', 'sys/unseal', { body: { key: newKeys[0] } })).sealed, false);
  keys = [newKeys[0] ?? '', newKeys[0] ?? ''];
  assert.equal((await asRoot('GET', 'kv1/new')).status, 200);
});

test('sealing drops the logical layer: every logical path 503, data back after unseal', async () => {
  assert.equal((await api('PUT', 'sys/seal', { token: root })).status, 204);
  for (const p of ['secret/data/ro/item', 'sys/mounts', 'sys/policies/acl/ro', 'auth/token/lookup-self', 'sys/capabilities-self']) {
    assert.deepEqual(json(await asRoot('GET', p)), { errors: ['Vault is sealed'] }, p);
  }
  await unsealAll();
  assert.equal((await asRoot('GET', 'secret/data/ro/item')).status, 200);
  assert.ok(logLines.some((l) => l.includes('sys/seal')));
  assert.ok(!logLines.some((l) => l.includes(root)));
});

test('decrypted-entry and token caches: writes, deletes and revocations show at once, also across seal/unseal', async () => {
  const read = async (): Promise<TestResponse> => asRoot('GET', 'secret/data/cache/item');
  assert.equal((await asRoot('POST', 'secret/data/cache/item', { data: { v: '1' } })).status, 200);
  assert.deepEqual((data(await read()).data as Json).v, '1');
  assert.deepEqual((data(await read()).data as Json).v, '1');
  assert.equal((await asRoot('POST', 'secret/data/cache/item', { data: { v: '2' } })).status, 200);
  assert.deepEqual((data(await read()).data as Json).v, '2');
  const token = ((json(await asRoot('POST', 'auth/token/create', { policies: ['default'] })).auth as Json).client_token as string);
  assert.equal((await api('GET', 'auth/token/lookup-self', { token })).status, 200);
  assert.equal((await asRoot('POST', 'auth/token/revoke', { token })).status, 204);
  assert.deepEqual(json(await api('GET', 'auth/token/lookup-self', { token })), { errors: ['permission denied', 'invalid token'] });
  assert.equal((await api('PUT', 'sys/seal', { token: root })).status, 204);
  assert.equal((await read()).status, 503);
  await unsealAll();
  assert.deepEqual((data(await read()).data as Json).v, '2');
  assert.equal((await api('GET', 'auth/token/lookup-self', { token })).status, 403);
  assert.equal((await asRoot('DELETE', 'secret/metadata/cache/item')).status, 204);
  assert.equal((await read()).status, 404);
});
