/**
 * A marker left beside the key file while `sys/init` is in flight. Vault's API hands out the shares only in the
 * init response, so a crash (power loss, SIGKILL) in the milliseconds before they reach the disk loses them; the
 * marker lets the next run say exactly that, instead of a bare "initialized but no key file".
 *
 * Against a store that records init attempts (the embedded store's contract, ./init-control.ts) the marker also
 * holds the attempt id: 32 random bytes whose SHA-256 went with `sys/init`. Only this marker and that store know
 * it, so the next boot can prove that the store's init was ours and ask the store to start over
 * (docs/bootstrap.md, "initialized but no key file"). It unlocks nothing else — no share, no token, no data.
 *
 * Written atomically (temp file + rename); a temp file a kill leaves behind is removed by the next run
 * (removeCrashLeftovers, under the key-file lock).
 */
import { readFileSync, rmSync } from 'node:fs';
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
  /** The init attempt id (64 lowercase hex digits), when the store records attempts. */
  attempt?: string;
}

/** Writes the marker (durably) just before `sys/init`; `attempt` is the attempt id, when the store records one. */
export function writeInitMarker(loc: KeyFileLocation, node: string, attempt?: Buffer): void {
  const marker: InitMarker = { time: new Date().toISOString(), node };
  if (attempt !== undefined) marker.attempt = attempt.toString('hex');
  writeFileAtomic(join(loc.dir, INIT_MARKER), Buffer.from(JSON.stringify(marker) + '\n'), 0o600);
}

/** Removes the marker once the key file is durable. */
export function removeInitMarker(loc: KeyFileLocation): void {
  rmSync(join(loc.dir, INIT_MARKER), { force: true });
}

/** The marker left by an interrupted init, if any (a damaged marker counts as present, with unknown fields). */
export function readInitMarker(loc: KeyFileLocation): InitMarker | undefined {
  let text: string;
  try {
    text = readFileSync(join(loc.dir, INIT_MARKER), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null) {
      const { time, node, attempt } = v as { time?: unknown; node?: unknown; attempt?: unknown };
      if (typeof time === 'string' && typeof node === 'string') {
        const marker: InitMarker = { time, node };
        if (typeof attempt === 'string' && /^[0-9a-f]{64}$/.test(attempt)) marker.attempt = attempt;
        return marker;
      }
    }
  } catch {
    // fall through
  }
  return { time: 'unknown time', node: 'unknown node' };
}
