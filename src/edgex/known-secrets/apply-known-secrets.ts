/**
 * Makes sure every secret of a {@link KnownSecretsPlan} exists, never overwriting one (edgex-go
 * `internal/security/secretstore/init.go`: `getCredential`, `addServiceCredential`, `storeCredential`).
 *
 * Every path of the plan is read first, so a broken secret stops the run before anything is written. Then, per
 * planned value: a shared secret takes the main path's value when it exists, else a new password, which is written to
 * the main path first (EdgeX writes it last: a crash in between left copies with a password the main path never got);
 * a missing copy gets that value, an existing copy is kept as it is (EdgeX never re-copies) — with a warning when it
 * differs. A per-service PostgreSQL user takes the value of whichever of its two paths exists (EdgeX would give the
 * missing one a new, different password) or a new one.
 *
 * Present = both user name and password non-empty; a secret that exists without them is a fatal error (EdgeX would
 * use empty credentials for a main path and overwrite a copy). Only names and paths are logged.
 */
import { SecretStoreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { copyCredential, sameCredential, wipeCredential, type UserPassword } from './credential.js';
import type { KnownSecretName } from './known-secret-names.js';
import type { KnownSecretsPlan, PlannedSecret, SecretTarget } from './known-secrets-plan.js';
import { builtinPasswordGenerator, type PasswordGenerator } from './password.js';

/** The key/value store as the known secrets need it (KV v1 at `secret/`). */
export interface KnownSecretsKv {
  /** The secret at `path`: its value when present, undefined when absent, `'invalid'` when it lacks a user name or password. */
  read(path: string): Promise<UserPassword | undefined | 'invalid'>;
  /** Writes `credential` at `path`. */
  write(path: string, credential: UserPassword): Promise<void>;
}

/** Options of {@link ensureKnownSecrets}. */
export interface EnsureKnownSecretsOptions {
  /** Where new passwords come from; default the built-in generator. */
  passwords?: PasswordGenerator;
}

/** What {@link ensureKnownSecrets} did. */
export interface KnownSecretsSummary {
  /** Paths written, in order. */
  created: string[];
  /** Paths that existed and were left as they were. */
  kept: string[];
  /** How many new passwords were made. */
  generated: number;
  /**
   * The value of each shared secret (redisdb, message-bus, the postgres superuser) — what the eKuiper files need.
   * The caller owns these Buffers and wipes them ({@link wipeKnownSecretsSummary}).
   */
  credentials: Partial<Record<KnownSecretName, UserPassword>>;
}

/** Wipes the passwords a summary holds. */
export function wipeKnownSecretsSummary(summary: KnownSecretsSummary): void {
  for (const credential of Object.values(summary.credentials)) wipeCredential(credential);
}

/** Reads every path of the plan; fails on the first invalid secret, before anything is written. */
async function readAll(kv: KnownSecretsKv, plan: KnownSecretsPlan, found: Map<string, UserPassword>): Promise<void> {
  for (const secret of plan.secrets) {
    for (const target of [secret.main, ...secret.copies]) {
      if (found.has(target.path)) continue;
      const value = await kv.read(target.path);
      if (value === 'invalid') {
        throw new SecretStoreError(
          'STORE_ERROR',
          `the ${secret.name} secret at ${target.path} exists but has no username or no password; known secrets are never overwritten, so fix it or delete it (it is then made again) and run the setup again`,
        );
      }
      if (value !== undefined) found.set(target.path, value);
    }
  }
}

/**
 * Ensures the plan's secrets; returns what was created and kept, and the shared values. Store errors propagate
 * (STORE_ERROR and friends); nothing already present is ever written.
 */
export async function ensureKnownSecrets(
  kv: KnownSecretsKv,
  plan: KnownSecretsPlan,
  log: Logger,
  options: EnsureKnownSecretsOptions = {},
): Promise<KnownSecretsSummary> {
  const passwords = options.passwords ?? builtinPasswordGenerator;
  const found = new Map<string, UserPassword>();
  const made: UserPassword[] = [];
  const summary: KnownSecretsSummary = { created: [], kept: [], generated: 0, credentials: {} };
  let done = false;
  try {
    await readAll(kv, plan, found);

    const valueFor = async (secret: PlannedSecret): Promise<UserPassword> => {
      const candidates = secret.kind === 'shared' ? [secret.main] : [secret.main, ...secret.copies];
      for (const target of candidates) {
        const existing = found.get(target.path);
        if (existing !== undefined) return existing;
      }
      const fresh: UserPassword = { username: secret.username, password: await passwords.generate() };
      made.push(fresh);
      summary.generated++;
      log.info('generated a new password for a known secret', { secret: secret.name, path: secret.main.path, generator: passwords.description });
      return fresh;
    };

    const ensure = async (secret: PlannedSecret, target: SecretTarget, value: UserPassword): Promise<void> => {
      const existing = found.get(target.path);
      if (existing !== undefined) {
        summary.kept.push(target.path);
        if (sameCredential(existing, value)) {
          log.debug('known secret already present', { secret: secret.name, path: target.path });
        } else {
          log.warn('known secret already present with another value; kept as it is (known secrets are never overwritten)', {
            secret: secret.name,
            path: target.path,
            source: secret.main.path,
          });
        }
        return;
      }
      await kv.write(target.path, value);
      found.set(target.path, value);
      summary.created.push(target.path);
      log.info('known secret stored', { secret: secret.name, path: target.path, service: target.service });
    };

    for (const secret of plan.secrets) {
      const value = await valueFor(secret);
      for (const target of [secret.main, ...secret.copies]) await ensure(secret, target, value);
      if (secret.kind === 'shared') summary.credentials[secret.name] = copyCredential(value);
    }
    log.info('known secrets ensured', { created: summary.created.length, kept: summary.kept.length, generated: summary.generated });
    done = true;
    return summary;
  } finally {
    for (const value of found.values()) wipeCredential(value);
    for (const value of made) wipeCredential(value);
    if (!done) wipeKnownSecretsSummary(summary);
  }
}
