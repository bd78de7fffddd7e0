import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeEdgexArgs } from '../../src/cli/edgex-flags.js';
import { isSecretStoreError } from '../../src/errors.js';

test("EdgeX's spellings become ours; others pass through", () => {
  assert.deepEqual(normalizeEdgexArgs(['-cd', 'res', '-cf=c.yaml', '-p', 'docker', '--configDir', 'x']), [
    '--configDir', 'res', '--configFile=c.yaml', '--profile', 'docker', '--configDir', 'x',
  ]);
  assert.deepEqual(normalizeEdgexArgs(['--secretStoreInterval=10', '-vaultInterval', '5']), ['--secretStoreInterval=10', '--secretStoreInterval', '5']);
  assert.deepEqual(normalizeEdgexArgs(['--addr', 'http://h:1', '--log-level', 'debug', '-h', 'positional']), ['--addr', 'http://h:1', '--log-level', 'debug', '-h', 'positional']);
});

test("booleans in Go's spellings: --longRun=true kept, =false dropped; -o and -d accepted and ignored", () => {
  assert.deepEqual(normalizeEdgexArgs(['--longRun=true']), ['--longRun']);
  assert.deepEqual(normalizeEdgexArgs(['--longRun=false']), []);
  assert.deepEqual(normalizeEdgexArgs(['-longRun']), ['--longRun']);
  assert.deepEqual(normalizeEdgexArgs(['-o', '--dev=1', '--insecureSkipVerify=T']), ['--insecureSkipVerify']);
  assert.throws(() => normalizeEdgexArgs(['--longRun=maybe']), (e: unknown) => isSecretStoreError(e, 'USAGE') && /true or false/.test(e.message));
});

test('configuration providers and registries are refused with a clear message', () => {
  for (const flag of ['-cp', '--configProvider=consul.http://x', '-cc', '-r', '--registry', '-rsh=a,b']) {
    assert.throws(() => normalizeEdgexArgs([flag]), (e: unknown) => isSecretStoreError(e, 'USAGE') && /is not supported/.test(e.message), flag);
  }
});
