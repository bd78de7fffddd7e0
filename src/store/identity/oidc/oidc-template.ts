/**
 * Role templates of identity tokens: a JSON object whose `{{...}}` placeholders are filled from the caller's entity
 * in Vault's JSON templating mode (a placeholder becomes the JSON encoding of its value), and whose top-level keys
 * become extra claims. As an extension, a placeholder inside a quoted JSON string is replaced by the value's text,
 * so `"x-{{identity.entity.name}}"` works (Vault would produce broken JSON there and refuse the template).
 */
import { StoreApiError, badRequest } from '../../api-error.js';
import type { AliasRecord, EntityRecord } from '../identity-types.js';
import type { JsonObject } from '../../logical.js';
import { parseDurationSeconds } from '../../tokens/duration.js';

/** Claims a template may not set at the top level (Vault's list and order). */
export const RESERVED_CLAIMS: readonly string[] = Object.freeze([
  'iat',
  'aud',
  'exp',
  'iss',
  'sub',
  'namespace',
  'nonce',
  'auth_time',
  'at_hash',
  'c_hash',
]);

/** The entity fields templates read. */
export type TemplateEntity = Pick<EntityRecord, 'id' | 'name' | 'metadata'> & {
  aliases: readonly Pick<AliasRecord, 'id' | 'name' | 'mount_accessor' | 'metadata' | 'custom_metadata'>[];
};

/** What Vault validates templates against: an entity with every field empty. */
const EMPTY_ENTITY: TemplateEntity = Object.freeze({ id: '', name: '', metadata: {}, aliases: [] });

/** A template that cannot be filled; the message is Vault's (identitytpl) where Vault has one. */
class TemplateError extends Error {}

/** The value of one placeholder. */
type TemplateValue = string | number | readonly string[] | Readonly<Record<string, string>>;

const NOT_FOUND = 'no value could be found for one of the template directives';
const UNBALANCED = 'unbalanced templating characters';

/**
 * The template as given or, when the text is valid standard base64 (padded; line breaks ignored as Go's decoder
 * does), its decoding — Vault tries base64 first. JSON text is never valid base64 (`{` is not in the alphabet).
 */
export function decodeTemplateParam(raw: string): string {
  const compact = raw.replace(/[\r\n]/g, '');
  // Length a multiple of 4, alphabet, at most two `=` at the end: the same language as the grouped pattern
  // `(?:[A-Za-z0-9+/]{4})*(…==|…=)?`, whose backtracking overflows V8's regexp stack on megabytes of input.
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return raw;
  return Buffer.from(compact, 'base64').toString('utf8');
}

function aliasValue(alias: TemplateEntity['aliases'][number], field: string): TemplateValue {
  if (field === 'id') return alias.id;
  if (field === 'name') return alias.name;
  if (field === 'metadata') return alias.metadata;
  if (field.startsWith('metadata.')) return alias.metadata[field.slice('metadata.'.length)] ?? '';
  if (field === 'custom_metadata') return alias.custom_metadata;
  if (field.startsWith('custom_metadata.')) return alias.custom_metadata[field.slice('custom_metadata.'.length)] ?? '';
  throw new TemplateError(NOT_FOUND);
}

function entityValue(entity: TemplateEntity, field: string): TemplateValue {
  if (field === 'id') return entity.id;
  if (field === 'name') return entity.name;
  if (field === 'metadata') return entity.metadata;
  if (field.startsWith('metadata.')) return entity.metadata[field.slice('metadata.'.length)] ?? '';
  // Groups are not implemented: every entity belongs to none.
  if (field === 'groups.names' || field === 'groups.ids') return [];
  if (field.startsWith('aliases.')) {
    const rest = field.slice('aliases.'.length);
    const dot = rest.indexOf('.');
    if (dot === -1) throw new TemplateError('invalid alias selector');
    const accessor = rest.slice(0, dot);
    // A missing alias reads as an empty one (Vault's JSON mode), so its fields are empty values.
    const alias = entity.aliases.find((a) => a.mount_accessor === accessor) ?? { id: '', name: '', mount_accessor: accessor, metadata: {}, custom_metadata: {} };
    return aliasValue(alias, rest.slice(dot + 1));
  }
  throw new TemplateError(NOT_FOUND);
}

function timeValue(selector: string, nowSeconds: number): number {
  const [head, op, operand] = splitTime(selector);
  if (head !== 'now') throw new TemplateError(`invalid time selector "${head ?? ''}"`);
  if (op === undefined) return nowSeconds;
  if (operand === undefined) throw new TemplateError('missing time operand');
  let seconds: number;
  try {
    seconds = parseDurationSeconds(operand);
  } catch (e) {
    if (e instanceof StoreApiError) throw new TemplateError(`invalid duration: ${e.message}`);
    throw e;
  }
  if (op === 'plus') return nowSeconds + seconds;
  if (op === 'minus') return nowSeconds - seconds;
  throw new TemplateError(`invalid time operator "${op}"`);
}

