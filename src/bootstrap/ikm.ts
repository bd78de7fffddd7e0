/**
 * The IKM as the boot flow needs it: fetched from the hook lazily — only when a key file must be decrypted or
 * encrypted — at most once per run, and wiped when the run ends. No hook configured means no encryption (as EdgeX).
 */
import { wipe } from '../crypto.js';
import type { IkmSource } from '../vmk/ikm-hook.js';

/** A run-scoped holder of the IKM. */
export class LazyIkm {
  private readonly source: IkmSource | undefined;
  private ikm: Buffer | undefined;
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
      const started = performance.now();
      this.ikm = await this.source.getIkm();
      this.fetchMs = performance.now() - started;
    }
    return this.ikm;
  }

  /** Wipes the IKM copy (and the source's cache when it offers `wipe`). Safe to call more than once. */
  wipe(): void {
    wipe(this.ikm);
    this.ikm = undefined;
    wipeIkmSource(this.source);
  }
}

/** Erases a source's cached IKM when it keeps one (HookIkmSource does; the IkmSource interface does not require it). */
export function wipeIkmSource(source: IkmSource | undefined): void {
  const s = source as { wipe?: () => void } | undefined;
  if (typeof s?.wipe === 'function') s.wipe();
}
