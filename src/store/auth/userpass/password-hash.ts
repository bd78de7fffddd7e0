/**
 * How userpass keeps passwords: never the password, only a slow salted hash — scrypt (RFC 7914) with a 16-byte
 * random salt and a 32-byte output, N=2^15, r=8, p=1 by default (OWASP's scrypt recommendation; 32 MiB and tens of
 * milliseconds per guess). Each hash is stored with its own parameters, so the defaults can be raised later while
 * older hashes still verify (and are re-hashed with the new parameters at the user's next successful login).
 *
 * Vault uses bcrypt; scrypt is what `node:crypto` offers natively, memory-hard, and equally opaque to clients: no
 * API returns the hash, so the algorithm is not visible on the wire.
 */
import { constantTimeEqual, randomBytes, scrypt, wipe, type ScryptParams } from '../../../crypto.js';

/** Default cost: N=2^15 (32 MiB with r=8), r=8, p=1. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/** Bytes of random salt per hash. */
export const SALT_LENGTH = 16;

/** Bytes of scrypt output kept. */
export const HASH_LENGTH = 32;

/** Most memory one verification may use (128·N·r·p bytes): bounds the cost a stored record can ask for. */
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;

/** A stored password hash with the parameters it was made with (salt and hash in standard base64). */
export interface PasswordHashRecord {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt_b64: string;
  hash_b64: string;
}

/** The key-derivation function (scrypt from the crypto facade; tests inject a counting or cheaper one). */
export type Kdf = (password: Uint8Array, salt: Uint8Array, length: number, params: ScryptParams) => Promise<Buffer>;

/** Options of {@link PasswordHasher}. */
export interface PasswordHasherOptions {
  /** Cost of new hashes (default {@link DEFAULT_SCRYPT_PARAMS}). */
  params?: ScryptParams;
  /** The KDF (default scrypt). */
  kdf?: Kdf;
}

/** Whether `p` is a usable scrypt setting: N a power of two ≥ 2, r and p ≥ 1, memory within 1 GiB. */
export function validScryptParams(p: ScryptParams): boolean {
  const { N, r } = p;
  const par = p.p;
  if (!Number.isSafeInteger(N) || !Number.isSafeInteger(r) || !Number.isSafeInteger(par)) return false;
  if (N < 2 || (N & (N - 1)) !== 0 || N > 2 ** 30 || r < 1 || par < 1) return false;
  return 128 * N * r * par <= MAX_SCRYPT_MEMORY;
}

/** The record in `value` when it is a well-formed one (right types, usable parameters, right lengths); else undefined. */
export function parsePasswordHashRecord(value: unknown): PasswordHashRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { alg, N, r, p, salt_b64: salt, hash_b64: hash } = v;
  if (alg !== 'scrypt' || typeof N !== 'number' || typeof r !== 'number' || typeof p !== 'number') return undefined;
  if (typeof salt !== 'string' || typeof hash !== 'string') return undefined;
  if (!validScryptParams({ N, r, p })) return undefined;
  if (Buffer.from(salt, 'base64').length < SALT_LENGTH || Buffer.from(hash, 'base64').length !== HASH_LENGTH) return undefined;
  return { alg, N, r, p, salt_b64: salt, hash_b64: hash };
}

/** Most scrypt computations one hasher runs at once (each holds 128·N·r bytes: 32 MiB with the defaults). */
export const MAX_CONCURRENT_HASHES = 2;

/** Hashes and verifies passwords; one instance per backend. */
export class PasswordHasher {
  /** The cost of new hashes. */
  readonly params: Readonly<ScryptParams>;
  private readonly kdf: Kdf;

  /** Throws when `params` is not a usable scrypt setting (a configuration error, found at start-up). */
  constructor(options: PasswordHasherOptions = {}) {
    const params = options.params ?? DEFAULT_SCRYPT_PARAMS;
    if (!validScryptParams(params)) throw new RangeError('invalid scrypt parameters');
    this.params = Object.freeze({ N: params.N, r: params.r, p: params.p });
    const kdf = options.kdf ?? scrypt;
    // Each scrypt at N=2^15, r=8 holds 32 MiB while it runs; a burst of logins must not multiply that on a small
    // device (measured: 4 at once took the store from 61 to 211 MiB). At most MAX_CONCURRENT_HASHES run; the rest
    // wait in order.
    this.kdf = (password, salt, length, params) => this.limit(() => kdf(password, salt, length, params));
  }

  private running = 0;
  private readonly waiting: (() => void)[] = [];

  private async limit<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing computation hands its slot straight to the next waiter, so no newcomer can slip in between.
    if (this.running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }

  /** A new record for `password` (which the caller wipes) with a fresh salt and the current parameters. */
  async hash(password: Uint8Array): Promise<PasswordHashRecord> {
    const salt = randomBytes(SALT_LENGTH);
    const derived = await this.kdf(password, salt, HASH_LENGTH, this.params);
    try {
      const { N, r, p } = this.params;
      return { alg: 'scrypt', N, r, p, salt_b64: salt.toString('base64'), hash_b64: derived.toString('base64') };
    } finally {
      wipe(derived);
    }
  }

  /**
   * Whether `password` matches `record`. With no record (unknown user, or a stored hash that does not parse) the
   * same work is done against a dummy hash with the current parameters and the answer is false, so an unknown user
   * costs what a wrong password costs and the two cannot be told apart by timing.
   */
  async verify(password: Uint8Array, record: PasswordHashRecord | undefined): Promise<boolean> {
    const params: ScryptParams = record ?? this.params;
    const salt = record === undefined ? randomBytes(SALT_LENGTH) : Buffer.from(record.salt_b64, 'base64');
    // The dummy's expected bytes are random: the comparison below runs either way, and its result is ignored.
    const expected = record === undefined ? randomBytes(HASH_LENGTH) : Buffer.from(record.hash_b64, 'base64');
    let derived: Buffer | undefined;
    try {
      derived = await this.kdf(password, salt, HASH_LENGTH, { N: params.N, r: params.r, p: params.p });
      const equal = constantTimeEqual(derived, expected);
      return record !== undefined && equal;
    } finally {
      wipe(derived, expected);
    }
  }

  /** Whether `record` was made with other parameters than the current ones (re-hash at the next good login). */
  needsRehash(record: PasswordHashRecord): boolean {
    return record.N !== this.params.N || record.r !== this.params.r || record.p !== this.params.p;
  }
}
