/** `--version`, `-V` and `version` all print the version and exit 0. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { VERSION } from '../../src/version.js';

test('--version, -V and version print the same line and exit 0', async () => {
  for (const args of [['--version'], ['-V'], ['version']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, `secretstore-setup ${VERSION}\n`, args.join(' '));
    assert.equal(r.stderr, '');
  }
});

test('--version takes no extra argument (usage error, exit 2); --verbose names node and the script mode', async () => {
  const bad = await runCli(['--version', '--bogus']);
  assert.equal(bad.code, 2);
  const v = await runCli(['-V', '--verbose']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, `secretstore-setup ${VERSION}\nnode ${process.version} ${process.platform}-${process.arch} (script)\n`);
});
