import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejects } from '../../../helpers/logical.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';
import { CHEAP, admin, countingHasher, dumpStorage, login, makeBackend } from './fixtures.js';

const NAME_ERROR = ['username must match ^[-a-zA-Z0-9_]+$'];

test('create, read, list, delete a user', async () => {
  const b = makeBackend(new MemoryStorage());
  assert.equal(await b.exists('users/edgex-core-data'), false);
  await rejects(admin(b, 'list', 'users/'), 404, []);
  assert.deepEqual(await admin(b, 'create', 'users/edgex-core-data', { password: 'pw', token_policies: 'edgex-service-core-data', token_ttl: '1h' }), {
    status: 204,
  });
  assert.equal(await b.exists('users/edgex-core-data'), true);
  assert.deepEqual((await admin(b, 'read', 'users/edgex-core-data')).data, {
    token_bound_cidrs: [],
    token_explicit_max_ttl: 0,
    token_max_ttl: 0,
    token_no_default_policy: false,
    token_num_uses: 0,
    token_period: 0,
    token_policies: ['edgex-service-core-data'],
    token_ttl: 3600,
    token_type: 'default',
  });
  await admin(b, 'create', 'users/app_2', { password: 'pw2' });
  assert.deepEqual((await admin(b, 'list', 'users/')).data, { keys: ['app_2', 'edgex-core-data'] });
  assert.deepEqual((await admin(b, 'list', 'users')).data, { keys: ['app_2', 'edgex-core-data'] });
  assert.deepEqual(await admin(b, 'delete', 'users/edgex-core-data'), { status: 204 });
  await rejects(admin(b, 'read', 'users/edgex-core-data'), 404, []);
  assert.equal(await b.exists('users/edgex-core-data'), false);
  assert.deepEqual(await admin(b, 'delete', 'users/never-was'), { status: 204 });
  await admin(b, 'delete', 'users/app_2');
  await rejects(admin(b, 'list', 'users/'), 404, []);
});

test('creating a user needs a password; an update without one keeps it', async () => {
  const b = makeBackend(new MemoryStorage());
  await rejects(admin(b, 'create', 'users/svc', { token_policies: 'p' }), 400, ['missing password']);
  await rejects(admin(b, 'update', 'users/svc', { password: '' }), 400, ['missing password']);
  await rejects(admin(b, 'read', 'users/svc'), 404, []);
  await admin(b, 'create', 'users/svc', { password: 'pw' });
  assert.deepEqual(await admin(b, 'update', 'users/svc', { token_policies: 'p2' }), { status: 204 });
  assert.deepEqual((await admin(b, 'read', 'users/svc')).data?.['token_policies'], ['p2']);
  assert.ok((await login(b, 'svc', 'pw')).login !== undefined);
});

test('a repeated write with a password replaces the password (EdgeX sets a new one at every boot)', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/svc', { password: 'boot-1', token_policies: 'p' });
  await admin(b, 'update', 'users/svc', { password: 'boot-2' });
  await rejects(login(b, 'svc', 'boot-1'), 400, ['invalid username or password']);
  assert.deepEqual((await login(b, 'svc', 'boot-2')).login?.policies, ['p']);
});

test('user names: ^[-a-zA-Z0-9_]+$, lower-cased everywhere', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/EdgeX-Core', { password: 'pw' });
  assert.deepEqual((await admin(b, 'list', 'users/')).data, { keys: ['edgex-core'] });
  assert.equal(await b.exists('users/EDGEX-core'), true);
  assert.ok((await admin(b, 'read', 'users/EDGEX-CORE')).data !== undefined);
  assert.equal((await login(b, 'EDGEX-CORE', 'pw')).login?.aliasName, 'edgex-core');
  for (const bad of ['a.b', 'a@b', 'é', 'a%20b', 'a b']) {
    await rejects(admin(b, 'create', `users/${bad}`, { password: 'pw' }), 400, NAME_ERROR);
    await rejects(admin(b, 'read', `users/${bad}`), 400, NAME_ERROR);
    await rejects(admin(b, 'delete', `users/${bad}`), 400, NAME_ERROR);
    await rejects(admin(b, 'update', `users/${bad}/password`, { password: 'x' }), 400, NAME_ERROR);
    await rejects(admin(b, 'update', `users/${bad}/policies`, { policies: 'x' }), 400, NAME_ERROR);
    assert.equal(await b.exists(`users/${bad}`), false);
  }
  await rejects(admin(b, 'read', 'users/a/b'), 404, ['no handler for route "auth/userpass/users/a/b". route entry not found.']);
  await rejects(admin(b, 'read', 'nothing'), 404, ['no handler for route "auth/userpass/nothing". route entry not found.']);
});

