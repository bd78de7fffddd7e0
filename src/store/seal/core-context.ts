/** What the generate-root and rekey operations need from the seal state machine (kept narrow on purpose). */
import type { Barrier } from '../barrier.js';
import type { Storage } from '../storage/storage.js';
import type { SealConfig } from './seal-config.js';

/** The seal state machine as seen by its sub-operations. */
export interface SealCore {
  /** The physical backend (seal config and stored keys live there, outside the barrier). */
  readonly physical: Storage;
  /** The barrier; sealed whenever the core is. */
  readonly barrier: Barrier;
  /** The seal configuration, `undefined` when not initialized. */
  sealConfig(): SealConfig | undefined;
  /** Replaces the cached seal configuration after it was persisted (rekey). */
  setSealConfig(config: SealConfig): void;
  /** True when sealed (always true when not initialized). */
  isSealed(): boolean;
}
