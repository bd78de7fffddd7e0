/**
 * The single executable (`npm run package`): built from Node 24 by scripts/package.mjs, copied ALONE into an empty
 * folder, and run with an empty environment but PATH=/usr/bin:/bin (the hooks' shell utilities): `--version` and
 * `demo` (7/7 steps: it writes its ikm-dev hook from the executable's assets and starts the executable itself as
 * `serve`). No node_modules, no source tree, no Node on PATH.
 *
 * Time: about 6-10 s with npm's cache warm (bundle < 1 s, blob < 1 s, strip ~1 s, postject ~4 s, demo < 1 s), plus
 * the first download of node@24 (~30 MB) through npx. When the Node 24 binary cannot be obtained (offline), the test
 * is SKIPPED with a loud reason, except under CI=true, where it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { VERSION } from '../../src/version.js';
import { NO_NODE_24, demoSummary, lastLine, run, runPackageScript } from './run.js';

const UNDER_CI = process.env.CI === 'true';

test('single executable: built alone, runs --version and demo (7/7) under env -i', { timeout: 600_000 }, async (t) => {
  const dir = await makeTempDir('sss-sea-');
  try {
    const built = await runPackageScript(['--out', join(dir, 'out')], 540_000);
    if (built.code === NO_NODE_24 && !UNDER_CI) {
      const why = lastLine(built.stderr);
      process.stderr.write(`\n!!!!! SKIPPED: the single-executable test could not get the Node 24 binary: ${why}\n!!!!! (under CI=true this fails)\n\n`);
      t.skip(`SKIPPED: no Node 24 binary (${why}); set SEA_NODE or go online; under CI=true this test fails`);
      return;
    }
    assert.equal(built.code, 0, `npm run package failed:\n${built.stdout}${built.stderr}`);
    const exe = lastLine(built.stdout);
    assert.equal(exe, join(dir, 'out', 'secretstore-setup'), 'the path is the last line');
    t.diagnostic(`built in ${built.ms} ms, ${((await stat(exe)).size / 1024 / 1024).toFixed(1)} MiB`);

    const alone = join(dir, 'alone');
    await mkdir(alone, { mode: 0o700 });
    await copyFile(exe, join(alone, 'secretstore-setup'));
    assert.equal(((await stat(join(alone, 'secretstore-setup'))).mode & 0o111) !== 0, true, 'copy stays executable');
    const envI = (args: string[], timeoutMs: number) =>
      run('/usr/bin/env', ['-i', 'PATH=/usr/bin:/bin', './secretstore-setup', ...args], { env: {}, cwd: alone, timeoutMs });

    const v = await envI(['--version'], 30_000);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `secretstore-setup ${VERSION}\n`);
    assert.equal(v.stderr, '', 'no SEA warning');
    const verbose = await envI(['version', '--verbose'], 30_000);
    assert.match(verbose.stdout, /^node v24\.\d+\.\d+ linux-\w+ \(sea\)$/m);

    const demo = await envI(['demo'], 120_000);
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    assert.deepEqual(demoSummary(demo.stdout), { steps: [1, 2, 3, 4, 5, 6, 7], passed: true, okCount: 7 });
    assert.match(demo.stdout, /hooks\/ikm-dev written to \/\S+\/hooks\/ikm-dev \(shipped in the program\)/);
    t.diagnostic(`demo from the executable: ${demo.ms} ms`);
    assert.deepEqual(await readdir(alone), ['secretstore-setup'], 'nothing left beside the executable');
  } finally {
    await removeTempDir(dir);
  }
});
