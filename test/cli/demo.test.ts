/** `demo`, the README's first command: every step passes, exit 0, the temp folder is gone afterwards. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';

test('demo passes every step and cleans up', async () => {
  const r = await runCli(['demo'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /NOT hardware-backed/);
  for (let i = 1; i <= 7; i++) assert.match(r.stdout, new RegExp(`\\[${i}/7\\]`));
  assert.match(r.stdout, /each absent in hex and base64/);
  assert.match(r.stdout, /sealed\n/);
  assert.match(r.stdout, /secret\/demo\/greeting read back intact/);
  assert.match(r.stdout, /demo passed: all 7 steps in \d+ ms/);
  assert.equal((r.stdout.match(/ ok \(\d+ ms\)/g) ?? []).length, 7, 'a timing per step');
  const folder = /data in (\/\S+)\/store-data/.exec(r.stdout)?.[1];
  assert.ok(folder !== undefined);
  await assert.rejects(access(folder), 'temp folder removed');
});
