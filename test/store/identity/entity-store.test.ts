import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rejects } from '../../helpers/logical.js';
import { EntityStore } from '../../../src/store/identity/entity-store.js';
import type { EntityRecord } from '../../../src/store/identity/identity-types.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';
import { APPROLE, FlakyStorage, TOKEN, USERPASS, mounts, steppingClock } from './entity-fixtures.js';

const open = (storage = new MemoryStorage()) => EntityStore.open(storage, mounts, { now: steppingClock() });

/** Everything a store holds, for comparing a store with its reload. */
function snapshot(store: EntityStore): unknown {
  return { entities: store.entities(), aliases: store.aliases() };
}

test('createEntity: generated name, sanitized policies, frozen records, lookups by id and case-insensitive name', async () => {
  const store = await open();
  const a = await store.createEntity({ policies: [' B ', 'a', 'b', '', 'A'], metadata: { team: 'qa' } });
  assert.match(a.name, /^entity_[0-9a-f]{8}$/);
  assert.deepEqual(a.policies, ['a', 'b']); // trimmed, lower-cased, de-duplicated, sorted, no `default`
  assert.equal(a.creation_time, '2024-01-02T03:04:05.678Z');
  assert.equal(a.last_update_time, a.creation_time);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.policies) && Object.isFrozen(a.metadata) && Object.isFrozen(a.aliases));
  assert.equal(store.entityById(a.id), a);
  const named = await store.createEntity({ name: 'Core-Data' });
  assert.equal(store.entityByName('core-data'), named);
  assert.equal(store.entityByName('CORE-DATA'), named);
  await rejects(store.createEntity({ name: 'CORE-data' }), 400, ['entity name is already in use']);
  await rejects(store.createEntity({ policies: ['root'] }), 400, ['policies cannot contain root']);
  await rejects(store.createEntity({ metadata: { 'bad key': 'v' } }), 400, [
    'invalid entity metadata: failed to load metadata pair ("bad key", "v"): key contains invalid characters',
  ]);
  await rejects(store.createEntity({ metadata: { 'vault-x': 'v' } }), 400, [
    'invalid entity metadata: failed to load metadata pair ("vault-x", "v"): key prefix "vault-" is reserved for internal use',
  ]);
  assert.equal(store.entities().length, 2);
});

test('updateEntity changes only the given fields; unknown id and a taken name are refused', async () => {
  const store = await open();
  const e = await store.createEntity({ name: 'svc', policies: ['p1'], metadata: { a: '1' } });
  const other = await store.createEntity({ name: 'other' });
  const u = await store.updateEntity(e.id, { disabled: true });
  assert.equal(u.name, 'svc');
  assert.deepEqual(u.metadata, { a: '1' });
  assert.equal(u.disabled, true);
  assert.equal(u.creation_time, e.creation_time);
  assert.notEqual(u.last_update_time, e.last_update_time);
  assert.deepEqual(e.disabled, false, 'the old record is unchanged');
  const renamed = await store.updateEntity(e.id, { name: 'SVC' }); // a change of case only
  assert.equal(renamed.name, 'SVC');
  await rejects(store.updateEntity(e.id, { name: 'OTHER' }), 400, ['entity name is already in use']);
  await rejects(store.updateEntity('nope', {}), 400, ['entity not found from id']);
  assert.equal(store.entityByName('other'), other);
});

test('entityPolicies: the same frozen array until the policies change; empty for disabled, missing, deleted', async () => {
  const store = await open();
  const e = await store.createEntity({ policies: ['read'] });
  const first = store.entityPolicies(e.id);
  assert.deepEqual(first, ['read']);
  assert.ok(Object.isFrozen(first));
  assert.equal(store.entityPolicies(e.id), first);
  await store.updateEntity(e.id, { metadata: { k: 'v' }, policies: ['READ'] }); // same policies after sanitizing
  assert.equal(store.entityPolicies(e.id), first, 'unchanged policies keep their array');
  await store.updateEntity(e.id, { policies: ['read', 'write'] });
  const second = store.entityPolicies(e.id);
  assert.notEqual(second, first);
  assert.deepEqual(second, ['read', 'write']);
  const empty = store.entityPolicies('missing');
  assert.deepEqual(empty, []);
  assert.ok(Object.isFrozen(empty));
  await store.updateEntity(e.id, { disabled: true });
  assert.equal(store.entityPolicies(e.id), empty, 'a disabled entity grants the shared empty array');
  await store.updateEntity(e.id, { disabled: false });
  assert.deepEqual(store.entityPolicies(e.id), ['read', 'write']);
  await store.deleteEntity(e.id);
  assert.equal(store.entityPolicies(e.id), empty);
});

