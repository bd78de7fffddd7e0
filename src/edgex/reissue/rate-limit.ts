/**
 * Sliding-window limits on token re-issues: at most `perEntity` per entity and `overall` in all within any window of
 * `windowMs`. Only admitted requests are counted, so the memory held is bounded by `overall` timestamps and at most
 * `overall` entities (older entries are swept out).
 */

/** Settings of a {@link ReissueRateLimiter}. */
export interface ReissueRateLimitOptions {
  /** Re-issues allowed per entity per window (default 6). */
  perEntity?: number;
  /** Re-issues allowed in all per window (default 60). */
  overall?: number;
  /** The window, in milliseconds (default 60 000: "per minute"). */
  windowMs?: number;
  /** The clock, in milliseconds (default `Date.now`; tests inject one). */
  now?: () => number;
}

/** The verdict on one request. */
export type RateDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** Which limit was reached. */
      scope: 'entity' | 'overall';
      /** Whole seconds until a request would be admitted again (at least 1): the `Retry-After` value. */
      retryAfterSeconds: number;
    };

/** Default re-issues per entity per minute. */
export const DEFAULT_PER_ENTITY_PER_MINUTE = 6;
/** Default re-issues in all per minute. */
export const DEFAULT_OVERALL_PER_MINUTE = 60;

function positiveInt(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${String(v)}`);
  return v;
}

/** Counts admitted re-issues per entity and in all over a sliding window. */
export class ReissueRateLimiter {
  /** Re-issues allowed per entity per window. */
  readonly perEntity: number;
  /** Re-issues allowed in all per window. */
  readonly overall: number;
  /** The window in milliseconds. */
  readonly windowMs: number;
  private readonly now: () => number;
  /** Admission times of every re-issue still in the window, oldest first. */
  private readonly all: number[] = [];
  /** Admission times per entity, oldest first. */
  private readonly byEntity = new Map<string, number[]>();

  constructor(options: ReissueRateLimitOptions = {}) {
    this.perEntity = positiveInt(options.perEntity, DEFAULT_PER_ENTITY_PER_MINUTE, 'the per-entity re-issue limit');
    this.overall = positiveInt(options.overall, DEFAULT_OVERALL_PER_MINUTE, 'the overall re-issue limit');
    this.windowMs = positiveInt(options.windowMs, 60_000, 'the rate-limit window');
    this.now = options.now ?? Date.now;
  }

  /** How many entities have re-issues in the window (for tests). */
  get trackedEntities(): number {
    return this.byEntity.size;
  }

  /** Decides on a re-issue for `entityId` and, when it is allowed, counts it. */
  take(entityId: string): RateDecision {
    const now = this.now();
    const cutoff = now - this.windowMs;
    while (this.all.length > 0 && (this.all[0] ?? 0) <= cutoff) this.all.shift();
    if (this.byEntity.size > this.overall) this.sweep(cutoff);
    const mine = this.byEntity.get(entityId) ?? [];
    while (mine.length > 0 && (mine[0] ?? 0) <= cutoff) mine.shift();
    if (mine.length >= this.perEntity) return this.refuse('entity', mine[0] ?? now, now);
    if (this.all.length >= this.overall) return this.refuse('overall', this.all[0] ?? now, now);
    mine.push(now);
    this.all.push(now);
    this.byEntity.set(entityId, mine);
    return { allowed: true };
  }

  private refuse(scope: 'entity' | 'overall', oldest: number, now: number): RateDecision {
    const waitMs = oldest + this.windowMs - now;
    return { allowed: false, scope, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /** Drops the entities whose last re-issue left the window. */
  private sweep(cutoff: number): void {
    for (const [id, times] of this.byEntity) {
      if ((times[times.length - 1] ?? 0) <= cutoff) this.byEntity.delete(id);
    }
  }
}
