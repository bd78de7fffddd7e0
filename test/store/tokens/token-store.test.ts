import { test } from 'node:test';
import { rejects, req } from '../../helpers/logical.js';
import assert from 'node:assert/strict';
import type { CallerContext } from '../../../src/store/backend.js';
import type { JsonObject, LogicalAuth } from '../../../src/store/logical.js';
import { MemoryStorage, type Storage } from '../../../src/store/storage/storage.js';
import { TOKEN_ENTRY_CACHE_ENTRIES, TOKEN_KEY_CACHE_ENTRIES, TokenStore } from '../../../src/store/tokens/token-store.js';

const TOKEN_RE = /^hvs\.[0-9A-Za-z]{24}$/;



/** A test clock starting at a fixed instant, advanced by hand. */
function clock(start = Date.UTC(2026, 0, 1)): { now: () => number; advance: (s: number) => void } {
  let t = start;
  return { now: () => t, advance: (s) => (t += s * 1000) };
}

async function setup(): Promise<{ ts: TokenStore; storage: MemoryStorage; rootId: string; root: CallerContext; c: ReturnType<typeof clock> }> {
  const storage = new MemoryStorage();
  const c = clock();
  const ts = new TokenStore(storage, { now: c.now });
  const rootId = await ts.createRoot();
  return { ts, storage, rootId, root: { clientToken: rootId, policies: ['root'], sudo: true, root: true }, c };
}

function as(token: string, policies: string[], sudo = false): CallerContext {
  return { clientToken: token, policies, sudo, root: policies.includes('root') };
}

async function create(ts: TokenStore, caller: CallerContext, data: JsonObject = {}, path = 'create'): Promise<LogicalAuth> {
  const r = await ts.handle(req('update', path, data), caller);
  assert.ok(r.auth);
  return r.auth;
}

async function allEntries(storage: Storage, prefix = ''): Promise<[string, Buffer][]> {
  const out: [string, Buffer][] = [];
  for (const k of await storage.list(prefix)) {
    if (k.endsWith('/')) out.push(...(await allEntries(storage, prefix + k)));
    else out.push([prefix + k, (await storage.get(prefix + k)) ?? Buffer.alloc(0)]);
  }
  return out;
}

test('root token: format, lookup data, never stored in clear', async () => {
  const { ts, storage, rootId, root } = await setup();
  assert.match(rootId, TOKEN_RE);
  const e = await ts.resolve(rootId);
  assert.ok(e);
  assert.deepEqual(e.policies, ['root']);
  assert.equal(e.path, 'auth/token/root');
  assert.equal(e.ttl, 0);
  assert.equal(e.expire_time, 0);
  const data = (await ts.handle(req('read', 'lookup-self'), root)).data;
  assert.ok(data);
  assert.deepEqual(Object.keys(data).sort(), [
    'accessor', 'creation_time', 'creation_ttl', 'display_name', 'entity_id', 'expire_time', 'explicit_max_ttl', 'id', 'meta',
    'num_uses', 'orphan', 'path', 'policies', 'renewable', 'ttl', 'type',
  ]);
  assert.equal(data['id'], rootId);
  assert.equal(data['display_name'], 'root');
  assert.equal(data['expire_time'], null);
  assert.equal(data['orphan'], true);
  assert.equal(data['renewable'], false);
  assert.equal(data['meta'], null);
  assert.equal(data['type'], 'service');
  for (const [key, value] of await allEntries(storage)) {
    assert.ok(!key.includes(rootId) && !value.toString('latin1').includes(rootId), `token id found at ${key}`);
  }
  assert.equal((await storage.get('sys/token/salt'))?.length, 32);
});

test('tokens survive a new TokenStore over the same storage (salt persisted)', async () => {
  const { storage, rootId } = await setup();
  assert.ok(await new TokenStore(storage).resolve(rootId));
  assert.equal(await new TokenStore(new MemoryStorage()).resolve(rootId), undefined);
});

test('resolve rejects unknown, empty and oversized tokens', async () => {
  const { ts } = await setup();
  assert.equal(await ts.resolve('hvs.AAAAAAAAAAAAAAAAAAAAAAAA'), undefined);
  assert.equal(await ts.resolve(''), undefined);
  assert.equal(await ts.resolve('x'.repeat(5000)), undefined);
});

