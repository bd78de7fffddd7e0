/**
 * The esbuild bundle run by a system Node (the alternative to the single executable, and the SEA's main script):
 * one .cjs file that runs every command, starts itself again as node + the bundle (demo -> serve), and reads the
 * sample hooks from hooks/ above it. Quick (about 2 s): no Node 24 download.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { VERSION } from '../../src/version.js';
import { demoSummary, lastLine, run, runPackageScript } from './run.js';

test('bundle (node secretstore-setup.cjs): --version, bundle mode, and the demo passes 7/7 re-running node + the bundle', async () => {
  const dir = await makeTempDir('sss-bundle-');
  try {
    const built = await runPackageScript(['--bundle-only', '--out', dir], 60_000);
    assert.equal(built.code, 0, built.stdout + built.stderr);
    const bundle = lastLine(built.stdout);
    assert.equal(bundle, join(dir, 'secretstore-setup.cjs'));
    const env = { PATH: '/usr/bin:/bin' };
    const v = await run(process.execPath, [bundle, '--version', '--verbose'], { env, cwd: dir, timeoutMs: 30_000 });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `secretstore-setup ${VERSION}\nnode ${process.version} ${process.platform}-${process.arch} (bundle)\n`);
    const demo = await run(process.execPath, [bundle, 'demo'], { env, cwd: dir, timeoutMs: 60_000 });
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    assert.deepEqual(demoSummary(demo.stdout), { steps: [1, 2, 3, 4, 5, 6, 7], passed: true, okCount: 7 });
  } finally {
    await removeTempDir(dir);
  }
});
