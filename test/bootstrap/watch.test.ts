/**
 * The watch loop against the fake: unseal on demand, IKM fetched only when needed, a node that does not answer is
 * polled every interval (a restart is caught within one interval), other failures back off exponentially. Time is a
 * virtual clock, so the schedule is asserted exactly, never a wall time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FakeVault } from '../helpers/fake-vault.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { Logger } from '../../src/log.js';
import { resolveConfig, type SecretStoreConfig } from '../../src/config/config.js';
import { runBootstrap } from '../../src/bootstrap/flow.js';
import { KeptIkm, backoffMs, runWatch, type WatchClock } from '../../src/bootstrap/watch.js';
import { WatchMetrics } from '../../src/bootstrap/metrics.js';
import type { IkmSource } from '../../src/vmk/ikm-hook.js';
import { SecretStoreError } from '../../src/errors.js';
import { writeKeyFile } from '../../src/keyfile/keyfile.js';
import { withKeyFileLock } from '../../src/keyfile/keyfile.js';

/** A clock whose sleep advances virtual time at once. */
function virtualClock(): WatchClock & { t: number } {
  const c = {
    t: 1_000_000,
    now: () => c.t,
    sleep: (ms: number) => {
      c.t += ms;
      return Promise.resolve();
    },
  };
  return c;
}

interface WatchHarness {
  fake: FakeVault;
  config: SecretStoreConfig;
  ikm: Buffer;
  fetches: () => number;
  source: () => IkmSource;
  close(): Promise<void>;
}

async function bootstrapped(): Promise<WatchHarness> {
  const fake = new FakeVault();
  const url = await fake.start();
  const dir = await makeTempDir();
  const config = resolveConfig({ TokenFolderPath: join(dir, 'a'), TokenProviderAdminTokenPath: join(dir, 't.json') }, { addrs: [url] }, {}, dir);
  const ikm = randomBytes(32);
  let fetches = 0;
  const source = (): IkmSource => ({
    description: 'test',
    getIkm: () => {
      fetches++;
      return Promise.resolve(Buffer.from(ikm));
    },
  });
  await runBootstrap({ config, ikmSource: source(), log: new Logger({ sink: () => undefined }) });
  fetches = 0;
  return {
    fake,
    config,
    ikm,
    fetches: () => fetches,
    source,
    close: async () => {
      await fake.stop();
      await removeTempDir(dir);
    },
  };
}

test('backoffMs: interval × 2^(n−1), capped at the maximum (never below the interval)', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, 1000, 20_000)),
    [1000, 2000, 4000, 8000, 16_000, 20_000, 20_000],
  );
  assert.equal(backoffMs(1000, 1000, 300_000), 300_000, 'no overflow for long outages');
  assert.equal(backoffMs(3, 5000, 1000), 5000, 'a cap below the interval is the interval');
});

test('unseals a sealed node, fetching the IKM only for that', async () => {
  const h = await bootstrapped();
  try {
    const metrics = new WatchMetrics(h.config.nodes);
    const signal = new AbortController().signal;
    const quiet = new Logger({ sink: () => undefined });
    await runWatch({ config: h.config, ikmSource: h.source, metrics, log: quiet, signal, intervalMs: 10, maxRounds: 2, clock: virtualClock() });
    assert.equal(h.fetches(), 0, 'no IKM fetched while unsealed');
    h.fake.seal();
    await runWatch({ config: h.config, ikmSource: h.source, metrics, log: quiet, signal, intervalMs: 10, maxRounds: 1, clock: virtualClock() });
    assert.equal(h.fake.sealed, false);
    assert.equal(h.fetches(), 1);
    const state = metrics.node(h.fake.url);
    assert.equal(state.unsealAttempts, 1);
    assert.equal(state.unsealFailures, 0);
    assert.ok(state.lastUnsealSuccess > 0);
  } finally {
    await h.close();
  }
});

