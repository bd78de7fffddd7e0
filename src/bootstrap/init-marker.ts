/**
 * A marker left beside the key file while `sys/init` is in flight. Vault's API hands out the shares only in the
 * init response, so a crash (power loss, SIGKILL) in the milliseconds before they reach the disk loses them; the
 * marker lets the next run say exactly that, instead of a bare "initialized but no key file". It holds no secret.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyFileLocation } from '../keyfile/keyfile.js';
import { writeFileAtomic } from '../keyfile/atomic-write.js';

/** File name of the marker in TokenFolderPath. */
export const INIT_MARKER = '.secretstore-init-pending';

/** What the marker records. */
export interface InitMarker {
  /** ISO time the init request was about to be sent. */
  time: string;
  /** The node it was sent to. */
  node: string;
}

/** Writes the marker (durably) just before `sys/init`. */
export async function writeInitMarker(loc: KeyFileLocation, node: string): Promise<void> {
  const marker: InitMarker = { time: new Date().toISOString(), node };
  await writeFileAtomic(join(loc.dir, INIT_MARKER), Buffer.from(JSON.stringify(marker) + '\n'), 0o600);
}

/** Removes the marker once the key file is durable. */
export async function removeInitMarker(loc: KeyFileLocation): Promise<void> {
  await rm(join(loc.dir, INIT_MARKER), { force: true });
}

/** The marker left by an interrupted init, if any (a damaged marker counts as present, with unknown fields). */
export async function readInitMarker(loc: KeyFileLocation): Promise<InitMarker | undefined> {
  let text: string;
  try {
    text = await readFile(join(loc.dir, INIT_MARKER), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null) {
      const { time, node } = v as { time?: unknown; node?: unknown };
      if (typeof time === 'string' && typeof node === 'string') return { time, node };
    }
  } catch {
    // fall through
  }
  return { time: 'unknown time', node: 'unknown node' };
}
