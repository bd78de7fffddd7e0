/** Shared fixtures of the entity store tests: a mount table, a clock, a storage that fails on demand. */
import type { AuthMountInfo, AuthMountResolver } from '../../../src/store/identity/identity-types.js';
import { MemoryStorage, type Storage } from '../../../src/store/storage/storage.js';

/** The userpass mount's accessor. */
export const USERPASS = 'auth_userpass_0a1b2c3d';
/** The token mount's accessor. */
export const TOKEN = 'auth_token_4e5f6a7b';
/** An approle mount's accessor (a third mount for the move tests). */
export const APPROLE = 'auth_approle_8c9d0e1f';

const MOUNTS: Record<string, AuthMountInfo> = {
  [USERPASS]: { accessor: USERPASS, type: 'userpass', path: 'auth/userpass/' },
  [TOKEN]: { accessor: TOKEN, type: 'token', path: 'auth/token/' },
  [APPROLE]: { accessor: APPROLE, type: 'approle', path: 'auth/approle/' },
};

/** Resolves the three fixture mounts. */
export const mounts: AuthMountResolver = (accessor) => MOUNTS[accessor];

/** A clock starting at 2024-01-02T03:04:05.678Z that moves 1 ms per reading. */
export function steppingClock(start = Date.UTC(2024, 0, 2, 3, 4, 5, 678)): () => number {
  let t = start;
  return () => t++;
}

/** A {@link Storage} whose puts (and deletes) throw while `failing` is set; `failPut(n)` fails only the n-th next put. */
export class FlakyStorage implements Storage {
  readonly inner: Storage;
  failing = false;
  /** Puts still to succeed before the one that fails; -1 = none planned. */
  private putsBeforeFailure = -1;

  constructor(inner: Storage = new MemoryStorage()) {
    this.inner = inner;
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }

  put(key: string, value: Buffer): Promise<void> {
    if (this.failing || this.putsBeforeFailure === 0) {
      this.putsBeforeFailure = -1;
      return Promise.reject(new Error('disk full'));
    }
    if (this.putsBeforeFailure > 0) this.putsBeforeFailure--;
    return this.inner.put(key, value);
  }

  /** Lets `n - 1` puts through, fails the n-th, then works again (the undo writes after it succeed). */
  failPut(n: number): void {
    this.putsBeforeFailure = n - 1;
  }

  delete(key: string): Promise<void> {
    if (this.failing) return Promise.reject(new Error('disk full'));
    return this.inner.delete(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
}
