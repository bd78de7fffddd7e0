/**
 * Vault's `framework.CalculateTTL`: the TTL a token gets at creation or renewal, bounded by the system max TTL, the
 * token's explicit max TTL (counted from its issue time), and, for periodic tokens, reset to the period on each
 * renewal (only the explicit max bounds a periodic token). Times are truncated to whole seconds as in Vault.
 */

/** Inputs, all durations in seconds and instants in epoch milliseconds. */
export interface TtlInput {
  /** Requested increment (renewal); 0 when none. */
  increment: number;
  /** The token's own TTL (creation TTL); 0 when none. */
  backendTtl: number;
  period: number;
  explicitMax: number;
  /** When the lease was issued. */
  startMs: number;
  nowMs: number;
  defaultTtl: number;
  maxTtl: number;
}

/** The computed TTL, Vault's warnings, and an error message when the lease is past its max TTL. */
export interface TtlResult {
  ttl: number;
  warnings: string[];
  error?: string;
}

/** See the module comment. */
export function calculateTtl(input: TtlInput): TtlResult {
  const warnings: string[] = [];
  const now = Math.floor(input.nowMs / 1000);
  const start = Math.floor(input.startMs / 1000);
  let maxTtl = input.maxTtl;
  if (input.explicitMax > 0 && input.explicitMax < maxTtl) maxTtl = input.explicitMax;
  if (maxTtl <= 0) return { ttl: 0, warnings, error: 'max TTL must be greater than zero' };
  let ttl: number;
  let maxValid: number | undefined;
  if (input.period > 0) {
    let period = input.period;
    if (period > maxTtl) {
      warnings.push(`period of "${period}s" exceeded the effective max_ttl of "${maxTtl}s"; period value is capped accordingly`);
      period = maxTtl;
    }
    ttl = period;
    if (input.explicitMax > 0) maxValid = start + input.explicitMax;
  } else {
    ttl = input.increment > 0 ? input.increment : input.backendTtl > 0 ? input.backendTtl : input.defaultTtl;
    maxValid = start + maxTtl;
  }
  if (maxValid !== undefined) {
    const maxValidTtl = maxValid - now;
    if (maxValidTtl < 0) return { ttl: 0, warnings, error: 'past the max TTL, cannot renew' };
    if (maxValidTtl < ttl) {
      warnings.push(`TTL of "${ttl}s" exceeded the effective max_ttl of "${maxValidTtl}s"; TTL value is capped accordingly`);
      ttl = maxValidTtl;
    }
  }
  return { ttl, warnings };
}
