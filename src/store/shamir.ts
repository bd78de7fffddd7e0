/**
 * Shamir secret sharing over GF(2^8), byte-compatible with Vault's `shamir` package: the field uses the AES
 * polynomial x⁸+x⁴+x³+x+1 (0x11B), every secret byte gets its own random polynomial of degree threshold−1 with
 * the byte as intercept, and a share is `y_1 … y_len ‖ x` (x LAST), so shares from a real Vault combine here and
 * ours combine there. Field arithmetic is table-free and branch-free on secret data (no secret-indexed lookups).
 */
import { randomBytes, randomInt, wipe } from '../crypto.js';

/** Bytes a share adds to the secret: the x coordinate (Vault's `ShareOverhead`). */
export const SHARE_OVERHEAD = 1;

/** Error thrown by {@link split} and {@link combine}; `message` is exactly Vault's error text. */
export class ShamirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShamirError';
  }
}

/** Addition in GF(2^8): XOR. */
export function add(a: number, b: number): number {
  return (a ^ b) & 0xff;
}

/**
 * Multiplication in GF(2^8) mod 0x11B, constant time: always 8 rounds, conditional steps done with masks
 * (`-(bit)` is all ones or zero), never with branches or table lookups indexed by secret values.
 */
export function mult(a: number, b: number): number {
  let x = a & 0xff;
  let y = b & 0xff;
  let r = 0;
  for (let i = 0; i < 8; i++) {
    r ^= x & -(y & 1);
    const carry = (x >> 7) & 1;
    x = ((x << 1) ^ (0x1b & -carry)) & 0xff;
    y >>= 1;
  }
  return r & 0xff;
}

/** Multiplicative inverse a^254 (Fermat) with a fixed square-and-multiply chain; inverse(0) = 0. */
export function inverse(a: number): number {
  // 254 = 0b11111110: a^2, a^4 … a^128 multiplied together, always the same 13 multiplications.
  const a2 = mult(a, a);
  const a3 = mult(a2, a);
  const a6 = mult(a3, a3);
  const a7 = mult(a6, a);
  const a14 = mult(a7, a7);
  const a15 = mult(a14, a);
  const a30 = mult(a15, a15);
  const a31 = mult(a30, a);
  const a62 = mult(a31, a31);
  const a63 = mult(a62, a);
  const a126 = mult(a63, a63);
  const a127 = mult(a126, a);
  return mult(a127, a127);
}

/** Division in GF(2^8); div(0, b) = 0. Division by zero is a programming error (Vault panics). */
export function div(a: number, b: number): number {
  if (b === 0) throw new ShamirError('divide by zero');
  return mult(a, inverse(b));
}

/** Evaluates the polynomial with `coefficients` (intercept first) at `x` by Horner's rule. */
function evaluate(coefficients: Uint8Array, x: number): number {
  let out = 0;
  for (let i = coefficients.length - 1; i >= 0; i--) out = add(mult(out, x), coefficients[i] ?? 0);
  return out;
}

/** A uniformly random permutation of 1..255 (Fisher–Yates over crypto randomness), as Vault's `mathrand.Perm(255)+1`. */
function randomXCoordinates(): Uint8Array {
  const xs = new Uint8Array(255);
  for (let i = 0; i < 255; i++) xs[i] = i + 1;
  for (let i = 254; i > 0; i--) {
    const j = randomInt(i + 1);
    const t = xs[i] ?? 0;
    xs[i] = xs[j] ?? 0;
    xs[j] = t;
  }
  return xs;
}

/**
 * Splits `secret` into `parts` shares of which any `threshold` recombine it. Throws {@link ShamirError} with
 * Vault's messages for invalid arguments. Each share is `secret.length + 1` bytes, its x coordinate last.
 */
export function split(secret: Buffer, parts: number, threshold: number): Buffer[] {
  if (!Number.isInteger(parts) || !Number.isInteger(threshold)) throw new ShamirError('parts and threshold must be integers');
  if (parts < threshold) throw new ShamirError('parts cannot be less than threshold');
  if (parts > 255) throw new ShamirError('parts cannot exceed 255');
  if (threshold < 2) throw new ShamirError('threshold must be at least 2');
  if (threshold > 255) throw new ShamirError('threshold cannot exceed 255');
  if (secret.length === 0) throw new ShamirError('cannot split an empty secret');

  const xs = randomXCoordinates();
  const out: Buffer[] = [];
  for (let p = 0; p < parts; p++) {
    const share = Buffer.alloc(secret.length + 1);
    share[secret.length] = xs[p] ?? 0;
    out.push(share);
  }
  const coefficients = Buffer.alloc(threshold);
  try {
    for (let idx = 0; idx < secret.length; idx++) {
      const random = randomBytes(threshold - 1);
      random.copy(coefficients, 1);
      // The coefficients determine the secret as much as the shares do: leave no copy behind.
      wipe(random);
      coefficients[0] = secret[idx] ?? 0;
      for (let p = 0; p < parts; p++) {
        const share = out[p];
        if (share === undefined) continue;
        share[idx] = evaluate(coefficients, xs[p] ?? 0);
      }
    }
  } finally {
    wipe(coefficients);
  }
  return out;
}

/**
 * Recombines shares made by {@link split} (or by Vault) with Lagrange interpolation at 0, byte by byte. Throws
 * {@link ShamirError} with Vault's messages. Too few (but well-formed) shares silently give a wrong secret:
 * authenticity comes from the AES-GCM check of whatever the secret decrypts.
 */
export function combine(parts: Buffer[]): Buffer {
  if (parts.length < 2) throw new ShamirError('less than two parts cannot be used to reconstruct the secret');
  const first = parts[0];
  if (first === undefined || first.length < 2) throw new ShamirError('parts must be at least two bytes');
  const len = first.length;
  for (const p of parts) if (p.length !== len) throw new ShamirError('all parts must be the same length');

  const n = parts.length;
  const xs = new Uint8Array(n);
  const seen = new Uint8Array(256);
  for (let i = 0; i < n; i++) {
    const x = (parts[i] as Buffer)[len - 1] ?? 0;
    if (seen[x] === 1) throw new ShamirError('duplicate part detected');
    seen[x] = 1;
    xs[i] = x;
  }

  // Lagrange basis values at 0 depend only on the x coordinates: compute them once for all bytes.
  const basis = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let b = 1;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const xj = xs[j] ?? 0;
      b = mult(b, div(xj, add(xs[i] ?? 0, xj)));
    }
    basis[i] = b;
  }

  const secret = Buffer.alloc(len - 1);
  for (let idx = 0; idx < len - 1; idx++) {
    let acc = 0;
    for (let i = 0; i < n; i++) acc = add(acc, mult((parts[i] as Buffer)[idx] ?? 0, basis[i] ?? 0));
    secret[idx] = acc;
  }
  return secret;
}
