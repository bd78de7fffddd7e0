/**
 * Chaos part `fuzz-properties` (with `fuzz-http`, the part `fuzz`): fast-check properties of every parser of
 * untrusted key material, CHAOS_PROPERTY_RUNS (10 000) runs each (the hook's, which starts a process per run, runs
 * in CHAOS_PROPERTY_LANES (4) concurrent fast-check runs with their own seeds).
 *
 *   keyfile.parse        parseKeyFile (src/keyfile/format.ts: detection, plaintext.ts, envelope-v2/-edgex parsers) on
 *                        arbitrary bytes, arbitrary JSON and near-miss documents: returns or throws SecretStoreError
 *   v2.tamper            any change to a valid v2 key file (bytes, fields, whitespace, order, case) is refused by
 *                        parse + decrypt (the originals decrypt, and another IKM is KEYFILE_WRONG_IKM)
 *   edgex.tamper         a changed edgex document or salt never decrypts to other shares than the original
 *   plaintext.shares     an accepted plaintext file's shares pass the share rules and keys/keys_base64 agree
 *   keyfile.disk         readKeyFile (keyfile.ts, salt.ts, the lock) on a folder with a mutated key file, salt and
 *                        pending salt: SecretStoreError or exactly the original shares
 *   hex                  hexProblem/decodeHexBytes/decodeHexString agree with a reference decoder, never throw
 *   base64.strict        decodeBase64Strict accepts exactly canonical padded base64
 *   protected.tamper     unprotectBlob: a changed protected document is refused (canonical + AEAD)
 *   escrow.parse         parseEscrow on arbitrary and mutated documents: SecretStoreError, or shares equal to `keys`
 *   lock.garbage         acquireFileLock over a lock file holding arbitrary bytes or owners: takes it or refuses
 *                        with KEYFILE_LOCKED, never another error
 *   hook.output          runIkmHook with a hook printing generated stdout/stderr and exit codes: accepted exactly
 *                        when stdout is 32..1024 bytes of hex with at most one trailing \n, the IKM is the decoded
 *                        bytes, errors are SecretStoreError and never quote 16+ hex digits of the hook's stderr
 */
import fc from 'fast-check';
import { mkdir, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { SecretStoreError } from '../../src/errors.js';
import { parseKeyFile } from '../../src/keyfile/format.js';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { decodeBase64Strict } from '../../src/keyfile/plaintext.js';
import { acquireFileLock } from '../../src/keyfile/lock.js';
import { encryptV2, decryptV2 } from '../../src/vmk/envelope-v2.js';
import { encryptEdgexShares, serializeEdgexDocument, decryptEdgexShares } from '../../src/vmk/envelope-edgex.js';
import { decodeHexBytes, decodeHexString, hexProblem } from '../../src/vmk/hex.js';
import { runIkmHook } from '../../src/vmk/ikm-hook.js';
import { protectBlob, unprotectBlob } from '../../src/vmk/protected-blob.js';
import { parseEscrow, serializeEscrow } from '../../src/recovery/escrow-format.js';
import { mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { removeTempDir } from '../helpers/tmp.js';
import { Report, Rng, envInt, excerpt, onCleanup, runAsMain, seedFromEnv, type PartResult } from './lib/util.js';

export interface PropertyOptions {
  runs: number;
  hookRuns: number;
  lanes: number;
  seed: number;
  only: string[];
}

export function optionsFromEnv(): PropertyOptions {
  const runs = envInt('CHAOS_PROPERTY_RUNS', 10_000);
  return {
    runs,
    hookRuns: envInt('CHAOS_PROPERTY_HOOK_RUNS', runs),
    lanes: Math.max(1, envInt('CHAOS_PROPERTY_LANES', 4)),
    seed: seedFromEnv(),
    only: (process.env.CHAOS_PROPERTY_ONLY ?? '').split(',').filter((s) => s !== ''),
  };
}

/** Runs `fn`; a throw that is not a SecretStoreError fails the property with its class and message. */
function domainOnly<T>(fn: () => T): T | SecretStoreError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SecretStoreError) return err;
    throw new Error(`non-SecretStoreError ${(err as Error).name}: ${excerpt((err as Error).message, 160)}`, { cause: err });
  }
}

