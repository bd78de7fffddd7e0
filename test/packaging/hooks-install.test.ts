/**
 * The sample hooks shipped in the program (src/assets.ts) and `hooks install DIR`: files written 0755 (the shell
 * library 0644), byte-identical to hooks/, never overwritten without --force, and runnable from where they land.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ASSET_FILES, SAMPLE_HOOKS, assetSource, findAssetRoot, installHooks, readAsset } from '../../src/assets.js';
import { isSecretStoreError } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { runProgram } from '../helpers/run-hook.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('sss-hooks-install-');
  try {
    await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out.sort();
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

test('the asset list is exactly the files of hooks/ (a new hook cannot be left out of the executable)', async () => {
  const onDisk = (await filesUnder(join(REPO_ROOT, 'hooks'))).map((p) => relative(REPO_ROOT, p));
  assert.deepEqual([...ASSET_FILES.map((a) => a.key)].sort(), onDisk);
  for (const a of ASSET_FILES) assert.equal(a.mode, await mode(join(REPO_ROOT, a.key)), `${a.key}: mode as in the repository`);
});

test('outside the single executable the assets come from the package tree', async () => {
  assert.equal(findAssetRoot(), REPO_ROOT);
  assert.deepEqual(assetSource(), { kind: 'files', root: REPO_ROOT });
  assert.deepEqual(await readAsset('hooks/ikm-dev'), await readFile(join(REPO_ROOT, 'hooks', 'ikm-dev')));
  await assert.rejects(readAsset('package.json'), (err: unknown) => isSecretStoreError(err, 'CONFIG'));
});

test('installHooks writes every hook 0755 and lib/ikm-common.sh 0644, identical to hooks/, creating the folder', () =>
  withDir(async (dir) => {
    const target = join(dir, 'a', 'b');
    const written = await installHooks(target);
    assert.deepEqual(
      written.map((f) => relative(target, f.path)),
      [...SAMPLE_HOOKS, 'lib/ikm-common.sh'],
    );
    for (const name of SAMPLE_HOOKS) {
      assert.equal(await mode(join(target, name)), 0o755, name);
      assert.deepEqual(await readFile(join(target, name)), await readFile(join(REPO_ROOT, 'hooks', name)));
    }
    assert.equal(await mode(join(target, 'lib', 'ikm-common.sh')), 0o644);
    assert.deepEqual(await readFile(join(target, 'lib', 'ikm-common.sh')), await readFile(join(REPO_ROOT, 'hooks', 'lib', 'ikm-common.sh')));
    assert.deepEqual((await filesUnder(target)).map((p) => relative(target, p)).sort(), [...SAMPLE_HOOKS, 'lib/ikm-common.sh'].sort(), 'no temp file left');
    assert.ok(written.every((f) => !f.replaced));
  }));

test('installHooks refuses to overwrite: nothing written when any file exists; --force replaces', () =>
  withDir(async (dir) => {
    await mkdir(join(dir, 'lib'));
    await writeFile(join(dir, 'ikm-tang'), 'mine\n', { mode: 0o700 });
    await assert.rejects(installHooks(dir), (err: unknown) => isSecretStoreError(err, 'IO') && /refusing to overwrite .*ikm-tang.*--force/.test(err.message));
    assert.deepEqual(await readdir(dir), ['ikm-tang', 'lib'].sort(), 'nothing else written');
    assert.equal(await readFile(join(dir, 'ikm-tang'), 'utf8'), 'mine\n');
    assert.equal(await mode(join(dir, 'ikm-tang')), 0o700);

    const written = await installHooks(dir, { force: true });
    assert.deepEqual(await readFile(join(dir, 'ikm-tang')), await readFile(join(REPO_ROOT, 'hooks', 'ikm-tang')));
    assert.equal(await mode(join(dir, 'ikm-tang')), 0o755);
    assert.deepEqual(
      written.filter((f) => f.replaced).map((f) => relative(dir, f.path)),
      ['ikm-tang'],
    );
  }));

test('installHooks with a subset writes those hooks and the library only', () =>
  withDir(async (dir) => {
    await installHooks(dir, { hooks: ['ikm-dev'] });
    assert.deepEqual((await filesUnder(dir)).map((p) => relative(dir, p)), ['ikm-dev', 'lib/ikm-common.sh']);
  }));

test('hooks install DIR (CLI): writes, refuses a second time (exit 1), --force (exit 0); the installed ikm-dev runs', () =>
  withDir(async (dir) => {
    const r1 = await runCli(['hooks', 'install', 'out'], { cwd: dir });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, new RegExp(`wrote ${join(dir, 'out', 'ikm-dev')} \\(0755\\)`));
    const r2 = await runCli(['hooks', 'install', 'out'], { cwd: dir });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /refusing to overwrite .*--force/);
    assert.equal(r2.stderr.trim().split('\n').length, 1);
    const r3 = await runCli(['hooks', 'install', join(dir, 'out'), '--force', '--hook', 'ikm-dev'], { cwd: dir });
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stdout, /replaced .*ikm-dev \(0755\)/);

    const ikm = join(dir, 'ikm.hex');
    const env = { PATH: '/usr/bin:/bin', IKM_DEV_FILE: ikm, IKM_DEV_ALLOW_INSECURE: '1' };
    const p = await runProgram(join(dir, 'out', 'ikm-dev'), ['provision'], env);
    assert.equal(p.code, 0, p.stderr);
    const got = await runProgram(join(dir, 'out', 'ikm-dev'), [], env);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, await readFile(ikm, 'utf8'));
  }));

test('hooks: usage errors exit 2 (no subcommand, no folder, two folders, unknown hook)', async () => {
  for (const args of [['hooks'], ['hooks', 'install'], ['hooks', 'install', 'a', 'b'], ['hooks', 'install', 'a', '--hook', 'ikm-nope'], ['hooks', 'frob']]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('hooks list names every shipped file with its mode', async () => {
  const r = await runCli(['hooks', 'list']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, ASSET_FILES.map((a) => `${a.key}\t${a.mode.toString(8).padStart(4, '0')}\n`).join(''));
});
