/**
 * The project's one facade over `node:crypto`. Nothing else imports `node:crypto`, so every primitive in use can be
 * read in one place. Secrets go in and come out as Buffers; callers wipe them with {@link wipe} in `finally`.
 */
import * as nodeCrypto from 'node:crypto';

/** Length in bytes of an AES-256 key. */
export const AES_KEY_LENGTH = 32;
/** Length in bytes of an AES-GCM nonce (96 bits, NIST SP 800-38D's recommended size). */
export const GCM_NONCE_LENGTH = 12;
/** Length in bytes of an AES-GCM authentication tag. */
export const GCM_TAG_LENGTH = 16;
/** SHA-256 output length, also HKDF-SHA256's HashLen (RFC 5869 §2.2). */
export const SHA256_LENGTH = 32;

/** Cryptographically secure random bytes. */
export function randomBytes(length: number): Buffer {
  return nodeCrypto.randomBytes(length);
}

/** A uniformly random integer in [0, max). */
export function randomInt(max: number): number {
  return nodeCrypto.randomInt(max);
}

/** A random RFC 4122 version 4 UUID. */
export function randomUUID(): string {
  return nodeCrypto.randomUUID();
}

/**
 * HKDF with SHA-256 (RFC 5869): Extract with `salt`, then Expand with `info` to `length` bytes.
 * Never skips Extract: the hook's IKM is of unknown quality.
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Buffer {
  const infoBytes = typeof info === 'string' ? Buffer.from(info, 'utf8') : info;
  return Buffer.from(nodeCrypto.hkdfSync('sha256', ikm, salt, infoBytes, length));
}

/** Output of {@link aesGcmEncrypt}. */
export interface GcmSealed {
  ciphertext: Buffer;
  tag: Buffer;
}

/** AES-256-GCM encryption with a 12-byte nonce and optional additional authenticated data. */
export function aesGcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): GcmSealed {
  const cipher = nodeCrypto.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  if (aad !== undefined) cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * AES-256-GCM decryption. Returns `undefined` when authentication fails (wrong key, wrong AAD or altered bytes):
 * callers turn that into their own domain error, so a failure never leaks which part was wrong.
 */
export function aesGcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad?: Uint8Array,
): Buffer | undefined {
  if (tag.length !== GCM_TAG_LENGTH) return undefined;
  const decipher = nodeCrypto.createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  if (aad !== undefined) decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const first = decipher.update(ciphertext);
  try {
    const last = decipher.final();
    const plaintext = Buffer.concat([first, last]);
    last.fill(0);
    return plaintext;
  } catch {
    return undefined;
  } finally {
    first.fill(0); // concat copied it: the plaintext must live in one buffer only, the one the caller wipes
  }
}

/** SHA-256 of the given bytes. */
export function sha256(data: Uint8Array | string): Buffer {
  return nodeCrypto.createHash('sha256').update(data).digest();
}

/** HMAC-SHA256 of `data` under `key`. */
export function hmacSha256(key: Uint8Array, data: Uint8Array | string): Buffer {
  return nodeCrypto.createHmac('sha256', key).update(data).digest();
}

/** Constant-time comparison; unequal lengths compare unequal (the length itself is not secret here). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return nodeCrypto.timingSafeEqual(a, b);
}

/** Overwrite secret bytes with zeros. Accepts `undefined` so it can be called unconditionally in `finally`. */
export function wipe(...buffers: (Uint8Array | undefined | null)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Re-export of Node's X509 and key helpers needed for TLS files, kept behind the facade. */
export const createPrivateKey = nodeCrypto.createPrivateKey;
/** Re-export: a public key object from PEM/DER/JWK, or derived from a private key. */
export const createPublicKey = nodeCrypto.createPublicKey;
/** Node's key object type (asymmetric signing keys of the identity store's OIDC keys). */
export type KeyObject = nodeCrypto.KeyObject;

/** Cost parameters of scrypt (RFC 7914): CPU/memory cost `N` (a power of two), block size `r`, parallelism `p`. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * scrypt (RFC 7914) of `password` with `salt`, `length` bytes, on libuv's thread pool so a slow hash never blocks the
 * event loop. `maxmem` is sized from the parameters (128·N·r·p plus headroom), so any valid setting runs.
 */
export function scrypt(password: Uint8Array, salt: Uint8Array, length: number, params: ScryptParams): Promise<Buffer> {
  const maxmem = 128 * params.N * params.r * params.p + 32 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    nodeCrypto.scrypt(password, salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err === null) resolve(key);
      else reject(err);
    });
  });
}

/** The JOSE signing algorithms the identity store's OIDC keys support. */
export type SigningAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/**
 * A fresh asymmetric key pair for a JOSE algorithm: RSA 2048 for RS*, the matching NIST curve for ES*, Ed25519 for
 * EdDSA.
 */
export function generateSigningKeyPair(algorithm: SigningAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (algorithm) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
      return nodeCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ES256':
      return nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ES384':
      return nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ES512':
      return nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'EdDSA':
      return nodeCrypto.generateKeyPairSync('ed25519');
  }
}

/** The 62 characters of Vault's base62 alphabet (digits, upper case, lower case). */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A uniformly random string of `length` base62 characters (token ids, accessors, OTPs). Rejection sampling on random
 * bytes (values ≥ 248 are dropped) keeps every character exactly 1/62 likely.
 */
export function randomBase62(length: number): string {
  if (!Number.isInteger(length) || length < 0) throw new RangeError('length must be a non-negative integer');
  let out = '';
  while (out.length < length) {
    const bytes = nodeCrypto.randomBytes(Math.max(16, (length - out.length) * 2));
    for (const b of bytes) {
      if (b >= 248) continue;
      out += BASE62.charAt(b % 62);
      if (out.length === length) break;
    }
  }
  return out;
}