test('createOrFetchEntity creates once, then fetches; refreshes alias metadata; unknown accessor is refused', async () => {
  const store = await open();
  const [a, b] = await Promise.all([
    store.createOrFetchEntity({ name: 'alice', mountAccessor: USERPASS }),
    store.createOrFetchEntity({ name: 'alice', mountAccessor: USERPASS }),
  ]);
  assert.equal(a.id, b.id, 'concurrent logins make one entity');
  assert.match(a.name, /^entity_[0-9a-f]{8}$/);
  assert.equal(a.aliases.length, 1);
  const alias = a.aliases[0];
  assert.ok(alias !== undefined);
  assert.deepEqual(
    { ...alias, id: '', creation_time: '', last_update_time: '' },
    {
      id: '',
      canonical_id: a.id,
      mount_accessor: USERPASS,
      mount_type: 'userpass',
      mount_path: 'auth/userpass/',
      name: 'alice',
      metadata: {},
      custom_metadata: {},
      creation_time: '',
      last_update_time: '',
    },
  );
  const generation = store.generation;
  assert.equal(await store.createOrFetchEntity({ name: 'alice', mountAccessor: USERPASS }), store.entityById(a.id));
  assert.equal((await store.createOrFetchEntity({ name: 'ALICE', mountAccessor: USERPASS })).id, a.id, 'alias names are case-insensitive');
  assert.equal(store.generation, generation, 'a fetch writes nothing');
  const refreshed = await store.createOrFetchEntity({ name: 'alice', mountAccessor: USERPASS, metadata: { site: 'x' } });
  assert.equal(refreshed.id, a.id);
  assert.deepEqual(refreshed.aliases[0]?.metadata, { site: 'x' });
  assert.equal(store.generation, generation + 1);
  const other = await store.createOrFetchEntity({ name: 'alice', mountAccessor: TOKEN });
  assert.notEqual(other.id, a.id, 'another mount is another alias');
  await rejects(store.createOrFetchEntity({ name: 'alice', mountAccessor: 'auth_nope' }), 400, ['invalid mount accessor "auth_nope"']);
  await rejects(store.createOrFetchEntity({ name: '', mountAccessor: USERPASS }), 400, ['empty alias name']);
});

test('deleteEntity removes its aliases; removeAliasesForMount strips one mount everywhere', async () => {
  const store = await open();
  const a = await store.createOrFetchEntity({ name: 'a', mountAccessor: USERPASS });
  await store.upsertAlias({ name: 'a', mountAccessor: TOKEN, canonicalId: a.id });
  const b = await store.createOrFetchEntity({ name: 'b', mountAccessor: USERPASS });
  assert.equal(store.aliases().length, 3);
  await store.removeAliasesForMount(USERPASS);
  assert.equal(store.aliasByFactors(USERPASS, 'a'), undefined);
  assert.equal(store.aliasByFactors(USERPASS, 'b'), undefined);
  assert.deepEqual(store.entityById(b.id)?.aliases, []);
  assert.deepEqual(store.entityById(a.id)?.aliases.map((x) => x.mount_accessor), [TOKEN]);
  const generation = store.generation;
  await store.removeAliasesForMount(USERPASS);
  assert.equal(store.generation, generation, 'nothing left to remove: no write');
  const tokenAlias = store.aliasByFactors(TOKEN, 'a');
  assert.ok(tokenAlias !== undefined);
  assert.equal(await store.deleteEntity(a.id), true);
  assert.equal(store.aliasById(tokenAlias.id), undefined);
  assert.equal(store.aliasByFactors(TOKEN, 'a'), undefined);
  assert.equal(await store.deleteEntity(a.id), false);
  assert.equal(await store.deleteEntityByName(b.name.toUpperCase()), true);
  assert.deepEqual(store.entities(), []);
});

