/** The watch loop against the fake: unseal on demand, IKM fetched only when needed, backoff on errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FakeVault } from '../helpers/fake-vault.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { Logger } from '../../src/log.js';
import { resolveConfig } from '../../src/config.js';
import { runBootstrap } from '../../src/bootstrap/flow.js';
import { runWatch } from '../../src/bootstrap/watch.js';
import { WatchMetrics } from '../../src/bootstrap/metrics.js';
import type { IkmSource } from '../../src/vmk/ikm-hook.js';

test('unseals a sealed node, fetches the IKM only for that, and backs off while the node is down', async () => {
  const fake = new FakeVault();
  const url = await fake.start();
  const dir = await makeTempDir();
  try {
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
    const quiet = new Logger({ sink: () => undefined });
    await runBootstrap({ config, ikmSource: source(), log: quiet });
    fetches = 0;
    const metrics = new WatchMetrics(config.nodes);
    const controller = new AbortController();
    // Round 1: unsealed, nothing to do. Then seal: round 2 unseals.
    await runWatch({ config, ikmSource: source, metrics, log: quiet, signal: controller.signal, intervalMs: 10, maxRounds: 2 });
    assert.equal(fetches, 0, 'no IKM fetched while unsealed');
    fake.seal();
    await runWatch({ config, ikmSource: source, metrics, log: quiet, signal: controller.signal, intervalMs: 10, maxRounds: 1 });
    assert.equal(fake.sealed, false);
    assert.equal(fetches, 1);
    const state = metrics.node(url);
    assert.equal(state.unsealAttempts, 1);
    assert.equal(state.unsealFailures, 0);
    assert.ok(state.lastUnsealSuccess > 0);

    // Down: errors back off (interval × 2^n), so 10 rounds of 10 ms make far fewer than 10 checks.
    await fake.stop();
    const lines: string[] = [];
    await runWatch({ config, ikmSource: source, metrics, log: new Logger({ sink: (l) => lines.push(l) }), signal: controller.signal, intervalMs: 10, maxRounds: 12 });
    const failures = lines.filter((l) => l.includes('node check failed')).length;
    assert.ok(failures >= 2 && failures <= 6, `${failures} checks while down`);
    assert.equal(metrics.node(url).reachable, false);
  } finally {
    await fake.stop();
    await removeTempDir(dir);
  }
});
