/**
 * Asserts that no secret appears in captured output, in any of the encodings a leak would take — whole or in part:
 * a truncated token or a share prefix in a log line is a leak too, so every run of {@link MIN_LEAK} or more
 * characters of any form is caught.
 */
import assert from 'node:assert/strict';

/** Window compared (characters): 12 hex digits are 48 bits, 12 base64 characters 72 bits — no chance collisions. */
const WINDOW = 12;
/** Windows start every STRIDE characters of a secret's form, so any leaked run of WINDOW + STRIDE − 1 is caught. */
const STRIDE = 4;
/** The shortest leaked run of a secret's form that is always detected. */
export const MIN_LEAK = WINDOW + STRIDE - 1;

/** The forms a secret could leak in: raw text (tokens), hex (both cases), base64 (padded, unpadded, url-safe). */
export function secretForms(secret: Buffer): string[] {
  const b64 = secret.toString('base64');
  const forms = [secret.toString('hex'), secret.toString('hex').toUpperCase(), b64, b64.replace(/=+$/, ''), secret.toString('base64url')];
  // Printable secrets (tokens) also as text.
  if (secret.every((c) => c >= 0x21 && c <= 0x7e)) forms.push(secret.toString('latin1'));
  return forms.filter((f) => f.length >= 16);
}

/** Every WINDOW-character substring of the output's runs of token/hex/base64 characters. */
function windowsOf(text: string): Set<string> {
  const windows = new Set<string>();
  for (const m of text.matchAll(/[A-Za-z0-9+/=_.-]{12,}/g)) {
    const run = m[0];
    for (let i = 0; i + WINDOW <= run.length; i++) windows.add(run.slice(i, i + WINDOW));
  }
  return windows;
}

/** Fails naming the secret's label (never its value) when any part (≥ MIN_LEAK chars) of any form occurs in `outputs`. */
export function assertNoSecrets(outputs: readonly string[], secrets: ReadonlyArray<{ label: string; value: Buffer }>): void {
  const all = outputs.join('\n');
  assert.ok(all.length > 0, 'there is output to scan');
  const windows = windowsOf(all);
  for (const { label, value } of secrets) {
    assert.ok(value.length >= 8, `secret ${label} is long enough to scan for`);
    for (const form of secretForms(value)) {
      for (let i = 0; i + WINDOW <= form.length; i += STRIDE) {
        if (windows.has(form.slice(i, i + WINDOW))) assert.fail(`secret "${label}" (or ${MIN_LEAK}+ characters of it) appears in the output`);
      }
      if (windows.has(form.slice(-WINDOW))) assert.fail(`secret "${label}" (its last ${WINDOW} characters) appears in the output`);
    }
  }
}