test('a node that does not answer is polled every interval and logged once; its restart is caught at the next round', async () => {
  const h = await bootstrapped();
  try {
    const metrics = new WatchMetrics(h.config.nodes);
    const lines: string[] = [];
    const log = new Logger({ sink: (l) => lines.push(l) });
    let answering = false;
    h.fake.hook = (req, _res, path) => {
      if (answering || path !== 'sys/seal-status') return false;
      req.socket.destroy();
      return true;
    };
    const clock = virtualClock();
    const controller = new AbortController();
    const rounds = 4;
    await runWatch({ config: h.config, ikmSource: h.source, metrics, log, signal: controller.signal, intervalMs: 1000, maxRounds: rounds, clock });
    const state = metrics.node(h.fake.url);
    assert.equal(state.checkErrors, rounds, 'checked at every round, no backoff while it does not answer');
    assert.equal(state.reachable, false);
    assert.equal(lines.filter((l) => l.includes('node not answering; polling every interval')).length, 1, 'logged once');
    // The store comes back sealed (a restart): the very next round unseals it.
    answering = true;
    h.fake.seal();
    await runWatch({ config: h.config, ikmSource: h.source, metrics, log, signal: controller.signal, intervalMs: 1000, maxRounds: 1, clock });
    assert.equal(h.fake.sealed, false);
    assert.equal(h.fetches(), 1);
  } finally {
    await h.close();
  }
});

test('a failing unseal backs off exponentially (exact schedule), never fetching the IKM each round', async () => {
  const h = await bootstrapped();
  try {
    // Shares of another store: every unseal is rejected (400).
    h.fake.shares = h.fake.shares.map(() => randomBytes(33));
    h.fake.seal();
    const metrics = new WatchMetrics(h.config.nodes);
    const lines: string[] = [];
    const clock = virtualClock();
    const signal = new AbortController().signal;
    // 12 rounds of 10 ms: failures at t = 0, 10, 30, 70 (waits 10, 20, 40, then 80 runs past the last round).
    await runWatch({ config: h.config, ikmSource: h.source, metrics, log: new Logger({ sink: (l) => lines.push(l) }), signal, intervalMs: 10, maxBackoffMs: 1000, maxRounds: 12, clock });
    const waits = lines.filter((l) => l.includes('node check failed')).map((l) => Number(/retryInMs=(\d+)/.exec(l)?.[1]));
    assert.deepEqual(waits, [10, 20, 40, 80]);
    assert.ok(lines.every((l) => !l.includes('node check failed') || l.includes('code=UNSEAL_REJECTED')));
    const state = metrics.node(h.fake.url);
    assert.equal(state.unsealAttempts, 4);
    assert.equal(state.unsealFailures, 4);
    assert.equal(h.fetches(), 1, 'the hook ran once: the IKM that decrypted the key file is kept, none run while backing off');
    assert.equal(h.fake.sealed, true);
  } finally {
    await h.close();
  }
});