test('create: defaults (768h, renewable, default policy) and lookup fields', async () => {
  const { ts, rootId, root } = await setup();
  const auth = await create(ts, root, { policies: ['app'], meta: { service: 'core-data' }, display_name: 'my app!' });
  assert.match(auth.client_token, TOKEN_RE);
  assert.deepEqual(auth.policies, ['app', 'default']);
  assert.deepEqual(auth.token_policies, ['app', 'default']);
  assert.equal(auth.lease_duration, 768 * 3600);
  assert.equal(auth.renewable, true);
  assert.equal(auth.orphan, false);
  assert.deepEqual(auth.metadata, { service: 'core-data' });
  assert.equal(auth.token_type, 'service');
  assert.equal(auth.mfa_requirement, null);
  const data = (await ts.handle(req('update', 'lookup', { token: auth.client_token }), root)).data;
  assert.ok(data);
  assert.equal(data['display_name'], 'token-my-app');
  assert.equal(data['path'], 'auth/token/create');
  assert.equal(data['creation_ttl'], 768 * 3600);
  assert.equal(data['ttl'], 768 * 3600);
  assert.equal(data['renewable'], true);
  assert.equal(data['expire_time'], '2026-02-02T00:00:00Z');
  assert.equal(data['issue_time'], '2026-01-01T00:00:00Z');
  const entry = await ts.resolve(auth.client_token);
  const rootEntry = await ts.resolve(rootId);
  assert.equal(entry?.parent, rootEntry?.accessor);
});

test('root parent with no policies and no ttl makes a non-expiring root token', async () => {
  const { ts, root } = await setup();
  const auth = await create(ts, root);
  assert.deepEqual(auth.policies, ['root']);
  assert.equal(auth.lease_duration, 0);
  assert.equal(auth.renewable, false);
});

test('policy subset rule, default always allowed, no_default_policy', async () => {
  const { ts, root } = await setup();
  const parent = await create(ts, root, { policies: ['a', 'b'] });
  const caller = as(parent.client_token, parent.policies);
  await rejects(ts.handle(req('update', 'create', { policies: ['c'] }), caller), 400, ['child policies must be subset of parent']);
  await rejects(ts.handle(req('update', 'create', { policies: ['root'] }), caller), 400, ['child policies must be subset of parent']);
  assert.deepEqual((await create(ts, caller, { policies: ['a', 'default'] })).policies, ['a', 'default']);
  assert.deepEqual((await create(ts, caller)).policies, ['a', 'b', 'default'], 'inherits the parent');
  assert.deepEqual((await create(ts, caller, { policies: 'A, b', no_default_policy: true })).policies, ['a', 'b']);
  // A sudo caller may grant any policy, but never root without a root parent.
  const sudoCaller = as(parent.client_token, parent.policies, true);
  assert.deepEqual((await create(ts, sudoCaller, { policies: ['c'] })).policies, ['c', 'default']);
  await rejects(ts.handle(req('update', 'create', { policies: ['root'] }), sudoCaller), 400, [
    'root tokens may not be created without parent token being root',
  ]);
});

test('orphans: no_parent needs sudo, create-orphan does not', async () => {
  const { ts, root } = await setup();
  const parent = await create(ts, root, { policies: ['a'] });
  const caller = as(parent.client_token, parent.policies);
  await rejects(ts.handle(req('update', 'create', { no_parent: true }), caller), 400, ['root or sudo privileges required to create orphan token']);
  const orphan = await create(ts, caller, {}, 'create-orphan');
  assert.equal(orphan.orphan, true);
  const e = await ts.resolve(orphan.client_token);
  assert.equal(e?.parent, '');
  assert.equal(e.path, 'auth/token/create-orphan');
  assert.equal((await create(ts, root, { no_parent: true })).orphan, true);
});

