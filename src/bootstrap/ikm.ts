/**
 * The IKM as the boot flow needs it: fetched from the hook lazily — only when a key file must be decrypted or
 * encrypted — at most once per run, and wiped when the run ends. No hook configured means no encryption (as EdgeX).
 * The flow may {@link LazyIkm.prefetch start} the hook before it asks for the IKM, once it knows it will ask (the
 * hook then runs beside the flow's other work instead of on its critical path); it still runs at most once.
 */
import { SecretStoreError } from '../errors.js';
import { wipe } from '../crypto.js';
import type { IkmSource } from '../vmk/ikm-hook.js';
import { monotonicMs } from '../clock.js';

/** A run-scoped holder of the IKM. */
export class LazyIkm {
  private readonly source: IkmSource | undefined;
  private ikm: Buffer | undefined;
  private pending: Promise<Buffer> | undefined;
  private wiped = false;
  private fetchMs: number | undefined;

  constructor(source: IkmSource | undefined) {
    this.source = source;
  }

  /** True when a hook is configured (encryption on). */
  get configured(): boolean {
    return this.source !== undefined;
  }

  /** What the source is (for log lines): the hook's path, never the IKM. */
  get description(): string {
    return this.source?.description ?? 'no IKM hook';
  }

  /** Milliseconds the hook took, once it has run. */
  get hookMs(): number | undefined {
    return this.fetchMs;
  }

  /** The IKM (owned by this holder: callers must not wipe or keep it), or `undefined` when no hook is set. */
  async get(): Promise<Buffer | undefined> {
    if (this.source === undefined) return undefined;
    if (this.ikm === undefined) {
      const ikm = await this.start();
      // wipe() may have run while the hook was running (the run ended): the copy must not outlive it.
      if (this.wiped) {
        wipe(ikm);
        throw new SecretStoreError('HOOK_ALREADY_USED', `the IKM from ${this.description} was already erased at the end of this run`);
      }
      this.ikm ??= ikm;
      if (this.ikm !== ikm) wipe(ikm);
    }
    return this.ikm;
  }

  /**
   * Starts the hook now without waiting for it (nothing when no hook is set or it has run already). Only for a run
   * that will ask for the IKM in any case: a hook may release its IKM only a limited number of times per boot, so a
   * release must never be spent on a guess. A failure is kept for the {@link get} that follows (and never reported
   * as an unhandled rejection when no `get` follows, e.g. when the run failed otherwise).
   */
  prefetch(): void {
    if (this.source === undefined || this.ikm !== undefined || this.wiped) return;
    this.start().catch(() => undefined);
  }

  private start(): Promise<Buffer> {
    if (this.pending === undefined) {
      const source = this.source;
      if (source === undefined) return Promise.reject(new SecretStoreError('INTERNAL', 'no IKM source'));
      const started = monotonicMs();
      this.pending = source.getIkm().then((ikm) => {
        this.fetchMs = monotonicMs() - started;
        return ikm;
      });
    }
    return this.pending;
  }

  /** Wipes the IKM copy (and the source's cache when it offers `wipe`). Safe to call more than once. */
  wipe(): void {
    this.wiped = true;
    wipe(this.ikm);
    this.ikm = undefined;
    // A hook still running (a prefetch the run did not wait for): its IKM is wiped when it arrives.
    this.pending?.then(
      (ikm) => {
        wipe(ikm);
      },
      () => undefined,
    );
    wipeIkmSource(this.source);
  }
}

/** Erases a source's cached IKM when it keeps one (HookIkmSource does; the IkmSource interface does not require it). */
export function wipeIkmSource(source: IkmSource | undefined): void {
  const s = source as { wipe?: () => void } | undefined;
  if (typeof s?.wipe === 'function') s.wipe();
}