test('watch waits for the key-file lock (a bootstrap running now) before sending any share', async () => {
  const h = await bootstrapped();
  try {
    h.fake.seal();
    const loc = { dir: h.config.tokenFolderPath, file: h.config.tokenFile };
    let release: () => void = () => undefined;
    let acquired: () => void = () => undefined;
    const isHeld = new Promise<void>((resolve) => {
      acquired = resolve;
    });
    const holder = withKeyFileLock(loc, async () => {
      acquired();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await isHeld;
    const count = (what: string): number => h.fake.requests.filter((r) => r === what).length;
    const unsealsBefore = count('PUT sys/unseal');
    const statusBefore = count('GET sys/seal-status');
    const metrics = new WatchMetrics(h.config.nodes);
    const quiet = new Logger({ sink: () => undefined });
    const watching = runWatch({ config: h.config, ikmSource: h.source, metrics, log: quiet, signal: new AbortController().signal, intervalMs: 10, maxRounds: 1, clock: virtualClock() });
    // Wait until the daemon has seen the node sealed, then give it time it must not use while the lock is held.
    while (count('GET sys/seal-status') === statusBefore) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(count('PUT sys/unseal'), unsealsBefore, 'no share sent while the lock is held');
    assert.equal(h.fetches(), 0, 'the hook did not run either');
    release();
    await holder;
    await watching;
    assert.equal(h.fake.sealed, false, 'unsealed once the lock was free');
  } finally {
    await h.close();
  }
});

test('a hook that releases the IKM once per boot: watch keeps the IKM, re-unseals after every restart, wipes it on exit', async () => {
  const h = await bootstrapped();
  try {
    // The device's hook: the first call succeeds, every later one fails, as ikm-tpm2 does past its per-boot limit.
    let calls = 0;
    const handedOut: Buffer[] = [];
    const oncePerBoot = (): IkmSource => ({
      description: 'once-per-boot hook',
      getIkm: () => {
        calls++;
        if (calls > 1) return Promise.reject(new SecretStoreError('HOOK_FAILED', 'the IKM hook exited with status 1; hook stderr: "already released this boot"'));
        const ikm = Buffer.from(h.ikm);
        handedOut.push(ikm);
        return Promise.resolve(ikm);
      },
    });
    const metrics = new WatchMetrics(h.config.nodes);
    const lines: string[] = [];
    const keptIkm = new KeptIkm();
    // One watch run over three store restarts: the store restarts (comes back sealed) after each of the first rounds.
    const restarts = 3;
    let slept = 0;
    const clock = virtualClock();
    const restarting: WatchClock = {
      now: () => clock.now(),
      sleep: (ms, signal) => {
        slept++;
        if (slept < restarts) {
          assert.equal(h.fake.sealed, false, `unsealed in round ${slept}`);
          assert.equal(keptIkm.held, true, 'the IKM is kept between unseals');
          h.fake.seal();
        }
        return clock.sleep(ms, signal);
      },
    };
    h.fake.seal();
    const signal = new AbortController().signal;
    await runWatch({ config: h.config, ikmSource: oncePerBoot, metrics, log: new Logger({ sink: (l) => lines.push(l) }), signal, intervalMs: 10, maxRounds: restarts + 1, clock: restarting, keptIkm });
    assert.equal(h.fake.sealed, false, 'unsealed after the last restart too');
    assert.equal(calls, 1, 'the hook ran once');
    const state = metrics.node(h.fake.url);
    assert.equal(state.unsealAttempts, restarts);
    assert.equal(state.unsealFailures, 0);
    assert.equal(lines.filter((l) => l.includes('IKM kept in memory for the life of the process')).length, 1);
    assert.equal(keptIkm.held, false, 'dropped when watch stopped');
    assert.ok(handedOut.length === 1 && handedOut[0]?.every((b) => b === 0), 'and the IKM buffer was wiped');
  } finally {
    await h.close();
  }
});

test('a kept IKM that no longer opens the key file (rewrapped) is dropped; the next attempt runs the hook again', async () => {
  const h = await bootstrapped();
  try {
    const metrics = new WatchMetrics(h.config.nodes);
    const keptIkm = new KeptIkm();
    const lines: string[] = [];
    const log = new Logger({ sink: (l) => lines.push(l) });
    const signal = new AbortController().signal;
    const clock = virtualClock();
    const loc = { dir: h.config.tokenFolderPath, file: h.config.tokenFile };
    // The key file is rewrapped under a new IKM while watch keeps the old one; the hook now returns the new IKM.
    const newIkm = randomBytes(32);
    let current = h.ikm;
    let fetches = 0;
    const source = (): IkmSource => ({
      description: 'hook',
      getIkm: () => {
        fetches++;
        return Promise.resolve(Buffer.from(current));
      },
    });
    let slept = 0;
    const rewrapping: WatchClock = {
      now: () => clock.now(),
      sleep: async (ms, sig) => {
        slept++;
        if (slept === 1) {
          const { readKeyFile } = await import('../../src/keyfile/keyfile.js');
          const { secrets } = await readKeyFile(loc, h.ikm);
          await writeKeyFile(loc, secrets, { format: 'v2', ikm: newIkm });
          current = newIkm;
          h.fake.seal();
        }
        return clock.sleep(ms, sig);
      },
    };
    h.fake.seal();
    await runWatch({ config: h.config, ikmSource: source, metrics, log, signal, intervalMs: 10, maxRounds: 4, clock: rewrapping, keptIkm });
    assert.ok(lines.some((l) => l.includes('the kept IKM no longer opens the key file')));
    assert.ok(lines.some((l) => l.includes('code=KEYFILE_WRONG_IKM')));
    assert.equal(h.fake.sealed, false, 'unsealed with the new IKM at the retry');
    assert.equal(fetches, 2, 'the hook ran once per IKM');
  } finally {
    await h.close();
  }
});
