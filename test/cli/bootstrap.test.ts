/** CLI surface of bootstrap, watch and status: help, usage errors (exit 2), one-line failures (exit 1). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

test('each command has --help; the top-level help lists them', async () => {
  for (const cmd of ['bootstrap', 'watch', 'status', 'protect', 'unprotect', 'demo']) {
    const r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: secretstore-setup (\\[)?${cmd}`));
  }
  const top = await runCli(['--help']);
  for (const cmd of ['bootstrap', 'watch', 'status', 'demo']) assert.match(top.stdout, new RegExp(`\\n  ${cmd} `));
});

test('usage errors exit 2 with a one-line message', async () => {
  const dir = await makeTempDir();
  try {
    const cases: [string[], RegExp][] = [
      [['bootstrap', '--keyfile-format', 'pem'], /--keyfile-format must be v2 or edgex/],
      [['bootstrap', '--secretStoreInterval', '0'], /--secretStoreInterval must be between 1 and 3600/],
      [['--wait-timeout', 'x'], /--wait-timeout must be a whole number/],
      [['watch', '--metrics-listen', '0.0.0.0:9201'], /must be a loopback address/],
      [['status', '--bogus'], /see --help/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { cwd: dir, env: { PATH: process.env.PATH } });
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  } finally {
    await removeTempDir(dir);
  }
});

test('a bad configuration is a one-line CONFIG failure (exit 1)', async () => {
  const dir = await makeTempDir();
  try {
    const r = await runCli(['bootstrap'], { cwd: dir, env: { PATH: process.env.PATH, SECRETSTORE_PORT: '99999' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /secretstore-setup bootstrap: SecretStore\.Port must be a whole number between 1 and 65535/);
  } finally {
    await removeTempDir(dir);
  }
});

test('status of an unreachable node says so and exits 1', async () => {
  const dir = await makeTempDir();
  try {
    const r = await runCli(['status', '--addr', 'http://127.0.0.1:9'], { cwd: dir, env: { PATH: process.env.PATH } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /node http:\/\/127\.0\.0\.1:9: unreachable/);
    assert.match(r.stdout, /key file .*resp-init\.json: absent/);
    assert.match(r.stdout, /IKM hook: not configured/);
  } finally {
    await removeTempDir(dir);
  }
});
