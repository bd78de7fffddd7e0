/**
 * The `userpass` credential backend (Vault's builtin/credential/userpass): users with a password and token settings
 * under `users/<name>`, and `login/<name>`, which checks the password and hands the core a {@link LoginPlan} — the
 * core, not this backend, binds the entity alias and mints the token. EdgeX 4 uses it for per-service identities
 * (a fresh password at every boot, then a login to obtain the service's JWT-capable token).
 *
 * Passwords are kept only as scrypt hashes (password-hash.ts); logins are throttled per client address
 * (throttle.ts); an unknown user costs the same hash as a wrong password and gets the same answer.
 */
import { badRequest, notFound, permissionDenied } from '../../api-error.js';
import type { CallerContext, LogicalBackend } from '../../backend.js';
import { PathTable, type PathContext } from '../../framework/path-table.js';
import type { JsonObject, LoginPlan, LogicalRequest, LogicalResponse } from '../../logical.js';
import type { Storage } from '../../storage/storage.js';
import { wipe, type ScryptParams } from '../../../crypto.js';
import { addressInCidrs } from '../cidr.js';
import { defaultTokenParams, legacyFieldsAfterWrite, legacyTokenData, parseTokenParams, tokenParamsData } from '../token-params.js';
import { PasswordHasher, type PasswordHashRecord } from './password-hash.js';
import { LoginThrottle } from './throttle.js';
import { decodeUser, encodeUser, isValidUsername, normalizeUsername, userKey, type UserRecord } from './user-record.js';

/** Options of {@link UserpassBackend}. */
export interface UserpassOptions {
  /** The mount path without `auth/`, e.g. `userpass/`: used in login paths, display names and 404 messages. */
  mountPath: string;
  /** Clock in epoch milliseconds for the default throttle (tests inject one). */
  now?: () => number;
  /** scrypt cost of new hashes (default N=2^15, r=8, p=1; tests pass cheap ones). */
  hash?: ScryptParams;
  /** The login throttle (default: a {@link LoginThrottle} with the documented policy, on `now`). */
  throttle?: LoginThrottle;
  /** A ready hasher (tests inject one with a counting KDF); overrides `hash`. */
  hasher?: PasswordHasher;
}

/** Vault's answer for a wrong password and for an unknown user alike. */
const INVALID_CREDENTIALS = 'invalid username or password';

/** The userpass backend of one mount; `handle` serves paths relative to the mount. */
export class UserpassBackend implements LogicalBackend {
  private readonly storage: Storage;
  private readonly mountPath: string;
  private readonly hasher: PasswordHasher;
  private readonly throttle: LoginThrottle;
  private readonly table: PathTable;
  private lock: Promise<unknown> = Promise.resolve();

  /** `storage` is the mount's own namespace; users live under `user/` in it. */
  constructor(storage: Storage, options: UserpassOptions) {
    this.storage = storage;
    const trimmed = options.mountPath.replace(/^\/+/, '');
    this.mountPath = trimmed.endsWith('/') ? trimmed : trimmed + '/';
    this.hasher = options.hasher ?? new PasswordHasher(options.hash === undefined ? {} : { params: options.hash });
    this.throttle = options.throttle ?? new LoginThrottle(options.now === undefined ? {} : { now: options.now });
    const name = (c: PathContext): string => c.params[0] ?? '';
    this.table = new PathTable(
      [
        { pattern: /^users\/?$/, operations: { list: () => this.listUsers() } },
        { pattern: /^users\/([^/]+)\/password$/, operations: { update: (c) => this.setPassword(name(c), c.req.data) } },
        { pattern: /^users\/([^/]+)\/policies$/, operations: { update: (c) => this.setPolicies(name(c), c.req.data) } },
        {
          pattern: /^users\/([^/]+)$/,
          operations: {
            read: (c) => this.readUser(name(c)),
            create: (c) => this.writeUser(name(c), c.req.data),
            update: (c) => this.writeUser(name(c), c.req.data),
            delete: (c) => this.deleteUser(name(c)),
          },
          exists: ([raw]) => this.userExists(raw ?? ''),
        },
        // Everything under login/ is unauthenticated (Vault's `login/*`); a malformed name is just an unknown user.
        { pattern: /^login\/(.*)$/, operations: { update: (c) => this.login(name(c), c.req) }, unauthenticated: true },
      ],
      'auth/' + this.mountPath,
    );
  }

