/**
 * Response data shared between requests: deep-frozen objects that never change (KV v2's decoded reads), whose JSON
 * text is therefore computed once and reused, so a hot read serializes only the envelope around it. Objects are
 * registered explicitly (freezing alone is not enough: a frozen object may hold unfrozen ones); entries go with
 * their objects (a WeakMap keeps nothing alive).
 */

const registered = new WeakMap<object, { text: string | undefined }>();

/** Recursively freezes a JSON value (objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Deep-freezes `value` and registers it as shareable response data. */
export function shareFrozen<T extends object>(value: T): T {
  deepFreeze(value);
  if (!registered.has(value)) registered.set(value, { text: undefined });
  return value;
}

/** `JSON.stringify(value)` when `value` was registered with {@link shareFrozen} (computed once); else undefined. */
export function sharedJson(value: object): string | undefined {
  const entry = registered.get(value);
  if (entry === undefined) return undefined;
  entry.text ??= JSON.stringify(value);
  return entry.text;
}