async function domainOnlyAsync<T>(fn: () => Promise<T>): Promise<T | SecretStoreError> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SecretStoreError) return err;
    throw new Error(`non-SecretStoreError ${(err as Error).name}: ${excerpt((err as Error).message, 160)}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations

/** One random byte-level or JSON-level change of a document (driven by a seed, so fast-check can replay it). */
export function mutate(doc: Buffer, seed: number, count: number): Buffer {
  const rng = new Rng(seed);
  let out = Buffer.from(doc);
  for (let i = 0; i < count; i++) {
    const kind = rng.int(0, 11);
    const pos = out.length === 0 ? 0 : rng.int(0, out.length - 1);
    switch (kind) {
      case 0: // flip a bit
        if (out.length > 0) out[pos] = (out[pos] ?? 0) ^ (1 << rng.int(0, 7));
        break;
      case 1: // set a byte
        if (out.length > 0) out[pos] = rng.int(0, 255);
        break;
      case 2: // insert a byte
        out = Buffer.concat([out.subarray(0, pos), Buffer.from([rng.pick([0x20, 0x0a, 0x30, 0x61, 0x22, 0x2c, 0x7b, rng.int(0, 255)])]), out.subarray(pos)]);
        break;
      case 3: // delete a byte
        out = Buffer.concat([out.subarray(0, pos), out.subarray(pos + 1)]);
        break;
      case 4: // truncate
        out = out.subarray(0, pos);
        break;
      case 5: // swap two hex digits (same length, plausible)
        if (out.length > 1) {
          const j = rng.int(0, out.length - 1);
          const a = out[pos] ?? 0;
          out[pos] = out[j] ?? 0;
          out[j] = a;
        }
        break;
      case 6: // change case of a run (hex upper-casing)
        for (let k = pos; k < Math.min(out.length, pos + rng.int(1, 64)); k++) {
          const c = out[k] ?? 0;
          if (c >= 0x61 && c <= 0x66) out[k] = c - 0x20;
        }
        break;
      default: {
        // JSON-level change, when the document still parses.
        let obj: unknown;
        try {
          obj = JSON.parse(out.toString('utf8'));
        } catch {
          out = Buffer.concat([out, Buffer.from(' ')]);
          break;
        }
        out = Buffer.from(mutateJson(obj, rng), 'utf8');
      }
    }
  }
  return out;
}

function mutateJson(obj: unknown, rng: Rng): string {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]): void => {
    paths.push(p);
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...p, i]);
      });
    }
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(obj, []);
  const path = rng.pick(paths);
  const parentPath = path.slice(0, -1);
  const key = path.at(-1);
  let parent: unknown = obj;
  for (const k of parentPath) parent = (parent as Record<string | number, unknown>)[k];
  const get = (): unknown => (key === undefined ? obj : (parent as Record<string | number, unknown>)[key]);
  const set = (v: unknown): void => {
    if (key === undefined) obj = v;
    else (parent as Record<string | number, unknown>)[key] = v;
  };
  const v = get();
  const choice = rng.int(0, 9);
  if (typeof v === 'string') {
    const s = v;
    const i = s.length === 0 ? 0 : rng.int(0, s.length - 1);
    const variants = [
      s.slice(0, i) + rng.pick(['0', 'f', 'F', 'g', ' ', '\n', 'é']) + s.slice(i + 1),
      s.toUpperCase(),
      s.slice(0, -2),
      `${s}00`,
      '',
      s.split('').reverse().join(''),
      `0x${s}`,
      ` ${s}`,
    ];
    set(rng.pick(variants));
  } else if (typeof v === 'number') {
    set(rng.pick([v + 1, v - 1, 0, -1, 2 ** 53, 1.5, String(v), null]));
  } else if (Array.isArray(v)) {
    const a = [...(v as unknown[])];
    if (choice < 3 && a.length > 1) {
      const j = rng.int(1, a.length - 1);
      [a[0], a[j]] = [a[j], a[0]];
    } else if (choice < 6 && a.length > 0) a.splice(rng.int(0, a.length - 1), 1);
    else a.push(a[0] ?? 'x');
    set(a);
  } else if (typeof v === 'object' && v !== null) {
    const o = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(o);
    if (choice < 3 && keys.length > 0) Reflect.deleteProperty(o, rng.pick(keys));
    else if (choice < 6) o[rng.pick(['extra', 'format', 'version', 'root_token', 'threshold', 'keys'])] = rng.pick([1, 'x', null, [], {}]);
    else {
      // Reorder.
      const r: Record<string, unknown> = {};
      for (const k of [...keys].reverse()) r[k] = o[k];
      set(r);
      return rng.chance(0.5) ? JSON.stringify(obj) + '\n' : JSON.stringify(obj, null, 1);
    }
    set(o);
  } else {
    set(rng.pick([0, 'x', [], {}, true]));
  }
  return rng.chance(0.8) ? JSON.stringify(obj) + '\n' : JSON.stringify(obj, null, rng.pick([1, 2, '\t']));
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

interface Fixture {
  ikm: Buffer;
  shares: Buffer[];
  threshold?: number;
  rootToken?: Buffer;
  v2: Buffer;
  edgex: Buffer;
  salt: Buffer;
}

function fixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const [count, length, threshold, root] of [
    [5, 33, 3, false],
    [1, 32, undefined, false],
    [3, 33, 2, true],
    [2, 16, 2, false],
    [7, 33, undefined, true],
    [255, 17, 100, false],
  ] as const) {
    const ikm = randomBytes(32);
    const shares = Array.from({ length: count }, () => randomBytes(length));
    const rootToken = root ? Buffer.from(`hvs.${randomBytes(18).toString('base64url')}`) : undefined;
    const v2 = encryptV2(ikm, { shares, ...(threshold === undefined ? {} : { threshold }), ...(rootToken === undefined ? {} : { rootToken }) });
    const salt = randomBytes(32);
    const edgex = serializeEdgexDocument(encryptEdgexShares(ikm, salt, shares));
    out.push({ ikm, shares, v2, edgex, salt, ...(threshold === undefined ? {} : { threshold }), ...(rootToken === undefined ? {} : { rootToken }) });
  }
  return out;
}

function sameShares(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((s, i) => b[i]?.equals(s) === true);
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

interface Prop {
  name: string;
  runs: number;
  /** fast-check runs split over this many concurrent asserts (different seeds). */
  lanes: number;
  make: () => fc.IPropertyWithHooks<unknown> | fc.IAsyncPropertyWithHooks<unknown>;
}

const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v))),
);

/** The fixtures themselves: each v2 file decrypts with its IKM, and another IKM is KEYFILE_WRONG_IKM. */
function checkFixtures(fx: Fixture[]): void {
  for (const f of fx) {
    const p = parseKeyFile(Buffer.from(f.v2), 'k');
    if (p.format !== 'v2') throw new Error('fixture is not v2');
    if (!sameShares(decryptV2(f.ikm, p.doc, 'k').shares, f.shares)) throw new Error('a v2 fixture does not decrypt');
    const wrong = domainOnly(() => decryptV2(randomBytes(32), p.doc, 'k'));
    if (!(wrong instanceof SecretStoreError) || wrong.code !== 'KEYFILE_WRONG_IKM') throw new Error('another IKM is not KEYFILE_WRONG_IKM');
  }
}

function properties(o: PropertyOptions, fx: Fixture[], dir: string, hook: string): Prop[] {
  const fixtureArb = fc.integer({ min: 0, max: fx.length - 1 }).map((i) => fx[i] as Fixture);
  const mutation = fc.tuple(fc.integer(), fc.integer({ min: 1, max: 4 }));
  const nearMiss = fc.tuple(fixtureArb, mutation, fc.constantFrom('v2', 'edgex', 'plaintext')).map(([f, [seed, n], kind]) => {
    const base =
      kind === 'v2'
        ? f.v2
        : kind === 'edgex'
          ? f.edgex
          : Buffer.from(JSON.stringify({ keys: f.shares.map((s) => s.toString('hex')), keys_base64: f.shares.map((s) => s.toString('base64')), root_token: 'hvs.x' }) + '\n');
    return mutate(base, seed, n);
  });
  const props: Prop[] = [
    {
      name: 'keyfile.parse',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.property(fc.oneof(anyBytes, nearMiss), (bytes) => {
          domainOnly(() => parseKeyFile(Buffer.from(bytes), 'resp-init.json'));
          return true;
        }),
    },
    {
      name: 'v2.tamper',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.property(fixtureArb, mutation, (f, [seed, n]) => {
          const bytes = mutate(f.v2, seed, n);
          if (bytes.equals(f.v2)) return true;
          const r = domainOnly(() => {
            const p = parseKeyFile(bytes, 'k');
            if (p.format !== 'v2') throw new SecretStoreError('KEYFILE_UNSUPPORTED', 'not v2 any more');
            return decryptV2(f.ikm, p.doc, 'k');
          });
          if (!(r instanceof SecretStoreError)) throw new Error(`a tampered v2 file was accepted (${r.shares.length} shares, same: ${String(sameShares(r.shares, f.shares))})`);
          return true;
        }),
    },
    {
      name: 'edgex.tamper',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.property(fixtureArb, mutation, fc.constantFrom('doc', 'salt', 'both'), (f, [seed, n], what) => {
          const bytes = what === 'salt' ? Buffer.from(f.edgex) : mutate(f.edgex, seed, n);
          const salt = what === 'doc' ? f.salt : mutate(f.salt, seed ^ 0x5a5a, n);
          const r = domainOnly(() => {
            const p = parseKeyFile(bytes, 'k');
            if (p.format === 'plaintext') return { shares: p.contents.shares, plaintext: true };
            if (p.format !== 'edgex') throw new SecretStoreError('KEYFILE_UNSUPPORTED', 'not edgex any more');
            return { shares: decryptEdgexShares(f.ikm, [salt], p.doc, 'k').shares, plaintext: false };
          });
          if (r instanceof SecretStoreError || r.plaintext) return true;
          if (!sameShares(r.shares, f.shares)) throw new Error('a tampered edgex file or salt decrypted to other shares');
          return true;
        }),
    },
    {
      name: 'plaintext.shares',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.property(
          fc.record(
            {
              keys: fc.array(fc.oneof(fc.uint8Array({ minLength: 14, maxLength: 35 }).map((a) => Buffer.from(a).toString('hex')), fc.string()), { maxLength: 6 }),
              keys_base64: fc.array(fc.oneof(fc.uint8Array({ minLength: 14, maxLength: 35 }).map((a) => Buffer.from(a).toString('base64')), fc.string()), { maxLength: 6 }),
              root_token: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
              recovery_keys: fc.oneof(fc.constant([]), fc.array(fc.string(), { maxLength: 2 })),
            },
            { requiredKeys: [] },
          ),
          (obj) => {
            const r = domainOnly(() => parseKeyFile(Buffer.from(JSON.stringify(obj)), 'k'));
            if (r instanceof SecretStoreError) return true;
            if (r.format !== 'plaintext') return true;
            const shares = r.contents.shares;
            if (shares.length < 1 || shares.length > 255) throw new Error('accepted a share count out of range');
            const len = shares[0]?.length ?? 0;
            if (len < 16 || len > 33 || shares.some((s) => s.length !== len)) throw new Error('accepted shares of bad or mixed length');
            if (new Set(shares.map((s) => s.toString('hex'))).size !== shares.length) throw new Error('accepted repeated shares');
            if (obj.keys !== undefined && obj.keys_base64 !== undefined) {
              const fromB64 = obj.keys_base64.map((b) => Buffer.from(b, 'base64').toString('hex'));
              if (fromB64.join() !== shares.map((s) => s.toString('hex')).join()) throw new Error('keys and keys_base64 disagree but the file was accepted');
            }
            return true;
          },
        ),
    },
    {
      name: 'keyfile.disk',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.asyncProperty(fixtureArb, mutation, fc.constantFrom('v2', 'edgex'), fc.constantFrom('none', 'doc', 'salt', 'pending', 'no-salt', 'short-salt'), async (f, [seed, n], format, what) => {
          const d = join(dir, 'disk');
          await rm(d, { recursive: true, force: true });
          await mkdir(d, { mode: 0o700 });
          const doc = format === 'v2' ? f.v2 : f.edgex;
          await writeFile(join(d, 'resp-init.json'), what === 'doc' ? mutate(doc, seed, n) : doc, { mode: 0o600 });
          if (format === 'edgex' && what !== 'no-salt') {
            await writeFile(join(d, 'kdf-salt.dat'), what === 'salt' ? mutate(f.salt, seed, n) : what === 'short-salt' ? f.salt.subarray(0, 31) : f.salt, { mode: 0o600 });
          }
          if (what === 'pending') await writeFile(join(d, 'kdf-salt.dat.pending'), mutate(f.salt, seed, n), { mode: 0o600 });
          const r = await domainOnlyAsync(() => readKeyFile({ dir: d }, f.ikm));
          if (r instanceof SecretStoreError) {
            if (what === 'none') throw new Error(`a valid ${format} key file was refused: ${r.code}`);
            return true;
          }
          if (r.summary.format !== 'plaintext' && !sameShares(r.secrets.shares, f.shares)) throw new Error(`readKeyFile returned other shares (${format}, ${what})`);
          return true;
        }),
    },
    {
      name: 'hex',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
            fc.stringMatching(/^(0x)?[0-9a-fA-F \r\n\t]{0,70}$/).map((s) => Buffer.from(s, 'latin1')),
          ),
          fc.boolean(),
          (digits, lower) => {
            const text = digits.toString('latin1');
            const valid = digits.length > 0 && digits.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text);
            const problem = domainOnly(() => hexProblem(digits));
            if ((problem === undefined) !== valid) throw new Error(`hexProblem says ${String(problem)} for a ${valid ? 'valid' : 'invalid'} input`);
            const bytes = domainOnly(() => decodeHexBytes(digits));
            if (valid !== (bytes !== undefined)) throw new Error('decodeHexBytes disagrees with hexProblem');
            if (bytes instanceof Buffer && !bytes.equals(Buffer.from(text, 'hex'))) throw new Error('decodeHexBytes decoded other bytes');
            const fromString = domainOnly(() => decodeHexString(text, lower));
            const validString = valid && (!lower || /^[0-9a-f]+$/.test(text));
            if (validString !== (fromString !== undefined)) throw new Error('decodeHexString accepts what it should not (or the reverse)');
            if (fromString instanceof Buffer && !fromString.equals(Buffer.from(text, 'hex'))) throw new Error('decodeHexString decoded other bytes');
            return true;
          },
        ),
    },
    {
      name: 'base64.strict',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.property(
          fc.oneof(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('base64')), fc.string({ maxLength: 60 }), fc.base64String({ maxLength: 60 })),
          (text) => {
            const r = domainOnly(() => decodeBase64Strict(text));
            if (r instanceof SecretStoreError) throw new Error('decodeBase64Strict threw');
            const canonical = text.length > 0 && Buffer.from(text, 'base64').toString('base64') === text;
            if ((r !== undefined) !== canonical) throw new Error(`decodeBase64Strict ${r === undefined ? 'refused' : 'accepted'} ${canonical ? 'canonical' : 'non-canonical'} base64`);
            return true;
          },
        ),
    },
    {
      name: 'protected.tamper',
      runs: o.runs,
      lanes: 1,
      make: () => {
        const ikm = randomBytes(32);
        const plain = randomBytes(300);
        const doc = protectBlob(ikm, 'tls-key', plain);
        return fc.property(fc.oneof(mutation.map(([s, n]) => mutate(doc, s, n)), anyBytes), fc.constantFrom('tls-key', 'other'), (bytes, purpose) => {
          const r = domainOnly(() => unprotectBlob(ikm, purpose, bytes));
          if (r instanceof SecretStoreError) return true;
          if (!bytes.equals(doc) || purpose !== 'tls-key') throw new Error('a changed protected document (or another purpose) was accepted');
          if (!r.equals(plain)) throw new Error('unprotect returned other bytes');
          return true;
        });
      },
    },
    {
      name: 'escrow.parse',
      runs: o.runs,
      lanes: 1,
      make: () => {
        const docs = fx.slice(0, 4).map((f) => serializeEscrow({ shares: f.shares, ...(f.threshold === undefined ? {} : { threshold: f.threshold }), ...(f.rootToken === undefined ? {} : { rootToken: f.rootToken }) }, new Date()));
        return fc.property(fc.oneof(fc.tuple(fc.integer({ min: 0, max: docs.length - 1 }), mutation).map(([i, [s, n]]) => mutate(docs[i] as Buffer, s, n)), anyBytes), (bytes) => {
          const r = domainOnly(() => parseEscrow(bytes, 'escrow'));
          if (r instanceof SecretStoreError) return true;
          const obj = JSON.parse(bytes.toString('utf8')) as { keys: string[]; keys_base64: string[] };
          const fromHex = obj.keys.map((k) => Buffer.from(k, 'hex'));
          if (!sameShares(r.secrets.shares, fromHex)) throw new Error('escrow shares differ from its "keys"');
          if (!obj.keys_base64.every((b, i) => Buffer.from(b, 'base64').equals(fromHex[i] ?? Buffer.alloc(0)))) throw new Error('escrow accepted with keys_base64 disagreeing');
          return true;
        });
      },
    },
    {
      name: 'lock.garbage',
      runs: o.runs,
      lanes: 1,
      make: () =>
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
            fc.record({ pid: fc.oneof(fc.integer({ min: -5, max: 4_194_304 }), fc.constant(1), fc.string()), start: fc.oneof(fc.string(), fc.constant(null)), boot: fc.oneof(fc.string(), fc.constant(null)) }).map((x) => Buffer.from(JSON.stringify(x))),
          ),
          async (content) => {
            const p = join(dir, 'lock', '.resp-init.json.lock');
            await rm(join(dir, 'lock'), { recursive: true, force: true });
            await mkdir(join(dir, 'lock'), { mode: 0o700 });
            await writeFile(p, content);
            const r = await domainOnlyAsync(() => acquireFileLock(p, { timeoutMs: 0 }));
            if (r instanceof SecretStoreError) {
              if (r.code !== 'KEYFILE_LOCKED') throw new Error(`acquireFileLock failed with ${r.code}`);
              return true;
            }
            await r.release();
            return true;
          },
        ),
    },
    {
      name: 'hook.output',
      runs: o.hookRuns,
      lanes: o.lanes,
      make: () => {
        let n = 0;
        const hexRun = fc.uint8Array({ minLength: 0, maxLength: 1100 }).map((a) => Buffer.from(a).toString('hex'));
        const stdout = fc.oneof(
          { weight: 4, arbitrary: fc.tuple(fc.uint8Array({ minLength: 30, maxLength: 40 }), fc.boolean(), fc.boolean()).map(([a, upper, nl]) => Buffer.from((upper ? Buffer.from(a).toString('hex').toUpperCase() : Buffer.from(a).toString('hex')) + (nl ? '\n' : ''))) },
          { weight: 3, arbitrary: fc.tuple(hexRun, fc.constantFrom('', '\n', '\n\n', '\r\n', ' ', '\t', 'x', '0', '\0')).map(([h, tail]) => Buffer.from(h + tail)) },
          { weight: 2, arbitrary: fc.tuple(hexRun, fc.integer({ min: 0, max: 2000 }), fc.constantFrom('0x', ' ', '\n', 'g', '\r', 'é', '\0')).map(([h, at, ins]) => Buffer.from(h.slice(0, at) + ins + h.slice(at))) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
          { weight: 1, arbitrary: fc.integer({ min: 65_000, max: 70_000 }).map((len) => Buffer.from('a'.repeat(len))) },
        );
        const stderr = fc.oneof(fc.constant(''), fc.string({ maxLength: 100 }), hexRun.map((h) => `debug: ikm=${h.slice(0, 80)}\n`));
        return fc.asyncProperty(stdout, stderr, fc.constantFrom(0, 0, 0, 1, 2), async (out, err, code) => {
          const id = `${process.pid}-${n++}-${randomBytes(4).toString('hex')}`;
          const outFile = join(dir, `out-${id}`);
          const errFile = join(dir, `err-${id}`);
          await writeFile(outFile, out);
          await writeFile(errFile, err);
          try {
            const r = await domainOnlyAsync(() => runIkmHook({ path: hook, env: { PATH: process.env.PATH, FUZZ_OUT: outFile, FUZZ_ERR: errFile, FUZZ_CODE: String(code) } }));
            const text = out.toString('latin1');
            const m = /^((?:[0-9a-fA-F]{2})+)\n?$/.exec(text);
            const valid = code === 0 && m !== null && (m[1]?.length ?? 0) / 2 >= 32 && (m[1]?.length ?? 0) / 2 <= 1024 && out.length <= 65_536;
            if (r instanceof SecretStoreError) {
              if (valid) throw new Error(`valid hook output refused: ${r.code}`);
              if (/[0-9a-fA-F]{16,}/.test(r.message.replace(hook, ''))) throw new Error(`the error quotes 16+ hex digits: ${excerpt(r.message, 160)}`);
              // eslint-disable-next-line no-control-regex
              if (/[\x00-\x1f]/.test(r.message)) throw new Error('the error message holds control characters');
              return true;
            }
            if (!valid) throw new Error(`invalid hook output accepted (exit ${code}, ${out.length} bytes)`);
            if (!r.equals(Buffer.from(m[1] ?? '', 'hex'))) throw new Error('the IKM differs from the printed hex');
            return true;
          } finally {
            await rm(outFile, { force: true });
            await rm(errFile, { force: true });
          }
        });
      },
    },
  ];
  return props.filter((p) => o.only.length === 0 || o.only.includes(p.name));
}

export async function run(options: Partial<PropertyOptions> = {}): Promise<PartResult> {
  const o: PropertyOptions = { ...optionsFromEnv(), ...options };
  const report = new Report('fuzz-properties');
  report.note(`seed ${o.seed}; ${o.runs} runs per property (hook.output: ${o.hookRuns}, in ${o.lanes} concurrent runs)`);
  // The file properties (key file on disk, lock files) run thousands of small writes and fsyncs: on a tmpfs when there
  // is one (/dev/shm), as only the code paths matter here, not the disk.
  const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sss-chaos-props-'));
  const unregister = onCleanup(() => removeTempDir(dir));
  try {
    const hook = join(dir, 'hook');
    await writeFile(hook, '#!/bin/sh\ncat "$FUZZ_OUT"\ncat "$FUZZ_ERR" >&2\nexit "$FUZZ_CODE"\n');
    await chmod(hook, 0o700);
    const fx = fixtures();
    checkFixtures(fx);
    const rows: (string | number)[][] = [];
    for (const p of properties(o, fx, dir, hook)) {
      const t = performance.now();
      let failure: string | undefined;
      const per = Math.ceil(p.runs / p.lanes);
      const results = await Promise.allSettled(
        Array.from({ length: p.lanes }, (_, lane) => {
          const prop = p.make();
          return fc.assert(prop as fc.IAsyncPropertyWithHooks<unknown>, { numRuns: per, seed: (o.seed + lane * 7919) | 0, endOnFailure: false });
        }),
      );
      for (const r of results) if (r.status === 'rejected') failure ??= (r.reason as Error).message;
      const seconds = (performance.now() - t) / 1000;
      rows.push([p.name, per * p.lanes, failure === undefined ? 'held' : 'FAILED', seconds.toFixed(1)]);
      if (failure !== undefined) {
        const lines = failure.split('\n').filter((l) => l.trim() !== '');
        const why = lines.findIndex((l) => /Got error|Error:/.test(l));
        report.fail(`property ${p.name}`, excerpt([...lines.slice(0, 3), ...(why >= 0 ? lines.slice(why, why + 2) : [])].join(' '), 900), `CHAOS_SEED=${o.seed} CHAOS_PROPERTY_ONLY=${p.name} node dist/test/chaos/fuzz-properties.js (fast-check seed and path in the detail)`);
      }
    }
    report.table({ title: 'properties', header: ['property', 'runs', 'result', 'seconds'], rows });
    const failed = rows.filter((r) => r[2] !== 'held').length;
    report.check('properties failed', `${failed} of ${rows.length}`, '= 0', failed === 0);
    report.info('runs in all', rows.reduce((s, r) => s + Number(r[1]), 0));
  } finally {
    await removeTempDir(dir);
    unregister();
  }
  return report.result();
}

runAsMain(import.meta.url, () => run());
