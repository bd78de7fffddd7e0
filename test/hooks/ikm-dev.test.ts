import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hookPath, runProgram } from '../helpers/run-hook.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

const HOOK = hookPath('ikm-dev');

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('sss-ikm-dev-');
  try {
    await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}

test('ikm-dev: provision writes 32 random bytes hex 0600; release prints it, lowercase, and says NOT hardware-backed', () =>
  withDir(async (dir) => {
    const file = join(dir, 'ikm');
    const env = { ...process.env, IKM_DEV_FILE: file, IKM_DEV_ALLOW_INSECURE: '1' };
    const p = await runProgram(HOOK, ['provision'], env);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout, '');
    assert.match(p.stderr, /NOT hardware-backed/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const content = await readFile(file, 'utf8');
    assert.match(content, /^[0-9a-f]{64}\n$/);
    const r1 = await runProgram(HOOK, [], env);
    const r2 = await runProgram(HOOK, [], env);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.stdout, content);
    assert.equal(r2.stdout, r1.stdout);
    assert.match(r1.stderr, /NOT hardware-backed/);
    assert.doesNotMatch(r1.stderr, new RegExp(content.trim()));
  }));

test('ikm-dev: two provisions give different IKMs, and provision never overwrites', () =>
  withDir(async (dir) => {
    const envA = { ...process.env, IKM_DEV_FILE: join(dir, 'a'), IKM_DEV_ALLOW_INSECURE: '1' };
    const envB = { ...envA, IKM_DEV_FILE: join(dir, 'b') };
    assert.equal((await runProgram(HOOK, ['provision'], envA)).code, 0);
    assert.equal((await runProgram(HOOK, ['provision'], envB)).code, 0);
    const a = await readFile(join(dir, 'a'), 'utf8');
    assert.notEqual(a, await readFile(join(dir, 'b'), 'utf8'));
    const again = await runProgram(HOOK, ['provision'], envA);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; refusing to overwrite/);
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), a);
  }));

test('ikm-dev: refuses without IKM_DEV_ALLOW_INSECURE=1, with one line on stderr and nothing on stdout', () =>
  withDir(async (dir) => {
    const file = join(dir, 'ikm');
    await writeFile(file, 'ab'.repeat(32) + '\n', { mode: 0o600 });
    for (const allow of [undefined, '0', 'yes']) {
      const env: NodeJS.ProcessEnv = { ...process.env, IKM_DEV_FILE: file };
      if (allow === undefined) delete env.IKM_DEV_ALLOW_INSECURE;
      else env.IKM_DEV_ALLOW_INSECURE = allow;
      for (const args of [[], ['provision']]) {
        const r = await runProgram(HOOK, args, env);
        assert.equal(r.code, 1);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.trim().split('\n').length, 1);
        assert.match(r.stderr, /refusing: this hook is not hardware-backed; set IKM_DEV_ALLOW_INSECURE=1/);
      }
    }
  }));

test('ikm-dev: uppercase file content is printed lowercase', () =>
  withDir(async (dir) => {
    const file = join(dir, 'ikm');
    await writeFile(file, 'AB'.repeat(32), { mode: 0o600 });
    const r = await runProgram(HOOK, [], { ...process.env, IKM_DEV_FILE: file, IKM_DEV_ALLOW_INSECURE: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ab'.repeat(32) + '\n');
  }));

test('ikm-dev: every failure is one clear stderr line, non-zero exit, empty stdout', () =>
  withDir(async (dir) => {
    const file = join(dir, 'ikm');
    const base = { ...process.env, IKM_DEV_ALLOW_INSECURE: '1' };
    const cases: { name: string; setup?: () => Promise<void>; env: NodeJS.ProcessEnv; args?: string[]; code?: number; msg: RegExp }[] = [
      { name: 'no IKM_DEV_FILE', env: { ...base, IKM_DEV_FILE: '' }, msg: /IKM_DEV_FILE is not set/ },
      { name: 'missing file', env: { ...base, IKM_DEV_FILE: file }, msg: /does not exist; create it with: ikm-dev provision/ },
      {
        name: 'short content',
        setup: () => writeFile(file, 'abcd', { mode: 0o600 }),
        env: { ...base, IKM_DEV_FILE: file },
        msg: /must hold 64-128 hex characters/,
      },
      {
        name: 'non-hex content',
        setup: () => writeFile(file, 'zz'.repeat(32), { mode: 0o600 }),
        env: { ...base, IKM_DEV_FILE: file },
        msg: /must hold 64-128 hex characters/,
      },
      {
        name: 'group-readable file',
        setup: async () => {
          await writeFile(file, 'ab'.repeat(32), { mode: 0o600 });
          await chmod(file, 0o640);
        },
        env: { ...base, IKM_DEV_FILE: file },
        msg: /has mode 640; it must be readable by its owner only/,
      },
      { name: 'unknown argument', env: base, args: ['bogus'], code: 2, msg: /unknown argument "bogus"; see ikm-dev --help/ },
    ];
    for (const c of cases) {
      await c.setup?.();
      const r = await runProgram(HOOK, c.args ?? [], c.env);
      assert.equal(r.code, c.code ?? 1, c.name);
      assert.equal(r.stdout, '', c.name);
      assert.equal(r.stderr.trim().split('\n').length, 1, c.name);
      assert.match(r.stderr, c.msg, c.name);
      assert.match(r.stderr, /NOT hardware-backed/, c.name);
    }
  }));

test('ikm-dev: --help documents the settings and works without them', async () => {
  const r = await runProgram(HOOK, ['--help'], { PATH: process.env.PATH });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /IKM_DEV_FILE/);
  assert.match(r.stdout, /IKM_DEV_ALLOW_INSECURE/);
  assert.match(r.stdout, /NOT hardware-backed/);
});

test('ikm-dev: concurrent provisions: exactly one wins, the others refuse, the file is never replaced', () =>
  withDir(async (dir) => {
    const env = { ...process.env, IKM_DEV_FILE: join(dir, 'ikm'), IKM_DEV_ALLOW_INSECURE: '1' };
    const results = await Promise.all(Array.from({ length: 6 }, () => runProgram(HOOK, ['provision'], env)));
    assert.equal(results.filter((r) => r.code === 0).length, 1);
    for (const r of results.filter((x) => x.code !== 0)) assert.match(r.stderr, /already exists|appeared meanwhile; refusing to overwrite/);
    assert.match(await readFile(join(dir, 'ikm'), 'utf8'), /^[0-9a-f]{64}\n$/);
  }));
