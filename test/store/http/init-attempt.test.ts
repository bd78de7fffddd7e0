/** The abandoned-init contract (src/bootstrap/init-control.ts) through StoreApi over the real SealManager and durable storage. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, sha256 } from '../../../src/crypto.js';
import { StoreApi } from '../../../src/store/http/api.js';
import { LogicalLayer } from '../../../src/store/http/logical-layer.js';
import { SealManager } from '../../../src/store/seal/seal-manager.js';
import { openDurableStorage } from '../../../src/store/storage/durable.js';
import type { Storage } from '../../../src/store/storage/storage.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const NOT_STARTED_OVER = 'the store has been unsealed since its initialization (or has no recorded init attempt); it is not started over';

/** `serve`'s composition over a data folder, without sockets. */
async function openStore(dir: string) {
  const storage = await openDurableStorage(dir);
  const seal = await SealManager.open(storage, { version: '1.15.0-test', storageType: 'file' });
  let logical: LogicalLayer | undefined;
  seal.onUnseal(async (barrier) => {
    logical = await LogicalLayer.open(barrier);
  });
  seal.onSeal(() => {
    logical = undefined;
  });
  const api = new StoreApi({
    seal,
    logical: () => logical,
    createRootToken: async (barrier) => (await LogicalLayer.open(barrier)).tokens.createRoot(),
  });
  const call = async (method: string, path: string, body?: unknown, token?: string): Promise<Answer> => {
    const { result } = await api.handle({
      method,
      target: '/v1/' + path,
      headers: { 'x-vault-token': token },
      body: body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body)),
    });
    return { status: result.status, body: (result.body ?? {}) as Record<string, unknown> };
  };
  const close = async (): Promise<void> => {
    await seal.close();
    await storage.close();
  };
  return { storage, seal, call, close };
}

async function allKeys(s: Storage, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const child of await s.list(prefix)) {
    if (child.endsWith('/')) out.push(...(await allKeys(s, prefix + child)));
    else out.push(prefix + child);
  }
  return out;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'init-attempt-'));
  try {
    await fn(join(dir, 'data'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function newAttempt(): { id: string; hash: string } {
  const id = randomBytes(32);
  return { id: id.toString('hex'), hash: sha256(id).toString('hex') };
}

test('sys/init rejects a malformed init_attempt_sha256 with the contract message', async () => {
  await withDir(async (dir) => {
    const s = await openStore(dir);
    try {
      const r = await s.call('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1, init_attempt_sha256: 'ABC' });
      assert.deepEqual(r, { status: 400, body: { errors: ['init_attempt_sha256 must be 64 lowercase hex digits'] } });
      assert.equal((await s.call('GET', 'sys/init')).body.initialized, false);
      const st = await s.call('GET', 'sys/seal-status');
      assert.equal(st.body.init_attempt_supported, true);
      assert.equal('init_attempt_sha256' in st.body, false);
    } finally {
      await s.close();
    }
  });
});

test('the attempt survives a restart while sealed; an unseal removes it; abandon is then 409', async () => {
  await withDir(async (dir) => {
    const a = newAttempt();
    let s = await openStore(dir);
    const init = await s.call('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1, init_attempt_sha256: a.hash });
    assert.equal(init.status, 200);
    assert.equal((await s.call('GET', 'sys/seal-status')).body.init_attempt_sha256, a.hash);
    await s.close();

    s = await openStore(dir);
    try {
      const st = await s.call('GET', 'sys/seal-status');
      assert.equal(st.body.sealed, true);
      assert.equal(st.body.init_attempt_sha256, a.hash);
      assert.equal(st.body.init_attempt_supported, true);
      const keys = init.body.keys as string[];
      const un = await s.call('PUT', 'sys/unseal', { key: keys[0] });
      assert.equal(un.body.sealed, false);
      assert.equal('init_attempt_sha256' in un.body, false);
      assert.equal('init_attempt_sha256' in (await s.call('GET', 'sys/seal-status')).body, false);
      assert.equal((await s.call('PUT', 'sys/seal', undefined, init.body.root_token as string)).status, 204);
      assert.deepEqual(await s.call('PUT', 'sys/init/abandon', { init_attempt: a.id }), { status: 409, body: { errors: [NOT_STARTED_OVER] } });
    } finally {
      await s.close();
    }
    // Gone for good: not back after a restart.
    s = await openStore(dir);
    try {
      assert.equal('init_attempt_sha256' in (await s.call('GET', 'sys/seal-status')).body, false);
    } finally {
      await s.close();
    }
  });
});

test('abandon: wrong id → 403 and nothing changes; right id → 200, empty storage, a new init works', async () => {
  await withDir(async (dir) => {
    const a = newAttempt();
    let s = await openStore(dir);
    const init = await s.call('PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2, init_attempt_sha256: a.hash });
    assert.equal(init.status, 200);
    await s.close();

    s = await openStore(dir);
    try {
      const before = await allKeys(s.storage);
      assert.ok(before.includes('core/seal-config') && before.includes('core/init-attempt'));
      assert.deepEqual(await s.call('PUT', 'sys/init/abandon', { init_attempt: newAttempt().id }), { status: 403, body: { errors: ['init attempt mismatch'] } });
      assert.equal((await s.call('PUT', 'sys/init/abandon', { init_attempt: 'xyz' })).status, 400);
      assert.equal((await s.call('GET', 'sys/init/abandon')).status, 405);
      assert.deepEqual(await allKeys(s.storage), before);
      assert.equal((await s.call('GET', 'sys/seal-status')).body.init_attempt_sha256, a.hash);

      // Unauthenticated and allowed while sealed.
      assert.deepEqual(await s.call('PUT', 'sys/init/abandon', { init_attempt: a.id }), { status: 200, body: { initialized: false } });
      assert.deepEqual(await allKeys(s.storage), []);
      const st = await s.call('GET', 'sys/seal-status');
      assert.equal(st.body.initialized, false);
      assert.equal('init_attempt_sha256' in st.body, false);
      assert.equal((await s.call('GET', 'sys/health')).status, 501);
      assert.deepEqual(await s.call('PUT', 'sys/init/abandon', { init_attempt: a.id }), { status: 400, body: { errors: ['the store is not initialized'] } });
    } finally {
      await s.close();
    }

    // After a restart: still uninitialized; a new init (with a new attempt) and unseal work, and old data is gone.
    s = await openStore(dir);
    try {
      assert.equal((await s.call('GET', 'sys/init')).body.initialized, false);
      const b = newAttempt();
      const again = await s.call('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1, init_attempt_sha256: b.hash });
      assert.equal(again.status, 200);
      assert.equal((await s.call('GET', 'sys/seal-status')).body.init_attempt_sha256, b.hash);
      const keys = again.body.keys as string[];
      assert.equal((await s.call('PUT', 'sys/unseal', { key: keys[0] })).body.sealed, false);
      const root = again.body.root_token as string;
      assert.equal((await s.call('GET', 'auth/token/lookup-self', undefined, root)).status, 200);
      // The old root token died with the old store.
      assert.equal((await s.call('GET', 'auth/token/lookup-self', undefined, init.body.root_token as string)).status, 403);
    } finally {
      await s.close();
    }
  });
});

test('abandon on an uninitialized store → 400', async () => {
  await withDir(async (dir) => {
    const s = await openStore(dir);
    try {
      assert.deepEqual(await s.call('PUT', 'sys/init/abandon', { init_attempt: newAttempt().id }), {
        status: 400,
        body: { errors: ['the store is not initialized'] },
      });
    } finally {
      await s.close();
    }
  });
});
