/**
 * The security barrier: a {@link Storage} whose every value is AES-256-GCM encrypted before it reaches the physical
 * backend, in Vault's entry layout `term (4, BE) ‖ 0x02 ‖ nonce (12) ‖ ciphertext ‖ tag (16)` with the storage path
 * as additional authenticated data, so an entry copied to another path, altered, or truncated fails to decrypt.
 * The keyring itself is stored at `core/keyring` in the same layout under term 0, which means "the root key".
 */
import { aesGcmDecrypt, aesGcmEncrypt, constantTimeEqual, GCM_NONCE_LENGTH, GCM_TAG_LENGTH, randomBytes, wipe } from '../crypto.js';
import { SecretStoreError } from '../errors.js';
import { sealedError } from './api-error.js';
import { Keyring, KeyringFormatError } from './keyring.js';
import { writeInOrder, type Storage, type StorageOp } from './storage/storage.js';

/** Physical path of the keyring, encrypted with the root key. */
export const KEYRING_PATH = 'core/keyring';
/** Entry version byte: AES-GCM with the storage path as AAD (Vault's `AESGCMVersion2`). */
export const ENTRY_VERSION_AAD = 0x02;
/** Bytes added to each value: term + version + nonce + tag. */
export const ENTRY_OVERHEAD = 4 + 1 + GCM_NONCE_LENGTH + GCM_TAG_LENGTH;
/** The term number under which the keyring is encrypted with the root key. */
const ROOT_TERM = 0;

/** Paths the barrier never writes through its Storage API: they belong to the seal (plaintext or unseal-key encrypted). */
function isReserved(key: string): boolean {
  return key === KEYRING_PATH || key === 'core/seal-config' || key.startsWith('core/hsm/');
}

/** Encrypts `plaintext` for storage at `path` with the key of `term`. */
export function encryptEntry(key: Buffer, term: number, path: string, plaintext: Buffer): Buffer {
  const nonce = randomBytes(GCM_NONCE_LENGTH);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(term, 0);
  header[4] = ENTRY_VERSION_AAD;
  const { ciphertext, tag } = aesGcmEncrypt(key, nonce, plaintext, Buffer.from(path, 'utf8'));
  return Buffer.concat([header, nonce, ciphertext, tag]);
}

/** The term an entry was encrypted under, or `undefined` when it is too short to be an entry. */
export function entryTerm(entry: Buffer): number | undefined {
  return entry.length < ENTRY_OVERHEAD ? undefined : entry.readUInt32BE(0);
}

/** Decrypts an entry read from `path` with `key`; `undefined` when it does not authenticate. */
export function decryptEntry(key: Buffer, path: string, entry: Buffer): Buffer | undefined {
  if (entry.length < ENTRY_OVERHEAD || entry[4] !== ENTRY_VERSION_AAD) return undefined;
  const nonce = entry.subarray(5, 5 + GCM_NONCE_LENGTH);
  const ciphertext = entry.subarray(5 + GCM_NONCE_LENGTH, entry.length - GCM_TAG_LENGTH);
  const tag = entry.subarray(entry.length - GCM_TAG_LENGTH);
  return aesGcmDecrypt(key, nonce, ciphertext, tag, Buffer.from(path, 'utf8'));
}

/** The one error for an entry that fails authentication: no path, no detail (the path may itself be sensitive). */
function tampered(): SecretStoreError {
  return new SecretStoreError('STORE_CORRUPT', 'a stored entry failed authentication: the data folder was altered or damaged; restore it from a backup');
}

/** A {@link Storage} that encrypts every value with the keyring's active term (AAD = path). Starts sealed. */
export class Barrier implements Storage {
  private readonly physical: Storage;
  private keyring: Keyring | undefined;
  /** Serializes rotations: two at once would both pick term n+1 with different keys. */
  private rotating: Promise<unknown> = Promise.resolve();

  constructor(physical: Storage) {
    this.physical = physical;
  }

  /** True until {@link unseal} or {@link initialize} succeeds, and again after {@link seal}. */
  get sealed(): boolean {
    return this.keyring === undefined;
  }

  /** Whether a keyring exists in physical storage. */
  async initialized(): Promise<boolean> {
    return (await this.physical.get(KEYRING_PATH)) !== undefined;
  }

  /** Creates a new keyring (term 1) under `rootKey`, persists it, and leaves the barrier unsealed. */
  async initialize(rootKey: Buffer): Promise<void> {
    this.seal();
    const kr = Keyring.create(rootKey);
    try {
      await this.persistKeyring(kr);
    } catch (err) {
      kr.wipe();
      throw err;
    }
    this.keyring = kr;
  }