  /** Dispatches one request through the path table. */
  handle(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    return this.table.dispatch(req, caller);
  }

  /** Existence check for create-vs-update on `users/<name>`; undefined for other paths. */
  exists(path: string): Promise<boolean | undefined> {
    return this.table.exists(path);
  }

  /** True for `login/<name>`. */
  isUnauthenticated(path: string): boolean {
    return this.table.isUnauthenticated(path);
  }

  /** Nothing to drop: users are read from storage on every request (Vault bypasses its cache on login too). */
  forget(): void {
    // No decoded state is kept.
  }

  /** Runs `fn` after every earlier write finished, so read-modify-write sequences never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async getUser(name: string): Promise<UserRecord | undefined> {
    const bytes = await this.storage.get(userKey(name));
    return bytes === undefined ? undefined : decodeUser(bytes);
  }

  private putUser(name: string, user: UserRecord): Promise<void> {
    return this.storage.put(userKey(name), encodeUser(user));
  }

  private async userExists(raw: string): Promise<boolean> {
    if (!isValidUsername(raw)) return false;
    return (await this.getUser(raw.toLowerCase())) !== undefined;
  }

  /**
   * The `password` field as bytes; undefined when absent or empty (Vault treats both as "no password"). Numbers and
   * booleans are converted as Vault's string fields are; anything else is refused without echoing the value (the
   * usual conversion message would put the secret in the error).
   */
  private static passwordBytes(data: JsonObject): Buffer | undefined {
    const v = data['password'];
    if (v === undefined || v === null) return undefined;
    let text: string;
    if (typeof v === 'string') text = v;
    else if (typeof v === 'number' || typeof v === 'boolean') text = String(v);
    else throw badRequest('error converting input for field "password"');
    return text === '' ? undefined : Buffer.from(text, 'utf8');
  }

  /** A hash of the request's password, or undefined when none was sent; the bytes are wiped either way. */
  private async hashFromRequest(data: JsonObject): Promise<PasswordHashRecord | undefined> {
    const password = UserpassBackend.passwordBytes(data);
    if (password === undefined) return undefined;
    try {
      return await this.hasher.hash(password);
    } finally {
      wipe(password);
    }
  }

  /** LIST `users/`: the user names; 404 when there are none (Vault's HTTP layer answers an empty list so). */
  private async listUsers(): Promise<LogicalResponse> {
    const keys = (await this.storage.list('user/')).filter((k) => !k.endsWith('/'));
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  }

  /** GET `users/<name>`: the token settings and legacy fields in use; never the password or its hash. */
  private async readUser(raw: string): Promise<LogicalResponse> {
    const user = await this.getUser(normalizeUsername(raw));
    if (user === undefined) throw notFound();
    return { data: { ...tokenParamsData(user.token), ...legacyTokenData(user.token, user.legacy) } };
  }

  /**
   * POST/PUT `users/<name>`: creates the user or updates the fields sent; a password sent replaces the stored one
   * (EdgeX sets a new one at every boot). Creating without a password is 400 `missing password`.
   */
  private async writeUser(raw: string, data: JsonObject): Promise<LogicalResponse> {
    const name = normalizeUsername(raw);
    // Hashed before taking the lock: the slow part must not hold up every other write.
    const hash = await this.hashFromRequest(data);
    return this.exclusive(async () => {
      const current = await this.getUser(name);
      if (current === undefined && hash === undefined) throw badRequest('missing password');
      const token = parseTokenParams(data, current?.token ?? defaultTokenParams());
      const legacy = legacyFieldsAfterWrite(data, current?.legacy ?? []);
      const password = hash ?? current?.password;
      await this.putUser(name, password === undefined ? { token, legacy } : { token, legacy, password });
      return { status: 204 };
    });
  }

  /** DELETE `users/<name>` (absent users too, as Vault). Tokens already issued are not revoked. */
  private async deleteUser(raw: string): Promise<LogicalResponse> {
    const name = normalizeUsername(raw);
    await this.exclusive(() => this.storage.delete(userKey(name)));
    return { status: 204 };
  }

