/** The secret-free description of a key file that `keys inspect`, `status` and the boot flow show. */
import type { ParsedKeyFile } from './format.js';
import type { KeyFileFormat } from './secrets.js';

/** A secret-free description of a key file. */
export interface KeyFileSummary {
  path: string;
  format: KeyFileFormat;
  encrypted: boolean;
  shareCount: number;
  threshold?: number;
  hasRootToken: boolean;
  rootTokenEncrypted: boolean;
  /** The salt the file needs is there (always true for v2, which embeds it; false for plaintext, which needs none). */
  saltPresent: boolean;
  /** Which EdgeX info label decrypted an edgex file (known only after decryption). */
  edgexLabel?: 'secretstore' | 'vault';
  /** An interrupted salt replacement left `<saltFile>.pending` (edgex format); the next read with the IKM finishes it. */
  saltPending?: boolean;
}

/** Summarizes a parsed file; `saltPresent`/`saltPending` only matter for the edgex format. */
export function summarize(path: string, parsed: ParsedKeyFile, saltPresent: boolean, saltPending: boolean): KeyFileSummary {
  switch (parsed.format) {
    case 'plaintext':
      return {
        path,
        format: 'plaintext',
        encrypted: false,
        shareCount: parsed.contents.shares.length,
        hasRootToken: parsed.contents.rootToken !== undefined,
        rootTokenEncrypted: false,
        saltPresent: false,
      };
    case 'edgex': {
      const s: KeyFileSummary = {
        path,
        format: 'edgex',
        encrypted: true,
        shareCount: parsed.doc.encryptedKeys.length,
        hasRootToken: parsed.doc.rootToken !== undefined,
        rootTokenEncrypted: false,
        saltPresent,
      };
      if (saltPending) s.saltPending = true;
      return s;
    }
    case 'v2': {
      const s: KeyFileSummary = {
        path,
        format: 'v2',
        encrypted: true,
        shareCount: parsed.doc.shareCount,
        hasRootToken: parsed.doc.rootToken !== undefined,
        rootTokenEncrypted: parsed.doc.rootToken !== undefined,
        saltPresent: true,
      };
      if (parsed.doc.threshold !== undefined) s.threshold = parsed.doc.threshold;
      return s;
    }
  }
}
