import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, readdir, readFile, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeRecord, LOG_FILE, LogStorage, replayLog } from '../../../src/store/storage/log-storage.js';
import { isSecretStoreError } from '../../../src/errors.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = await makeTempDir();
  try {
    await fn(join(root, 'data'));
  } finally {
    await removeTempDir(root);
  }
}

test('put/get/delete/list survive reopen; folder 0700, log 0600', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('core/seal-config', Buffer.from('{}'));
    await s.put('logical/a/b', Buffer.from('1'));
    await s.put('logical/a/c', Buffer.from('2'));
    await s.put('logical/x', Buffer.from('3'));
    await s.delete('logical/a/c');
    await s.delete('never/existed');
    assert.deepEqual(await s.list(''), ['core/', 'logical/']);
    assert.deepEqual(await s.list('logical/'), ['a/', 'x']);
    await s.close();
    await assert.rejects(s.get('x'), { code: 'INTERNAL' });
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, LOG_FILE))).mode & 0o777, 0o600);
    const again = await LogStorage.open(dir);
    assert.deepEqual(await again.get('logical/a/b'), Buffer.from('1'));
    assert.equal(await again.get('logical/a/c'), undefined);
    assert.deepEqual(await again.list('logical/a/'), ['b']);
    await again.close();
  }));

test('writeOrdered: one append for the whole group, applied in order; a torn group leaves a prefix of it', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('k/old', Buffer.from('old'));
    const before = (await stat(join(dir, LOG_FILE))).size;
    const group = [
      ['k/version', Buffer.from('v1')],
      ['k/meta', Buffer.from('m1')],
      ['k/old', undefined],
    ] as const;
    await s.writeOrdered(group);
    assert.deepEqual(await s.get('k/version'), Buffer.from('v1'));
    assert.deepEqual(await s.get('k/meta'), Buffer.from('m1'));
    assert.equal(await s.get('k/old'), undefined);
    const recordSizes = group.map(([key, value]) => encodeRecord(value === undefined ? 2 : 1, Buffer.from(key), value ?? Buffer.alloc(0)).length);
    assert.equal((await stat(join(dir, LOG_FILE))).size - before, recordSizes.reduce((a, b) => a + b, 0), 'exactly the group, appended once');
    await s.writeOrdered([]);
    await s.close();
    // A crash in the middle of the group's append: cut inside its second record.
    await truncate(join(dir, LOG_FILE), before + (recordSizes[0] ?? 0) + 5);
    const again = await LogStorage.open(dir);
    assert.deepEqual(await again.get('k/version'), Buffer.from('v1'), 'the prefix is there');
    assert.equal(await again.get('k/meta'), undefined, 'nothing after the tear');
    assert.deepEqual(await again.get('k/old'), Buffer.from('old'), 'a later delete did not happen either');
    await again.close();
  }));

test('a lookup of a key that could never be stored answers absent; writing one is refused (the chaos campaign found a 500)', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    try {
      assert.equal(await s.get('key/' + 'ab'.repeat(40_000)), undefined);
      assert.equal(await s.get('key/\ud800'), undefined);
      await assert.rejects(s.put('key/' + 'ab'.repeat(40_000), Buffer.from('x')), (e: unknown) => isSecretStoreError(e, 'INTERNAL'));
    } finally {
      await s.close();
    }
  }));

test('a torn tail (crash mid-append) is cut off at open; the entries before it are intact', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('k1', Buffer.from('v1'));
    await s.put('k2', Buffer.from('v2'));
    await s.close();
    const path = join(dir, LOG_FILE);
    const good = (await stat(path)).size;
    const rec = encodeRecord(1, Buffer.from('k3'), Buffer.from('v3'));
    for (let cut = 1; cut < rec.length; cut++) {
      await appendFile(path, rec.subarray(0, cut));
      const t = await LogStorage.open(dir);
      assert.equal(await t.get('k3'), undefined, `cut ${cut}`);
      assert.deepEqual(await t.get('k2'), Buffer.from('v2'));
      await t.close();
      assert.equal((await stat(path)).size, good, 'tail truncated');
    }
    // A size extension whose data never reached the disk reads back as zeros.
    await appendFile(path, Buffer.alloc(100));
    const z = await LogStorage.open(dir);
    assert.deepEqual(await z.get('k1'), Buffer.from('v1'));
    await z.put('k3', Buffer.from('v3'));
    await z.close();
    const z2 = await LogStorage.open(dir);
    assert.deepEqual(await z2.get('k3'), Buffer.from('v3'), 'appends after a cut tail are readable');
    await z2.close();
  }));

