/**
 * `sys/generate-root`: a quorum of unseal-key holders mints a new root token, returned encoded with a one-time
 * password (OTP scheme): `encoded_token = base64raw(token XOR otp)`, so the server never shows it in clear to
 * whoever watches the responses. Vault's statuses, checks and messages; PGP encoding is not supported.
 */
import { randomBase62, wipe } from '../../crypto.js';
import { badRequest, sealedError, StoreApiError } from '../api-error.js';
import type { SealCore } from './core-context.js';
import { decodeKey, keyLengthProblem } from './key-input.js';
import { KeyProgress } from './key-progress.js';
import { recoverRootKey, STORED_KEYS_AUTH_FAILED } from './recover-key.js';
import { stringField } from './request-fields.js';

/** Length of root tokens and thus of OTPs: `hvs.` + 24 characters (Vault's TokenPrefixLength + TokenLength). */
export const OTP_LENGTH = 28;

/** Uniformly random base62 string (kept exported here for existing callers; the one implementation is in crypto.ts). */
export { randomBase62 };

/** `base64raw(token XOR otp)`; both must have the same byte length. An OTP given as a Buffer is not modified. */
export function encodeToken(token: string, otp: string | Buffer): string {
  const t = Buffer.from(token, 'utf8');
  const o = typeof otp === 'string' ? Buffer.from(otp, 'utf8') : otp;
  try {
    if (t.length !== o.length) throw new StoreApiError(500, 'xor of root token and one-time password failed: length of byte slices is not equivalent');
    for (let i = 0; i < t.length; i++) t[i] = (t[i] ?? 0) ^ (o[i] ?? 0);
    return t.toString('base64').replace(/=+$/, '');
  } finally {
    wipe(t);
    if (typeof otp === 'string') wipe(o);
  }
}

/** Inverse of {@link encodeToken} (what an operator does with the OTP). */
export function decodeToken(encoded: string, otp: string): string {
  const e = Buffer.from(encoded, 'base64');
  const o = Buffer.from(otp, 'utf8');
  if (e.length !== o.length) throw new Error('encoded token and OTP lengths differ');
  for (let i = 0; i < e.length; i++) e[i] = (e[i] ?? 0) ^ (o[i] ?? 0);
  return e.toString('utf8');
}

/** State of the root-token generation attempt (at most one at a time). */
export class RootGeneration {
  /** The attempt's OTP as bytes (wiped by {@link RootGeneration.reset}), `undefined` when no attempt runs. */
  private otp: Buffer | undefined;
  private readonly progress = new KeyProgress();

  /** `GET sys/generate-root/attempt`; `generatedOtp` is echoed once right after the server made one. */
  status(core: SealCore, generatedOtp = ''): Record<string, unknown> {
    const config = core.sealConfig();
    if (config === undefined) throw badRequest('server is not yet initialized');
    if (core.isSealed()) throw sealedError();
    const started = this.otp !== undefined;
    return {
      nonce: started ? this.progress.nonce : '',
      started,
      progress: this.progress.count,
      required: config.secret_threshold,
      complete: false,
      encoded_token: '',
      encoded_root_token: '',
      pgp_fingerprint: '',
      otp: generatedOtp,
      otp_length: OTP_LENGTH,
    };
  }

  /** `PUT sys/generate-root/attempt {otp?, pgp_key?}`. */
  start(core: SealCore, req: Record<string, unknown>): Record<string, unknown> {
    let otp = stringField(req, 'GenerateRootInitRequest', 'otp');
    const pgpKey = stringField(req, 'GenerateRootInitRequest', 'pgp_key');
    let generated = '';
    if (otp === '' && pgpKey === '') {
      otp = randomBase62(OTP_LENGTH);
      generated = otp;
    }
    if (otp !== '') {
      // Go's len() counts bytes: a non-ASCII OTP of 28 characters would fail the XOR only after the shares were spent.
      if (Buffer.byteLength(otp, 'utf8') !== OTP_LENGTH) throw badRequest('OTP string has incorrect length');
    } else {
      throw badRequest('pgp_key is not supported by this server; omit it to receive an OTP-encoded token');
    }
    if (core.isSealed()) throw sealedError();
    if (this.otp !== undefined) throw badRequest('root generation already in progress');
    this.progress.clear();
    this.progress.start();
    this.otp = Buffer.from(otp, 'utf8');
    return this.status(core, generated);
  }

  /** `DELETE sys/generate-root/attempt`. */
  cancel(core: SealCore): void {
    if (core.isSealed()) throw sealedError();
    this.reset();
  }

  /** Forgets the attempt and wipes its shares (also called when sealing). */
  reset(): void {
    this.progress.clear();
    wipe(this.otp);
    this.otp = undefined;
  }

  /** `PUT sys/generate-root/update {key, nonce}`; mints the token with `mintRootToken` at the threshold. */
  async update(core: SealCore, req: Record<string, unknown>, mintRootToken: () => Promise<string>): Promise<Record<string, unknown>> {
    const keyText = stringField(req, 'GenerateRootUpdateRequest', 'key');
    const nonce = stringField(req, 'GenerateRootUpdateRequest', 'nonce');
    if (keyText === '') throw badRequest("'key' must be specified in request body as JSON");
    const key = decodeKey(keyText);
    try {
      const lengthProblem = keyLengthProblem(key, 'invalid key: ');
      if (lengthProblem !== undefined) throw badRequest(lengthProblem);
      const config = core.sealConfig();
      if (config === undefined) throw badRequest('Vault is not initialized');
      if (core.isSealed()) throw sealedError();
      const otp = this.otp;
      if (otp === undefined) throw badRequest('no root generation in progress');
      if (nonce !== this.progress.nonce) {
        throw badRequest(`incorrect nonce supplied; nonce for this root generation operation is ${JSON.stringify(this.progress.nonce)}`);
      }
      if (this.progress.has(key)) throw badRequest('given key has already been provided during this generation operation');
      this.progress.add(key);
      const progress = this.progress.count;
      const body = (complete: boolean, encoded: string): Record<string, unknown> => ({
        nonce,
        started: true,
        progress,
        required: config.secret_threshold,
        complete,
        encoded_token: encoded,
        encoded_root_token: encoded,
        pgp_fingerprint: '',
        otp: '',
        otp_length: 0,
      });
      if (progress < config.secret_threshold) return body(false, '');

      // Threshold reached: the shares are consumed whatever happens next (Vault clears the progress).
      const result = await recoverRootKey(core.physical, this.progress.take(), config.secret_threshold);
      if (!result.ok) {
        if (result.reason === 'combine') throw badRequest(`failed to compute root key: ${result.message}`);
        if (result.reason === 'key-size') {
          throw badRequest(`root generation aborted: unable to authenticate: invalid key: failed to setup unseal key: crypto/aes: invalid key size ${result.size}`);
        }
        // Vault's generateStandardRootToken.authenticate wraps the unseal-key failure in "unable to authenticate: ".
        throw badRequest(`root generation aborted: unable to authenticate: unable to retrieve stored keys: invalid key: ${STORED_KEYS_AUTH_FAILED}`);
      }
      try {
        if (!core.barrier.verifyRoot(result.rootKey)) throw badRequest('root generation aborted: root key verification failed: Unseal failed, invalid key');
      } finally {
        wipe(result.rootKey);
      }
      const token = await mintRootToken();
      const encoded = encodeToken(token, otp);
      this.reset();
      return body(true, encoded);
    } finally {
      wipe(key);
    }
  }
}