test('a failed storage write changes nothing in memory (single and two-entity writes)', async () => {
  const storage = new FlakyStorage();
  const store = await EntityStore.open(storage, mounts, { now: steppingClock() });
  const e = await store.createEntity({ name: 'svc', policies: ['p'] });
  const target = await store.createEntity({ name: 'target' });
  const moved = await store.upsertAlias({ name: 'svc', mountAccessor: USERPASS, canonicalId: e.id });
  assert.ok(moved !== undefined);
  const before = snapshot(store);
  const generation = store.generation;
  storage.failing = true;
  await assert.rejects(store.createEntity({ name: 'new' }), /disk full/);
  await assert.rejects(store.updateEntity(e.id, { policies: ['q'] }), /disk full/);
  await assert.rejects(store.deleteEntity(e.id), /disk full/);
  await assert.rejects(store.createOrFetchEntity({ name: 'x', mountAccessor: USERPASS }), /disk full/);
  await assert.rejects(store.removeAliasesForMount(USERPASS), /disk full/);
  storage.failing = false;
  // A move writes two entities: let the first write through and fail the second.
  storage.failPut(2);
  await assert.rejects(store.upsertAlias({ id: moved.alias.id, canonicalId: target.id }), /disk full/);
  assert.deepEqual(snapshot(store), before);
  assert.equal(store.generation, generation);
  assert.deepEqual(store.entityPolicies(e.id), ['p']);
  // The first write was undone in storage too: a reload sees the same state.
  assert.deepEqual(snapshot(await EntityStore.open(storage, mounts)), before);
});

test('reload from the same storage keeps entities, aliases and indexes', async () => {
  const storage = new MemoryStorage();
  const store = await open(storage);
  const e = await store.createEntity({ name: 'Svc', policies: ['a'], metadata: { name: 'svc' }, disabled: true });
  await store.upsertAlias({ name: 'svc', mountAccessor: USERPASS, canonicalId: e.id, customMetadata: { k: 'v' } });
  await store.createOrFetchEntity({ name: 'bob', mountAccessor: TOKEN });
  const reloaded = await EntityStore.open(storage, mounts);
  assert.deepEqual(snapshot(reloaded), snapshot(store));
  assert.equal(reloaded.entityByName('svc')?.id, e.id);
  assert.equal(reloaded.aliasByFactors(USERPASS, 'SVC')?.canonical_id, e.id);
  assert.deepEqual(await storage.list('entity/'), store.entities().map((x) => x.id));
  reloaded.forget();
  assert.deepEqual(reloaded.entities(), []);
  await reloaded.load();
  assert.deepEqual(snapshot(reloaded), snapshot(store));
});

test('a crash between the two writes of a move: the newer copy of the alias wins at load', async () => {
  const storage = new MemoryStorage();
  const store = await open(storage);
  const from = await store.createEntity({ name: 'from' });
  const to = await store.createEntity({ name: 'to' });
  const created = await store.upsertAlias({ name: 'svc', mountAccessor: USERPASS, canonicalId: from.id });
  assert.ok(created !== undefined);
  const staleFrom = await storage.get('entity/' + from.id);
  assert.ok(staleFrom !== undefined);
  await store.upsertAlias({ id: created.alias.id, canonicalId: to.id });
  await storage.put('entity/' + from.id, staleFrom); // as if the second write never happened
  const reloaded = await EntityStore.open(storage, mounts);
  assert.equal(reloaded.aliasById(created.alias.id)?.canonical_id, to.id);
  assert.deepEqual(reloaded.entityById(from.id)?.aliases, []);
  assert.equal(reloaded.aliasByFactors(USERPASS, 'svc')?.canonical_id, to.id);
});

test('a damaged record fails the load, naming the key only', async () => {
  const storage = new MemoryStorage();
  await storage.put('entity/x', Buffer.from('{"version":1,"id":"x","secret":"s3cr3t"}'));
  await assert.rejects(EntityStore.open(storage, mounts), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal(e.message, 'identity store: entity/x is not a valid entity record');
    return true;
  });
});

/** The index a store should have, rebuilt from its records: names and alias factors → ids. */
function expectedIndexes(entities: readonly Readonly<EntityRecord>[]): { names: Map<string, string>; factors: Map<string, string> } {
  const names = new Map<string, string>();
  const factors = new Map<string, string>();
  for (const e of entities) {
    assert.equal(names.has(e.name.toLowerCase()), false, `duplicate name ${e.name}`);
    names.set(e.name.toLowerCase(), e.id);
    for (const a of e.aliases) {
      const key = `${a.mount_accessor}/${a.name.toLowerCase()}`;
      assert.equal(factors.has(key), false, `duplicate alias ${key}`);
      assert.equal(a.canonical_id, e.id);
      factors.set(key, a.id);
    }
  }
  return { names, factors };
}

