/**
 * Login throttling per client address, so that guessing passwords over the network is slow even before the slow
 * hash. The policy:
 *
 * - Every login attempt with a password is counted against the client's IP address (the socket's address; no proxy
 *   header is trusted). Clients whose address is unknown share one bucket.
 * - The first 5 failures are free. Once an address has 5 or more failures on record, every further attempt from it
 *   — right or wrong, so the delay itself reveals nothing — waits 250 ms × 2^(failures − 5) before its password is
 *   checked: 250 ms, 500 ms, 1 s, 2 s, 4 s, 8 s, then 10 s at most.
 * - Attempts from an address beyond its free budget are checked one at a time, so parallel requests cannot sidestep
 *   the delay (a burst of logins with no failures is only serialized, never delayed).
 * - A successful login clears the address's count. A failure count is forgotten 15 minutes after the address's
 *   most recent failure.
 * - At most 10,000 addresses are tracked; when a new one arrives beyond that, the least recently seen is dropped,
 *   so a flood from many addresses cannot exhaust memory.
 *
 * The clock and the sleep function are injectable for tests.
 */
import { setTimeout as sleepMs } from 'node:timers/promises';
import { normalizeAddress } from '../cidr.js';

/** Options of {@link LoginThrottle}; every field has the documented default. */
export interface LoginThrottleOptions {
  /** Clock in epoch milliseconds (default Date.now). */
  now?: () => number;
  /** Waits `ms` milliseconds (default a timer). */
  sleep?: (ms: number) => Promise<void>;
  /** Failures allowed before attempts are delayed (default 5). */
  freeFailures?: number;
  /** How long a failure count is kept after the address's latest failure, in ms (default 15 minutes). */
  windowMs?: number;
  /** The first delay, in ms (default 250). */
  baseDelayMs?: number;
  /** The longest delay, in ms (default 10,000). */
  maxDelayMs?: number;
  /** Most addresses tracked (default 10,000). */
  maxAddresses?: number;
}

/** One admitted login attempt; {@link finish} must be called exactly once, with the outcome. */
export interface LoginAttempt {
  /** Records the outcome: `true` for a login that yields a token, `false` for any refusal. */
  finish(success: boolean): void;
}

/** What is kept per address. */
interface Bucket {
  /** The bucket's key in the table. */
  key: string;
  failures: number;
  lastFailure: number;
  /** Attempts admitted and not yet finished. */
  inFlight: number;
  /** Attempts waiting for their turn. */
  queued: number;
  /** Settles when the most recently queued attempt finishes: the next queued attempt waits for it. */
  tail: Promise<void>;
}

/** The key of a client address: canonical IP text, or one shared key for unknown or unparseable addresses. */
function bucketKey(address: string | undefined): string {
  if (address === undefined) return '';
  return normalizeAddress(address) ?? '';
}

/** Per-address login throttling (see the module documentation for the policy). */
export class LoginThrottle {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly freeFailures: number;
  private readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAddresses: number;
  /** Insertion order is recency order: a bucket is re-inserted whenever its address is seen. */
  private readonly buckets = new Map<string, Bucket>();

  /** A throttle with the documented policy; options override single numbers (tests). */
  constructor(options: LoginThrottleOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => sleepMs(ms));
    this.freeFailures = options.freeFailures ?? 5;
    this.windowMs = options.windowMs ?? 15 * 60 * 1000;
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
  }

  /** Number of addresses currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** The failures on record for `address` (0 once forgotten). */
  failures(address: string | undefined): number {
    const b = this.buckets.get(bucketKey(address));
    if (b === undefined) return 0;
    this.expire(b);
    return b.failures;
  }

  /** The delay, in ms, the next attempt from `address` waits before its check (0 while failures are free). */
  delayMs(address: string | undefined): number {
    return this.delayFor(this.failures(address));
  }

  /**
   * Admits one login attempt from `address`, after its delay and its turn when the address is throttled. The
   * caller checks the password only after this resolves, then calls `finish` exactly once (in a `finally`).
   */
  async begin(address: string | undefined): Promise<LoginAttempt> {
    const b = this.bucket(bucketKey(address));
    this.expire(b);
    if (b.queued === 0 && b.failures + b.inFlight < this.freeFailures) {
      b.inFlight++;
      return this.attempt(b, () => undefined);
    }
    b.queued++;
    const previous = b.tail;
    let done: () => void = () => undefined;
    b.tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await previous;
      this.expire(b);
      const delay = this.delayFor(b.failures);
      if (delay > 0) await this.sleep(delay);
    } catch (e) {
      // Only an injected sleep can throw; the queue must still move on.
      b.queued--;
      done();
      throw e;
    }
    b.queued--;
    b.inFlight++;
    return this.attempt(b, done);
  }

  /** 250 ms × 2^(failures − 5), capped; 0 below the free budget. */
  private delayFor(failures: number): number {
    if (failures < this.freeFailures) return 0;
    const exponent = Math.min(failures - this.freeFailures, 30);
    return Math.min(this.baseDelayMs * 2 ** exponent, this.maxDelayMs);
  }

  /** Forgets the count of a bucket whose latest failure is older than the window. */
  private expire(b: Bucket): void {
    if (b.failures > 0 && this.now() - b.lastFailure >= this.windowMs) b.failures = 0;
  }

  /** The bucket of `key`, created when new, moved to the recent end, the oldest dropped beyond the bound. */
  private bucket(key: string): Bucket {
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { key, failures: 0, lastFailure: 0, inFlight: 0, queued: 0, tail: Promise.resolve() };
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxAddresses) {
      const oldest = this.buckets.keys().next();
      if (oldest.done === true) break;
      // Attempts still holding a dropped bucket finish on it harmlessly; it is simply no longer found.
      this.buckets.delete(oldest.value);
    }
    return b;
  }

  /** The handle of an admitted attempt; `release` lets the next queued attempt go. */
  private attempt(b: Bucket, release: () => void): LoginAttempt {
    let finished = false;
    return {
      finish: (success: boolean): void => {
        if (finished) return;
        finished = true;
        b.inFlight--;
        if (success) {
          b.failures = 0;
        } else {
          this.expire(b);
          b.failures++;
          b.lastFailure = this.now();
        }
        this.dropIfIdle(b);
        release();
      },
    };
  }

  /** Removes a bucket with nothing on record and nothing running, so successful clients leave no trace. */
  private dropIfIdle(b: Bucket): void {
    if (b.failures !== 0 || b.inFlight !== 0 || b.queued !== 0) return;
    // An evicted bucket may have been replaced by a newer one for the same address: only the current one goes.
    if (this.buckets.get(b.key) === b) this.buckets.delete(b.key);
  }
}
