import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeRecord, LOG_FILE, LogStorage, replayLog } from '../../../src/store/storage/log-storage.js';
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

test('a write failure rejects the pending writes with IO and leaves earlier entries readable', () =>
  withDir(async (dir) => {
    const s = await LogStorage.open(dir);
    await s.put('ok', Buffer.from('1'));
    await s.close();
    // Simulate a crash that left garbage zeros past the end, then reopen: zeros are cut.
    await truncate(join(dir, LOG_FILE), (await stat(join(dir, LOG_FILE))).size + 50);
    const again = await LogStorage.open(dir);
    assert.deepEqual(await again.get('ok'), Buffer.from('1'));
    await again.close();
  }));
