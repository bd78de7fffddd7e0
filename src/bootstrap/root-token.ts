/**
 * Root tokens. With RevokeRootTokens (EdgeX's default) no root token is ever stored: when the flow needs root it
 * regenerates a temporary one from the decrypted shares with `sys/generate-root` (token = base64raw(E) XOR otp) and
 * revokes it at the end with `revoke-self`. Every other root token is found (accessor list + lookup-accessor,
 * policies containing `root`) and revoked, including the one `sys/init` returned.
 */
import { SecretStoreError, isSecretStoreError } from '../errors.js';
import { wipe } from '../crypto.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';
import type { GenerateRootStatus } from '../vault/types.js';
import { settleAll } from '../settle.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** XOR of the decoded token and the OTP: the root token's bytes (the caller wipes them). */
export function decodeGeneratedRoot(encodedToken: string, otp: string): Buffer {
  if (encodedToken === '' || !BASE64.test(encodedToken)) {
    throw new SecretStoreError('ROOT_GENERATION_FAILED', 'the store returned a malformed encoded root token');
  }
  const encoded = Buffer.from(encodedToken, 'base64');
  const pad = Buffer.from(otp, 'utf8');
  try {
    if (encoded.length !== pad.length || encoded.length === 0) {
      throw new SecretStoreError('ROOT_GENERATION_FAILED', 'the generated root token and the one-time pad differ in length');
    }
    const token = Buffer.alloc(encoded.length);
    for (let i = 0; i < encoded.length; i++) token[i] = (encoded[i] ?? 0) ^ (pad[i] ?? 0);
    for (const c of token) {
      if (c < 0x21 || c > 0x7e) {
        token.fill(0);
        throw new SecretStoreError('ROOT_GENERATION_FAILED', 'the generated root token is not printable; the one-time pad does not match');
      }
    }
    return token;
  } finally {
    wipe(encoded, pad);
  }
}

/**
 * Generates a root token from the shares. An attempt already in progress can only be a leftover of an interrupted
 * run (the caller holds the key-file lock), so it is cancelled — otherwise a crash mid-generation would block every
 * later boot. It is found by the start's refusal (Vault, OpenBao and the embedded store answer 400 "root generation
 * already in progress") rather than by reading the attempt's status first: one round trip less on every boot, and
 * any refused start is followed by that status read, so the leftover is recognized by its status, not by a message.
 */
export async function generateRootToken(client: VaultClient, shares: readonly Buffer[], log: Logger): Promise<Buffer> {
  let attempt: GenerateRootStatus;
  try {
    attempt = await client.generateRootStart();
  } catch (err) {
    if (!isSecretStoreError(err, 'STORE_ERROR')) throw err;
    // Anything but a leftover attempt (the store sealed again, a denial): the start's own error is the one to act on.
    const current = await client.generateRootStatus().catch(() => undefined);
    if (current?.started !== true) throw err;
    log.warn('cancelling a root token generation left by an interrupted run', { node: client.address, progress: current.progress });
    await client.generateRootCancel();
    attempt = await client.generateRootStart();
  }
  if (attempt.otp === '' || attempt.nonce === '') {
    throw new SecretStoreError('ROOT_GENERATION_FAILED', `the store at ${client.address} started root generation without a one-time pad or nonce`);
  }
  // The store's threshold of shares goes out at once: the store takes them one at a time (Vault under its state
  // lock, `serve` under its seal mutex) and the one that completes the attempt answers with the encoded token — two
  // round trips fewer on every boot. Should none complete (the store needs more than it said), the rest go one by one.
  const atOnce = Math.min(Math.max(attempt.required, 1), shares.length);
  const answers = await settleAll(shares.slice(0, atOnce).map((share) => client.generateRootUpdate(share, attempt.nonce)));
  let status = answers.find((a) => a.complete) ?? answers.at(-1) ?? attempt;
  for (const share of shares.slice(atOnce)) {
    if (status.complete) break;
    status = await client.generateRootUpdate(share, attempt.nonce);
  }
  if (!status.complete) {
    await client.generateRootCancel().catch(() => undefined);
    throw new SecretStoreError(
      'ROOT_GENERATION_FAILED',
      `root token generation did not complete with the ${shares.length} shares of the key file (store needs ${status.required})`,
    );
  }
  return decodeGeneratedRoot(status.encodedToken, attempt.otp);
}

/** Revokes every root token except `keep`'s; returns how many were revoked. */
export async function revokeOtherRootTokens(client: VaultClient, token: string, log: Logger): Promise<number> {
  const self = await client.lookupSelf(token);
  if (self === undefined) throw new SecretStoreError('ROOT_GENERATION_FAILED', 'the root token in use was rejected by the store');
  const accessors = await client.listAccessors(token);
  let revoked = 0;
  for (const accessor of accessors) {
    if (accessor === self.accessor) continue;
    const info = await client.lookupAccessor(token, accessor);
    if (info?.policies.includes('root') !== true) continue;
    await client.revokeAccessor(token, accessor);
    revoked++;
  }
  log.info('other root tokens revoked', { node: client.address, revoked });
  return revoked;
}
