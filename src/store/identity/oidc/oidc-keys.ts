/**
 * Named signing keys of the identity tokens (Vault's `identity/oidc/key/<name>`): each holds one current key pair,
 * which signs, and the public halves of the keys it replaced, each verifiable until its own expiry instant so tokens
 * signed before a rotation stay valid for their lifetime. Rotation is lazy and deterministic (a key is brought up to
 * date whenever it is used) instead of Vault's periodic timer: the store may sleep for days on a device, and a key
 * rotated late must still retire its predecessor at the instant the schedule said.
 */
import { exportJWK, type JWK } from 'jose';
import { badRequest } from '../../api-error.js';
import { createPrivateKey, generateSigningKeyPair, randomUUID, type KeyObject, type SigningAlgorithm } from '../../../crypto.js';

/** The JOSE algorithms a key may use, in the order the discovery document lists them. */
export const SUPPORTED_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze(['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

/** Default rotation period and verification TTL (Vault's `24h`), in seconds. */
export const DEFAULT_KEY_PERIOD_SECONDS = 86400;

/** The key pair that currently signs. The private key lives here, in the barrier-encrypted record, and nowhere else. */
export interface SigningKeyRecord {
  /** The `kid` header of the tokens it signs (a random UUID). */
  kid: string;
  /** PKCS#8 PEM. */
  private_pem: string;
  /** The public half as served in the JWKS (with `kid`, `alg`, `use`). */
  public_jwk: JWK;
}

/** A replaced key's public half, verifiable until `expire_at`. */
export interface RetiredKeyRecord {
  kid: string;
  public_jwk: JWK;
  /** Epoch milliseconds; the key no longer verifies from this instant on. */
  expire_at: number;
}

/** One named key as stored. */
export interface NamedKeyRecord {
  algorithm: SigningAlgorithm;
  /** Seconds between automatic rotations. */
  rotation_period: number;
  /** Seconds a replaced public key stays verifiable. */
  verification_ttl: number;
  /** Role client ids allowed to sign with the key; `*` allows every role, `[]` none. */
  allowed_client_ids: string[];
  /** Epoch milliseconds of the next automatic rotation. */
  next_rotation: number;
  current: SigningKeyRecord;
  previous: RetiredKeyRecord[];
}

/** The algorithm named by a request, or 400 `unknown signing algorithm "X"` (Vault's message). */
export function parseAlgorithm(value: string): SigningAlgorithm {
  const found = SUPPORTED_ALGORITHMS.find((a) => a === value);
  if (found === undefined) throw badRequest(`unknown signing algorithm "${value}"`);
  return found;
}

/** A fresh signing key for `algorithm`: a new key pair and a random `kid`. */
export async function generateSigningKey(algorithm: SigningAlgorithm): Promise<{ record: SigningKeyRecord; privateKey: KeyObject }> {
  const { privateKey, publicKey } = generateSigningKeyPair(algorithm);
  const kid = randomUUID();
  const jwk = await exportJWK(publicKey);
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const record: SigningKeyRecord = {
    kid,
    private_pem: typeof pem === 'string' ? pem : pem.toString('utf8'),
    public_jwk: { ...jwk, kid, alg: algorithm, use: 'sig' },
  };
  return { record, privateKey };
}

/**
 * The key after a rotation to `fresh`: the current key retires (verifiable until `retireAt`), `fresh` signs, and the
 * next automatic rotation is one period after `now`.
 */
export function rotateKey(key: Readonly<NamedKeyRecord>, fresh: SigningKeyRecord, retireAt: number, now: number): NamedKeyRecord {
  const retired: RetiredKeyRecord = { kid: key.current.kid, public_jwk: key.current.public_jwk, expire_at: retireAt };
  return {
    ...key,
    current: fresh,
    previous: [...key.previous, retired],
    next_rotation: now + key.rotation_period * 1000,
  };
}

/** The key without the retired public keys whose expiry has come (the same object when none has). */
export function pruneKey(key: NamedKeyRecord, now: number): NamedKeyRecord {
  const kept = key.previous.filter((p) => p.expire_at > now);
  return kept.length === key.previous.length ? key : { ...key, previous: kept };
}

/**
 * Brings a key up to date at `now`: rotates it when its rotation is due and drops expired public keys. Returns the
 * new record (to be stored) or undefined when nothing changed. However many periods were missed, one new key is
 * enough; the replaced key retires at its scheduled rotation plus the verification TTL, because every token it
 * signed was signed before that scheduled instant (a due key is always rotated before it signs).
 */
export async function maintainKey(
  key: NamedKeyRecord,
  now: number,
  cache?: SigningKeyCache,
): Promise<NamedKeyRecord | undefined> {
  let next = key;
  if (now >= key.next_rotation) {
    const fresh = await generateSigningKey(key.algorithm);
    cache?.remember(fresh.record.kid, fresh.privateKey);
    cache?.drop(key.current.kid);
    next = rotateKey(key, fresh.record, key.next_rotation + key.verification_ttl * 1000, now);
  }
  next = pruneKey(next, now);
  return next === key ? undefined : next;
}

/** The public keys that verify the key's tokens at `now`: the current one and the unexpired retired ones. */
export function verificationKeys(key: Readonly<NamedKeyRecord>, now: number): JWK[] {
  return [key.current.public_jwk, ...key.previous.filter((p) => p.expire_at > now).map((p) => p.public_jwk)];
}

/**
 * Decoded private keys by `kid`, so signing does not parse PEM on every token. Only a cache of what the stored
 * records hold; {@link clear} drops everything when the store seals.
 */
export class SigningKeyCache {
  private readonly keys = new Map<string, KeyObject>();

  /** The private key of `current`, decoded from its PEM on first use. */
  privateKey(current: Readonly<SigningKeyRecord>): KeyObject {
    let key = this.keys.get(current.kid);
    if (key === undefined) {
      key = createPrivateKey(current.private_pem);
      this.keys.set(current.kid, key);
    }
    return key;
  }

  /** Remembers a key just generated (its record is being stored). */
  remember(kid: string, key: KeyObject): void {
    this.keys.set(kid, key);
  }

  /** Forgets one key (it retired or its named key was deleted). */
  drop(kid: string): void {
    this.keys.delete(kid);
  }

  /** Forgets every key. */
  clear(): void {
    this.keys.clear();
  }
}
