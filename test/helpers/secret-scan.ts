/** Asserts that no secret appears in captured output, in any of the encodings a leak would take. */
import assert from 'node:assert/strict';

/** The forms a secret could leak in: raw text (tokens), hex (both cases), base64 (padded, unpadded, url-safe). */
export function secretForms(secret: Buffer): string[] {
  const b64 = secret.toString('base64');
  const forms = [secret.toString('hex'), secret.toString('hex').toUpperCase(), b64, b64.replace(/=+$/, ''), secret.toString('base64url')];
  // Printable secrets (tokens) also as text.
  if (secret.every((c) => c >= 0x21 && c <= 0x7e)) forms.push(secret.toString('latin1'));
  return forms.filter((f) => f.length >= 16);
}

/** Fails naming the secret's label (never its value) when any form of any secret occurs in `outputs`. */
export function assertNoSecrets(outputs: readonly string[], secrets: ReadonlyArray<{ label: string; value: Buffer }>): void {
  const all = outputs.join('\n');
  assert.ok(all.length > 0, 'there is output to scan');
  for (const { label, value } of secrets) {
    assert.ok(value.length >= 8, `secret ${label} is long enough to scan for`);
    for (const form of secretForms(value)) {
      if (all.includes(form)) assert.fail(`secret "${label}" appears in the output`);
    }
  }
}
