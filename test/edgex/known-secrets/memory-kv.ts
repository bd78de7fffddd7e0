/** An in-memory {@link KnownSecretsKv} that refuses any overwrite, for apply tests. */
import type { KnownSecretsKv } from '../../../src/edgex/known-secrets/apply-known-secrets.js';
import type { UserPassword } from '../../../src/edgex/known-secrets/credential.js';

/** A stored pair, as plain strings (what a KV store would hold). */
export interface StoredPair {
  username: string;
  password: string;
}

/** The fake store. */
export class MemoryKv implements KnownSecretsKv {
  readonly store = new Map<string, StoredPair>();
  readonly reads: string[] = [];
  readonly writes: string[] = [];
  /** Throws on this write path (fault injection). */
  failWriteAt: string | undefined;

  read(path: string): Promise<UserPassword | undefined | 'invalid'> {
    this.reads.push(path);
    const pair = this.store.get(path);
    if (pair === undefined) return Promise.resolve(undefined);
    if (pair.username === '' || pair.password === '') return Promise.resolve('invalid');
    return Promise.resolve({ username: pair.username, password: Buffer.from(pair.password) });
  }

  write(path: string, credential: UserPassword): Promise<void> {
    if (this.store.has(path)) return Promise.reject(new Error(`overwrite of ${path}`));
    if (path === this.failWriteAt) return Promise.reject(new Error(`injected failure at ${path}`));
    this.writes.push(path);
    this.store.set(path, { username: credential.username, password: credential.password.toString('utf8') });
    return Promise.resolve();
  }
}
