/**
 * What a killed run leaves in the key folder, and how the next run deals with it (fake store): temp files of the
 * init marker, the key file, its salt and the lock are removed under the key-file lock (only ours, by name pattern);
 * a key-file temp that was synced before the kill holds the whole shares and is adopted, not deleted, when there is
 * no key file. The same with real processes and a real SIGKILL: leftovers.e2e.test.ts and crash.e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { INIT_MARKER, writeInitMarker } from '../../src/bootstrap/init-marker.js';
import { tempPrefix } from '../../src/keyfile/atomic-write.js';
import { count, flowFixture, type FlowFixture } from './flow-fixtures.js';

/** A pid that belonged to a process that has exited (a killed writer's). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function tempName(target: string, pid: number): string {
  return `${tempPrefix(target)}${pid}-${randomBytes(6).toString('hex')}`;
}

async function withFixture(body: (fx: FlowFixture) => Promise<void>): Promise<void> {
  const fx = await flowFixture();
  try {
    await body(fx);
  } finally {
    await fx.close();
  }
}

test('killed after the key file\'s temp was synced, before its rename: the next boot adopts it and unseals (nothing lost)', async () => {
  await withFixture(async (fx) => {
    await fx.run();
    const keyFile = join(fx.keysDir, 'resp-init.json');
    const whole = await readFile(keyFile);
    // The state a kill between the temp file's fsync and the rename leaves: the whole file under its temp name, no
    // key file, the init marker; plus a torn temp from another (later) killed attempt.
    const pid = deadPid();
    await rename(keyFile, join(fx.keysDir, tempName('resp-init.json', pid)));
    const torn = join(fx.keysDir, tempName('resp-init.json', pid));
    await writeFile(torn, whole.subarray(0, whole.length >> 1), { mode: 0o600 });
    const later = new Date(Date.now() + 5000);
    await utimes(torn, later, later);
    writeInitMarker({ dir: fx.keysDir }, fx.fake.url);
    fx.fake.seal();
    const r = await fx.run();
    assert.equal(r.initialState, 'sealed');
    assert.equal(fx.fake.sealed, false);
    assert.ok(fx.lines.some((l) => l.includes('key file recovered from a save that was interrupted before its rename')));
    assert.deepEqual(await readFile(keyFile), whole);
    assert.deepEqual((await readdir(fx.keysDir)).filter((n) => n.includes('.tmp-')), [], 'the torn temp is gone too');
    assert.equal(existsSync(join(fx.keysDir, INIT_MARKER)), false);
    assert.equal(count(fx.fake, 'PUT sys/init'), 1);
  });
});

test('a temp file the IKM does not open is not adopted — and not deleted (the key file is missing: it may be all there is)', async () => {
  await withFixture(async (fx) => {
    await fx.run();
    const keyFile = join(fx.keysDir, 'resp-init.json');
    const tmp = join(fx.keysDir, tempName('resp-init.json', deadPid()));
    await rename(keyFile, tmp);
    fx.fake.seal();
    const { runBootstrap } = await import('../../src/bootstrap/flow.js');
    const { FixedIkm } = await import('./flow-fixtures.js');
    const { Logger } = await import('../../src/log.js');
    await assert.rejects(runBootstrap({ config: fx.config, log: new Logger({ sink: () => undefined }), ikmSource: new FixedIkm(randomBytes(32)) }), {
      code: 'STORE_INITIALIZED_NO_KEYFILE',
    });
    assert.ok(existsSync(tmp), 'kept');
    assert.equal(existsSync(keyFile), false);
    assert.equal(fx.fake.sealed, true);
  });
});

test('leftover temp files of the marker, the key file, its salt and the lock are removed by the next run (only ours)', async () => {
  await withFixture(async (fx) => {
    await fx.run();
    fx.fake.seal();
    const pid = deadPid();
    const hex = (): string => randomBytes(6).toString('hex');
    const ours = [
      `${tempPrefix(INIT_MARKER)}${pid}-${hex()}`, // "..secretstore-init-pending.tmp-…", as writeFileAtomic names it
      `.resp-init.json.tmp-${pid}-${hex()}`,
      `.kdf-salt.dat.tmp-${pid}-${hex()}`,
      `.kdf-salt.dat.pending.tmp-${pid}-${hex()}`,
      `.resp-init.json.lock.${pid}-${hex()}`,
      `.resp-init.json.lock.stale-${pid}-${hex()}`,
    ];
    // Not ours, or not stale: a live process's lock file in the making (pid 1 is alive), and unrelated files.
    const kept = [`.resp-init.json.lock.1-${hex()}`, `${INIT_MARKER}.tmp-notours`, 'notes.txt', `.resp-init.json.tmp-${pid}-short`];
    for (const name of [...ours, ...kept]) await writeFile(join(fx.keysDir, name), '{"half', { mode: 0o600 });
    await fx.run();
    const left = await readdir(fx.keysDir);
    for (const name of ours) assert.ok(!left.includes(name), `${name} removed`);
    for (const name of kept) assert.ok(left.includes(name), `${name} kept`);
    assert.ok(fx.lines.some((l) => l.includes('removed temporary files left by an interrupted run') && l.includes(`files=${ours.length}`)));
    const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
    assert.deepEqual(secrets.shares, fx.fake.shares);
    assert.equal(((await stat(join(fx.keysDir, 'resp-init.json'))).mode & 0o777), 0o600);
  });
});
