/**
 * What a key file keeps, as Buffers: the unseal key shares, the threshold (v2 only) and an optional root token.
 * Shared by the reader, the writer and the write verification; wipe with {@link wipeInitSecrets}.
 */
import { constantTimeEqual, wipe } from '../crypto.js';
import { sharesEqual } from '../vmk/shares.js';
import type { ParsedKeyFile } from './format.js';

/** What `sys/init` returned and the key file keeps. Buffers are secrets: wipe them with {@link wipeInitSecrets}. */
export interface InitSecrets {
  shares: Buffer[];
  threshold?: number;
  rootToken?: Buffer;
}

/** The three on-disk formats. */
export type KeyFileFormat = 'plaintext' | 'edgex' | 'v2';

/** Wipes every secret buffer of `secrets`. */
export function wipeInitSecrets(secrets: InitSecrets | undefined): void {
  if (secrets === undefined) return;
  wipe(...secrets.shares, secrets.rootToken);
}

/**
 * The secrets a parsed file holds without decryption: the plaintext format's shares and token, or the plaintext
 * root token EdgeX may have left beside encrypted shares (with `shares` to be filled by the caller). The buffers are
 * the parsed file's own (not copies).
 */
export function plaintextSecrets(parsed: ParsedKeyFile & { format: 'plaintext' }): InitSecrets {
  const secrets: InitSecrets = { shares: parsed.contents.shares };
  if (parsed.contents.rootToken !== undefined) secrets.rootToken = parsed.contents.rootToken;
  return secrets;
}

/**
 * Constant-time equality of two secret sets: same shares in order, same root token (or both none), and, when
 * `withThreshold`, the same threshold (only the v2 format records one).
 */
export function initSecretsEqual(a: InitSecrets, b: InitSecrets, withThreshold: boolean): boolean {
  let same = sharesEqual(a.shares, b.shares);
  if (a.rootToken === undefined || b.rootToken === undefined) same = a.rootToken === b.rootToken && same;
  else same = constantTimeEqual(a.rootToken, b.rootToken) && same;
  return (!withThreshold || a.threshold === b.threshold) && same;
}
