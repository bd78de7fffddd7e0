/**
 * The auth method types `sys/auth/<path>` can enable, each a factory of its credential backend over the mount's own
 * storage. One table, so the mount table stays generic and adding a method type is one line here.
 */
import type { CredentialFactories } from '../mounts/mount-table.js';
import { UserpassBackend } from './userpass/backend.js';

/** Options handed to every credential backend. */
export interface CredentialOptions {
  /** Clock in epoch milliseconds (tests inject one). */
  now?: () => number;
}

/** The factories of the auth method types this store offers: `userpass`. */
export function credentialFactories(options: CredentialOptions = {}): CredentialFactories {
  return {
    userpass: (storage, entry) => new UserpassBackend(storage, { mountPath: entry.path, ...(options.now === undefined ? {} : { now: options.now }) }),
  };
}
