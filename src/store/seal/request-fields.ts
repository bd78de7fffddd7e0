/**
 * Reading fields of the sys/* JSON bodies the way Vault's Go handlers do: `encoding/json` matches field names
 * case-insensitively (the last matching key wins), and a value of the wrong JSON type is a 400 whose message
 * mimics Go's unmarshal error. Absent fields take Go's zero value.
 */
import { StoreApiError } from '../api-error.js';

/** The value of `name` in `body`, matching key names case-insensitively; the last match wins (as Go's decoder). */
export function field(body: Record<string, unknown>, name: string): unknown {
  let out: unknown = undefined;
  const want = name.toLowerCase();
  for (const k of Object.keys(body)) if (k.toLowerCase() === want) out = body[k];
  return out;
}

function jsonTypeName(v: unknown): string {
  if (typeof v === 'number') return `number ${String(v)}`;
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return 'object';
}

function typeError(struct: string, name: string, v: unknown, goType: string): StoreApiError {
  return new StoreApiError(
    400,
    `failed to parse JSON input: json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ${struct}.${name} of type ${goType}`,
  );
}

/** A string field (`""` when absent or null). */
export function stringField(body: Record<string, unknown>, struct: string, name: string): string {
  const v = field(body, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw typeError(struct, name, v, 'string');
  return v;
}

/** A boolean field (`false` when absent or null). */
export function boolField(body: Record<string, unknown>, struct: string, name: string): boolean {
  const v = field(body, name);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw typeError(struct, name, v, 'bool');
  return v;
}

/** An integer field (`0` when absent or null); fractions and out-of-range numbers are rejected like Go's `int`. */
export function intField(body: Record<string, unknown>, struct: string, name: string): number {
  const v = field(body, name);
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw typeError(struct, name, v, 'int');
  return v;
}

/** A string-array field (`[]` when absent or null). */
export function stringArrayField(body: Record<string, unknown>, struct: string, name: string): string[] {
  const v = field(body, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw typeError(struct, name, v, '[]string');
  const out: string[] = [];
  for (const item of v as unknown[]) {
    if (typeof item !== 'string') throw typeError(struct, name, item, 'string');
    out.push(item);
  }
  return out;
}
