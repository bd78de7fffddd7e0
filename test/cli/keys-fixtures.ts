/** Folders shared by the `keys` command tests: a fresh copy of the golden plaintext key file, and file snapshots. */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadGolden } from '../vmk/vectors.js';

let cases = 0;

/** A fresh 0700 folder under `root` holding the golden plaintext Vault init response (`resp-init.json`, 0600). */
export async function plaintextDir(root: string): Promise<string> {
  const plain = loadGolden().plaintext[0];
  assert.ok(plain !== undefined);
  const dir = join(root, `case-${String(++cases)}`);
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, 'resp-init.json'), plain.key_file, { mode: 0o600 });
  return dir;
}

/** Snapshot of every file in a folder (name → hex content), to prove a failed command changed nothing. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = (await readFile(join(dir, name))).toString('hex');
  return out;
}
