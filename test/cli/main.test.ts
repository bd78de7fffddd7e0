import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

test('--help lists the commands and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: secretstore-setup <command>/);
  assert.match(r.stdout, /version/);
});

test('an unknown command is a usage error (exit 2) with a one-line message', async () => {
  const r = await runCli(['no-such-command']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /unknown command "no-such-command"/);
});

test('an unknown option is a usage error (exit 2)', async () => {
  const r = await runCli(['version', '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /see --help/);
});

test('a bad --log-format is a usage error', async () => {
  const r = await runCli(['version', '--log-format', 'xml']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--log-format must be text or json/);
});

test('version prints the version', async () => {
  const r = await runCli(['version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^secretstore-setup \d+\.\d+\.\d+\n$/);
});
