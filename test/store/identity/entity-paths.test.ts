import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, rejects, req } from '../../helpers/logical.js';
import { EntityBackend } from '../../../src/store/identity/entity-paths.js';
import { EntityStore } from '../../../src/store/identity/entity-store.js';
import type { JsonObject, LogicalResponse, Operation } from '../../../src/store/logical.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { APPROLE, TOKEN, USERPASS, mounts, steppingClock } from './entity-fixtures.js';

async function setup(): Promise<{ store: EntityStore; call: (op: Operation, path: string, data?: JsonObject) => Promise<LogicalResponse> }> {
  const store = await EntityStore.open(new MemoryStorage(), mounts, { now: steppingClock() });
  const backend = new EntityBackend(store);
  return { store, call: (op, path, data = {}) => backend.handle(req(op, path, data), ROOT_CALLER) };
}

/** `data.<key>` of a response, as a string. */
function field(res: LogicalResponse, key: string): string {
  const v = res.data?.[key];
  assert.equal(typeof v, 'string', `data.${key}`);
  return v as string;
}

test("EdgeX's sequence: entity by name (create 200, again 204), lookup, alias bind (200, again 204 = duplicate bind)", async () => {
  const { call } = await setup();
  const svc = 'core-data';
  const body = { metadata: { name: svc }, policies: ['edgex-service-' + svc] };
  const created = await call('update', 'entity/name/' + svc, body);
  assert.deepEqual(created.data, { id: created.data?.['id'], name: svc, aliases: null });
  const id = field(created, 'id');
  assert.deepEqual(await call('update', 'entity/name/' + svc, body), { status: 204 });
  const read = await call('read', 'entity/name/' + svc);
  assert.equal(read.data?.['id'], id);
  assert.deepEqual(read.data['policies'], ['edgex-service-core-data']);
  assert.deepEqual(read.data['metadata'], { name: svc });
  const bind = { name: svc, canonical_id: id, mount_accessor: USERPASS };
  const first = await call('update', 'entity-alias', bind);
  assert.equal(first.data?.['canonical_id'], id);
  const aliasId = field(first, 'id');
  // Vault answers a repeated identical binding with 204; EdgeX's client takes 204 as "duplicate bind, OK".
  assert.deepEqual(await call('update', 'entity-alias', bind), { status: 204 });
  // With other custom metadata the repeat is an update: 200 with the same alias.
  const again = await call('update', 'entity-alias', { ...bind, custom_metadata: { boot: '2' } });
  assert.deepEqual(again.data, { id: aliasId, canonical_id: id });
  const aliases = (await call('read', 'entity/id/' + id)).data?.['aliases'] as JsonObject[];
  assert.deepEqual(aliases.map((a) => [a['id'], a['custom_metadata']]), [[aliasId, { boot: '2' }]]);
});

test('entity read: the full Vault shape', async () => {
  const { call, store } = await setup();
  const id = field(await call('update', 'entity', { name: 'svc', policies: 'b, a', metadata: ['k=v'] }), 'id');
  const aliasId = field(await call('update', 'entity-alias', { name: 'svc', canonical_id: id, mount_accessor: USERPASS }), 'id');
  const entity = store.entityById(id);
  assert.ok(entity !== undefined);
  const expected = {
    aliases: [
      {
        canonical_id: id,
        creation_time: '2024-01-02T03:04:05.679Z',
        custom_metadata: null,
        id: aliasId,
        last_update_time: '2024-01-02T03:04:05.679Z',
        local: false,
        merged_from_canonical_ids: null,
        metadata: null,
        mount_accessor: USERPASS,
        mount_path: 'auth/userpass/',
        mount_type: 'userpass',
        name: 'svc',
      },
    ],
    creation_time: '2024-01-02T03:04:05.678Z',
    direct_group_ids: [],
    disabled: false,
    group_ids: [],
    id,
    inherited_group_ids: [],
    last_update_time: '2024-01-02T03:04:05.678Z',
    merged_entity_ids: null,
    metadata: { k: 'v' },
    mfa_secrets: {},
    name: 'svc',
    namespace_id: 'root',
    policies: ['a', 'b'],
  };
  assert.deepEqual((await call('read', 'entity/id/' + id)).data, expected);
  assert.deepEqual((await call('read', 'entity/name/SVC')).data, expected);
  const alias = await call('read', 'entity-alias/id/' + aliasId);
  assert.deepEqual(alias.data, { ...expected.aliases[0], namespace_id: 'root' });
});

