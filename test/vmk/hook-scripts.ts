/** Writes small shell-script IKM hooks into a temp folder for tests. */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A 32-byte IKM used by the test hooks, as hex. */
export const TEST_IKM_HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
/** Another 32-byte IKM (a "different TPM"). */
export const OTHER_IKM_HEX = 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';

/** Writes `body` as an executable /bin/sh script named `name` in `dir`; returns its absolute path. */
export async function writeHook(dir: string, name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, mode);
  return path;
}

/** A hook printing `hex` and a newline. */
export async function writeIkmHook(dir: string, name: string, hex: string = TEST_IKM_HEX): Promise<string> {
  return writeHook(dir, name, `printf '%s\\n' '${hex}'`);
}
