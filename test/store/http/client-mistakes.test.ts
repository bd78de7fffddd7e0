/**
 * Client mistakes through the store's API as `serve` composes it (real seal state machine, real logical layer):
 * oversized inputs, deep JSON, missing and type-confused fields. Each must be a Vault-shaped 4xx
 * (`{"errors":[...]}`), never a 500 and never an error the API has to report as unexpected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nested, storeHarness, type Answer, type StoreHarness } from './store-harness.js';

/** The seal endpoints' body limit (64 KiB) and Vault's default JSON nesting limit (`max_json_depth`, 500). */
const SEAL_LIMIT = 64 * 1024;
const DEPTH = 500;
const TOO_LARGE = { status: 413, body: { errors: ['failed to parse JSON input: http: request body too large'] } };
const BAD_JSON = { status: 400, body: { errors: ['error parsing JSON'] } };

function noInternal(h: StoreHarness, what: string): void {
  assert.deepEqual(h.internal.map((e) => (e instanceof Error ? `${e.name}: ${e.message.slice(0, 80)}` : String(e))), [], what);
}

function not500(r: Answer, what: string): void {
  assert.ok(r.status < 500 || r.status === 503, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  assert.ok(Array.isArray(r.body.errors) || r.status < 400, `${what}: error body is {"errors":[...]}`);
}

test('unseal with a 5 M-character key: 413 before the body is parsed; a long key within the limit: 400 as Vault', async () => {
  const h = await storeHarness('sealed');
  for (const key of ['a'.repeat(5_000_000), 'ab'.repeat(2_500_000), 'A'.repeat(4_999_999) + 'z']) {
    assert.deepEqual(await h.call('PUT', 'sys/unseal', { key }), TOO_LARGE);
  }
  // Within the body limit, the key's length is checked before any decoding: Vault's message for a key that long.
  for (const key of ['a'.repeat(60_000), 'ab'.repeat(30_000), '%'.repeat(60_000), 'QUJD'.repeat(15_000)]) {
    assert.deepEqual(await h.call('PUT', 'sys/unseal', { key }), { status: 400, body: { errors: ['invalid key: key is longer than maximum 33 bytes'] } });
  }
  const fresh = await storeHarness('uninitialized');
  assert.deepEqual(await fresh.call('PUT', 'sys/unseal', { key: 'ab'.repeat(20_000) }), { status: 400, body: { errors: ['Vault is not initialized'] } });
  assert.equal(h.seal.sealed, true);
  assert.equal(h.seal.sealStatus().progress, 0, 'no share was recorded');
  noInternal(h, 'unseal');
  noInternal(fresh, 'unseal uninitialized');
});

test('every seal endpoint refuses a body over 64 KiB with 413 before parsing it; up to 64 KiB it is parsed', async () => {
  const h = await storeHarness('unsealed');
  const paths = ['sys/init', 'sys/unseal', 'sys/generate-root/attempt', 'sys/generate-root/update', 'sys/rekey/init', 'sys/rekey/update'];
  const pad = (n: number): string => {
    const head = '{"nonce":"';
    return head + 'x'.repeat(n - head.length - 2) + '"}';
  };
  for (const p of paths) {
    for (const method of ['PUT', 'POST']) {
      assert.equal(pad(SEAL_LIMIT + 1).length, SEAL_LIMIT + 1);
      assert.deepEqual(await h.call(method, p, pad(SEAL_LIMIT + 1)), TOO_LARGE, `${method} ${p}`);
      // Even when the body is not JSON at all: the size is decided first.
      assert.deepEqual(await h.call(method, p, Buffer.alloc(SEAL_LIMIT + 100, 0x5b)), TOO_LARGE, `${method} ${p} [[[`);
      const atLimit = await h.call(method, p, pad(SEAL_LIMIT));
      assert.notEqual(atLimit.status, 413, `${method} ${p} at the limit`);
      not500(atLimit, `${method} ${p} at the limit`);
    }
  }
  // A logical endpoint keeps the server-wide limit: a 1 MiB KV write is fine.
  assert.equal((await h.call('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '1' } }, h.root)).status, 204);
  assert.equal((await h.call('POST', 'secret/big', { v: 'x'.repeat(1024 * 1024) }, h.root)).status, 204);
  noInternal(h, 'limits');
});

test('rekey/init without shares or threshold: 400 with Vault\'s message (never 500), nothing started', async () => {
  const h = await storeHarness('unsealed', 3, 2);
  const cases: [unknown, string][] = [
    [{}, 'invalid rekey seal configuration: shares must be at least one'],
    [{ secret_shares: 0, secret_threshold: 0 }, 'invalid rekey seal configuration: shares must be at least one'],
    [{ secret_shares: 1 }, 'invalid rekey seal configuration: threshold must be at least one'],
    [{ secret_shares: 3, secret_threshold: 1 }, 'invalid rekey seal configuration: threshold must be greater than one for multiple shares'],
    [{ secret_shares: 300, secret_threshold: 2 }, 'invalid rekey seal configuration: shares must be less than 256'],
    // Vault's RekeyInit checks this one first, with its own words.
    [{ secret_shares: 3, secret_threshold: 4 }, 'provided threshold greater than the total shares'],
  ];
  for (const method of ['PUT', 'POST']) {
    for (const [body, message] of cases) {
      assert.deepEqual(await h.call(method, 'sys/rekey/init', body), { status: 400, body: { errors: [message] } }, JSON.stringify(body));
    }
  }
  assert.equal((await h.call('GET', 'sys/rekey/init')).body.started, false);
  // Sealed: Vault validates before looking at the seal, so the mistake is still a 400.
  await h.seal.seal();
  assert.deepEqual(await h.call('PUT', 'sys/rekey/init', {}), { status: 400, body: { errors: ['invalid rekey seal configuration: shares must be at least one'] } });
  noInternal(h, 'rekey/init');
});

test('KV v1 and v2 writes of JSON nested 10,000 levels: 400 error parsing JSON; Vault\'s depth (500) is accepted', async () => {
  const h = await storeHarness('unsealed');
  assert.equal((await h.call('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '1' } }, h.root)).status, 204);
  assert.equal((await h.call('POST', 'sys/mounts/kv', { type: 'kv', options: { version: '2' } }, h.root)).status, 204);
  for (const mixed of [false, true]) {
    const deep = nested(10_000, mixed);
    assert.deepEqual(await h.call('POST', 'secret/deep', `{"a":${deep}}`, h.root), BAD_JSON, 'kv v1');
    assert.deepEqual(await h.call('PUT', 'secret/deep', `{"a":${deep}}`, h.root), BAD_JSON, 'kv v1 PUT');
    assert.deepEqual(await h.call('POST', 'kv/data/deep', `{"data":{"a":${deep}}}`, h.root), BAD_JSON, 'kv v2');
    assert.deepEqual(await h.call('POST', 'kv/metadata/deep', `{"custom_metadata":${deep}}`, h.root), BAD_JSON, 'kv v2 metadata');
    assert.deepEqual(await h.call('PUT', 'kv/data/deep', `{"data":{"a":${deep}}}`, h.root), BAD_JSON, 'kv v2 PUT');
    // Unbalanced and deep: still the JSON message.
    assert.deepEqual(await h.call('POST', 'secret/deep', '{"a":' + '['.repeat(100_000), h.root), BAD_JSON, 'unterminated');
  }
  // Brackets inside strings are not nesting.
  assert.equal((await h.call('POST', 'secret/brackets', { a: '['.repeat(100_000), b: '{\\"['.repeat(1000) }, h.root)).status, 204);
  // Exactly Vault's limit (the body object counts as level 1) is a valid write and reads back.
  assert.equal((await h.call('POST', 'secret/ok', `{"a":${nested(DEPTH - 1, true)}}`, h.root)).status, 204);
  assert.equal((await h.call('GET', 'secret/ok', undefined, h.root)).status, 200);
  assert.deepEqual(await h.call('POST', 'secret/over', `{"a":${nested(DEPTH, true)}}`, h.root), BAD_JSON);
  assert.equal((await h.call('POST', 'kv/data/ok', `{"data":{"a":${nested(DEPTH - 2)}}}`, h.root)).status, 200);
  assert.equal((await h.call('GET', 'kv/data/ok', undefined, h.root)).status, 200);
  assert.deepEqual(await h.call('POST', 'kv/data/over', `{"data":{"a":${nested(DEPTH - 1)}}}`, h.root), BAD_JSON);
  // A merge patch as deep as the limit allows keeps working (the merged document is no deeper than its parts).
  const patch = await h.api.handle({
    method: 'PATCH',
    target: '/v1/kv/data/ok',
    headers: { 'x-vault-token': h.root, 'content-type': 'application/merge-patch+json' },
    body: Buffer.from(`{"data":{"a":${nested(DEPTH - 2)}}}`),
  });
  assert.equal(patch.result.status, 200);
  noInternal(h, 'kv');
});

/** Values of the wrong JSON type for any field, and huge strings (within the seal endpoints' 64 KiB). */
const CONFUSED: unknown[] = [[], [1, 'a'], [[]], [{}], 1, -1, 1.5, 1e300, -0, 'str', '', true, false, {}, { a: [] }, null];
const TOP_LEVEL = ['[]', '[1,2]', '1', '-0', '"str"', 'true', 'null', '1e999', '{', '{"a":1}x', '\u0000', nested(10_000)];

const SYS_SEAL_ENDPOINTS: [string, string[]][] = [
  ['sys/init', ['secret_shares', 'secret_threshold', 'pgp_keys', 'root_token_pgp_key', 'stored_shares', 'recovery_shares']],
  ['sys/unseal', ['key', 'reset', 'migrate', 'KEY']],
  ['sys/generate-root/attempt', ['otp', 'pgp_key']],
  ['sys/generate-root/update', ['key', 'nonce']],
  ['sys/rekey/init', ['secret_shares', 'secret_threshold', 'pgp_keys', 'backup', 'require_verification', 'Secret_Shares']],
  ['sys/rekey/update', ['key', 'nonce']],
];

/** Fields of the lists above that the endpoint does not read (ignored, as Vault ignores unknown fields). */
const UNTYPED = new Set(['recovery_shares']);

test('every sys endpoint, in every seal state, answers type-confused bodies with 400 (or its state), never 500', async () => {
  for (const state of ['uninitialized', 'sealed', 'unsealed'] as const) {
    const h = await storeHarness(state, 3, 2);
    if (state === 'unsealed') {
      // Ceremonies running, so the update endpoints get past "nothing in progress".
      assert.equal((await h.call('PUT', 'sys/generate-root/attempt', {})).status, 200);
      assert.equal((await h.call('PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 })).status, 200);
    }
    for (const [path, fields] of SYS_SEAL_ENDPOINTS) {
      for (const method of ['PUT', 'POST']) {
        for (const text of TOP_LEVEL) assert.deepEqual(await h.call(method, path, text), BAD_JSON, `${state} ${method} ${path} ${text.slice(0, 20)}`);
        for (const f of fields) {
          for (const v of CONFUSED) {
            const r = await h.call(method, path, { [f]: v });
            const what = `${state} ${method} ${path} ${JSON.stringify({ [f]: v })}`;
            not500(r, what);
            // A typed field holding another JSON type (null is Go's zero value) is Go's unmarshal error: 400, whatever the state.
            if (!UNTYPED.has(f) && v !== null && !isAcceptedType(f, v)) assert.equal(r.status, 400, what);
          }
          // A huge string in every field: answered from its length or the state, cheaply, never 500.
          const r = await h.call(method, path, { [f]: 'f'.repeat(60_000) });
          not500(r, `${state} ${method} ${path} huge ${f}`);
          assert.ok([400, 503].includes(r.status), `${state} ${method} ${path} huge ${f}: ${r.status}`);
        }
      }
    }
    for (const path of ['sys/seal-status', 'sys/health', 'sys/leader', 'sys/seal', 'sys/generate-root/attempt', 'sys/rekey/init']) {
      for (const method of ['GET', 'HEAD', 'DELETE', 'PATCH', 'OPTIONS']) {
        for (const text of TOP_LEVEL) {
          const r = await h.call(method, path, text);
          assert.ok(r.status < 500 || r.status === 503 || (path === 'sys/health' && r.status === 501), `${state} ${method} ${path}: ${r.status}`);
        }
      }
    }
    noInternal(h, state);
  }
});

/** Whether `v` has the Go type of field `f` (so a 400 is not required). */
function isAcceptedType(f: string, v: unknown): boolean {
  const name = f.toLowerCase();
  if (['secret_shares', 'secret_threshold', 'stored_shares'].includes(name)) return typeof v === 'number' && Number.isSafeInteger(v);
  if (['reset', 'migrate', 'backup', 'require_verification'].includes(name)) return typeof v === 'boolean';
  if (name === 'pgp_keys') return Array.isArray(v) && v.every((x) => typeof x === 'string');
  return typeof v === 'string';
}

test('logical sys endpoints, auth/userpass/* and identity/* answer type-confused bodies with 400, never 500', async () => {
  const h = await storeHarness('unsealed');
  const t = h.root;
  assert.equal((await h.call('POST', 'sys/auth/userpass', { type: 'userpass' }, t)).status, 204);
  assert.equal((await h.call('POST', 'auth/userpass/users/bob', { password: 'pw' }, t)).status, 204);
  const entity = await h.call('POST', 'identity/entity', { name: 'e1' }, t);
  console.log(entity);
  assert.equal(entity.status, 200);
  const entityId = String((entity.body.data as Record<string, unknown>).id);
  const paths = [
    'sys/mounts/m1', 'sys/auth/a1', 'sys/policies/acl/p1', 'sys/policy/p2', 'sys/capabilities-self',
    'auth/token/create', 'auth/token/lookup', 'auth/token/roles/r1',
    'auth/userpass/users/alice', 'auth/userpass/users/bob', 'auth/userpass/users/bob/password', 'auth/userpass/users/bob/policies', 'auth/userpass/login/bob',
    'identity/entity', 'identity/entity/name/e2', `identity/entity/id/${entityId}`, 'identity/entity-alias', 'identity/oidc/config', 'identity/oidc/role/r1',
    'identity/oidc/introspect',
  ];
  const fields = [
    'password', 'token_policies', 'token_ttl', 'token_max_ttl', 'token_period', 'token_bound_cidrs', 'token_num_uses', 'token_type', 'policies', 'name',
    'metadata', 'disabled', 'canonical_id', 'mount_accessor', 'id', 'key', 'template', 'client_id', 'issuer', 'ttl', 'policy', 'rules', 'type', 'options',
    'config', 'path', 'paths', 'token', 'meta', 'bound_cidrs', 'custom_metadata',
  ];
  for (const path of paths) {
    for (const method of ['POST', 'PUT']) {
      for (const text of TOP_LEVEL) assert.deepEqual(await h.call(method, path, text, t), BAD_JSON, `${method} ${path} ${text.slice(0, 20)}`);
      // Both methods are the same `update` operation past this point: the fields once, with POST.
      if (method === 'PUT') continue;
      for (const f of fields) {
        // Passwords are hashed with scrypt (tens of milliseconds each) and logins throttled: fewer values there.
        const values = f === 'password' ? [[], [1, 'a'], {}, true, null, 1.5, 'x'.repeat(100_000)] : [...CONFUSED, 'x'.repeat(100_000), ['x'.repeat(100_000)], { [f]: 'x'.repeat(100_000) }];
        for (const v of values) {
          not500(await h.call(method, path, { [f]: v }, t), `${method} ${path} ${JSON.stringify({ [f]: v }).slice(0, 60)}`);
        }
      }
    }
  }
  noInternal(h, 'logical');
});

test('an OIDC role template: a multi-megabyte or too deeply nested template is a 400, never 500', async () => {
  const h = await storeHarness('unsealed');
  const t = h.root;
  assert.equal((await h.call('POST', 'identity/oidc/key/k1', {}, t)).status, 204);
  for (const template of ['A'.repeat(6_000_000), 'QUJD'.repeat(1_500_000), '{"a":' + nested(100_000) + '}', Buffer.from('{"a":' + nested(5_000) + '}').toString('base64')]) {
    const r = await h.call('POST', 'identity/oidc/role/r1', { key: 'k1', template }, t);
    assert.equal(r.status, 400, `${template.slice(0, 20)}: ${JSON.stringify(r.body).slice(0, 200)}`);
  }
  assert.equal((await h.call('POST', 'identity/oidc/role/r1', { key: 'k1', template: '{"a":' + nested(DEPTH - 1) + '}' }, t)).status, 204);
  noInternal(h, 'oidc');
});

test('lone UTF-16 surrogates in a body become U+FFFD as in Vault (Go), never a 500 (the chaos campaign found an OIDC role)', async () => {
  const h = await storeHarness('unsealed');
  const body = '{"v":"\\ud800","key":"\\udfff","policy":"\\ud800","name":"\\udc00"}';
  const role = await h.call('POST', 'identity/oidc/role/fz-r6', body, h.root);
  not500(role, 'oidc role with lone surrogates');
  assert.deepEqual(role, { status: 400, body: { errors: ['key "\ufffd" does not exist'] } }, 'an ordinary unknown key');
  const longKey = await h.call('POST', 'identity/oidc/role/fz-r8', { key: 'ab'.repeat(100_000) }, h.root);
  assert.equal(longKey.status, 400, 'a 200 KB key name is an unknown key, not a 500');
  const entity = await h.call('POST', 'identity/entity', '{"name":"x\\ud800y","metadata":{"m":"\\ud83d\\ude00"}}', h.root);
  assert.equal(entity.status, 200);
  const data = entity.body.data as Record<string, unknown>;
  assert.equal(data.name, 'x\ufffdy');
  const read = await h.call('GET', `identity/entity/id/${String(data.id)}`, undefined, h.root);
  assert.deepEqual((read.body.data as Record<string, unknown>).metadata, { m: '\u{1f600}' }, 'a valid pair is kept');
  const proto = await h.call('POST', 'secret/proto', '{"__proto__":{"polluted":"\\ud800"}}', h.root);
  not500(proto, 'prototype key with a surrogate');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  noInternal(h, 'surrogates');
});
