/**
 * The barrier's keyring: the root key plus the data-encryption keys by term (Vault's `Keyring`). Term 1 is created
 * at init; a rotation adds term n+1 and makes it the one that encrypts writes, while older terms still decrypt old
 * entries. Serialized in a small binary format (not JSON) so key bytes never become JavaScript strings, and stored
 * only encrypted with the root key (see {@link Barrier}).
 */
import { AES_KEY_LENGTH, randomBytes, wipe } from '../crypto.js';

/** One data-encryption key of the keyring. */
export interface KeyTerm {
  /** 1, 2, …: written in the first 4 bytes of every entry it encrypts. */
  readonly term: number;
  /** 32-byte AES-256-GCM key. */
  readonly key: Buffer;
  /** Unix time in milliseconds when the term was installed. */
  readonly installTime: number;
}

const MAGIC = Buffer.from('SSKR', 'ascii');
const FORMAT_VERSION = 1;
const HEADER = MAGIC.length + 1 + 4 + AES_KEY_LENGTH + 4;
const TERM_RECORD = 4 + 8 + AES_KEY_LENGTH;
/** Terms a keyring may hold; far above any realistic number of rotations, and bounds decoding work. */
const MAX_TERMS = 100_000;

/** Thrown when a serialized keyring is malformed (only possible after a successful GCM check: a bug or bad code). */
export class KeyringFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringFormatError';
  }
}

/** The root key and the data keys by term. Call {@link Keyring.wipe} when sealing. */
export class Keyring {
  private readonly root: Buffer;
  private readonly terms = new Map<number, KeyTerm>();
  private active = 0;

  private constructor(rootKey: Buffer) {
    if (rootKey.length !== AES_KEY_LENGTH) throw new KeyringFormatError('root key must be 32 bytes');
    this.root = Buffer.from(rootKey);
  }

  /** A new keyring holding a copy of `rootKey` and a fresh random term-1 key. */
  static create(rootKey: Buffer, now = Date.now()): Keyring {
    const kr = new Keyring(rootKey);
    kr.addTerm(1, randomBytes(AES_KEY_LENGTH), now);
    return kr;
  }

  /** Parses {@link Keyring.encode}'s output; validates every length and count exactly. */
  static decode(bytes: Buffer): Keyring {
    if (bytes.length < HEADER || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw new KeyringFormatError('keyring: bad header');
    let off = MAGIC.length;
    if (bytes[off] !== FORMAT_VERSION) throw new KeyringFormatError('keyring: unsupported version');
    off += 1;
    const active = bytes.readUInt32BE(off);
    off += 4;
    const kr = new Keyring(bytes.subarray(off, off + AES_KEY_LENGTH));
    off += AES_KEY_LENGTH;
    const count = bytes.readUInt32BE(off);
    off += 4;
    if (count < 1 || count > MAX_TERMS || bytes.length !== HEADER + count * TERM_RECORD) {
      kr.wipe();
      throw new KeyringFormatError('keyring: bad term count');
    }
    for (let i = 0; i < count; i++) {
      const term = bytes.readUInt32BE(off);
      const installTime = Number(bytes.readBigUInt64BE(off + 4));
      const key = Buffer.from(bytes.subarray(off + 12, off + 12 + AES_KEY_LENGTH));
      off += TERM_RECORD;
      if (term < 1 || kr.terms.has(term)) {
        wipe(key);
        kr.wipe();
        throw new KeyringFormatError('keyring: bad term');
      }
      kr.terms.set(term, { term, key, installTime });
    }
    if (!kr.terms.has(active)) {
      kr.wipe();
      throw new KeyringFormatError('keyring: active term missing');
    }
    kr.active = active;
    return kr;
  }

  /** Binary form: `SSKR ‖ 0x01 ‖ active(4) ‖ root(32) ‖ count(4) ‖ {term(4) ‖ installTime(8) ‖ key(32)}*`. Wipe it after use. */
  encode(): Buffer {
    const list = [...this.terms.values()].sort((a, b) => a.term - b.term);
    const out = Buffer.alloc(HEADER + list.length * TERM_RECORD);
    let off = MAGIC.copy(out, 0);
    out[off++] = FORMAT_VERSION;
    off = out.writeUInt32BE(this.active, off);
    off += this.root.copy(out, off);
    off = out.writeUInt32BE(list.length, off);
    for (const t of list) {
      off = out.writeUInt32BE(t.term, off);
      off = out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(t.installTime))), off);
      off += t.key.copy(out, off);
    }
    return out;
  }

  /** The root key (the keyring's own buffer: do not keep or modify it). */
  get rootKey(): Buffer {
    return this.root;
  }

  /** The term that encrypts new writes. */
  get activeTerm(): KeyTerm {
    const t = this.terms.get(this.active);
    if (t === undefined) throw new KeyringFormatError('keyring is wiped');
    return t;
  }

  /** The key of `term`, or `undefined` when this keyring never had it. */
  term(term: number): KeyTerm | undefined {
    return this.terms.get(term);
  }

  /** Number of terms held. */
  get size(): number {
    return this.terms.size;
  }

  /** Adds a fresh random key as term active+1 and makes it active (key rotation). Returns the new term. */
  rotate(now = Date.now()): number {
    const next = Math.max(...this.terms.keys()) + 1;
    this.addTerm(next, randomBytes(AES_KEY_LENGTH), now);
    return next;
  }

  /** An independent copy (every key copied): rotate the copy, persist it, then {@link Keyring.install} its new term. */
  clone(): Keyring {
    const kr = new Keyring(this.root);
    for (const t of this.terms.values()) kr.terms.set(t.term, { term: t.term, key: Buffer.from(t.key), installTime: t.installTime });
    kr.active = this.active;
    return kr;
  }

  /** Adds a copy of `t` (taken from a persisted clone) and makes it active when it is the newest term. */
  install(t: KeyTerm): void {
    if (this.terms.has(t.term)) throw new KeyringFormatError('keyring: term already installed');
    this.terms.set(t.term, { term: t.term, key: Buffer.from(t.key), installTime: t.installTime });
    if (t.term > this.active) this.active = t.term;
  }

  /** Overwrites every key with zeros; the keyring is unusable afterwards. */
  wipe(): void {
    wipe(this.root);
    for (const t of this.terms.values()) wipe(t.key);
    this.terms.clear();
    this.active = 0;
  }

  private addTerm(term: number, key: Buffer, installTime: number): void {
    this.terms.set(term, { term, key, installTime });
    this.active = term;
  }
}
