import { test } from 'node:test';
import { ROOT_CALLER, rejects, req } from '../../helpers/logical.js';
import assert from 'node:assert/strict';
import type { CallerContext } from '../../../src/store/backend.js';
import { KvV1Backend } from '../../../src/store/kv/kv-v1.js';
import { MemoryStorage } from '../../../src/store/storage/storage.js';

const caller: CallerContext = ROOT_CALLER;



test('KV v1: the body is the secret; read, list, delete', async () => {
  const kv = new KvV1Backend(new MemoryStorage());
  assert.equal(await kv.exists('edgex/core-data'), false);
  assert.deepEqual(await kv.handle(req('create', 'edgex/core-data', { username: 'u', password: 'p' }), caller), { status: 204 });
  assert.equal(await kv.exists('edgex/core-data'), true);
  assert.deepEqual((await kv.handle(req('read', 'edgex/core-data'), caller)).data, { username: 'u', password: 'p' });
  await kv.handle(req('update', 'edgex/core-data', { password: 'q' }), caller);
  assert.deepEqual((await kv.handle(req('read', 'edgex/core-data'), caller)).data, { password: 'q' });
  await kv.handle(req('update', 'edgex/sub/x', { a: 1 }), caller);
  assert.deepEqual((await kv.handle(req('list', 'edgex/'), caller)).data, { keys: ['core-data', 'sub/'] });
  assert.deepEqual((await kv.handle(req('list', ''), caller)).data, { keys: ['edgex/'] });
  assert.deepEqual(await kv.handle(req('delete', 'edgex/core-data'), caller), { status: 204 });
  await rejects(kv.handle(req('read', 'edgex/core-data'), caller), 404, []);
  await rejects(kv.handle(req('list', 'nothing/'), caller), 404, []);
});

test('KV v1 errors', async () => {
  const kv = new KvV1Backend(new MemoryStorage());
  await rejects(kv.handle(req('update', 'k', {}), caller), 400, ['missing data fields']);
  await rejects(kv.handle(req('read', ''), caller), 400, ['missing path']);
  await rejects(kv.handle(req('patch', 'k', { a: 1 }), caller), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
  assert.equal(await kv.exists('dir/'), undefined);
});