  /** Loads the keyring with `rootKey`. Throws `STORE_CORRUPT` when it does not authenticate or parse. */
  async unseal(rootKey: Buffer): Promise<void> {
    const entry = await this.physical.get(KEYRING_PATH);
    if (entry === undefined) throw new SecretStoreError('STORE_CORRUPT', 'the keyring is missing from the data folder; restore it from a backup');
    if (entryTerm(entry) !== ROOT_TERM) throw tampered();
    const plain = decryptEntry(rootKey, KEYRING_PATH, entry);
    if (plain === undefined) throw tampered();
    try {
      const kr = Keyring.decode(plain);
      if (!constantTimeEqual(kr.rootKey, rootKey)) {
        kr.wipe();
        throw tampered();
      }
      this.seal();
      this.keyring = kr;
    } catch (err) {
      if (err instanceof KeyringFormatError) throw tampered();
      throw err;
    } finally {
      wipe(plain);
    }
  }

  /** Wipes every key from memory. Idempotent. */
  seal(): void {
    this.keyring?.wipe();
    this.keyring = undefined;
  }

  /** Constant-time check that `rootKey` is this barrier's root key (Vault's `VerifyRoot`). Sealed → 503. */
  verifyRoot(rootKey: Buffer): boolean {
    const kr = this.unsealedKeyring();
    return constantTimeEqual(kr.rootKey, rootKey);
  }

  /**
   * Adds a new term that encrypts all later writes (old terms keep decrypting). Returns the new term. The new
   * term is used only after the keyring holding it is durable: writes under a key that a failed persist (or a
   * crash) would lose could never be read again.
   */
  rotate(): Promise<number> {
    const run = this.rotating.then(async () => {
      const kr = this.unsealedKeyring();
      const next = kr.clone();
      try {
        const term = next.rotate();
        await this.persistKeyring(next);
        const installed = next.term(term);
        // Sealed (and wiped) while persisting: the new term is on disk and is loaded at the next unseal.
        if (this.keyring !== kr || installed === undefined) throw sealedError();
        kr.install(installed);
        return term;
      } finally {
        next.wipe();
      }
    });
    this.rotating = run.catch(() => undefined);
    return run;
  }

  /** The active term number (1 after init). */
  get activeTerm(): number {
    return this.unsealedKeyring().activeTerm.term;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const kr = this.unsealedKeyring();
    const entry = await this.physical.get(key);
    // Sealed while the read was in flight: the keyring is wiped; answer 503 as Vault does, not "corrupt".
    if (this.keyring !== kr) throw sealedError();
    if (entry === undefined) return undefined;
    const term = entryTerm(entry);
    const k = term === undefined ? undefined : kr.term(term);
    if (k === undefined) throw tampered();
    const plain = decryptEntry(k.key, key, entry);
    if (plain === undefined) throw tampered();
    return plain;
  }

  async put(key: string, value: Buffer): Promise<void> {
    const kr = this.unsealedKeyring();
    if (isReserved(key)) throw new SecretStoreError('INTERNAL', 'refusing to write a reserved core path through the barrier');
    const t = kr.activeTerm;
    await this.physical.put(key, encryptEntry(t.key, t.term, key, value));
  }

  /** Encrypts every value (AAD = its key) and hands the batch down in order, in one durability wait where the physical storage offers it. */
  async writeOrdered(ops: readonly StorageOp[]): Promise<void> {
    const kr = this.unsealedKeyring();
    for (const [key] of ops) {
      if (isReserved(key)) throw new SecretStoreError('INTERNAL', 'refusing to write a reserved core path through the barrier');
    }
    const t = kr.activeTerm;
    await writeInOrder(
      this.physical,
      ops.map(([key, value]) => [key, value === undefined ? undefined : encryptEntry(t.key, t.term, key, value)] as const),
    );
  }

  async delete(key: string): Promise<void> {
    this.unsealedKeyring();
    if (isReserved(key)) throw new SecretStoreError('INTERNAL', 'refusing to delete a reserved core path through the barrier');
    await this.physical.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    this.unsealedKeyring();
    return this.physical.list(prefix);
  }

  private unsealedKeyring(): Keyring {
    if (this.keyring === undefined) throw sealedError();
    return this.keyring;
  }

  private async persistKeyring(kr: Keyring): Promise<void> {
    const plain = kr.encode();
    try {
      await this.physical.put(KEYRING_PATH, encryptEntry(kr.rootKey, ROOT_TERM, KEYRING_PATH, plain));
    } finally {
      wipe(plain);
    }
  }
}