test('a GET never shows the password or its hash, and storage holds no password bytes', async () => {
  const storage = new MemoryStorage();
  const b = makeBackend(storage);
  const password = 'Sup3r-S3cret-Passw0rd';
  await admin(b, 'create', 'users/svc', { password, token_policies: 'p' });
  await admin(b, 'update', 'users/svc/password', { password });
  const shown = JSON.stringify(await admin(b, 'read', 'users/svc'));
  const stored = await dumpStorage(storage);
  assert.deepEqual([...stored.keys()], ['user/svc']);
  const record = JSON.parse(stored.get('user/svc')?.toString('utf8') ?? '{}') as { password_hash: { hash_b64: string; salt_b64: string } };
  for (const secret of [password, record.password_hash.hash_b64, record.password_hash.salt_b64, 'hash', 'salt', 'scrypt', 'password']) {
    assert.ok(!shown.includes(secret), `GET shows ${secret}`);
  }
  const needles = [Buffer.from(password), Buffer.from(password).toString('base64'), Buffer.from(password).toString('hex'), Buffer.from(password, 'utf16le')];
  for (const value of stored.values()) {
    for (const needle of needles) assert.ok(!value.includes(needle), 'password bytes in storage');
  }
  assert.deepEqual(Object.keys(record.password_hash).sort(), ['N', 'alg', 'hash_b64', 'p', 'r', 'salt_b64']);
});

test('users/<name>/password replaces the password of an existing user', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/svc', { password: 'old' });
  assert.deepEqual(await admin(b, 'update', 'users/svc/password', { password: 'new' }), { status: 204 });
  await rejects(login(b, 'svc', 'old'), 400, ['invalid username or password']);
  assert.ok((await login(b, 'svc', 'new')).login !== undefined);
  await rejects(admin(b, 'update', 'users/svc/password', {}), 400, ['missing password']);
  await rejects(admin(b, 'update', 'users/ghost/password', { password: 'x' }), 400, ['username does not exist']);
  await rejects(admin(b, 'update', 'users/ghost/password', {}), 400, ['username does not exist']);
  await rejects(admin(b, 'read', 'users/svc/password'), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
});

test('users/<name>/policies sets token_policies (legacy policies shown when sent by that name)', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/svc', { password: 'pw', token_ttl: 60 });
  assert.deepEqual(await admin(b, 'update', 'users/svc/policies', { token_policies: ['a', 'b'] }), { status: 204 });
  let data = (await admin(b, 'read', 'users/svc')).data ?? {};
  assert.deepEqual(data['token_policies'], ['a', 'b']);
  assert.equal(data['policies'], undefined);
  assert.equal(data['token_ttl'], 60, 'other fields untouched');
  await admin(b, 'update', 'users/svc/policies', { policies: 'Z,y' });
  data = (await admin(b, 'read', 'users/svc')).data ?? {};
  assert.deepEqual(data['token_policies'], ['y', 'z']);
  assert.deepEqual(data['policies'], ['y', 'z']);
  // Neither name sent: nothing changes.
  await admin(b, 'update', 'users/svc/policies', { other: 1 });
  assert.deepEqual((await admin(b, 'read', 'users/svc')).data?.['token_policies'], ['y', 'z']);
  await rejects(admin(b, 'update', 'users/ghost/policies', { policies: 'a' }), 400, ['username does not exist']);
  assert.deepEqual((await login(b, 'svc', 'pw')).login?.policies, ['y', 'z']);
});

test('legacy field names are accepted and shown as Vault shows them', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/svc', { password: 'pw', policies: 'a', ttl: '1m', max_ttl: '1h', period: 0, bound_cidrs: '127.0.0.1' });
  assert.deepEqual((await admin(b, 'read', 'users/svc')).data, {
    token_bound_cidrs: ['127.0.0.1'],
    token_explicit_max_ttl: 0,
    token_max_ttl: 3600,
    token_no_default_policy: false,
    token_num_uses: 0,
    token_period: 0,
    token_policies: ['a'],
    token_ttl: 60,
    token_type: 'default',
    policies: ['a'],
    ttl: 60,
    max_ttl: 3600,
    bound_cidrs: ['127.0.0.1'],
  });
  // Writing the token_* name alone retires the legacy one (Vault's upgrade path).
  await admin(b, 'update', 'users/svc', { token_ttl: 30 });
  const data = (await admin(b, 'read', 'users/svc')).data ?? {};
  assert.equal(data['ttl'], undefined);
  assert.equal(data['max_ttl'], 3600);
});