test('damage before the end of the log fails closed with STORE_CORRUPT', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('k1', Buffer.from('value one'));
    await s.put('k2', Buffer.from('value two'));
    await s.close();
    const path = join(dir, LOG_FILE);
    const bytes = await readFile(path);
    bytes.writeUInt8(bytes.readUInt8(12) ^ 0xff, 12);
    await writeFile(path, bytes);
    await assert.rejects(LogStorage.open(dir), { name: 'SecretStoreError', code: 'STORE_CORRUPT' });
    bytes.writeUInt8(bytes.readUInt8(12) ^ 0xff, 12);
    bytes[0] = 0x00;
    await writeFile(path, bytes);
    await assert.rejects(LogStorage.open(dir), { code: 'STORE_CORRUPT' });
  }));

test('compaction keeps exactly the live entries and shrinks the log', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    const big = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 100; i++) await s.put('hot', Buffer.concat([big, Buffer.from(String(i))]));
    await s.put('cold', Buffer.from('c'));
    await s.put('gone', Buffer.from('g'));
    await s.delete('gone');
    const size = (await stat(join(dir, LOG_FILE))).size;
    // 6.4 MiB were written; compaction at the 4 MiB mark leaves one live copy plus the puts after it.
    assert.ok(size < 3 * 1024 * 1024, `compacted (${size} bytes)`);
    await s.close();
    const again = await LogStorage.open(dir);
    assert.deepEqual((await again.get('hot'))?.subarray(big.length).toString(), '99');
    assert.deepEqual(await again.get('cold'), Buffer.from('c'));
    assert.equal(await again.get('gone'), undefined);
    assert.deepEqual(await again.list(''), ['cold', 'hot']);
    await again.close();
  }));

test('concurrent writes are group-committed and each one lands', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.put(`k/${i}`, Buffer.from(String(i)))));
    await s.close();
    const again = await LogStorage.open(dir);
    assert.equal((await again.list('k/')).length, 200);
    assert.deepEqual(await again.get('k/137'), Buffer.from('137'));
    await again.close();
  }));

test('keys with any characters Vault paths allow round-trip; invalid Unicode is refused', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    const keys = ['../../etc/passwd', 'a/../../b', 'sp ace/ünï/日本', 'x\\y', '%2e%2e/', 'nul\u0001ctrl'];
    for (const k of keys) await s.put(k, Buffer.from(k));
    await assert.rejects(s.put('\ud800', Buffer.from('x')), { code: 'INTERNAL' });
    await assert.rejects(s.put('', Buffer.from('x')), { code: 'INTERNAL' });
    await s.close();
    const again = await LogStorage.open(dir);
    for (const k of keys) assert.deepEqual(await again.get(k), Buffer.from(k));
    await again.close();
  }));

test('property: replaying any sequence of records gives the same map as applying it', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c/d', 'c/e'), fc.uint8Array({ maxLength: 20 })), { maxLength: 30 }),
      fc.nat(),
      (ops, cutSeed) => {
        const expected = new Map<string, Buffer>();
        const recs: Buffer[] = [];
        for (const [isPut, k, v] of ops) {
          recs.push(encodeRecord(isPut ? 1 : 2, Buffer.from(k), isPut ? Buffer.from(v) : Buffer.alloc(0)));
          if (isPut) expected.set(k, Buffer.from(v));
          else expected.delete(k);
        }
        const all = Buffer.concat(recs);
        const r = replayLog(all);
        assert.equal(r.validLength, all.length);
        assert.deepEqual(r.entries, expected);
        // Any cut inside the last record replays as the log without it.
        const last = recs[recs.length - 1];
        if (last !== undefined) {
          const cut = all.length - 1 - (cutSeed % last.length);
          const t = replayLog(all.subarray(0, cut));
          assert.equal(t.validLength, all.length - last.length);
        }
      },
    ),
  );
});

