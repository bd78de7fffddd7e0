import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseJsonObject } from '../../src/vmk/json-fields.js';
import { inspectKeyFile, readKeyFile } from '../../src/keyfile/keyfile.js';
import { isSecretStoreError } from '../../src/errors.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

let root = '';
before(async () => {
  root = await makeTempDir('sss-json-');
});
after(async () => {
  await removeTempDir(root);
});

/** Every 5-character window of `secret`: V8's SyntaxError quotes about ten characters around the error position. */
function windows(secret: string): string[] {
  return Array.from({ length: secret.length - 4 }, (_, i) => secret.slice(i, i + 5));
}

/** The whole error as a log line or an uncaught-exception report would show it, cause chain included. */
function everything(err: unknown): string {
  return inspect(err, { depth: 10 }) + (err instanceof Error ? String(err.stack) : '');
}

const token = 'hvs.ZQXJKWVYPMZQXJKWVYPM';
const share = 'f00dfacefeedbeefcafed00d'.repeat(2) + 'f00dfacefeedbeefca';

test('a damaged document gives a fixed message and no cause: the parser\'s text (which quotes the input) is dropped', () => {
  const damaged = [
    `{"keys":["${share}"],"root_token":${token}}`, // unquoted token: V8 quotes the text around it
    `{"keys":["${share}" ,, ],"root_token":"${token}"}`,
    `x{"root_token":"${token}"}`,
    `{"keys":["${share}"]}${token}`,
    `{"root_token":"${token}`,
  ];
  for (const text of damaged) {
    assert.throws(
      () => parseJsonObject(Buffer.from(text), 'resp-init.json', 'KEYFILE_MALFORMED'),
      (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'KEYFILE_MALFORMED'));
        assert.equal(err.message, 'resp-init.json is not valid JSON');
        assert.equal(err.cause, undefined);
        const all = everything(err);
        for (const w of [...windows(token), ...windows(share)]) assert.ok(!all.includes(w), `"${w}" of a secret leaked for ${JSON.stringify(text.slice(0, 12))}…`);
        return true;
      },
    );
  }
});

test('any corruption of a plaintext key file reads as KEYFILE_MALFORMED without a fragment of its secrets', async () => {
  const doc = `{"keys":["${share}"],"keys_base64":["${Buffer.from(share, 'hex').toString('base64')}"],"root_token":"${token}"}\n`;
  let i = 0;
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: doc.length - 1 }), fc.constantFrom('"', ',', '}', '{', ']', ':', 'x', ' '), async (at, ch) => {
      const text = doc.slice(0, at) + ch + doc.slice(at + 1);
      let parsed = true;
      try {
        JSON.parse(text);
      } catch {
        parsed = false;
      }
      fc.pre(!parsed); // only documents the JSON parser itself refuses
      const dir = join(root, `case-${++i}`);
      await mkdir(dir, { mode: 0o700 });
      await writeFile(join(dir, 'resp-init.json'), text);
      for (const attempt of [() => readKeyFile({ dir }, undefined), () => inspectKeyFile({ dir })]) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(isSecretStoreError(err, 'KEYFILE_MALFORMED'));
          assert.equal(err.message, 'resp-init.json is not valid JSON');
          const all = everything(err);
          for (const w of [...windows(token), ...windows(share)]) assert.ok(!all.includes(w), `"${w}" of a secret leaked`);
          return true;
        });
      }
    }),
    { numRuns: 40 },
  );
});