/** Go's `strings.SplitN(s, ".", 3)`. */
function splitTime(selector: string): string[] {
  const parts = selector.split('.');
  return parts.length <= 3 ? parts : [parts[0] ?? '', parts[1] ?? '', parts.slice(2).join('.')];
}

/** The value of one directive (`identity.entity.name`, `time.now.plus.1h`, …). */
function directiveValue(directive: string, entity: TemplateEntity, nowSeconds: number): TemplateValue {
  if (directive.startsWith('identity.entity.')) return entityValue(entity, directive.slice('identity.entity.'.length));
  if (directive.startsWith('identity.groups.')) throw new TemplateError('string contains groups template directives but no groups were provided');
  if (directive.startsWith('time.')) return timeValue(directive.slice('time.'.length), nowSeconds);
  throw new TemplateError(NOT_FOUND);
}

/** A value as JSON text, or (inside a JSON string) as the escaped characters of its text. */
function encodeValue(value: TemplateValue, inString: boolean): string {
  const json = JSON.stringify(value);
  if (!inString) return json;
  if (typeof value === 'string') return json.slice(1, -1);
  if (typeof value === 'number') return json;
  return JSON.stringify(json).slice(1, -1);
}

/**
 * Fills every placeholder of `template`. Tracks whether the scan is inside a JSON string so a placeholder there is
 * substituted as string content. `{{` can never start valid JSON outside a string, so it always opens a placeholder;
 * a bare `}}` closes nested objects and is kept (Vault would reject it as unbalanced).
 */
function fill(template: string, entity: TemplateEntity, nowSeconds: number): string {
  let out = '';
  let inString = false;
  let escaped = false;
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('{{', i)) {
      const end = template.indexOf('}}', i + 2);
      const inner = end === -1 ? '' : template.slice(i + 2, end);
      if (end === -1 || inner.includes('{{')) throw new TemplateError(UNBALANCED);
      out += encodeValue(directiveValue(inner.trim(), entity, nowSeconds), inString);
      i = end + 2;
      continue;
    }
    const ch = template.charAt(i);
    if (escaped) escaped = false;
    else if (inString && ch === '\\') escaped = true;
    else if (ch === '"') inString = !inString;
    out += ch;
    i += 1;
  }
  return out;
}

/**
 * Deepest nesting of a template's JSON, as for request bodies (Vault's `max_json_depth`): the claims are serialized
 * recursively when a token is signed, so a deeper template would exhaust the stack there.
 */
const MAX_TEMPLATE_DEPTH = 500;

/** Whether `text` opens more than `limit` JSON containers at once (outside strings) or closes one it never opened. */
function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      // A closer without an opener is never JSON: refuse it here rather than let the count go negative.
      if (--depth < 0) return true;
    }
  }
  return false;
}

/** Parses filled template text into claims; `null` means none (Go decodes it into a nil map). */
function parseClaims(text: string): JsonObject {
  if (nestingExceeds(text, MAX_TEMPLATE_DEPTH)) throw badRequest('error parsing template JSON: JSON input exceeds allowed nesting depth');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw badRequest(`error parsing template JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('error parsing template JSON: the template must be a JSON object');
  return parsed as JsonObject;
}

/**
 * Checks a role's template on write, as Vault does: filled for an empty entity it must parse to a JSON object with
 * no reserved top-level claim. Throws 400 `error parsing template: …`, `error parsing template JSON: …` or
 * `top level key "iss" not allowed. Restricted keys: …`.
 */
export function validateTemplate(template: string, nowSeconds: number): void {
  if (template === '') return;
  let text: string;
  try {
    text = fill(template, EMPTY_ENTITY, nowSeconds);
  } catch (e) {
    if (e instanceof TemplateError) throw badRequest(`error parsing template: ${e.message}`);
    throw e;
  }
  for (const key of Object.keys(parseClaims(text))) {
    if (RESERVED_CLAIMS.includes(key)) {
      throw badRequest(`top level key "${key}" not allowed. Restricted keys: ${RESERVED_CLAIMS.join(', ')}`);
    }
  }
}

/**
 * The extra claims of a token for `entity`: the filled template's top-level keys, reserved claims left out. A
 * template that no longer fills (it was validated on write, so only a changed directive set could do that) yields no
 * claims rather than no token — Vault logs and issues the token with its standard claims only.
 */
export function templateClaims(template: string, entity: TemplateEntity, nowSeconds: number): JsonObject {
  if (template === '') return {};
  let claims: JsonObject;
  try {
    claims = parseClaims(fill(template, entity, nowSeconds));
  } catch (e) {
    if (e instanceof TemplateError || e instanceof StoreApiError) return {};
    throw e;
  }
  // fromEntries defines own properties, so a `__proto__` claim stays a claim.
  return Object.fromEntries(Object.entries(claims).filter(([k]) => !RESERVED_CLAIMS.includes(k)));
}
