import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejects, req } from '../../helpers/logical.js';
import type { CallerContext } from '../../../src/store/backend.js';
import type { EntityRecord, IdentityPort } from '../../../src/store/identity/identity-types.js';
import type { JsonObject, LogicalAuth } from '../../../src/store/logical.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { TokenStore } from '../../../src/store/tokens/token-store.js';
import { matchesGlobList } from '../../../src/store/tokens/token-roles.js';

/** A minimal identity store: aliases keyed by accessor and name, each with its own entity. */
class FakeIdentity implements IdentityPort {
  readonly entities = new Map<string, EntityRecord>();
  readonly calls: { name: string; mountAccessor: string }[] = [];
  entityById(id: string): EntityRecord | undefined {
    return this.entities.get(id);
  }
  entityPolicies(id: string): readonly string[] {
    return this.entities.get(id)?.policies ?? [];
  }
  createOrFetchEntity(alias: { name: string; mountAccessor: string }): Promise<EntityRecord> {
    this.calls.push(alias);
    for (const e of this.entities.values()) {
      if (e.aliases.some((a) => a.name === alias.name && a.mount_accessor === alias.mountAccessor)) return Promise.resolve(e);
    }
    const id = `entity-${this.entities.size + 1}`;
    const entity: EntityRecord = {
      id,
      name: `entity_${id}`,
      metadata: {},
      policies: [],
      disabled: false,
      creation_time: '',
      last_update_time: '',
      aliases: [
        { id: 'a-' + id, canonical_id: id, mount_accessor: alias.mountAccessor, mount_type: 'token', mount_path: 'auth/token/', name: alias.name, metadata: {}, custom_metadata: {}, creation_time: '', last_update_time: '' },
      ],
    };
    this.entities.set(id, entity);
    return Promise.resolve(entity);
  }
  removeAliasesForMount(): Promise<void> {
    return Promise.resolve();
  }
}

async function setup(): Promise<{ ts: TokenStore; root: CallerContext; identity: FakeIdentity }> {
  const ts = new TokenStore(new MemoryStorage(), { now: () => Date.UTC(2026, 0, 1) });
  const identity = new FakeIdentity();
  ts.attachIdentity(identity, 'auth_token_1234abcd');
  const rootId = await ts.createRoot();
  return { ts, identity, root: { clientToken: rootId, policies: ['root'], sudo: true, root: true } };
}

async function createWith(ts: TokenStore, caller: CallerContext, path: string, data: JsonObject): Promise<LogicalAuth> {
  const r = await ts.handle(req('update', path, data), caller);
  assert.ok(r.auth);
  return r.auth;
}

/** EdgeX 4's token role for a service and its re-issue body (edgex-setup-duties §3.6, §7). */
const EDGEX_ROLE = { allowed_policies: ['edgex-service-core-data'], name: 'core-data', renewable: true, allowed_entity_aliases: ['core-data'], orphan: true };
const EDGEX_CREATE = {
  display_name: 'token-core-data',
  role_name: 'core-data',
  entity_alias: 'core-data',
  no_parent: true,
  policies: ['edgex-service-core-data'],
  meta: { user: 'core-data' },
  ttl: '1h',
  period: '1h',
  renewable: true,
};

test('roles: create 204, read in Vault shape, list, update keeps unsent fields, delete', async () => {
  const { ts, root } = await setup();
  assert.deepEqual(await ts.handle(req('update', 'roles/core-data', EDGEX_ROLE), root), { status: 204 });
  const read = await ts.handle(req('read', 'roles/core-data'), root);
  assert.deepEqual(read.data, {
    allowed_entity_aliases: ['core-data'],
    allowed_policies: ['edgex-service-core-data'],
    allowed_policies_glob: [],
    disallowed_policies: [],
    disallowed_policies_glob: [],
    explicit_max_ttl: 0,
    name: 'core-data',
    orphan: true,
    path_suffix: '',
    period: 0,
    renewable: true,
    token_explicit_max_ttl: 0,
    token_no_default_policy: false,
    token_period: 0,
    token_type: 'default-service',
  });
  await ts.handle(req('update', 'roles/core-data', { token_period: '1h', token_bound_cidrs: ['127.0.0.1/32'] }), root);
  const updated = (await ts.handle(req('read', 'roles/core-data'), root)).data;
  assert.equal(updated?.['token_period'], 3600);
  assert.deepEqual(updated['token_bound_cidrs'], ['127.0.0.1']);
  assert.deepEqual(updated['allowed_policies'], ['edgex-service-core-data'], 'unsent fields stay');
  assert.deepEqual((await ts.handle(req('list', 'roles/'), root)).data, { keys: ['core-data'] });
  assert.equal(await ts.exists('roles/core-data'), true);
  assert.equal(await ts.exists('roles/other'), false);
  assert.deepEqual(await ts.handle(req('delete', 'roles/core-data'), root), { status: 204 });
  await rejects(ts.handle(req('read', 'roles/core-data'), root), 404, []);
  await rejects(ts.handle(req('list', 'roles/'), root), 404, []);
});

