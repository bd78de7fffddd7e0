/**
 * Durations as Vault accepts and prints them: `parseutil.ParseDurationSecond` on input (a number or an integer
 * string means seconds; otherwise a Go duration such as `1h30m`, `90s`, `1.5h`, plus `d` for days) and Go's
 * `time.Duration.String()` on output (`0s`, `1h0m0s`, `2m30s`). Used by tokens (ttl, period, explicit_max_ttl),
 * mounts (lease TTLs) and KV v2 (`delete_version_after`).
 */
import { badRequest } from '../api-error.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

/** Longest accepted duration: Go's time.Duration max (~292 years), in seconds. */
const MAX_SECONDS = 9223372036;

/** Parses a Go duration string (`1h30m`, `-5s`, `1.5h`, `3d`) into seconds; undefined when malformed. */
function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)(.+)$/.exec(s);
  if (m === null) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2] ?? '';
  if (body === '0') return 0;
  const re = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h|d)/y;
  let total = 0;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const part = re.exec(body);
    if (part === null) return undefined;
    const num = part[1] ?? '';
    if (num === '' || num === '.') return undefined;
    total += Number(num) * (UNIT_SECONDS[part[2] ?? ''] ?? Number.NaN);
    pos = re.lastIndex;
  }
  if (pos === 0 || !Number.isFinite(total)) return undefined;
  return sign * total;
}

/**
 * Parses a duration field into whole seconds (truncated as Vault's `int64(d.Seconds())`). `undefined`, `null` and
 * `""` give 0. Throws 400 `time: invalid duration "x"` (Go's message) when malformed or out of range.
 */
export function parseDurationSeconds(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  let seconds: number | undefined;
  if (typeof value === 'number') seconds = value;
  else if (typeof value === 'string') {
    const s = value.trim();
    seconds = /^[-+]?[0-9]+$/.test(s) ? Number(s) : parseGoDuration(s);
    if (seconds === undefined) throw badRequest(`time: invalid duration "${value}"`);
  } else throw badRequest(`time: invalid duration "${typeof value}"`);
  if (!Number.isFinite(seconds) || Math.abs(seconds) > MAX_SECONDS) throw badRequest(`time: invalid duration "${String(value)}"`);
  return Math.trunc(seconds);
}

/** Go's `time.Duration.String()` for a whole number of seconds: `0s`, `45s`, `2m30s`, `1h0m0s`, `-1h0m0s`. */
export function goDurationString(seconds: number): string {
  const s = Math.trunc(seconds);
  if (s === 0) return '0s';
  const neg = s < 0;
  let rest = Math.abs(s);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const sec = rest - m * 60;
  let out: string;
  if (h > 0) out = `${h}h${m}m${sec}s`;
  else if (m > 0) out = `${m}m${sec}s`;
  else out = `${sec}s`;
  return neg ? '-' + out : out;
}