test('zeros past the end (a size extension whose data never reached the disk) are cut; nothing is kept aside', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('ok', Buffer.from('1'));
    await s.close();
    const size = (await stat(join(dir, LOG_FILE))).size;
    await truncate(join(dir, LOG_FILE), size + 50);
    const again = await LogStorage.open(dir);
    assert.equal(again.tornTailBytes, 50);
    assert.deepEqual(await again.get('ok'), Buffer.from('1'));
    await again.close();
    assert.equal((await stat(join(dir, LOG_FILE))).size, size);
    assert.deepEqual((await readdir(dir)).sort(), [LOG_FILE]);
  }));

/** The physical record boundaries of a log image made of `recs`. */
function offsets(recs: Buffer[]): number[] {
  const out: number[] = [];
  let off = 0;
  for (const r of recs) {
    out.push(off);
    off += r.length;
  }
  return out;
}

test('a damaged LENGTH field in a middle record is corruption, not a torn tail: nothing is cut, later entries stay', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    for (const k of ['a', 'b', 'c']) await s.put(k, Buffer.from(`value ${k}`));
    await s.close();
    const path = join(dir, LOG_FILE);
    const original = await readFile(path);
    // Record 1's value length grows past the end of the file: before the fix this replayed as "torn at 0" and the
    // open truncated the whole log away.
    for (const [field, value] of [
      [6, 0x7fffffff],
      [2, 0x7fffffff],
      [6, original.readUInt32BE(6) + 1],
    ] as const) {
      const bytes = Buffer.from(original);
      bytes.writeUInt32BE(value, field);
      await writeFile(path, bytes);
      await assert.rejects(LogStorage.open(dir), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'STORE_CORRUPT'));
        assert.equal(err.message, `${LOG_FILE} is damaged at byte 0 of ${bytes.length}, before its last record; the store will not start on it — restore the data folder from a backup`);
        return true;
      });
      assert.deepEqual(await readFile(path), bytes, 'the damaged log is left exactly as it was');
    }
    await writeFile(path, original);
    const again = await LogStorage.open(dir);
    assert.deepEqual(await again.list(''), ['a', 'b', 'c']);
    await again.close();
  }));

test('property: a flipped byte in any record but the last fails closed; in the last it only drops that record', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('k1', 'k2', 'dir/k3'), fc.uint8Array({ maxLength: 24 })), { minLength: 2, maxLength: 8 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (ops, posSeed, mask) => {
        const recs = ops.map(([k, v]) => encodeRecord(1, Buffer.from(k), Buffer.from(v)));
        const all = Buffer.concat(recs);
        const starts = offsets(recs);
        const pos = posSeed % all.length;
        const damaged = Buffer.from(all);
        damaged[pos] = (damaged[pos] ?? 0) ^ mask;
        const lastStart = starts[starts.length - 1] ?? 0;
        if (pos < lastStart) {
          assert.throws(() => replayLog(damaged), { code: 'STORE_CORRUPT' });
        } else {
          const r = replayLog(damaged);
          assert.equal(r.validLength, lastStart);
          assert.deepEqual(r, replayLog(all.subarray(0, lastStart)));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a torn tail with data in it is kept beside the log (0600) before it is cut', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('k1', Buffer.from('v1'));
    await s.close();
    const rec = encodeRecord(1, Buffer.from('k2'), Buffer.from('v2'));
    await appendFile(join(dir, LOG_FILE), rec.subarray(0, rec.length - 3));
    const again = await LogStorage.open(dir);
    assert.equal(again.tornTailBytes, rec.length - 3);
    await again.close();
    const kept = (await readdir(dir)).filter((n) => n.startsWith(`${LOG_FILE}.torn-`));
    assert.equal(kept.length, 1);
    const keptPath = join(dir, kept[0] ?? '');
    assert.deepEqual(await readFile(keptPath), rec.subarray(0, rec.length - 3));
    assert.equal((await stat(keptPath)).mode & 0o777, 0o600);
  }));

/** The log's private file handle (fault injection). */
function handleOf(s: LogStorage): FileHandle {
  return (s as unknown as { handle: FileHandle }).handle;
}