test('roles: bad fields are 400 and change nothing', async () => {
  const { ts, root } = await setup();
  await rejects(ts.handle(req('update', 'roles/r', { token_bound_cidrs: ['not-a-cidr'] }), root), 400, [
    'error parsing address "not-a-cidr": Unable to convert "not-a-cidr" to an IPv4 or IPv6 address, or a UNIX Socket',
  ]);
  await rejects(ts.handle(req('update', 'roles/r', { token_type: 'batch' }), root), 400, ['batch tokens are not supported by this store']);
  await rejects(ts.handle(req('update', 'roles/r', { path_suffix: '../x' }), root), 400, ['error sanitizing path suffix: path suffix cannot contain ".."']);
  await rejects(ts.handle(req('update', 'roles/r', { token_period: '-5s' }), root), 400, ['token_period must be positive']);
  await rejects(ts.handle(req('read', 'roles/r'), root), 404, []);
  await rejects(ts.handle(req('update', 'roles/a b', {}), root), 400, [
    'role name cannot be empty or contain characters other than letters, digits, "_", "-" and "."',
  ]);
});

test("create/<role> with EdgeX's re-issue body: role policies, orphan, periodic, entity from the token mount alias", async () => {
  const { ts, root, identity } = await setup();
  await ts.handle(req('update', 'roles/core-data', EDGEX_ROLE), root);
  // EdgeX's admin token: orphan periodic, privileged-token-creator only, with sudo on auth/token/create/*.
  const admin = await createWith(ts, root, 'create', { policies: ['privileged-token-creator'], no_parent: true, period: '1h', ttl: '1h' });
  const caller: CallerContext = { clientToken: admin.client_token, policies: admin.policies, sudo: true, root: false };
  const auth = await createWith(ts, caller, 'create/core-data', EDGEX_CREATE);
  assert.deepEqual(auth.policies, ['default', 'edgex-service-core-data'], 'not a subset of the parent: the role allows it');
  assert.equal(auth.orphan, true);
  assert.equal(auth.renewable, true);
  assert.equal(auth.lease_duration, 3600);
  assert.equal(auth.entity_id, 'entity-1');
  assert.deepEqual(identity.calls, [{ name: 'core-data', mountAccessor: 'auth_token_1234abcd' }]);
  const look = (await ts.handle(req('update', 'lookup', { token: auth.client_token }), root)).data;
  assert.equal(look?.['path'], 'auth/token/create/core-data');
  assert.equal(look['role'], 'core-data');
  assert.equal(look['period'], 3600);
  assert.equal(look['display_name'], 'token-token-core-data');
  assert.equal(look['entity_id'], 'entity-1');
  // A second re-issue binds to the same entity (the alias exists now).
  assert.equal((await createWith(ts, caller, 'create/core-data', EDGEX_CREATE)).entity_id, 'entity-1');
  assert.equal(identity.entities.size, 1);
});

test('create/<role>: foreign alias, unknown role, alias without role, policies outside the role are 400', async () => {
  const { ts, root } = await setup();
  await ts.handle(req('update', 'roles/core-data', EDGEX_ROLE), root);
  await rejects(ts.handle(req('update', 'create/core-data', { ...EDGEX_CREATE, entity_alias: 'core-metadata' }), root), 400, [
    "invalid 'entity_alias' value",
  ]);
  await rejects(ts.handle(req('update', 'create/nope', {}), root), 400, ['unknown role nope']);
  await rejects(ts.handle(req('update', 'create', { entity_alias: 'core-data' }), root), 400, ["'entity_alias' is only allowed in combination with token role"]);
  await rejects(ts.handle(req('update', 'create/core-data', { policies: ['admin'] }), root), 400, [
    `token policies (["admin" "default"]) must be subset of the role's allowed policies (["default" "edgex-service-core-data"]) or glob policies ([])`,
  ]);
  // No policies requested: the role's allowed policies.
  assert.deepEqual((await createWith(ts, root, 'create/core-data', {})).policies, ['default', 'edgex-service-core-data']);
});

test('create/<role>: disallowed policies, globs, num_uses and explicit max from the role', async () => {
  const { ts, root } = await setup();
  await ts.handle(
    req('update', 'roles/g', { allowed_policies_glob: ['app-*'], disallowed_policies: ['app-secret'], token_num_uses: 3, token_explicit_max_ttl: '2h', orphan: false }),
    root,
  );
  const a = await createWith(ts, root, 'create/g', { policies: ['app-one'] });
  assert.deepEqual(a.policies, ['app-one', 'default']);
  assert.equal(a.num_uses, 3);
  assert.equal(a.orphan, false);
  assert.equal(a.lease_duration, 7200);
  await rejects(ts.handle(req('update', 'create/g', { policies: ['app-secret'] }), root), 400, ['token policy "app-secret" is disallowed by this role']);
});

test('matchesGlobList: exact and * patterns, regex characters are literal', () => {
  assert.equal(matchesGlobList(['core-data'], 'core-data'), true);
  assert.equal(matchesGlobList(['core-*'], 'core-metadata'), true);
  assert.equal(matchesGlobList(['*-data'], 'core-data'), true);
  assert.equal(matchesGlobList(['a.b'], 'axb'), false);
  assert.equal(matchesGlobList([], 'x'), false);
});

test('lookup shows the entity policies as identity_policies', async () => {
  const { ts, root, identity } = await setup();
  await ts.handle(req('update', 'roles/core-data', EDGEX_ROLE), root);
  const auth = await createWith(ts, root, 'create/core-data', EDGEX_CREATE);
  const entity = identity.entities.get(auth.entity_id);
  assert.ok(entity);
  identity.entities.set(entity.id, { ...entity, policies: ['extra'] });
  const look = (await ts.handle(req('update', 'lookup', { token: auth.client_token }), root)).data;
  assert.deepEqual(look?.['identity_policies'], ['extra']);
  assert.deepEqual(look['policies'], ['default', 'edgex-service-core-data']);
});
