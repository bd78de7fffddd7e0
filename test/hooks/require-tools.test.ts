import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasTool, missingTools, requireTools } from '../helpers/require-tools.js';

test('requireTools: present tools pass; a missing tool FAILS the test under CI=true', (t) => {
  assert.equal(hasTool('sh'), true);
  assert.equal(hasTool('/bin/sh'), true);
  assert.equal(hasTool('no-such-tool-5f3a'), false);
  assert.deepEqual(missingTools(['sh', 'no-such-tool-5f3a', '/nonexistent/lib.so']), ['no-such-tool-5f3a', '/nonexistent/lib.so']);
  assert.equal(requireTools(t, ['sh'], 'dash'), true);
  const saved = process.env.CI;
  process.env.CI = 'true';
  try {
    assert.throws(() => requireTools(t, ['no-such-tool-5f3a'], 'some-package'), /required tool\(s\) missing under CI: missing no-such-tool-5f3a — install the Debian packages: some-package/);
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
});
