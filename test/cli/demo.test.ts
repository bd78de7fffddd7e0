/** `demo`, the README's first command: every step passes, exit 0, the temp folder is gone afterwards. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { removeTempDir } from '../helpers/tmp.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { readKeyFile } from '../../src/keyfile/keyfile.js';

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

test('demo output (debug logs included) holds none of its secrets: IKM, shares, token-issuing token', async () => {
  // --keep leaves the demo's folder so the test can read the secrets the demo used, then removes it itself.
  const r = await runCli(['demo', '--keep', '--log-level', 'debug'], { timeoutMs: 60_000 });
  const root = /kept (\/\S+)/.exec(r.stdout)?.[1];
  try {
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(root !== undefined, 'the kept folder is named');
    assert.match(r.stderr, /bootstrap complete/, 'debug flow events were captured');
    const ikm = Buffer.from((await readFile(join(root, 'demo-ikm.hex'), 'utf8')).trim(), 'hex');
    assert.equal(ikm.length, 32);
    const { secrets } = await readKeyFile({ dir: join(root, 'keys') }, ikm);
    const doc = JSON.parse(await readFile(join(root, 'secrets', 'tokenprovider', 'secrets-token.json'), 'utf8')) as { auth: { client_token: string } };
    assertNoSecrets(
      [r.stdout, r.stderr],
      [
        { label: 'IKM', value: ikm },
        ...secrets.shares.map((value, i) => ({ label: `share ${i}`, value })),
        { label: 'token-issuing token', value: Buffer.from(doc.auth.client_token) },
      ],
    );
  } finally {
    if (root !== undefined) await removeTempDir(root);
  }
});
