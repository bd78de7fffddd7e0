/**
 * The request-body fields of the identity endpoints, converted as Vault's framework converts them: `metadata` and
 * `custom_metadata` are `TypeKVPairs` (an object of strings, or a list of `key=value` strings as the CLI sends),
 * `policies` a comma string slice, `disabled` a bool. Only the fields present are returned, so an update changes
 * just what was sent.
 */
import { badRequest } from '../api-error.js';
import type { JsonObject } from '../logical.js';
import { boolField, stringListField } from '../tokens/fields.js';
import type { EntityFields } from './entity-plan.js';

function convError(name: string, value: unknown): Error {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  return badRequest(`error converting input ${shown} for field "${name}"`);
}

/**
 * A `TypeKVPairs` field; undefined when absent or null. Numbers and booleans become strings as Go's weak decoding
 * makes them (`true` → `"1"`); a list item without `=` or with an empty key is refused (`invalid key pair "x"`).
 */
export function kvPairsField(data: JsonObject, name: string): Record<string, string> | undefined {
  const v = data[name];
  if (v === undefined || v === null) return undefined;
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      if (typeof item !== 'string') throw convError(name, v);
      const eq = item.indexOf('=');
      if (eq <= 0) throw badRequest(`invalid key pair ${JSON.stringify(item)}`);
      out[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return out;
  }
  if (typeof v !== 'object') throw convError(name, v);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string') out[k] = x;
    else if (typeof x === 'number') out[k] = String(x);
    else if (typeof x === 'boolean') out[k] = x ? '1' : '0';
    else throw convError(name, v);
  }
  return out;
}

/** `metadata`, `policies` and `disabled` of an entity write, each only when sent. */
export function entityFieldsFromBody(data: JsonObject): EntityFields {
  const fields: EntityFields = {};
  const metadata = kvPairsField(data, 'metadata');
  if (metadata !== undefined) fields.metadata = metadata;
  const policies = stringListField(data, 'policies');
  if (policies !== undefined) fields.policies = policies;
  if (data['disabled'] !== undefined && data['disabled'] !== null) fields.disabled = boolField(data, 'disabled', false);
  return fields;
}
