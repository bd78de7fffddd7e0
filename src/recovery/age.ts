/**
 * The age (https://age-encryption.org/v1) layer of escrow copies, through the `age-encryption` package (typage):
 * native X25519 recipients (`age1…`) to encrypt, X25519 identities (`AGE-SECRET-KEY-1…`) to decrypt. The files are
 * standard age files: the stock `age -d -i key.txt` CLI decrypts them.
 */
import { Decrypter, Encrypter } from 'age-encryption';
import { SecretStoreError } from '../errors.js';

/** Bech32 X25519 recipient: "age1" + 58 data characters (32-byte key + checksum), lowercase. */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
/** Bech32 X25519 identity: "AGE-SECRET-KEY-1" + 58 characters, uppercase. */
const X25519_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/** Checks that `value` is a native X25519 age recipient (the offline recovery key's public half). */
export function checkRecipient(value: string): void {
  if (!X25519_RECIPIENT.test(value)) {
    const shown = value.length > 80 ? `${value.slice(0, 20)}…` : value;
    throw new SecretStoreError(
      'ESCROW_BAD_RECIPIENT',
      `"${shown.replace(/[^\x20-\x7e]/g, '?')}" is not an X25519 age recipient (age1…); create one offline with age-keygen and pass its public key`,
    );
  }
}

/** Encrypts `plaintext` to every recipient (each can decrypt alone). */
export async function encryptToRecipients(plaintext: Uint8Array, recipients: readonly string[]): Promise<Buffer> {
  if (recipients.length === 0) throw new SecretStoreError('USAGE', 'at least one --recipient is required; see --help');
  const e = new Encrypter();
  for (const r of recipients) {
    checkRecipient(r);
    e.addRecipient(r);
  }
  return Buffer.from(await e.encrypt(plaintext));
}

/**
 * Parses an age identity file (the format age-keygen writes: `#` comments, one `AGE-SECRET-KEY-1…` per line).
 * `where` names the file in messages; the key text itself never appears in one.
 */
export function parseIdentityFile(text: string, where: string): string[] {
  const identities: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!X25519_IDENTITY.test(line)) {
      throw new SecretStoreError('ESCROW_BAD_IDENTITY', `${where} holds a line that is not an X25519 age identity (AGE-SECRET-KEY-1…)`);
    }
    identities.push(line);
  }
  if (identities.length === 0) throw new SecretStoreError('ESCROW_BAD_IDENTITY', `${where} holds no age identity (AGE-SECRET-KEY-1…)`);
  return identities;
}

/** Decrypts an age file with the identities; a file not for them, or altered, is ESCROW_WRONG_IDENTITY / MALFORMED. */
export async function decryptWithIdentities(file: Uint8Array, identities: readonly string[], where: string): Promise<Buffer> {
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  try {
    return Buffer.from(await d.decrypt(file));
  } catch (err) {
    // typage's messages distinguish "no identity matched" from a corrupted file; never echo them (they are ours to
    // phrase), only classify.
    const text = err instanceof Error ? err.message : '';
    if (/no identity matched/i.test(text)) {
      throw new SecretStoreError('ESCROW_WRONG_IDENTITY', `${where} is not encrypted to the given identity; use the recovery key it was escrowed to`, { cause: err });
    }
    throw new SecretStoreError('ESCROW_MALFORMED', `${where} is not a valid age file or was altered; use an intact copy`, { cause: err });
  }
}
