/**
 * Child process of the crash test (not a test file): writes checksummed entries through a durable backend in a
 * loop, several writes in flight. Before each operation it prints `try <put|del> <key> <seq>`, after its
 * acknowledgement `ack <put|del> <key> <seq>`, and it starts an operation only once its `try` line has reached the
 * pipe (the write's callback): so every operation that may have reached the disk was announced by a `try` line the
 * test reads, and an `ack` line it reads was acknowledged before the SIGKILL.
 *
 * Waiting for the callback matters: a write to stdout is synchronous only while the pipe (a socket pair of a few
 * hundred lines) has room. When the test process falls behind reading it (a loaded machine), Node queues the line in
 * this process and `write` returns at once; a SIGKILL then loses the queued lines, and the test would find values
 * whose `try` it never saw ("holds a value nobody wrote") although the storage did nothing wrong.
 * In `durable-ordered` mode each step is a group of 1–3 writes of distinct keys through `writeOrdered` (every `try`
 * line before it, every `ack` after): a crash may leave any prefix of a group, which the same check accepts.
 * Usage: node crash-writer.js <backend: durable|durable-ordered|file> <dir> <seed>
 */
import { sha256 } from '../../../src/crypto.js';
import { openDurableStorage } from '../../../src/store/storage/durable.js';
import { FileStorage } from '../../../src/store/storage/file-storage.js';
import type { Storage, StorageOp } from '../../../src/store/storage/storage.js';

/** Value layout: seq (8, BE) ‖ payload ‖ sha256(seq ‖ payload). */
export function makeValue(seq: number, size: number): Buffer {
  const body = Buffer.alloc(8 + size, seq & 0xff);
  body.writeBigUInt64BE(BigInt(seq), 0);
  return Buffer.concat([body, sha256(body)]);
}

const [backend, dir, seedText] = process.argv.slice(2);
if (backend === undefined || dir === undefined) throw new Error('usage: crash-writer <durable|durable-ordered|file> <dir> <seed>');
let seed = Number(seedText ?? '1') >>> 0 || 1;
const rand = (n: number): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
};

const store: Storage = backend === 'file' ? await FileStorage.open(dir) : await openDurableStorage(dir);
/** Prints `line` and resolves once it is in the pipe, where a SIGKILL of this process can no longer lose it. */
function print(line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(line, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

let seq = Date.now() * 1000;
async function worker(): Promise<void> {
  for (;;) {
    const key = `crash/${rand(4)}/k-${rand(40)}`;
    const mySeq = ++seq;
    const op = rand(10) === 0 ? 'del' : 'put';
    await print(`try ${op} ${key} ${mySeq}\n`);
    if (op === 'del') await store.delete(key);
    else await store.put(key, makeValue(mySeq, rand(3000)));
    await print(`ack ${op} ${key} ${mySeq}\n`);
  }
}

/** Groups of 1–3 writes of distinct keys, each group one `writeOrdered` call. */
async function orderedWorker(): Promise<void> {
  const writeOrdered = store.writeOrdered?.bind(store);
  if (writeOrdered === undefined) throw new Error('this backend has no writeOrdered');
  for (;;) {
    const keys = [...new Set(Array.from({ length: 1 + rand(3) }, () => `crash/${rand(4)}/k-${rand(40)}`))];
    const group = keys.map((key) => ({ key, seq: ++seq, op: rand(10) === 0 ? 'del' : 'put' }));
    // One print per group: the print callbacks come back in the order of the prints, so groups reach the storage in
    // the order of their sequence numbers, which the test's check takes for the order of the writes to a key.
    await print(group.map((g) => `try ${g.op} ${g.key} ${g.seq}\n`).join(''));
    await writeOrdered(group.map((g): StorageOp => [g.key, g.op === 'del' ? undefined : makeValue(g.seq, rand(3000))]));
    await print(group.map((g) => `ack ${g.op} ${g.key} ${g.seq}\n`).join(''));
  }
}
await print('ready\n');
const work = backend === 'durable-ordered' ? orderedWorker : worker;
await Promise.all([work(), work(), work(), work()]);
