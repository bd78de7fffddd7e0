/**
 * Timestamps as Vault prints them: Go's `time.RFC3339Nano` in UTC (`2018-03-22T02:24:06.945319214Z`, trailing zeros
 * of the fraction trimmed, no fraction at all on a whole second). Our clock has millisecond resolution, with any
 * sub-millisecond part of a fractional millisecond clock value kept as far as a double holds it.
 */

/** Most distinct timestamps remembered by {@link rfc3339Nano}. */
const MEMO_ENTRIES = 4096;

/**
 * Formatted timestamps: a pure function of the number, and every KV v2 read formats the same few stored times
 * (the version's creation and deletion times) again; remembered so hot reads skip `Date` and the string work.
 */
const memo = new Map<number, string>();

/** Formats epoch milliseconds (possibly fractional) as RFC3339Nano in UTC. */
export function rfc3339Nano(ms: number): string {
  let text = memo.get(ms);
  if (text === undefined) {
    text = format(ms);
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    memo.set(ms, text);
  }
  return text;
}

function format(ms: number): string {
  const whole = Math.floor(ms);
  const d = new Date(whole);
  const base = d.toISOString().slice(0, 19);
  const nanos = (whole % 1000) * 1_000_000 + Math.round((ms - whole) * 1_000_000);
  if (nanos === 0) return base + 'Z';
  return `${base}.${String(Math.min(nanos, 999_999_999)).padStart(9, '0').replace(/0+$/, '')}Z`;
}
