/**
 * Builds JSON request bodies that carry a secret (an unseal key share) straight into a Buffer, hex-encoding the
 * secret byte by byte so that no JavaScript string of it is ever made (strings cannot be wiped). The caller wipes
 * the returned Buffer once the request is sent.
 */

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Lower-case hex of `secret` as ASCII bytes in a fresh Buffer (the caller wipes it). */
export function hexBytes(secret: Uint8Array): Buffer {
  const out = Buffer.alloc(secret.length * 2);
  for (let i = 0; i < secret.length; i++) {
    const b = secret[i] ?? 0;
    out[2 * i] = HEX[b >> 4] ?? 0;
    out[2 * i + 1] = HEX[b & 15] ?? 0;
  }
  return out;
}

/**
 * `{...fields, "<name>": "<hex of secret>"}` as a Buffer. `fields` hold only non-secret values; they are
 * serialized with JSON.stringify, the secret is spliced in as hex bytes.
 */
export function jsonWithSecretHex(fields: Record<string, string | number | boolean>, name: string, secret: Uint8Array): Buffer {
  const head = JSON.stringify(fields);
  const open = Buffer.from(`${head.slice(0, -1)}${head === '{}' ? '' : ','}${JSON.stringify(name)}:"`, 'utf8');
  const hex = hexBytes(secret);
  try {
    return Buffer.concat([open, hex, Buffer.from('"}', 'utf8')]);
  } finally {
    hex.fill(0);
  }
}
