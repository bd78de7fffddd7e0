/**
 * The key-file write protocol under failure and crash at every single file step (write.ts, docs "Crash safety").
 * File operations go through the FileOps seam: a step can fail before doing anything, fail after its effect (a
 * rename that happened although the folder fsync failed), or be the point where the process "dies" (that step and
 * every later one never reach the disk, and no rollback runs). After each case the folder must hold the old secrets
 * or the new ones, whole, readable with the matching IKM — and a failed command must have left it byte for byte as
 * it was, unless it says the new file is in place.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSecretStoreError, SecretStoreError } from '../../src/errors.js';
import { type InitSecrets, type KeyFileLocation, keyFilePaths, readKeyFile, writeKeyFile } from '../../src/keyfile/keyfile.js';
import { DURABLE_FILE_OPS, type FileOps, type WriteKeyFileOptions, writeKeyFiles } from '../../src/keyfile/write.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

let root = '';
let n = 0;
before(async () => {
  root = await makeTempDir('sss-write-');
});
after(async () => {
  await removeTempDir(root);
});

const oldIkm = Buffer.alloc(32, 0x31);
const newIkm = Buffer.alloc(32, 0x32);
const oldShares = (): Buffer[] => [Buffer.alloc(33, 0xa1), Buffer.alloc(33, 0xa2), Buffer.alloc(33, 0xa3)];
const newShares = (): Buffer[] => [Buffer.alloc(33, 0xb1), Buffer.alloc(33, 0xb2), Buffer.alloc(33, 0xb3)];

/** A marker for the simulated death of the writer. */
class Crash extends Error {}

type Mode = 'fail' | 'fail-after-effect' | 'crash';

/** FileOps that misbehave at call number `at` (0-based) in the given way; `calls` counts every call made. */
function faultyOps(at: number, mode: Mode): { ops: FileOps; calls: string[] } {
  const calls: string[] = [];
  let dead = false;
  const step =
    <A extends unknown[]>(name: string, real: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const i = calls.length;
      calls.push(name);
      if (dead) throw new Crash('the writer is dead');
      if (i !== at) return real(...args);
      if (mode === 'fail') throw new SecretStoreError('IO', `injected failure of ${name}`);
      if (mode === 'crash') {
        dead = true;
        throw new Crash(`the writer died before ${name}`);
      }
      await real(...args);
      throw new SecretStoreError('IO', `injected failure after ${name} took effect`);
    };
  return {
    calls,
    ops: {
      writeFileAtomic: step('writeFileAtomic', DURABLE_FILE_OPS.writeFileAtomic),
      renameDurable: step('renameDurable', DURABLE_FILE_OPS.renameDurable),
      removeDurable: step('removeDurable', DURABLE_FILE_OPS.removeDurable),
    },
  };
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = (await readFile(join(dir, name))).toString('hex');
  return out;
}

/** One starting state and the write made on it. */
interface Scenario {
  name: string;
  setup: (loc: KeyFileLocation) => Promise<void>;
  write: WriteKeyFileOptions;
  /** The IKM that reads the old file (undefined: plaintext). */
  oldIkm: Buffer | undefined;
}

const scenarios: Scenario[] = [
  {
    name: 'edgex → edgex, same IKM: the salt is reused',
    setup: async (loc) => {
      await writeKeyFile(loc, { shares: oldShares() }, { format: 'edgex', ikm: oldIkm });
    },
    write: { format: 'edgex', ikm: oldIkm },
    oldIkm,
  },
  {
    name: 'v2 → edgex, no salt yet: salt first, then the key file',
    setup: async (loc) => {
      await writeKeyFile(loc, { shares: oldShares() }, { format: 'v2', ikm: oldIkm });
    },
    write: { format: 'edgex', ikm: newIkm },
    oldIkm,
  },
  {
    name: 'plaintext + a stale salt → edgex with a new salt: the stale salt is put back on failure',
    setup: async (loc) => {
      await writeKeyFile(loc, { shares: oldShares() }, { format: 'plaintext' });
      await writeFile(join(loc.dir, 'kdf-salt.dat'), Buffer.alloc(32, 0x5e), { mode: 0o600 });
    },
    write: { format: 'edgex', ikm: newIkm, newSalt: true },
    oldIkm: undefined,
  },
  {
    name: 'edgex → edgex under a new IKM and salt (rewrap): pending salt, key file, rename',
    setup: async (loc) => {
      await writeKeyFile(loc, { shares: oldShares() }, { format: 'edgex', ikm: oldIkm });
    },
    write: { format: 'edgex', ikm: newIkm, newSalt: true },
    oldIkm,
  },
  {
    name: 'edgex → v2: the salt is removed only after the new file is in place',
    setup: async (loc) => {
      await writeKeyFile(loc, { shares: oldShares() }, { format: 'edgex', ikm: oldIkm });
    },
    write: { format: 'v2', ikm: newIkm },
    oldIkm,
  },
];

/** Which generation the folder holds now: it must be one of the two, whole, readable with its own IKM. */
async function generation(loc: KeyFileLocation, scenario: Scenario): Promise<'old' | 'new'> {
  const hex = (s: InitSecrets): string[] => s.shares.map((b) => b.toString('hex'));
  const newHex = newShares().map((b) => b.toString('hex'));
  const oldHex = oldShares().map((b) => b.toString('hex'));
  try {
    const got = hex((await readKeyFile(loc, scenario.write.ikm)).secrets);
    if (JSON.stringify(got) === JSON.stringify(newHex)) return 'new';
    assert.deepEqual(got, oldHex, 'the folder holds neither the old nor the new shares');
    return 'old';
  } catch (err) {
    if (!isSecretStoreError(err, 'KEYFILE_WRONG_IKM')) throw err;
    assert.deepEqual(hex((await readKeyFile(loc, scenario.oldIkm)).secrets), oldHex, 'the old file reads with the old IKM');
    return 'old';
  }
}

