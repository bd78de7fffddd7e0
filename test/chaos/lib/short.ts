/** Helpers of the short chaos tests (test/chaos/*.test.ts). */
import { groupFailures, type PartResult } from './util.js';

/** The failed oracles of a part, one per line (with the first reproduction), for an assertion message. */
export function describeFailures(r: PartResult): string {
  return groupFailures(r.failures)
    .map(({ failure, count }) => `[${failure.oracle}] ×${count}: ${failure.detail}${failure.repro === undefined ? '' : `\n    repro: ${failure.repro}`}`)
    .join('\n');
}
