/**
 * A service's token file: the whole login answer, keys sorted at every level (what Go's json.Marshal of a map gives,
 * and so what EdgeX writes) plus a newline, at `<OutputDir>/<service>/<OutputFilename>`: folder 0700, file 0600.
 * Written atomically (temp file, fsync, rename, fsync folder) — a deliberate difference from EdgeX, which truncates
 * and rewrites in place, so a crash or a full disk can leave a service with an empty token file. A file that existed
 * keeps its owner (EdgeX's entrypoint chowns the token folders to the services' users, and a re-issued token must
 * stay readable by its service); a new one belongs to whoever runs this.
 */
import { chmod, chown, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretStoreError, describeCause } from '../../errors.js';
import { writeFileAtomic } from '../../keyfile/atomic-write.js';

/** JSON with object keys sorted recursively (arrays keep their order). */
export function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = (v as Record<string, unknown>)[k];
    return out;
  });
}

/** The path of a service's token file. */
export function tokenFilePath(outputDir: string, service: string, filename: string): string {
  return join(outputDir, service, filename);
}

/** Writes a service's token file; returns its path. */
export async function writeTokenFile(outputDir: string, service: string, filename: string, loginAnswer: unknown): Promise<string> {
  const dir = join(outputDir, service);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // An existing folder keeps its mode with mkdir; EdgeX's readers expect 0700.
    await chmod(dir, 0o700);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot create the token folder ${dir} (${describeCause(err)})`);
  }
  const path = join(dir, filename);
  let owner: { uid: number; gid: number } | undefined;
  try {
    const old = await lstat(path);
    if (old.isFile()) owner = { uid: old.uid, gid: old.gid };
  } catch {
    owner = undefined;
  }
  const bytes = Buffer.from(sortedJson(loginAnswer) + '\n', 'utf8');
  try {
    writeFileAtomic(path, bytes, 0o600);
  } finally {
    bytes.fill(0);
  }
  if (owner !== undefined && (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.())) {
    try {
      await chown(path, owner.uid, owner.gid);
    } catch (err) {
      throw new SecretStoreError('IO', `cannot give the token file ${path} back to its owner ${String(owner.uid)}:${String(owner.gid)} (${describeCause(err)}); run as root`);
    }
  }
  return path;
}
