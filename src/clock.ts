/**
 * The boot path's stopwatch. `performance.now()` would do, but the global `performance` is created on first use, and
 * creating it loads Node's perf_hooks modules (about ten): on Node 24, together with what a boot loads anyway, that
 * added ~3 ms and ~3 MiB to a process whose whole point is to start fast (docs/packaging.md, "Start-up").
 */

/** Milliseconds on a monotonic clock (only differences mean anything). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