async function freshCase(scenario: Scenario): Promise<KeyFileLocation> {
  const loc = { dir: join(root, `case-${++n}`) };
  await mkdir(loc.dir, { mode: 0o700 });
  await scenario.setup(loc);
  return loc;
}

for (const scenario of scenarios) {
  test(`every step failing or crashing: ${scenario.name}`, async () => {
    // How many file steps a successful write takes.
    const probe = faultyOps(Number.MAX_SAFE_INTEGER, 'fail');
    const okLoc = await freshCase(scenario);
    await writeKeyFiles(keyFilePaths(okLoc), { shares: newShares() }, scenario.write, probe.ops);
    assert.equal(await generation(okLoc, scenario), 'new');
    const steps = probe.calls.length;
    assert.ok(steps >= 2, `the write takes ${steps} steps`);

    for (let at = 0; at <= steps; at++) {
      for (const mode of ['fail', 'fail-after-effect', 'crash'] as const) {
        if (at === steps && mode !== 'crash') continue; // "crash after the last step" = success without returning
        const what = `${mode} at step ${at} (${probe.calls[at] ?? 'after the last'})`;
        const loc = await freshCase(scenario);
        const before = await snapshot(loc.dir);
        const { ops } = faultyOps(at, mode);
        let error: unknown;
        try {
          await writeKeyFiles(keyFilePaths(loc), { shares: newShares() }, scenario.write, ops);
        } catch (err) {
          error = err;
        }
        if (mode === 'crash') {
          // (A real crash reports nothing; here the marker may come wrapped in the "is in place" error.)
          const crashed = error instanceof Crash || (isSecretStoreError(error) && error.cause instanceof Crash);
          assert.ok(at === steps || crashed, `${what}: the crash stops the writer`);
        } else {
          assert.ok(isSecretStoreError(error), `${what}: a failed step is reported as a domain error`);
          if (/is in place but the write did not finish/.test(error.message)) {
            // Past the commit point the new file stays, with the salt it needs.
            assert.match(error.message, /nothing is lost: run "secretstore-setup keys verify" with the hook/);
            assert.equal(await generation(loc, scenario), 'new', `${what}: the new file said to be in place is readable`);
            continue;
          }
          // Before the commit point every change is undone: the folder is exactly as it was.
          assert.deepEqual(await snapshot(loc.dir), before, `${what}: the folder is left as it was`);
        }
        const gen = await generation(loc, scenario);
        // The read settled any pending salt: the folder is clean and a second read agrees.
        assert.ok(!(await readdir(loc.dir)).some((f) => f.endsWith('.pending') || f.includes('.tmp-')), `${what}: nothing pending is left`);
        assert.equal(await generation(loc, scenario), gen, `${what}: a second read agrees`);
        if (mode === 'crash' && at === steps) assert.equal(gen, 'new');
        // And the interrupted write can be made again.
        await writeKeyFile(loc, { shares: newShares() }, scenario.write);
        assert.equal(await generation(loc, scenario), 'new', `${what}: the write succeeds on retry`);
      }
    }
  });
}

test('a failed key-file write after a new salt was written restores the old salt file byte for byte', async () => {
  const scenario = scenarios[2];
  assert.ok(scenario !== undefined);
  const loc = await freshCase(scenario);
  const before = await snapshot(loc.dir);
  // Step 0 writes kdf-salt.dat, step 1 the key file: fail the key file.
  const { ops, calls } = faultyOps(1, 'fail');
  await assert.rejects(writeKeyFiles(keyFilePaths(loc), { shares: newShares() }, scenario.write, ops), { code: 'IO', message: /injected failure of writeFileAtomic/ });
  assert.deepEqual(calls.slice(0, 3), ['writeFileAtomic', 'writeFileAtomic', 'writeFileAtomic'], 'salt, key file, salt restored');
  assert.deepEqual(await snapshot(loc.dir), before);
  assert.deepEqual(await readFile(join(loc.dir, 'kdf-salt.dat')), Buffer.alloc(32, 0x5e));
});

test('a key file renamed in although its folder sync failed keeps its new salt (no rollback past the commit)', async () => {
  const scenario = scenarios[3];
  assert.ok(scenario !== undefined);
  const loc = await freshCase(scenario);
  // Step 0 writes the pending salt, step 1 the key file: its rename happens, then the failure.
  const { ops } = faultyOps(1, 'fail-after-effect');
  await assert.rejects(writeKeyFiles(keyFilePaths(loc), { shares: newShares() }, scenario.write, ops), {
    code: 'IO',
    message: /^the new resp-init.json is in place but the write did not finish \(injected failure after writeFileAtomic took effect\); nothing is lost/,
  });
  assert.deepEqual((await readdir(loc.dir)).sort(), ['kdf-salt.dat', 'kdf-salt.dat.pending', 'resp-init.json']);
  assert.equal(await generation(loc, scenario), 'new');
  assert.deepEqual((await readdir(loc.dir)).sort(), ['kdf-salt.dat', 'resp-init.json']);
});

test('the key file and the salt file must have different names', () => {
  assert.throws(() => keyFilePaths({ dir: root, file: 'x', saltFile: 'x' }), { code: 'USAGE', message: /need different names/ });
  assert.throws(() => keyFilePaths({ dir: root, file: 'kdf-salt.dat.pending' }), { code: 'USAGE', message: /need different names/ });
});
