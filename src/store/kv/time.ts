/**
 * Timestamps as Vault prints them: Go's `time.RFC3339Nano` in UTC (`2018-03-22T02:24:06.945319214Z`, trailing zeros
 * of the fraction trimmed, no fraction at all on a whole second). Our clock has millisecond resolution, with any
 * sub-millisecond part of a fractional millisecond clock value kept as far as a double holds it.
 */

/** Formats epoch milliseconds (possibly fractional) as RFC3339Nano in UTC. */
export function rfc3339Nano(ms: number): string {
  const whole = Math.floor(ms);
  const d = new Date(whole);
  const base = d.toISOString().slice(0, 19);
  const nanos = (whole % 1000) * 1_000_000 + Math.round((ms - whole) * 1_000_000);
  if (nanos === 0) return base + 'Z';
  return `${base}.${String(Math.min(nanos, 999_999_999)).padStart(9, '0').replace(/0+$/, '')}Z`;
}
