/**
 * Typed access to request-body fields, with the conversions Vault's framework performs (`"true"` for a bool,
 * `"5"` for an int, `"a,b"` for a string slice) and a 400 for anything else — so a handler never trusts the shape
 * of a JSON body.
 */
import { badRequest } from '../api-error.js';
import type { JsonObject } from '../logical.js';

function convError(name: string, value: unknown): Error {
  // Values come from parsed JSON, so JSON.stringify always yields a string here.
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  return badRequest(`error converting input ${shown} for field "${name}"`);
}

/** A string field (numbers and booleans are converted, as Vault does); `fallback` when absent or null. */
export function stringField(data: JsonObject, name: string, fallback = ''): string {
  const v = data[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw convError(name, v);
}

/** A boolean field (Go's strconv.ParseBool spellings accepted for strings); `fallback` when absent or null. */
export function boolField(data: JsonObject, name: string, fallback: boolean): boolean {
  const v = data[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  }
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  throw convError(name, v);
}

/** An integer field (a JSON integer or an integer string); `fallback` when absent or null. */
export function intField(data: JsonObject, name: string, fallback: number): number {
  const v = data[name];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^[-+]?[0-9]{1,15}$/.test(v.trim())) return Number(v.trim());
  throw convError(name, v);
}

/** A string-slice field: a JSON array of strings or a comma-separated string (Vault's TypeCommaStringSlice). */
export function stringListField(data: JsonObject, name: string): string[] | undefined {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' ? [] : v.split(',').map((s) => s.trim());
  if (Array.isArray(v)) {
    return v.map((x) => {
      if (typeof x === 'string') return x;
      if (typeof x === 'number') return String(x);
      throw convError(name, v);
    });
  }
  throw convError(name, v);
}

/** A map-of-strings field (`meta`, `custom_metadata`); undefined when absent or null. */
export function stringMapField(data: JsonObject, name: string): Record<string, string> | undefined {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw convError(name, v);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw convError(name, v);
    out[k] = x;
  }
  return out;
}

/** An integer-slice field: JSON numbers, integer strings, or a comma-separated string (TypeCommaIntSlice). */
export function intListField(data: JsonObject, name: string): number[] {
  const v = data[name];
  if (v === undefined || v === null) return [];
  const items: unknown[] = typeof v === 'string' ? (v === '' ? [] : v.split(',')) : Array.isArray(v) ? v : [v];
  return items.map((x) => {
    if (typeof x === 'number' && Number.isSafeInteger(x)) return x;
    if (typeof x === 'string' && /^[-+]?[0-9]{1,15}$/.test(x.trim())) return Number(x.trim());
    throw convError(name, v);
  });
}