type Op =
  | { kind: 'create'; name: string; policy: string }
  | { kind: 'rename'; who: number; name: string }
  | { kind: 'delete'; who: number }
  | { kind: 'bind'; who: number; mount: number; alias: string }
  | { kind: 'unbind'; who: number }
  | { kind: 'login'; mount: number; alias: string }
  | { kind: 'dropMount'; mount: number };

const names = fc.constantFrom('a', 'A', 'b', 'svc', 'Svc', 'core-data');
const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), name: names, policy: fc.constantFrom('p', ' P ', 'q') }),
  fc.record({ kind: fc.constant('rename' as const), who: fc.nat(5), name: names }),
  fc.record({ kind: fc.constant('delete' as const), who: fc.nat(5) }),
  fc.record({ kind: fc.constant('bind' as const), who: fc.nat(5), mount: fc.nat(2), alias: names }),
  fc.record({ kind: fc.constant('unbind' as const), who: fc.nat(5) }),
  fc.record({ kind: fc.constant('login' as const), mount: fc.nat(2), alias: names }),
  fc.record({ kind: fc.constant('dropMount' as const), mount: fc.nat(2) }),
);
const ACCESSORS = [USERPASS, TOKEN, APPROLE];

test('property: any sequence of writes keeps the name and alias indexes consistent, also after a reload', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(ops, { maxLength: 25 }), async (sequence) => {
      const storage = new MemoryStorage();
      const store = await open(storage);
      const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);
      for (const op of sequence) {
        const entity = 'who' in op ? pick(store.entities(), op.who) : undefined;
        const accessor = 'mount' in op ? (ACCESSORS[op.mount] ?? USERPASS) : USERPASS;
        // Vault's refusals (name taken, one alias per mount) are expected outcomes; anything else is a failure.
        const refused = (e: unknown): void => {
          assert.equal((e as { status?: number }).status, 400, String(e));
        };
        if (op.kind === 'create') await store.createEntity({ name: op.name, policies: [op.policy] }).catch(refused);
        else if (op.kind === 'rename' && entity) await store.updateEntity(entity.id, { name: op.name }).catch(refused);
        else if (op.kind === 'delete' && entity) await store.deleteEntity(entity.id);
        else if (op.kind === 'bind' && entity) await store.upsertAlias({ name: op.alias, mountAccessor: accessor, canonicalId: entity.id }).catch(refused);
        else if (op.kind === 'unbind' && entity?.aliases[0]) await store.deleteAlias(entity.aliases[0].id);
        else if (op.kind === 'login') await store.createOrFetchEntity({ name: op.alias, mountAccessor: accessor });
        else if (op.kind === 'dropMount') await store.removeAliasesForMount(accessor);
      }
      const { names: nameIndex, factors } = expectedIndexes(store.entities());
      for (const [name, id] of nameIndex) assert.equal(store.entityByName(name)?.id, id);
      for (const [key, id] of factors) {
        const [accessor = '', aliasName = ''] = key.split('/');
        assert.equal(store.aliasByFactors(accessor, aliasName)?.id, id);
        assert.equal(store.aliasById(id)?.id, id);
      }
      assert.equal(store.aliases().length, factors.size, 'no stale alias entries');
      for (const accessor of ACCESSORS) {
        for (const aliasName of ['a', 'b', 'svc', 'core-data', 'zzz']) {
          assert.equal(store.aliasByFactors(accessor, aliasName)?.id, factors.get(`${accessor}/${aliasName}`), 'no stale factor keys');
        }
      }
      for (const e of store.entities()) {
        for (const m of e.aliases.map((a) => a.mount_accessor)) assert.equal(e.aliases.filter((a) => a.mount_accessor === m).length, 1);
      }
      const reloaded = await EntityStore.open(storage, mounts);
      assert.deepEqual(snapshot(reloaded), snapshot(store));
      for (const [name, id] of nameIndex) assert.equal(reloaded.entityByName(name)?.id, id);
    }),
    { numRuns: 200 },
  );
});
