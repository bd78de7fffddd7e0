/** Shared fixtures of the userpass tests: a backend with cheap hashing, a counting KDF, login requests. */
import { ANONYMOUS_CALLER } from '../../../../src/store/backend.js';
import type { JsonObject, LogicalResponse } from '../../../../src/store/logical.js';
import type { Storage } from '../../../../src/store/storage/storage.js';
import { scrypt, type ScryptParams } from '../../../../src/crypto.js';
import { PasswordHasher } from '../../../../src/store/auth/userpass/password-hash.js';
import { LoginThrottle } from '../../../../src/store/auth/userpass/throttle.js';
import { UserpassBackend, type UserpassOptions } from '../../../../src/store/auth/userpass/backend.js';
import { ROOT_CALLER, req } from '../../../helpers/logical.js';

/** scrypt parameters cheap enough for unit tests. */
export const CHEAP: ScryptParams = { N: 16, r: 1, p: 1 };

/** A hasher whose KDF records the parameters of every call. */
export function countingHasher(params: ScryptParams = CHEAP): { hasher: PasswordHasher; calls: ScryptParams[] } {
  const calls: ScryptParams[] = [];
  const hasher = new PasswordHasher({
    params,
    kdf: (password, salt, length, p) => {
      calls.push({ ...p });
      return scrypt(password, salt, length, p);
    },
  });
  return { hasher, calls };
}

/** A throttle whose sleep returns at once and records the delays. */
export function instantThrottle(): { throttle: LoginThrottle; slept: number[] } {
  const slept: number[] = [];
  const throttle = new LoginThrottle({
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  });
  return { throttle, slept };
}

/** A userpass backend at `userpass/` with cheap hashing and an instant throttle unless overridden. */
export function makeBackend(storage: Storage, options: Partial<UserpassOptions> = {}): UserpassBackend {
  return new UserpassBackend(storage, { mountPath: 'userpass/', hash: CHEAP, throttle: instantThrottle().throttle, ...options });
}

/** An administrative request as root. */
export function admin(b: UserpassBackend, op: 'create' | 'update' | 'read' | 'delete' | 'list' | 'patch', path: string, data: JsonObject = {}): Promise<LogicalResponse> {
  return b.handle(req(op, path, data), ROOT_CALLER);
}

/** An unauthenticated login; `password` undefined sends an empty body. */
export function login(b: UserpassBackend, name: string, password: string | undefined, remoteAddress?: string): Promise<LogicalResponse> {
  const data: JsonObject = password === undefined ? {} : { password };
  return b.handle({ ...req('update', `login/${name}`, data), remoteAddress }, ANONYMOUS_CALLER);
}

/** Every key and value in a storage (walking its folders). */
export async function dumpStorage(s: Storage, prefix = ''): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const key of await s.list(prefix)) {
    if (key.endsWith('/')) {
      for (const [k, v] of await dumpStorage(s, prefix + key)) out.set(k, v);
    } else {
      const v = await s.get(prefix + key);
      if (v !== undefined) out.set(prefix + key, v);
    }
  }
  return out;
}
