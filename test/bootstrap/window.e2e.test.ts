/**
 * Measures the first-boot window against the real `serve` process: 20 first boots (WINDOW_RUNS to change), each on
 * a fresh store, reporting as a diagnostic line the median time from the init answer to the key file's fsync — the
 * flow's own `windowMs` (answer → folder fsync) and, measured from outside like the figures of the code before the
 * change, from the transport's debug line for the `sys/init` answer to the `key file saved` line. Nothing is asserted
 * on wall time; the figures are in docs/bootstrap.md ("The first-boot window").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStoreProcess } from '../../src/bootstrap/store-process.js';
import { runBootstrap } from '../../src/bootstrap/flow.js';
import { resolveConfig } from '../../src/config/config.js';
import { Logger } from '../../src/log.js';
import { CLI_MAIN } from '../helpers/paths.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { FixedIkm } from './flow-fixtures.js';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

test('first-boot window against serve: median of 20 runs (diagnostic only)', async (t) => {
  const runs = Number(process.env.WINDOW_RUNS ?? 20);
  const flowWindow: number[] = [];
  const outside: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = await makeTempDir('sss-window-');
    await mkdir(join(dir, 'data'), { mode: 0o700 });
    const store = await startStoreProcess({ cliMain: CLI_MAIN, dataDir: join(dir, 'data') });
    try {
      const config = resolveConfig({ TokenFolderPath: join(dir, 'assets'), TokenProviderAdminTokenPath: join(dir, 'run', 't.json'), WaitTimeout: 20 }, { addrs: [store.url] }, {}, dir);
      let answered: number | undefined;
      let saved: number | undefined;
      let windowMs: number | undefined;
      const sink = (line: string): void => {
        const now = performance.now();
        if (answered === undefined && line.includes('store request') && line.includes('path=sys/init')) answered = now;
        if (saved === undefined && line.includes('key file saved')) {
          saved = now;
          windowMs = Number(/windowMs=([0-9.]+)/.exec(line)?.[1]);
        }
      };
      const r = await runBootstrap({ config, log: new Logger({ level: 'debug', sink }), ikmSource: new FixedIkm(randomBytes(32)) });
      assert.equal(r.initialized, true);
      assert.ok(answered !== undefined && saved !== undefined && windowMs !== undefined && Number.isFinite(windowMs));
      flowWindow.push(windowMs);
      outside.push(saved - answered);
    } finally {
      await store.stop();
      await removeTempDir(dir);
    }
  }
  t.diagnostic(
    `first-boot window over ${runs} runs: median ${median(flowWindow).toFixed(3)} ms from the init answer to the folder fsync (flow's windowMs); ` +
      `median ${median(outside).toFixed(3)} ms from the init answer's debug line to the "key file saved" line`,
  );
});
