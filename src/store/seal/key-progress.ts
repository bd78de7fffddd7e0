/**
 * Key shares collected toward a threshold (unseal, generate-root, rekey): a nonce for the attempt, the shares in
 * arrival order, duplicate detection in constant time. The shares are secrets: {@link KeyProgress.take} hands
 * them over for one combine and forgets them; {@link KeyProgress.clear} wipes them.
 */
import { constantTimeEqual, randomUUID, wipe } from '../../crypto.js';

/** Shares submitted so far for one operation. */
export class KeyProgress {
  private parts: Buffer[] = [];
  private currentNonce = '';

  /** The attempt's nonce (a UUID), `""` when nothing is in progress. */
  get nonce(): string {
    return this.currentNonce;
  }

  /** Number of distinct shares held. */
  get count(): number {
    return this.parts.length;
  }

  /** Starts an attempt (new nonce) when none is running. */
  start(): void {
    if (this.currentNonce === '') this.currentNonce = randomUUID();
  }

  /** Whether an equal share is already held (constant-time comparisons). */
  has(share: Buffer): boolean {
    let found = false;
    for (const p of this.parts) found = constantTimeEqual(p, share) || found;
    return found;
  }

  /** Keeps a copy of `share` (the caller wipes its own). */
  add(share: Buffer): void {
    this.parts.push(Buffer.from(share));
  }

  /** The shares, removed from this object (the nonce stays); the caller wipes them. */
  take(): Buffer[] {
    const out = this.parts;
    this.parts = [];
    return out;
  }

  /** Wipes the shares and forgets the nonce. */
  clear(): void {
    wipe(...this.parts);
    this.parts = [];
    this.currentNonce = '';
  }
}