test('custom ids and periods need sudo; validation messages', async () => {
  const { ts, root } = await setup();
  const parent = await create(ts, root, { policies: ['a'] });
  const caller = as(parent.client_token, parent.policies);
  await rejects(ts.handle(req('update', 'create', { id: 'mine' }), caller), 400, ['root or sudo privileges required to specify token id']);
  await rejects(ts.handle(req('update', 'create', { period: '1h' }), caller), 400, ['root or sudo privileges required to create periodic token']);
  await rejects(ts.handle(req('update', 'create', { id: 'a.b' }), root), 400, [`custom token ID cannot have a '.' in the value`]);
  await rejects(ts.handle(req('update', 'create', { ttl: 'soon' }), root), 400, ['time: invalid duration "soon"']);
  await rejects(ts.handle(req('update', 'create', { ttl: '-5s' }), root), 400, ['ttl must be positive']);
  await rejects(ts.handle(req('update', 'create', { num_uses: -1 }), root), 400, ['number of uses cannot be negative']);
  await rejects(ts.handle(req('update', 'create', { type: 'batch' }), root), 400, ['batch tokens are not supported by this store']);
  const custom = await create(ts, root, { id: 'my-custom-token', policies: ['a'] });
  assert.equal(custom.client_token, 'my-custom-token');
  assert.ok(await ts.resolve('my-custom-token'));
  await rejects(ts.handle(req('update', 'create', { id: 'my-custom-token' }), root), 400, ['cannot create a token with a duplicate ID']);
  await rejects(ts.handle(req('read', 'create'), root), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
  await rejects(ts.handle(req('read', 'nope'), root), 404, ['no handler for route "auth/token/nope". route entry not found.']);
});

test('expiry is enforced on resolve and takes the children with it', async () => {
  const { ts, root, c } = await setup();
  const parent = await create(ts, root, { policies: ['a'], ttl: '1h' });
  assert.equal(parent.lease_duration, 3600);
  const child = await create(ts, as(parent.client_token, parent.policies), { ttl: '10h' });
  c.advance(3599);
  assert.ok(await ts.resolve(parent.client_token));
  assert.ok(await ts.resolve(child.client_token));
  c.advance(1);
  assert.equal(await ts.resolve(child.client_token), undefined, 'a child never outlives its parent');
  assert.equal(await ts.resolve(parent.client_token), undefined);
  await rejects(ts.handle(req('update', 'lookup-accessor', { accessor: child.accessor }), root), 400, ['invalid accessor']);
});

test('revoking a parent revokes the whole tree; revoke-orphan keeps the children', async () => {
  const { ts, root, storage } = await setup();
  const p = await create(ts, root, { policies: ['a'] });
  const c1 = await create(ts, as(p.client_token, p.policies));
  const g1 = await create(ts, as(c1.client_token, c1.policies));
  const other = await create(ts, root, { policies: ['a'] });
  assert.deepEqual(await ts.handle(req('update', 'revoke', { token: p.client_token }), root), { status: 204 });
  for (const t of [p, c1, g1]) assert.equal(await ts.resolve(t.client_token), undefined);
  assert.ok(await ts.resolve(other.client_token));
  // Only root → other remains in the parent index.
  assert.equal((await allEntries(storage, 'sys/token/parent/')).length, 1);

  const p2 = await create(ts, root, { policies: ['a'] });
  const c2 = await create(ts, as(p2.client_token, p2.policies));
  await ts.handle(req('update', 'revoke-orphan', { token: p2.client_token }), root);
  assert.equal(await ts.resolve(p2.client_token), undefined);
  const orphaned = await ts.resolve(c2.client_token);
  assert.equal(orphaned?.orphan, true);
  assert.equal(orphaned.parent, '');
  // Unknown tokens revoke silently; a missing token is a 400.
  assert.deepEqual(await ts.handle(req('update', 'revoke', { token: 'hvs.unknown' }), root), { status: 204 });
  await rejects(ts.handle(req('update', 'revoke', {}), root), 400, ['missing token ID']);
});

test('revoke-self and revoke-accessor', async () => {
  const { ts, root } = await setup();
  const a = await create(ts, root, { policies: ['a'] });
  await ts.handle(req('update', 'revoke-self'), as(a.client_token, a.policies));
  assert.equal(await ts.resolve(a.client_token), undefined);
  const b = await create(ts, root, { policies: ['a'] });
  await ts.handle(req('update', 'revoke-accessor', { accessor: b.accessor }), root);
  assert.equal(await ts.resolve(b.client_token), undefined);
  await rejects(ts.handle(req('update', 'revoke-accessor', { accessor: b.accessor }), root), 400, ['invalid accessor']);
  await rejects(ts.handle(req('update', 'revoke-self'), as(a.client_token, a.policies)), 403, ['permission denied']);
});

test('lookup by token, by accessor (no id), unknown token', async () => {
  const { ts, root } = await setup();
  const a = await create(ts, root, { policies: ['a'] });
  const byAcc = (await ts.handle(req('update', 'lookup-accessor', { accessor: a.accessor }), root)).data;
  assert.equal(byAcc?.['id'], '');
  assert.deepEqual(byAcc['policies'], ['a', 'default']);
  const self = (await ts.handle(req('update', 'lookup', {}), as(a.client_token, a.policies))).data;
  assert.equal(self?.['id'], a.client_token);
  await rejects(ts.handle(req('update', 'lookup', { token: 'hvs.nope' }), root), 403, ['bad token']);
  await rejects(ts.handle(req('update', 'lookup-accessor', { accessor: 'nope' }), root), 400, ['invalid accessor']);
});

test('accessors list', async () => {
  const { ts, root, rootId } = await setup();
  const a = await create(ts, root, { policies: ['a'] });
  const keys = (await ts.handle(req('list', 'accessors/'), root)).data?.['keys'];
  const rootAcc = (await ts.resolve(rootId))?.accessor;
  assert.deepEqual(keys, [a.accessor, rootAcc].sort());
});

test('num_uses: the last use revokes the token', async () => {
  const { ts, root } = await setup();
  const a = await create(ts, root, { policies: ['a'], num_uses: 2 });
  assert.equal(a.num_uses, 2);
  await ts.consumeUse(a.client_token);
  assert.equal((await ts.resolve(a.client_token))?.num_uses, 1);
  await ts.consumeUse(a.client_token);
  assert.equal(await ts.resolve(a.client_token), undefined);
  // Unlimited tokens are untouched.
  const b = await create(ts, root, { policies: ['a'] });
  await ts.consumeUse(b.client_token);
  assert.equal((await ts.resolve(b.client_token))?.num_uses, 0);
});

test('renew: root is not renewable; increments are capped by explicit max', async () => {
  const { ts, root, c } = await setup();
  await rejects(ts.handle(req('update', 'renew-self'), root), 400, ['lease is not renewable']);
  const a = await create(ts, root, { policies: ['a'], ttl: '1h', explicit_max_ttl: '2h' });
  const caller = as(a.client_token, a.policies);
  c.advance(1800);
  const r1 = await ts.handle(req('update', 'renew-self', { increment: '1h' }), caller);
  assert.equal(r1.auth?.lease_duration, 3600);
  assert.equal(r1.auth.client_token, a.client_token);
  c.advance(3000);
  const r2 = await ts.handle(req('update', 'renew-self', { increment: 3600 }), caller);
  assert.equal(r2.auth?.lease_duration, 7200 - 4800, 'capped at the explicit max');
  assert.ok(r2.warnings?.[0]?.includes('capped'));
  const look = (await ts.handle(req('read', 'lookup-self'), caller)).data;
  assert.equal(look?.['last_renewal_time'], Math.floor(Date.UTC(2026, 0, 1) / 1000) + 4800);
  c.advance(2400);
  assert.equal(await ts.resolve(a.client_token), undefined);
});

test('renew without increment restores the creation TTL; non-renewable tokens refuse', async () => {
  const { ts, root, c } = await setup();
  const a = await create(ts, root, { policies: ['a'], ttl: '10m' });
  c.advance(300);
  const r = await ts.handle(req('update', 'renew', { token: a.client_token }), root);
  assert.equal(r.auth?.lease_duration, 600);
  assert.equal((await ts.resolve(a.client_token))?.expire_time, Date.UTC(2026, 0, 1) + 900_000);
  const n = await create(ts, root, { policies: ['a'], renewable: false });
  assert.equal(n.renewable, false);
  await rejects(ts.handle(req('update', 'renew', { token: n.client_token }), root), 400, ['lease is not renewable']);
  const byAcc = await ts.handle(req('update', 'renew-accessor', { accessor: a.accessor }), root);
  assert.equal(byAcc.auth?.client_token, '');
});

test('periodic tokens renew to the period, beyond the system max', async () => {
  const { ts, root, c } = await setup();
  const p = await create(ts, root, { policies: ['a'], period: '1h' });
  assert.equal(p.lease_duration, 3600);
  for (let i = 0; i < 3; i++) {
    c.advance(3000);
    const r = await ts.handle(req('update', 'renew-self', { increment: '5h' }), as(p.client_token, p.policies));
    assert.equal(r.auth?.lease_duration, 3600);
  }
  const data = (await ts.handle(req('read', 'lookup-self'), as(p.client_token, p.policies))).data;
  assert.equal(data?.['period'], 3600);
});

test('explicit max above the system max is capped with a warning', async () => {
  const { ts, root } = await setup();
  const r = await ts.handle(req('update', 'create', { policies: ['a'], explicit_max_ttl: '10000h' }), root);
  assert.equal(r.auth?.lease_duration, 768 * 3600);
  assert.deepEqual(r.warnings, [
    'Explicit max TTL of 36000000 seconds is greater than system/mount allowed value; value is being capped to 2764800 seconds',
  ]);
});

test('concurrent creations and revocations stay consistent', async () => {
  const { ts, root, storage } = await setup();
  const made = await Promise.all(Array.from({ length: 20 }, () => create(ts, root, { policies: ['a'] })));
  await Promise.all(made.map((m) => ts.handle(req('update', 'revoke', { token: m.client_token }), root)));
  for (const m of made) assert.equal(await ts.resolve(m.client_token), undefined);
  assert.equal((await storage.list('sys/token/accessor/')).length, 1);
});

test('EdgeX-style flow across the logical layer: policy, periodic orphan service token, ACL on KV v1', async () => {
  const { PolicyStore } = await import('../../../src/store/policy/policy-store.js');
  const { MountTable } = await import('../../../src/store/mounts/mount-table.js');
  const { ts, storage, root, c } = await setup();
  const policies = new PolicyStore(storage);
  await policies.init();
  const mounts = new MountTable(storage);
  await mounts.load();
  await mounts.mount('secret', { type: 'kv', options: { version: '1' } });
  await policies.handle(
    req('update', 'sys/policies/acl/edgex-service-core-data', {
      policy: 'path "secret/edgex/core-data/*" { capabilities = ["create", "update", "delete", "list", "read"] }',
    }),
    root,
  );
  const auth = await create(ts, root, { display_name: 'core-data', no_parent: true, period: '1h', policies: ['edgex-service-core-data'] }, 'create');
  assert.equal(auth.orphan, true);
  const entry = await ts.resolve(auth.client_token);
  assert.ok(entry);
  const acl = await policies.getAcl(entry.policies);
  assert.equal(acl.allows('secret/edgex/core-data/redisdb', 'create'), true);
  assert.equal(acl.allows('secret/edgex/core-metadata/redisdb', 'read'), false);
  assert.equal(acl.allows('auth/token/lookup-self', 'read'), true, 'default policy attached');
  const target = mounts.resolve('secret/edgex/core-data/redisdb');
  assert.ok(target);
  await target.backend.handle(req('create', target.rest, { username: 'core-data', password: 'pw' }), as(auth.client_token, entry.policies));
  assert.deepEqual((await target.backend.handle(req('read', target.rest), as(auth.client_token, entry.policies))).data, { username: 'core-data', password: 'pw' });
  // The service renews its periodic token before each period ends; it lives on past 768h.
  for (let i = 0; i < 1000; i++) {
    c.advance(3000);
    await ts.handle(req('update', 'renew-self'), as(auth.client_token, entry.policies));
  }
  assert.ok(await ts.resolve(auth.client_token));
  c.advance(3601);
  assert.equal(await ts.resolve(auth.client_token), undefined);
});

test('randomBase62 (token ids, accessors): exact length, full alphabet, no visible bias', async () => {
  const { randomBase62 } = await import('../../../src/crypto.js');
  assert.equal(randomBase62(0), '');
  assert.equal(randomBase62(24).length, 24);
  const sample = randomBase62(62 * 2000);
  assert.match(sample, /^[0-9A-Za-z]+$/);
  const counts = new Map<string, number>();
  for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  assert.equal(counts.size, 62);
  // Expected 2000 each; a 5-sigma band (sd ≈ 44) keeps this from ever flaking.
  for (const [ch, n] of counts) assert.ok(n > 1780 && n < 2220, `${ch}: ${n}`);
  assert.throws(() => randomBase62(-1), RangeError);
});

test('token key cache: resolved tokens skip the HMAC, yet revocation, expiry and num_uses apply at once', async () => {
  const { ts, root, c } = await setup();
  const a = await create(ts, root, { policies: ['a'], ttl: '1h' });
  const b = await create(ts, root, { policies: ['a'], num_uses: 2 });
  const revoked = await create(ts, root, { policies: ['a'] });
  for (const t of [a, b, revoked]) assert.ok(await ts.resolve(t.client_token));
  const remembered = ts.cachedTokenKeys;
  assert.ok(remembered >= 3);
  // Unknown ids are never remembered (a client cannot push real entries out with junk).
  assert.equal(await ts.resolve('hvs.' + 'x'.repeat(24)), undefined);
  assert.equal(ts.cachedTokenKeys, remembered);
  // Revocation: the very next resolve fails, and the id is forgotten.
  await ts.handle(req('update', 'revoke', { token: revoked.client_token }), root);
  assert.equal(await ts.resolve(revoked.client_token), undefined);
  assert.equal(ts.cachedTokenKeys, remembered - 1);
  // num_uses: counted on the entry itself, not on the cached mapping.
  await ts.consumeUse(b.client_token);
  assert.equal((await ts.resolve(b.client_token))?.num_uses, 1);
  await ts.consumeUse(b.client_token);
  assert.equal(await ts.resolve(b.client_token), undefined);
  // Expiry.
  c.advance(3600);
  assert.equal(await ts.resolve(a.client_token), undefined);
  // A token differing from a remembered one in its last character is not confused with it.
  const live = await create(ts, root, { policies: ['a'] });
  assert.ok(await ts.resolve(live.client_token));
  const last = live.client_token.slice(-1);
  const near = live.client_token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
  assert.equal(await ts.resolve(near), undefined);
});

test('token key cache is bounded and forgetSecrets empties it', async () => {
  const { ts, rootId } = await setup();
  const ids: string[] = [rootId];
  // Custom ids need no randomness and keep this fast; each needs sudo (root has it).
  for (let i = 0; i < TOKEN_KEY_CACHE_ENTRIES + 5; i++) {
    const r = await ts.handle(req('update', 'create', { id: `bench-token-${i}`, policies: ['a'] }), {
      clientToken: rootId,
      policies: ['root'],
      sudo: true,
      root: true,
    });
    ids.push((r.auth as LogicalAuth).client_token);
  }
  for (const id of ids) assert.ok(await ts.resolve(id));
  assert.equal(ts.cachedTokenKeys, TOKEN_KEY_CACHE_ENTRIES);
  // Evicted ids still resolve (through the HMAC).
  assert.ok(await ts.resolve(rootId));
  ts.forgetSecrets();
  assert.equal(ts.cachedTokenKeys, 0);
  assert.ok(await ts.resolve(ids[5] ?? ''));
});

test('resolveCached answers live cached tokens only, and never outlives expiry, revocation or a parent', async () => {
  const { ts, root, c } = await setup();
  const parent = await create(ts, root, { policies: ['p'], ttl: '1h' });
  const child = await create(ts, as(parent.client_token, ['p']), { ttl: '2h' });
  // Not resolved yet: nothing is known in memory about these ids.
  assert.equal(ts.resolveCached(child.client_token), undefined);
  const slow = await ts.resolve(child.client_token);
  assert.ok(slow);
  const fast = ts.resolveCached(child.client_token);
  // The same frozen view the slow path handed out: a request cannot change what the next one sees.
  assert.equal(fast, slow);
  assert.ok(Object.isFrozen(fast) && Object.isFrozen(fast.policies));
  assert.equal(ts.resolveCached(child.client_token.slice(0, -1) + 'x'), undefined);
  assert.equal(ts.resolveCached('x'.repeat(2000)), undefined);
  // The parent expires first: the child is no longer answered from memory, and the slow path revokes both.
  c.advance(3601);
  assert.equal(ts.resolveCached(child.client_token), undefined);
  assert.equal(await ts.resolve(child.client_token), undefined);
  assert.equal(ts.resolveCached(child.client_token), undefined);
  // Revocation drops a cached token at once.
  const other = await create(ts, root, { policies: ['p'] });
  assert.ok(await ts.resolve(other.client_token));
  assert.ok(ts.resolveCached(other.client_token));
  await ts.handle(req('update', 'revoke', { token: other.client_token }), root);
  assert.equal(ts.resolveCached(other.client_token), undefined);
});

test('token entry cache is bounded; evicted entries are read from storage again', async () => {
  const { ts, rootId, root } = await setup();
  const ids: string[] = [];
  for (let i = 0; i < TOKEN_ENTRY_CACHE_ENTRIES + 5; i++) {
    ids.push((await create(ts, root, { id: `entry-${i}`, policies: ['a'] })).client_token);
  }
  assert.equal(ts.cachedTokenEntries, TOKEN_ENTRY_CACHE_ENTRIES);
  // The first ones (and the root token) were evicted, yet resolve, with their parent, from storage.
  const first = await ts.resolve(ids[0] ?? '');
  assert.deepEqual(first?.policies, ['a', 'default']);
  assert.ok(await ts.resolve(rootId));
  assert.equal(ts.cachedTokenEntries, TOKEN_ENTRY_CACHE_ENTRIES);
});