test('invalid token settings are refused and nothing is written', async () => {
  const storage = new MemoryStorage();
  const b = makeBackend(storage);
  await rejects(admin(b, 'create', 'users/svc', { password: 'pw', token_ttl: '2h', token_max_ttl: '1h' }), 400, [
    "'token_ttl' cannot be greater than 'token_max_ttl'",
  ]);
  await rejects(admin(b, 'create', 'users/svc', { password: 'pw', token_type: 'batch' }), 400, ['batch tokens are not supported by this store']);
  await rejects(admin(b, 'create', 'users/svc', { password: 'pw', token_bound_cidrs: 'x' }), 400, [
    'error parsing address "x": Unable to convert "x" to an IPv4 or IPv6 address, or a UNIX Socket',
  ]);
  await rejects(admin(b, 'create', 'users/svc', { password: { not: 'a string' } }), 400, ['error converting input for field "password"']);
  assert.equal((await dumpStorage(storage)).size, 0);
  await admin(b, 'create', 'users/svc', { password: 'pw', token_max_ttl: '1h' });
  await rejects(admin(b, 'update', 'users/svc', { token_ttl: '2h' }), 400, ["'token_ttl' cannot be greater than 'token_max_ttl'"]);
});

test('operations a path does not have answer 405; unknown paths 404', async () => {
  const b = makeBackend(new MemoryStorage());
  const unsupported = ['1 error occurred:\n\t* unsupported operation\n\n'];
  await rejects(admin(b, 'patch', 'users/svc', { password: 'x' }), 405, unsupported);
  await rejects(admin(b, 'read', 'users/'), 405, unsupported);
  await rejects(admin(b, 'read', 'login/svc'), 405, unsupported);
  await rejects(admin(b, 'list', 'users/svc/'), 404, ['no handler for route "auth/userpass/users/svc/". route entry not found.']);
});

test('login/* is unauthenticated, nothing else is', () => {
  const b = makeBackend(new MemoryStorage());
  assert.equal(b.isUnauthenticated('login/svc'), true);
  assert.equal(b.isUnauthenticated('login/a/b'), true);
  assert.equal(b.isUnauthenticated('users/svc'), false);
  assert.equal(b.isUnauthenticated('users/'), false);
  b.forget();
});

test('a new backend over the same storage keeps the users (restart)', async () => {
  const storage = new MemoryStorage();
  await admin(makeBackend(storage), 'create', 'users/svc', { password: 'pw', token_policies: 'p', token_period: '24h' });
  const after = makeBackend(storage);
  assert.deepEqual((await admin(after, 'list', 'users/')).data, { keys: ['svc'] });
  assert.equal((await admin(after, 'read', 'users/svc')).data?.['token_period'], 86400);
  assert.equal((await login(after, 'svc', 'pw')).login?.period, 86400);
});

test('concurrent writes to one user are serialized: no update is lost', async () => {
  const b = makeBackend(new MemoryStorage());
  await admin(b, 'create', 'users/svc', { password: 'pw' });
  await Promise.all([
    admin(b, 'update', 'users/svc', { token_ttl: 10 }),
    admin(b, 'update', 'users/svc', { token_num_uses: 3 }),
    admin(b, 'update', 'users/svc', { token_period: 20 }),
    admin(b, 'update', 'users/svc/policies', { token_policies: 'p' }),
    admin(b, 'update', 'users/svc', { token_no_default_policy: true }),
    admin(b, 'update', 'users/svc', { token_bound_cidrs: '10.0.0.0/8' }),
    admin(b, 'update', 'users/svc/password', { password: 'pw2' }),
  ]);
  const data = (await admin(b, 'read', 'users/svc')).data ?? {};
  assert.equal(data['token_ttl'], 10);
  assert.equal(data['token_num_uses'], 3);
  assert.equal(data['token_period'], 20);
  assert.deepEqual(data['token_policies'], ['p']);
  assert.equal(data['token_no_default_policy'], true);
  assert.deepEqual(data['token_bound_cidrs'], ['10.0.0.0/8']);
  assert.ok((await login(b, 'svc', 'pw2', '10.1.1.1')).login !== undefined);
});

test('without options the backend hashes with N=2^15, r=8, p=1', async () => {
  const storage = new MemoryStorage();
  const b = makeBackend(storage, { hash: undefined });
  await admin(b, 'create', 'users/svc', { password: 'pw' });
  const record = JSON.parse((await storage.get('user/svc'))?.toString('utf8') ?? '{}') as { password_hash: { N: number; r: number; p: number } };
  assert.deepEqual([record.password_hash.N, record.password_hash.r, record.password_hash.p], [32768, 8, 1]);
  // An injected hasher takes precedence over `hash`.
  const { hasher, calls } = countingHasher();
  await admin(makeBackend(new MemoryStorage(), { hash: { N: 1024, r: 8, p: 1 }, hasher }), 'create', 'users/x', { password: 'pw' });
  assert.deepEqual(calls, [CHEAP]);
});
