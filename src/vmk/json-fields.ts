/**
 * Defensive reading of untrusted JSON documents (key files, protected blobs): size cap, parse errors turned into
 * domain errors, and typed field accessors that name the field in their message. Never echoes field values.
 */
import { SecretStoreError, type ErrorCode } from '../errors.js';

/** Largest document parsed (key files are a few kilobytes; protected blobs hold up to 1 MiB of plaintext). */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** A parsed JSON object whose fields are still unchecked. */
export type JsonObject = Record<string, unknown>;

/** Parses `bytes` as one JSON object; anything else throws `code` naming `where`. */
export function parseJsonObject(bytes: Buffer, where: string, code: ErrorCode): JsonObject {
  if (bytes.length > MAX_DOCUMENT_BYTES) throw new SecretStoreError(code, `${where} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    // No `cause`: V8's SyntaxError text quotes the input around the error (a share or a root token in a damaged
    // plaintext file), and a cause chain ends up in logs and inspected errors.
    throw new SecretStoreError(code, `${where} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SecretStoreError(code, `${where} is not a JSON object`);
  }
  return value as JsonObject;
}

/** Throws unless every field of `obj` is in `allowed` (so nothing unknown is silently dropped on rewrite). */
export function onlyFields(obj: JsonObject, allowed: readonly string[], where: string, code: ErrorCode): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new SecretStoreError(code, `${where} has an unexpected field "${key.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')}"; refusing to guess its meaning`);
    }
  }
}

/** `obj[name]` as a string, or throws. */
export function stringField(obj: JsonObject, name: string, where: string, code: ErrorCode): string {
  const v = obj[name];
  if (typeof v !== 'string') throw new SecretStoreError(code, `${where}: "${name}" must be a string`);
  return v;
}

/** `obj[name]` as a whole number, or throws. */
export function integerField(obj: JsonObject, name: string, where: string, code: ErrorCode): number {
  const v = obj[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new SecretStoreError(code, `${where}: "${name}" must be a whole number`);
  return v;
}

/** `obj[name]` as an array of strings (at most `max` items), or throws. */
export function stringArrayField(obj: JsonObject, name: string, where: string, code: ErrorCode, max: number): string[] {
  const v = obj[name];
  if (!Array.isArray(v)) throw new SecretStoreError(code, `${where}: "${name}" must be an array`);
  if (v.length > max) throw new SecretStoreError(code, `${where}: "${name}" has ${v.length} items, more than ${max}`);
  const out: string[] = [];
  for (const item of v as unknown[]) {
    if (typeof item !== 'string') throw new SecretStoreError(code, `${where}: "${name}" must hold only strings`);
    out.push(item);
  }
  return out;
}

/** `obj[name]` as a JSON object, or throws. */
export function objectField(obj: JsonObject, name: string, where: string, code: ErrorCode): JsonObject {
  const v = obj[name];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SecretStoreError(code, `${where}: "${name}" must be an object`);
  return v as JsonObject;
}

/** Serializes a document compactly with one trailing newline, as EdgeX writes its key file. */
export function serializeDocument(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value) + '\n', 'utf8');
}
