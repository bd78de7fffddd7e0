/**
 * Protecting other secrets at rest (a TLS private key, a credentials file) with the same IKM as the key shares:
 * `protect FILE` replaces the file by a purpose-bound protected document (src/vmk/protected-blob.ts), `unprotect FILE`
 * restores it. Both write atomically with mode 0600 and leave the file untouched on any failure. The purpose is
 * `--purpose` or derived from the file name, so a document protected for one use is refused for another (e.g. the
 * store's `serve --tls-key` expects purpose `tls-key`).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { SecretStoreError, describeCause } from '../errors.js';
import { wipe } from '../crypto.js';
import type { IkmSource } from '../vmk/ikm-hook.js';
import { isProtectedBlob, protectBlob, unprotectBlob } from '../vmk/protected-blob.js';
import { removeDeadWritersTemps, writeFileAtomic } from '../keyfile/atomic-write.js';
import { wipeIkmSource } from '../bootstrap/ikm.js';

/** Largest file accepted (protected documents hold at most 1 MiB of plaintext). */
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

/** The purpose label derived from a file name: lower case, characters outside `a-z0-9._-` replaced by `-`. */
export function purposeFromFileName(path: string): string {
  const name = basename(path)
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64);
  if (name === '') throw new SecretStoreError('USAGE', `cannot derive a purpose from the file name "${basename(path)}"; pass --purpose`);
  return name;
}

/** Options of {@link protectFile} and {@link unprotectFile}. */
export interface ProtectOptions {
  /** The file to read. */
  file: string;
  /** Where to write (default: replace `file`). */
  out?: string;
  /** Purpose label (default: from the file name). */
  purpose?: string;
  ikmSource: IkmSource;
}

/** What was done. */
export interface ProtectResult {
  out: string;
  purpose: string;
  bytes: number;
}

async function readInput(file: string): Promise<Buffer> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new SecretStoreError('IO', `${file} is not a regular file`);
    if (info.size > MAX_INPUT_BYTES) throw new SecretStoreError('USAGE', `${file} is larger than ${MAX_INPUT_BYTES} bytes`);
    return await readFile(file);
  } catch (err) {
    if (err instanceof SecretStoreError) throw err;
    throw new SecretStoreError('IO', `cannot read ${file} (${describeCause(err)})`);
  }
}

/** Runs `fn` with the IKM, then wipes it and the source's cached copy (needed for this one file only). */
async function withIkm<T>(source: IkmSource, fn: (ikm: Buffer) => Promise<T>): Promise<T> {
  let ikm: Buffer | undefined;
  try {
    ikm = await source.getIkm();
    return await fn(ikm);
  } finally {
    wipe(ikm);
    wipeIkmSource(source);
  }
}

/** Encrypts `file` for its purpose and writes the protected document atomically (0600). */
export async function protectFile(options: ProtectOptions): Promise<ProtectResult> {
  const purpose = options.purpose ?? purposeFromFileName(options.file);
  const plaintext = await readInput(options.file);
  try {
    if (isProtectedBlob(plaintext)) {
      throw new SecretStoreError('USAGE', `${options.file} is already protected; nothing was changed`);
    }
    const document = await withIkm(options.ikmSource, (ikm) => {
      const doc = protectBlob(ikm, purpose, plaintext);
      // Decrypt back before replacing the only copy of the secret.
      const check = unprotectBlob(ikm, purpose, doc);
      const same = check.equals(plaintext);
      wipe(check);
      if (!same) throw new SecretStoreError('KEYFILE_VERIFY_FAILED', `protecting ${options.file} did not read back; nothing was changed`);
      return Promise.resolve(doc);
    });
    const out = options.out ?? options.file;
    // A protect killed between its temp file and the rename leaves that temp file; the rerun removes it.
    removeDeadWritersTemps(out);
    writeFileAtomic(out, document, 0o600);
    return { out, purpose, bytes: plaintext.length };
  } finally {
    wipe(plaintext);
  }
}

/** Decrypts a protected `file` and writes the plaintext atomically (0600). */
export async function unprotectFile(options: ProtectOptions): Promise<ProtectResult> {
  const purpose = options.purpose ?? purposeFromFileName(options.file);
  const document = await readInput(options.file);
  if (!isProtectedBlob(document)) {
    throw new SecretStoreError('PROTECTED_FILE_MALFORMED', `${options.file} is not a protected file; nothing was changed`);
  }
  const plaintext = await withIkm(options.ikmSource, (ikm) => Promise.resolve(unprotectBlob(ikm, purpose, document)));
  try {
    const out = options.out ?? options.file;
    removeDeadWritersTemps(out);
    writeFileAtomic(out, plaintext, 0o600);
    return { out, purpose, bytes: plaintext.length };
  } finally {
    wipe(plaintext);
  }
}