test('entity: create 200 with a generated name, update by id or name 204, errors', async () => {
  const { call, store } = await setup();
  const res = await call('update', 'entity', { policies: ['p'] });
  const id = field(res, 'id');
  assert.match(field(res, 'name'), /^entity_[0-9a-f]{8}$/);
  assert.deepEqual(await call('update', 'entity', { id, disabled: true }), { status: 204 });
  assert.equal(store.entityById(id)?.disabled, true);
  assert.deepEqual(store.entityById(id)?.policies, ['p'], 'fields not sent are kept');
  assert.deepEqual(await call('update', 'entity', { name: field(res, 'name').toUpperCase(), metadata: { a: 'b' } }), { status: 204 });
  assert.deepEqual(store.entityById(id)?.metadata, { a: 'b' });
  assert.equal(store.entities().length, 1);
  await rejects(call('update', 'entity', { id: 'missing' }), 400, ['entity not found from id']);
  const other = field(await call('update', 'entity', { name: 'other' }), 'id');
  await rejects(call('update', 'entity', { id: other, name: field(res, 'name') }), 400, ['entity name is already in use']);
  await rejects(call('update', 'entity', { policies: ['root'] }), 400, ['policies cannot contain root']);
  await rejects(call('update', 'entity', { disabled: 'maybe' }), 400, ['error converting input maybe for field "disabled"']);
  await rejects(call('update', 'entity', { metadata: ['novalue'] }), 400, ['invalid key pair "novalue"']);
  await rejects(call('update', 'entity', { metadata: { 'a b': 'c' } }), 400, [
    'invalid entity metadata: failed to load metadata pair ("a b", "c"): key contains invalid characters',
  ]);
  await rejects(call('read', 'entity'), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
  await rejects(call('read', 'entity/merge'), 404, ['no handler for route "identity/entity/merge". route entry not found.']);
});

test('entity/name/<name>: read 404 when absent, delete 204 (absent too), list sorted names or 404', async () => {
  const { call, store } = await setup();
  await rejects(call('read', 'entity/name/nobody'), 404, []);
  await rejects(call('list', 'entity/name/'), 404, []);
  assert.deepEqual(await call('delete', 'entity/name/nobody'), { status: 204 });
  await call('update', 'entity/name/zeta', {});
  await call('update', 'entity/name/Alpha', {});
  await call('update', 'entity/name/mid', {});
  assert.deepEqual((await call('list', 'entity/name/')).data, { keys: ['Alpha', 'mid', 'zeta'] });
  const alpha = store.entityByName('alpha');
  assert.ok(alpha !== undefined);
  await call('update', 'entity-alias', { name: 'a', canonical_id: alpha.id, mount_accessor: USERPASS });
  assert.deepEqual(await call('delete', 'entity/name/ALPHA'), { status: 204 });
  assert.equal(store.entityByName('alpha'), undefined);
  assert.equal(store.aliases().length, 0, 'the entity took its alias with it');
  await rejects(call('read', 'entity/name/Alpha'), 404, []);
});

test('entity/id/<id>: read, update 204 (unknown id 400), delete 204, list with key_info', async () => {
  const { call } = await setup();
  await rejects(call('list', 'entity/id/'), 404, []);
  await rejects(call('update', 'entity/id/nope', { policies: ['x'] }), 400, ['entity not found from id']);
  await rejects(call('read', 'entity/id/nope'), 404, []);
  const a = field(await call('update', 'entity', { name: 'a' }), 'id');
  const b = field(await call('update', 'entity', { name: 'b' }), 'id');
  const aliasId = field(await call('update', 'entity-alias', { name: 'u', canonical_id: b, mount_accessor: TOKEN }), 'id');
  assert.deepEqual(await call('update', 'entity/id/' + a, { name: 'a2', policies: 'x,y' }), { status: 204 });
  assert.equal((await call('read', 'entity/id/' + a)).data?.['name'], 'a2');
  const list = await call('list', 'entity/id/');
  assert.deepEqual(list.data, {
    keys: [a, b].sort(),
    key_info: {
      [a]: { name: 'a2' },
      [b]: { name: 'b', aliases: [{ id: aliasId, mount_accessor: TOKEN, name: 'u', mount_type: 'token', mount_path: 'auth/token/' }] },
    },
  });
  assert.deepEqual(await call('delete', 'entity/id/' + a), { status: 204 });
  assert.deepEqual(await call('delete', 'entity/id/' + a), { status: 204 });
  assert.deepEqual((await call('list', 'entity/id/')).data?.['keys'], [b]);
});

test('entity-alias: create errors with Vault messages', async () => {
  const { call } = await setup();
  const id = field(await call('update', 'entity', { name: 'e' }), 'id');
  const missing = ["'id' or 'mount_accessor' and 'name' must be provided"];
  await rejects(call('update', 'entity-alias', { canonical_id: id, mount_accessor: USERPASS }), 400, missing);
  await rejects(call('update', 'entity-alias', { canonical_id: id, name: 'x' }), 400, missing);
  await rejects(call('update', 'entity-alias', { name: 'x', canonical_id: id, mount_accessor: 'auth_nope' }), 400, ['invalid mount accessor "auth_nope"']);
  await rejects(call('update', 'entity-alias', { name: 'x', canonical_id: 'nope', mount_accessor: USERPASS }), 400, ['invalid canonical ID']);
  await call('update', 'entity-alias', { name: 'x', canonical_id: id, mount_accessor: USERPASS });
  await rejects(call('update', 'entity-alias', { name: 'y', canonical_id: id, mount_accessor: USERPASS }), 400, [
    'Alias already exists for requested entity and mount accessor',
  ]);
  await rejects(call('update', 'entity-alias', { name: 'z', canonical_id: id, mount_accessor: TOKEN, custom_metadata: { k: '' } }), 400, [
    '1 error occurred:\n\t* custom_metadata validation failed: length of value for key "k" is 0 but must be 0 < len(value) <= 512\n\n',
  ]);
  await rejects(call('update', 'entity-alias/id/nope', { name: 'z' }), 400, ['invalid alias ID provided']);
});

test('entity-alias: without canonical_id a new entity is made; entity_id is the old spelling', async () => {
  const { call, store } = await setup();
  const res = await call('update', 'entity-alias', { name: 'solo', mount_accessor: USERPASS });
  const entity = store.entityById(field(res, 'canonical_id'));
  assert.match(entity?.name ?? '', /^entity_[0-9a-f]{8}$/);
  const target = field(await call('update', 'entity', { name: 't' }), 'id');
  const old = await call('update', 'entity-alias', { name: 'legacy', mount_accessor: USERPASS, entity_id: target });
  assert.equal(old.data?.['canonical_id'], target);
});

test('entity-alias: a binding to another entity moves the alias; one alias per mount per entity', async () => {
  const { call, store } = await setup();
  const from = field(await call('update', 'entity', { name: 'from' }), 'id');
  const to = field(await call('update', 'entity', { name: 'to' }), 'id');
  const aliasId = field(await call('update', 'entity-alias', { name: 'svc', canonical_id: from, mount_accessor: USERPASS }), 'id');
  const moved = await call('update', 'entity-alias', { name: 'SVC', canonical_id: to, mount_accessor: USERPASS });
  assert.deepEqual(moved.data, { id: aliasId, canonical_id: to });
  assert.deepEqual(store.entityById(from)?.aliases, []);
  assert.equal(store.aliasById(aliasId)?.name, 'SVC', 'a change of case is kept');
  assert.equal(store.aliasByFactors(USERPASS, 'svc')?.canonical_id, to);
  // `from` gets another alias on the same mount; moving it to `to` would give `to` two.
  const second = field(await call('update', 'entity-alias', { name: 'other', canonical_id: from, mount_accessor: USERPASS }), 'id');
  await rejects(call('update', 'entity-alias', { name: 'other', canonical_id: to, mount_accessor: USERPASS }), 400, [
    'Alias cannot be updated as the given entity already has an alias for this mount ',
  ]);
  await rejects(call('update', 'entity-alias/id/' + second, { canonical_id: 'nope' }), 400, ["given 'canonical_id' is not associated with an entity"]);
  await call('update', 'entity-alias', { name: 'tok', canonical_id: from, mount_accessor: TOKEN });
  await rejects(call('update', 'entity-alias/id/' + second, { mount_accessor: TOKEN }), 400, [
    "Alias cannot be updated as the entity already has an alias for the given 'mount_accessor' ",
  ]);
  await rejects(call('update', 'entity-alias/id/' + second, { name: 'svc' }), 400, ['alias with combination of mount accessor and name already exists']);
  await rejects(call('update', 'entity-alias/id/' + second, { mount_accessor: 'auth_nope' }), 400, ['invalid mount accessor "auth_nope"']);
});

test('entity-alias/id/<id>: read 404, update by id (rename, remount, no-op 204), delete 204, list with key_info', async () => {
  const { call, store } = await setup();
  await rejects(call('list', 'entity-alias/id/'), 404, []);
  await rejects(call('read', 'entity-alias/id/nope'), 404, []);
  const e = field(await call('update', 'entity', { name: 'e' }), 'id');
  const aliasId = field(await call('update', 'entity-alias', { name: 'n', canonical_id: e, mount_accessor: USERPASS, custom_metadata: { a: 'b' } }), 'id');
  assert.deepEqual(await call('update', 'entity-alias/id/' + aliasId, {}), { status: 204 });
  assert.deepEqual(await call('update', 'entity-alias/id/' + aliasId, { name: 'n' }), { status: 204 }, 'custom metadata kept when not sent');
  const renamed = await call('update', 'entity-alias/id/' + aliasId, { name: 'n2', mount_accessor: APPROLE });
  assert.deepEqual(renamed.data, { id: aliasId, canonical_id: e });
  const alias = store.aliasById(aliasId);
  assert.equal(alias?.name, 'n2');
  assert.equal(alias.mount_type, 'approle');
  assert.deepEqual(alias.custom_metadata, { a: 'b' });
  assert.equal(store.aliasByFactors(USERPASS, 'n'), undefined);
  assert.deepEqual((await call('list', 'entity-alias/id/')).data, {
    keys: [aliasId],
    key_info: {
      [aliasId]: {
        canonical_id: e,
        custom_metadata: { a: 'b' },
        local: false,
        metadata: null,
        mount_accessor: APPROLE,
        mount_type: 'approle',
        mount_path: 'auth/approle/',
        name: 'n2',
      },
    },
  });
  assert.deepEqual(await call('delete', 'entity-alias/id/' + aliasId), { status: 204 });
  assert.deepEqual(await call('delete', 'entity-alias/id/' + aliasId), { status: 204 });
  assert.deepEqual(store.entityById(e)?.aliases, []);
  await rejects(call('list', 'entity-alias/id/'), 404, []);
});

test('the backend has no existence checks (POST/PUT are updates) and a create falls back to update', async () => {
  const { call } = await setup();
  const backend = new EntityBackend(await EntityStore.open(new MemoryStorage(), mounts));
  assert.equal(await backend.exists('entity/name/x'), undefined);
  const res = await call('create', 'entity/name/x', {});
  assert.equal(res.data?.['name'], 'x');
});
