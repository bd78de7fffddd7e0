/** Request-body helpers shared by the OIDC endpoints (on top of the store's typed fields). */
import type { JsonObject } from '../../logical.js';
import { parseDurationSeconds } from '../../tokens/duration.js';

/** Whether a request body carries a field (a JSON `null` counts as absent, as Vault's `GetOk` treats it). */
export function has(data: JsonObject, name: string): boolean {
  return data[name] !== undefined && data[name] !== null;
}

/**
 * A duration field in whole seconds (a number of seconds or a Go duration such as `24h`), `fallback` when absent —
 * so an update changes only the durations it sends.
 */
export function durationField(data: JsonObject, name: string, fallback: number): number {
  return has(data, name) ? parseDurationSeconds(data[name]) : fallback;
}
