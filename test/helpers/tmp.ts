/** Temporary folders that tests create and always remove. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates a fresh 0700 temp folder; remove it with {@link removeTempDir} in an `after`/`finally`. */
export async function makeTempDir(prefix = 'sss-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes a temp folder and everything in it. */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