test('a short write (ENOSPC part-way) rejects the batch with IO, is cut off, and later writes land intact', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('before', Buffer.from('1'));
    const h = handleOf(s);
    const realWrite = h.write.bind(h) as (b: Buffer, o: number, l: number, p: number) => Promise<{ bytesWritten: number; buffer: Buffer }>;
    // Really write all but the last 5 bytes and report that, as libuv does when the disk fills part-way.
    Object.assign(h, { write: (b: Buffer, o: number, l: number, p: number) => realWrite(b, o, l - 5, p) });
    await assert.rejects(s.put('lost', Buffer.from('never acknowledged')), {
      name: 'SecretStoreError',
      code: 'IO',
      message: `cannot append to ${LOG_FILE} (ENOSPC); check disk space`,
    });
    assert.equal(await s.get('lost'), undefined);
    Object.assign(h, { write: realWrite });
    await s.put('after', Buffer.from('2'));
    await s.close();
    // Without the cut, 'after' would follow a partial record and the next open would fail with STORE_CORRUPT.
    const again = await LogStorage.open(dir);
    assert.equal(again.tornTailBytes, 0);
    assert.deepEqual(await again.list(''), ['after', 'before']);
    assert.deepEqual(await again.get('after'), Buffer.from('2'));
    await again.close();
  }));

test('when the tail cannot be repaired after a failed append, every later write is refused (reads still work)', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('kept', Buffer.from('1'));
    const h = handleOf(s);
    const realWrite = h.write.bind(h);
    const realTruncate = h.truncate.bind(h);
    const eio = (): Promise<never> => Promise.reject(Object.assign(new Error('io'), { code: 'EIO' }));
    Object.assign(h, { write: eio, truncate: eio });
    await assert.rejects(s.put('x', Buffer.from('x')), { code: 'IO', message: `cannot append to ${LOG_FILE} (EIO); check disk space` });
    Object.assign(h, { write: realWrite, truncate: realTruncate });
    await assert.rejects(s.put('y', Buffer.from('y')), {
      code: 'IO',
      message: `${LOG_FILE} could not be repaired after a failed append (EIO); writes are refused — free disk space and restart the store`,
    });
    assert.deepEqual(await s.get('kept'), Buffer.from('1'));
    await s.close();
  }));

test('a compaction that fails is skipped: no crash, no unhandled rejection, writes go on, nothing is lost', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    // A folder where the compaction's temp file must go makes every compaction attempt fail.
    await mkdir(join(dir, 'store.log.compact.tmp'));
    const big = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 100; i++) await s.put('hot', Buffer.concat([big, Buffer.from(String(i))]));
    await s.put('cold', Buffer.from('c'));
    assert.ok((await stat(join(dir, LOG_FILE))).size > 6 * 1024 * 1024, 'not compacted');
    await s.close();
    await rm(join(dir, 'store.log.compact.tmp'), { recursive: true });
    const again = await LogStorage.open(dir);
    assert.equal((await again.get('hot'))?.subarray(big.length).toString(), '99');
    assert.deepEqual(await again.get('cold'), Buffer.from('c'));
    // With the obstacle gone, the next compaction works and keeps appending to the new log.
    for (let i = 0; i < 80; i++) await again.put('hot', Buffer.concat([big, Buffer.from(`n${i}`)]));
    assert.ok((await stat(join(dir, LOG_FILE))).size < 4 * 1024 * 1024, 'compacted once the folder is writable');
    await again.put('tail', Buffer.from('t'));
    await again.close();
    const third = await LogStorage.open(dir);
    assert.deepEqual(await third.list(''), ['cold', 'hot', 'tail']);
    assert.equal((await third.get('hot'))?.subarray(big.length).toString(), 'n79');
    await third.close();
  }));

test('a compaction that crashed before its rename left only its temp file: removed at open, the log is intact', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('k', Buffer.from('v'));
    await s.close();
    // Whatever the temp file holds (here: a half-written snapshot claiming another value), it is never read.
    const half = encodeRecord(1, Buffer.from('k'), Buffer.from('from the unfinished snapshot'));
    await writeFile(join(dir, 'store.log.compact.tmp'), half.subarray(0, 20));
    const again = await LogStorage.open(dir);
    assert.deepEqual(await again.get('k'), Buffer.from('v'));
    await again.close();
    assert.deepEqual((await readdir(dir)).sort(), [LOG_FILE]);
  }));
