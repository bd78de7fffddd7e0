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
 * Usage: node crash-writer.js <backend: durable|file> <dir> <seed>
 */
import { sha256 } from '../../../src/crypto.js';
import { openDurableStorage } from '../../../src/store/storage/durable.js';
import { FileStorage } from '../../../src/store/storage/file-storage.js';
import type { Storage } from '../../../src/store/storage/storage.js';

/** Value layout: seq (8, BE) ‖ payload ‖ sha256(seq ‖ payload). */
export function makeValue(seq: number, size: number): Buffer {
  const body = Buffer.alloc(8 + size, seq & 0xff);
  body.writeBigUInt64BE(BigInt(seq), 0);
  return Buffer.concat([body, sha256(body)]);
}

const [backend, dir, seedText] = process.argv.slice(2);
if (backend === undefined || dir === undefined) throw new Error('usage: crash-writer <durable|file> <dir> <seed>');
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
await print('ready\n');
await Promise.all([worker(), worker(), worker(), worker()]);
