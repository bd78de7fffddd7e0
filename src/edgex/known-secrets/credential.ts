/**
 * A known secret's value — a user name and a password — with the password kept in a Buffer that can be wiped, and
 * the one way it is turned into text: a double-quoted string written straight into a byte buffer, valid both as a
 * JSON string (the KV request body) and as a YAML double-quoted scalar (the eKuiper files), so no JavaScript string
 * of a password is made on the way out.
 */
import { isUtf8 } from 'node:buffer';
import { constantTimeEqual, wipe } from '../../crypto.js';
import { SecretStoreError } from '../../errors.js';

/** A user name and its password (UTF-8 bytes; the owner wipes them with {@link wipeCredential}). */
export interface UserPassword {
  username: string;
  password: Buffer;
}

const HEX = '0123456789abcdef';

/** `\uXXXX` for a code point below 0x10000, as ASCII bytes. */
function unicodeEscape(codePoint: number): number[] {
  const out = [0x5c, 0x75];
  for (const shift of [12, 8, 4, 0]) out.push(HEX.charCodeAt((codePoint >> shift) & 15));
  return out;
}

/**
 * `"…"`: `text` (valid UTF-8) as a double-quoted string. `"` and `\` are backslash-escaped; control characters
 * (C0, DEL, C1), U+2028, U+2029, U+FEFF, U+FFFE and U+FFFF become `\uXXXX` — YAML (libyaml, used by eKuiper) treats
 * U+0085/U+2028/U+2029 as line breaks and C1 or non-characters as unprintable, JSON allows the escapes — and every
 * other character is copied as is. Throws INTERNAL for invalid UTF-8 (callers validate first). The caller wipes the
 * result when `text` is secret.
 */
export function quotedBytes(text: Uint8Array): Buffer {
  if (!isUtf8(text)) throw new SecretStoreError('INTERNAL', 'a credential is not valid UTF-8 text');
  const out: number[] = [0x22];
  try {
    for (let i = 0; i < text.length; i++) {
      const b = text[i] ?? 0;
      const b1 = text[i + 1] ?? 0;
      const b2 = text[i + 2] ?? 0;
      if (b === 0x22 || b === 0x5c) {
        out.push(0x5c, b);
      } else if (b < 0x20 || b === 0x7f) {
        out.push(...unicodeEscape(b));
      } else if (b === 0xc2 && b1 >= 0x80 && b1 <= 0x9f) {
        out.push(...unicodeEscape(b1)); // C1 controls U+0080..U+009F (NEL included)
        i += 1;
      } else if (b === 0xe2 && b1 === 0x80 && (b2 === 0xa8 || b2 === 0xa9)) {
        out.push(...unicodeEscape(0x2000 | (b2 - 0x80))); // U+2028, U+2029
        i += 2;
      } else if (b === 0xef && ((b1 === 0xbb && b2 === 0xbf) || (b1 === 0xbf && (b2 === 0xbe || b2 === 0xbf)))) {
        out.push(...unicodeEscape(((b & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f))); // U+FEFF, U+FFFE, U+FFFF
        i += 2;
      } else {
        out.push(b);
      }
    }
    out.push(0x22);
    return Buffer.from(out);
  } finally {
    out.fill(0);
  }
}

/** `{"username":"…","password":"…"}` as bytes (the KV v1 write body); the caller wipes it. */
export function credentialJson(credential: UserPassword): Buffer {
  const user = quotedBytes(Buffer.from(credential.username, 'utf8'));
  const password = quotedBytes(credential.password);
  try {
    return Buffer.concat([Buffer.from('{"username":'), user, Buffer.from(',"password":'), password, Buffer.from('}')]);
  } finally {
    wipe(password);
  }
}

/** True when both credentials have the same user name and password (the password compared in constant time). */
export function sameCredential(a: UserPassword, b: UserPassword): boolean {
  return constantTimeEqual(a.password, b.password) && a.username === b.username;
}

/** A copy whose password Buffer is independent of the original's. */
export function copyCredential(credential: UserPassword): UserPassword {
  return { username: credential.username, password: Buffer.from(credential.password) };
}

/** Overwrites the password bytes with zeros. */
export function wipeCredential(credential: UserPassword | undefined): void {
  wipe(credential?.password);
}