  /** POST `users/<name>/password`: replaces the password of an existing user. */
  private async setPassword(raw: string, data: JsonObject): Promise<LogicalResponse> {
    const name = normalizeUsername(raw);
    // Vault looks the user up first, so an unknown user is reported before a missing password.
    if ((await this.getUser(name)) === undefined) throw badRequest('username does not exist');
    const hash = await this.hashFromRequest(data);
    if (hash === undefined) throw badRequest('missing password');
    return this.exclusive(async () => {
      const current = await this.getUser(name);
      if (current === undefined) throw badRequest('username does not exist');
      await this.putUser(name, { ...current, password: hash });
      return { status: 204 };
    });
  }

  /** POST `users/<name>/policies`: replaces the user's policies (`token_policies`, or the legacy `policies`). */
  private setPolicies(raw: string, data: JsonObject): Promise<LogicalResponse> {
    const name = normalizeUsername(raw);
    const fields: JsonObject = {};
    for (const key of ['token_policies', 'policies']) if (data[key] !== undefined) fields[key] = data[key];
    return this.exclusive(async () => {
      const current = await this.getUser(name);
      if (current === undefined) throw badRequest('username does not exist');
      const token = parseTokenParams(fields, current.token);
      const legacy = legacyFieldsAfterWrite(fields, current.legacy);
      await this.putUser(name, { ...current, token, legacy });
      return { status: 204 };
    });
  }

  /**
   * POST/PUT `login/<name>`: after the address's throttle delay, checks the password (against a dummy hash when the
   * user does not exist, so both cost the same and both answer 400 `invalid username or password`), then the
   * user's bound CIDRs (403 `permission denied`), and returns the login plan.
   */
  private async login(raw: string, req: LogicalRequest): Promise<LogicalResponse> {
    const password = UserpassBackend.passwordBytes(req.data);
    if (password === undefined) throw badRequest('missing password');
    try {
      const attempt = await this.throttle.begin(req.remoteAddress);
      let success = false;
      let name: string;
      let user: UserRecord;
      try {
        name = isValidUsername(raw) ? raw.toLowerCase() : '';
        const found = name === '' ? undefined : await this.getUser(name);
        const match = await this.hasher.verify(password, found?.password);
        if (!match || found === undefined) throw badRequest(INVALID_CREDENTIALS);
        // Checked after the password, as Vault does: an unknown user must not be told apart by a 403.
        if (!addressInCidrs(req.remoteAddress, found.token.token_bound_cidrs)) throw permissionDenied();
        user = found;
        success = true;
      } finally {
        attempt.finish(success);
      }
      if (user.password !== undefined && this.hasher.needsRehash(user.password)) await this.upgradeHash(name, user.password, password);
      return { login: this.plan(name, user) };
    } finally {
      wipe(password);
    }
  }

  /**
   * Re-hashes a password whose stored hash was made with other parameters, unless the stored hash changed
   * meanwhile (a concurrent password change wins). Failures are ignored: the login itself is valid and the upgrade
   * is tried again at the next one.
   */
  private async upgradeHash(name: string, old: PasswordHashRecord, password: Buffer): Promise<void> {
    try {
      const fresh = await this.hasher.hash(password);
      await this.exclusive(async () => {
        const current = await this.getUser(name);
        if (current?.password?.hash_b64 !== old.hash_b64) return;
        await this.putUser(name, { ...current, password: fresh });
      });
    } catch {
      // See above: best effort.
    }
  }

  /** What the core needs to mint the user's token (Vault's logical.Auth from PopulateTokenAuth). */
  private plan(name: string, user: UserRecord): LoginPlan {
    const t = user.token;
    return {
      aliasName: name,
      // The core prefixes nothing: Vault's display name is the mount path (slashes as dashes) plus the user name.
      displayName: this.mountPath.replaceAll('/', '-') + name,
      metadata: { username: name },
      policies: [...t.token_policies],
      noDefaultPolicy: t.token_no_default_policy,
      ttl: t.token_ttl,
      maxTtl: t.token_max_ttl,
      period: t.token_period,
      explicitMaxTtl: t.token_explicit_max_ttl,
      numUses: t.token_num_uses,
      boundCidrs: [...t.token_bound_cidrs],
      path: `auth/${this.mountPath}login/${name}`,
    };
  }
}
