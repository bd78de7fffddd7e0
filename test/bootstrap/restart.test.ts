/**
 * The store restarting while bootstrap runs (fake store, fault injection): the run goes back to waiting within its
 * WaitTimeout budget and resumes from the store's state — it unseals again, never re-initializes an initialized
 * store, never loses the shares — and a store that keeps going away still ends in a clear failure.
 * The same against the real `serve` process: restart.e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { isSecretStoreError } from '../../src/errors.js';
import { MAX_STORE_RESUMES } from '../../src/bootstrap/wait.js';
import { count, flowFixture, type FlowFixture } from './flow-fixtures.js';

async function withFixture(settings: Record<string, unknown>, body: (fx: FlowFixture) => Promise<void>): Promise<void> {
  const fx = await flowFixture(settings);
  try {
    await body(fx);
  } finally {
    await fx.close();
  }
}

test('the store restarts (comes back sealed) after the unseal: the run unseals it again and finishes', async () => {
  await withFixture({}, async (fx) => {
    let restarted = 0;
    fx.fake.hook = (_req, _res, path) => {
      if (path === 'sys/generate-root/attempt' && _req.method === 'PUT' && restarted === 0) {
        restarted++;
        fx.fake.seal(); // a restart: the fake answers this request 503 "Vault is sealed"
      }
      return false;
    };
    const r = await fx.run();
    assert.equal(r.initialized, true);
    assert.equal(fx.fake.sealed, false);
    assert.equal(count(fx.fake, 'PUT sys/init'), 1, 'never initialized again');
    assert.equal(count(fx.fake, 'PUT sys/unseal'), 6, 'unsealed twice (threshold 3)');
    assert.equal(fx.lines.filter((l) => l.includes('the secret store went away during bootstrap')).length, 1);
    assert.ok(fx.lines.some((l) => l.includes('state=sealed')));
    const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
    assert.deepEqual(secrets.shares, fx.fake.shares, 'the shares were kept');
  });
});

test('the store stops answering mid-run (connections reset): the run waits, then resumes when it is back', async () => {
  await withFixture({}, async (fx) => {
    await fx.run();
    fx.fake.seal();
    let down = false;
    let wentDown = 0;
    fx.fake.hook = (req, _res, path) => {
      if (!down && wentDown === 0 && path === 'auth/token/accessors') {
        down = true;
        wentDown++;
      }
      if (!down) return false;
      req.socket.destroy();
      return true;
    };
    // Back (sealed, as after a restart) once the run says it is waiting for it.
    fx.onLine = (l) => {
      if (down && l.includes('waiting for the secret store')) {
        down = false;
        fx.fake.seal();
      }
    };
    const r = await fx.run();
    assert.equal(r.initialState, 'sealed');
    assert.equal(fx.fake.sealed, false);
    assert.equal(count(fx.fake, 'PUT sys/init'), 1);
    assert.ok(fx.lines.some((l) => l.includes('the secret store went away during bootstrap') && l.includes('state=unreachable')));
  });
});

test('init cut off before the store initialized: the store is still uninitialized when back, so it is initialized then', async () => {
  await withFixture({}, async (fx) => {
    let cut = 0;
    fx.fake.hook = (req, _res, path) => {
      if (path !== 'sys/init' || cut > 0) return false;
      cut++;
      req.socket.destroy(); // the request never reached the store's init
      return true;
    };
    const r = await fx.run();
    assert.equal(r.initialized, true);
    assert.equal(count(fx.fake, 'PUT sys/init'), 2, 'sent again only because the store proved uninitialized');
    const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
    assert.deepEqual(secrets.shares, fx.fake.shares);
  });
});

test('the store comes back uninitialized (its data gone) after this run initialized it: refused, never re-initialized', async () => {
  await withFixture({}, async (fx) => {
    fx.fake.hook = (req, _res, path) => {
      if (path === 'sys/generate-root/attempt' && req.method === 'PUT') {
        fx.fake.initialized = false;
        fx.fake.seal();
      }
      return false;
    };
    await assert.rejects(fx.run(), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_KEYFILE_MISMATCH'));
      assert.match(err.message, /came back uninitialized after it went away during this bootstrap/);
      return true;
    });
    assert.equal(count(fx.fake, 'PUT sys/init'), 1);
  });
});

test('a store that keeps going away: at most MAX_STORE_RESUMES resumes, then a clear failure', async () => {
  await withFixture({}, async (fx) => {
    await fx.run();
    fx.fake.hook = (req, _res, path) => {
      if (path === 'sys/generate-root/attempt' && req.method === 'PUT') fx.fake.seal();
      return false;
    };
    fx.fake.seal();
    await assert.rejects(fx.run(), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_UNREACHABLE'));
      assert.match(err.message, new RegExp(`went away ${MAX_STORE_RESUMES + 1} times during this bootstrap`));
      return true;
    });
  });
});

test('the waits of one run share one WaitTimeout: a store gone for good fails at the deadline', async () => {
  await withFixture({ WaitTimeout: 1 }, async (fx) => {
    fx.fake.hook = (req, _res, path) => {
      if (path === 'auth/token/accessors' || (fx.fake.initialized && !fx.fake.sealed && path === 'sys/health')) {
        req.socket.destroy();
        return true;
      }
      return false;
    };
    const started = Date.now();
    await assert.rejects(fx.run(), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_UNREACHABLE'));
      assert.match(err.message, /was not ready after \d+ s/);
      return true;
    });
    assert.ok(Date.now() - started < 30_000, 'bounded');
    // The shares are on disk: nothing lost.
    const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
    assert.deepEqual(secrets.shares, fx.fake.shares);
  });
});

test('a real failure (shares rejected) is not mistaken for a restart', async () => {
  await withFixture({}, async (fx) => {
    await fx.run();
    fx.fake.shares = fx.fake.shares.map(() => randomBytes(33));
    fx.fake.seal();
    await assert.rejects(fx.run(), { code: 'UNSEAL_REJECTED' });
    assert.ok(!fx.lines.some((l) => l.includes('went away')));
  });
});

test('an init lost on the way back, then refused as "already initialized" (the store took the first one late): reported with the marker, never a second init', async () => {
  await withFixture({}, async (fx) => {
    let inits = 0;
    fx.fake.hook = (req, _res, path) => {
      if (path !== 'sys/init') return false;
      inits++;
      if (inits === 1) {
        req.socket.destroy(); // lost; the store commits it only after the run's next health check
        return true;
      }
      fx.fake.initialized = true; // ... here: the first init committed meanwhile, so this one is refused (400)
      fx.fake.threshold = 3;
      fx.fake.shares = [randomBytes(33), randomBytes(33), randomBytes(33)];
      return false;
    };
    await assert.rejects(fx.run(), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_INITIALIZED_NO_KEYFILE'));
      assert.match(err.message, /interrupted during initialization/, 'the marker was kept for the diagnosis');
      return true;
    });
    assert.equal(fx.fake.initialized, true);
    assert.equal(fx.fake.sealed, true);
  });
});
