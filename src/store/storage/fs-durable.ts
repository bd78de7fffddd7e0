/**
 * File-system primitives for durable storage: a 0700 folder, fsync of a folder (so a rename or unlink inside it
 * survives power loss — Node's fs calls do not do it for you), and a coalescing folder syncer so concurrent
 * writers share one folder fsync instead of queueing one each.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { SecretStoreError, describeCause } from '../../errors.js';
import { fsyncDir } from '../../keyfile/atomic-write.js';

/**
 * Creates `dir` (and parents) with mode 0700, and tightens an existing one to 0700 — except a folder other users
 * may write to (world-writable or sticky, like /tmp): `--data /tmp` must not chmod a shared system folder, and
 * entries there could be planted by anyone. That is refused with UNSAFE_PERMISSIONS.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  let mode: number;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    mode = (await stat(dir)).mode;
  } catch (err) {
    throw new SecretStoreError('IO', `cannot create the data folder ${dir} (${describeCause(err)}); check the path and its permissions`, { cause: err });
  }
  if ((mode & 0o1002) !== 0) {
    throw new SecretStoreError(
      'UNSAFE_PERMISSIONS',
      `the data folder ${dir} is shared with other users (world-writable or sticky, like /tmp); use a dedicated folder inside it — it is created 0700`,
    );
  }
  try {
    await chmod(dir, 0o700);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot make the data folder ${dir} private (${describeCause(err)}); check its owner and permissions`, { cause: err });
  }
}

/** fsync of a folder: makes entries created, renamed or removed in it durable (one implementation, shared). */
export { fsyncDir };

/**
 * Coalesces folder fsyncs: {@link DirSyncer.sync} resolves after an fsync that STARTED after the call, so every
 * caller's earlier rename is covered, while callers arriving during an fsync share the next one.
 */
export class DirSyncer {
  private readonly dir: string;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Resolves once the folder has been fsynced after this call began. */
  sync(): Promise<void> {
    if (this.running === undefined) {
      this.running = fsyncDir(this.dir).finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    // An fsync is in flight and may have started before our rename: wait for it, then share one more.
    this.next ??= this.running.then(
      () => {
        this.next = undefined;
        return this.sync();
      },
      () => {
        this.next = undefined;
        return this.sync();
      },
    );
    return this.next;
  }
}

/** A UTF-8 round-trip check: keys with lone surrogates would collide after encoding, so they are refused. */
export function assertStorageKey(key: string): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  if (key === '' || bytes.length > 65_535 || bytes.toString('utf8') !== key) {
    throw new SecretStoreError('INTERNAL', 'invalid storage key: empty, longer than 65535 bytes, or not valid Unicode');
  }
  return bytes;
}
