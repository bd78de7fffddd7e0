/** The command that starts this same program again, for each way it runs (script, bundle, single executable). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CLI_MAIN } from '../helpers/paths.js';
import { currentSelfExecFacts, isSea, runMode, selfCommand, selfCommandFor } from '../../src/self-exec.js';

test('SEA: the executable alone, no script argument (process.execPath IS the program)', () => {
  assert.deepEqual(selfCommandFor({ mode: 'sea', execPath: '/opt/bin/secretstore-setup', entry: '/opt/bin/secretstore-setup' }), [
    '/opt/bin/secretstore-setup',
  ]);
});

test('bundle: node + the bundle file', () => {
  assert.deepEqual(selfCommandFor({ mode: 'bundle', execPath: '/usr/bin/node', entry: '/opt/secretstore-setup.cjs' }), [
    '/usr/bin/node',
    '/opt/secretstore-setup.cjs',
  ]);
});

test('script: node + the compiled CLI entry', () => {
  assert.deepEqual(selfCommandFor({ mode: 'script', execPath: '/usr/bin/node', entry: '/srv/app/dist/src/cli/main.js' }), [
    '/usr/bin/node',
    '/srv/app/dist/src/cli/main.js',
  ]);
});

test('this test process runs the compiled tree: script mode, node + dist/src/cli/main.js, which exists', () => {
  assert.equal(isSea(), false);
  assert.equal(runMode(), 'script');
  const facts = currentSelfExecFacts();
  assert.equal(facts.entry, CLI_MAIN);
  assert.ok(existsSync(facts.entry));
  assert.deepEqual(selfCommand(), [process.execPath, CLI_MAIN]);
});
