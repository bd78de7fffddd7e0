import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTempOf, removeDeadWritersTemps, removeStaleTemps, writeFileAtomic } from '../../src/keyfile/atomic-write.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { SIZES } from './fixtures/atomic-writer.js';

const WRITER = fileURLToPath(new URL('./fixtures/atomic-writer.js', import.meta.url));
let dir = '';
before(async () => {
  dir = await makeTempDir('sss-atomic-');
});
after(async () => {
  await removeTempDir(dir);
});

test('writes the data with mode 0600 and creates the folder 0700', async () => {
  const target = join(dir, 'new', 'file.json');
  writeFileAtomic(target, Buffer.from('hello\n'));
  assert.equal(await readFile(target, 'utf8'), 'hello\n');
  assert.equal((await stat(target)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'new'))).mode & 0o777, 0o700);
  writeFileAtomic(target, Buffer.from('again\n'));
  assert.equal(await readFile(target, 'utf8'), 'again\n');
  assert.deepEqual((await readdir(join(dir, 'new'))).sort(), ['file.json'], 'no temp file is left behind');
});

test('a verify callback that throws leaves the old file untouched and removes the temp file', async () => {
  const target = join(dir, 'verified.json');
  writeFileAtomic(target, Buffer.from('old'));
  assert.throws(
    () => {
      writeFileAtomic(target, Buffer.from('new'), 0o600, (written) => {
        assert.equal(written.toString(), 'new');
        throw new Error('verification failed');
      });
    },
    /verification failed/,
  );
  assert.equal(await readFile(target, 'utf8'), 'old');
  assert.deepEqual((await readdir(dir)).filter((n) => n.includes('verified')), ['verified.json']);
});

test('a folder writable by everyone is refused', async () => {
  const open = join(dir, 'world');
  await mkdir(open);
  await chmod(open, 0o777);
  assert.throws(
    () => {
      writeFileAtomic(join(open, 'f'), Buffer.from('x'));
    },
    { code: 'UNSAFE_PERMISSIONS', message: /writable by every user; chmod 700 it/ },
  );
});

test('removeStaleTemps removes only the temp files of that target, by their exact name pattern', async () => {
  const sub = join(dir, 'stale');
  await mkdir(sub);
  const ours = ['.resp-init.json.tmp-1-abcdef012345', '.resp-init.json.tmp-4194304-0123456789ab'];
  // Not ours: another target, a name that only starts like ours, a different suffix shape.
  const others = ['.other.tmp-1-abcdef012345', '.resp-init.json.tmp-1-abc', '.resp-init.json.tmp-x-abcdef012345', '.resp-init.json.tmp-1-abcdef012345.bak', 'resp-init.json.tmp-1-abcdef012345'];
  for (const name of [...ours, ...others]) await writeFile(join(sub, name), 'x');
  assert.equal(removeStaleTemps(join(sub, 'resp-init.json')), ours.length);
  assert.deepEqual((await readdir(sub)).sort(), [...others].sort());
  for (const name of ours) assert.equal(isTempOf(name, 'resp-init.json'), true, name);
  for (const name of others) assert.equal(isTempOf(name, join(sub, 'resp-init.json')), false, name);
});

test('removeDeadWritersTemps removes the temp files of writers that are gone and keeps those of live ones', async () => {
  const sub = join(dir, 'dead-writers');
  await mkdir(sub);
  // A pid that is certainly gone: a child that has exited (and been reaped).
  const gone = spawn(process.execPath, ['-e', '0']);
  const deadPid = await new Promise<number>((resolve) => gone.on('close', () => { resolve(gone.pid ?? 0); }));
  const dead = `.tls.key.tmp-${String(deadPid)}-abcdef012345`;
  const live = `.tls.key.tmp-${String(process.ppid)}-0123456789ab`; // our parent is running
  const mine = `.tls.key.tmp-${String(process.pid)}-00112233aabb`;
  for (const name of [dead, live, mine]) await writeFile(join(sub, name), 'x');
  assert.equal(removeDeadWritersTemps(join(sub, 'tls.key')), 1);
  assert.deepEqual((await readdir(sub)).sort(), [live, mine].sort());
});

/** Runs the writer, waits for `afterWrites` completed writes plus a random delay, and SIGKILLs it. */
function runAndKill(target: string, extraMs: number, once = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, target, ...(once ? ['once'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let killed = false;
    child.stdout.on('data', () => {
      if (killed) return;
      killed = true;
      setTimeout(() => child.kill('SIGKILL'), extraMs);
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer ended without being killed (${String(signal)})`));
    });
  });
}

test('a writer SIGKILLed at random moments always leaves the old or the new file whole', async () => {
  const target = join(dir, 'killed', 'resp-init.json');
  await mkdir(join(dir, 'killed'), { mode: 0o700 });
  const seen = new Set<string>();
  // 15 rounds killed at random moments, then one whose writer writes exactly once and waits: it flips the file to
  // the other content, so both contents are seen whatever the random rounds did (they may all end on one).
  for (let round = 0; round <= 15; round++) {
    const once = round === 15;
    await runAndKill(target, once ? 0 : Math.floor(Math.random() * 40), once);
    const data = await readFile(target);
    const letter = String.fromCharCode(data[0] ?? 0);
    assert.ok(letter === 'A' || letter === 'B', `round ${round}: unexpected first byte`);
    assert.equal(data.length, SIZES[letter], `round ${round}: torn file of ${data.length} bytes`);
    assert.ok(data.every((c) => c === data[0]), `round ${round}: mixed contents`);
    seen.add(letter);
  }
  assert.equal(seen.size, 2, 'both contents were observed (each writer starts with the content not in the file; the last writes once)');
});
