import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../../../src/crypto.js';
import { openDurableStorage } from '../../../src/store/storage/durable.js';
import { FileStorage } from '../../../src/store/storage/file-storage.js';
import type { Storage } from '../../../src/store/storage/storage.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const WRITER = fileURLToPath(new URL('./crash-writer.js', import.meta.url));

/** What the writers announced (`try`) and confirmed (`ack`), per key. */
interface Op {
  op: 'put' | 'del';
  seq: number;
}
interface History {
  tried: Map<string, Op[]>;
  acked: Map<string, Op[]>;
}

/**
 * Runs the writer until `killAfterMs` after it is ready, SIGKILLs it, and returns what it acknowledged. With
 * `stallReading`, this process stops reading the writer's output from `ready` until after the kill, as a busy or
 * descheduled test process does: the pipe fills (a few hundred lines) and the writer's prints stop reaching it.
 */
function runAndKill(backend: string, dir: string, seed: number, killAfterMs: number, h: History, stallReading = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, backend, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let count = 0;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          if (stallReading) child.stdout.pause();
          setTimeout(() => {
            child.kill('SIGKILL');
            child.stdout.resume();
          }, killAfterMs);
          continue;
        }
        const [kind, op, key, seqText] = line.split(' ');
        if ((op !== 'put' && op !== 'del') || key === undefined || (kind !== 'try' && kind !== 'ack')) continue;
        const map = kind === 'try' ? h.tried : h.acked;
        const list = map.get(key) ?? [];
        list.push({ op, seq: Number(seqText) });
        map.set(key, list);
        if (kind === 'ack') count++;
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${String(code)}: ${stderr}`));
      else resolve(count);
    });
  });
}

/**
 * Every entry is whole (checksum) and is the value of an announced put; for every key, the state is the result of
 * its latest acknowledged operation or of an operation announced after it (which may or may not have landed).
 */
async function verify(store: Storage, h: History): Promise<number> {
  let entries = 0;
  for (const a of await store.list('crash/')) {
    for (const k of await store.list(`crash/${a}`)) {
      const key = `crash/${a}${k}`;
      const v = await store.get(key);
      assert.ok(v !== undefined, `${key} listed but absent`);
      const body = v.subarray(0, v.length - 32);
      assert.deepEqual(sha256(body), v.subarray(v.length - 32), `${key} is torn`);
      const seq = Number(v.readBigUInt64BE(0));
      assert.ok((h.tried.get(key) ?? []).some((o) => o.op === 'put' && o.seq === seq), `${key} holds a value nobody wrote`);
      entries++;
    }
  }
  for (const [key, acks] of h.acked) {
    const last = acks.reduce((a, b) => (b.seq > a.seq ? b : a));
    const later = (h.tried.get(key) ?? []).filter((o) => o.seq > last.seq);
    const v = await store.get(key);
    const seq = v === undefined ? undefined : Number(v.readBigUInt64BE(0));
    if (last.op === 'put') {
      const ok = seq === last.seq || later.some((o) => (o.op === 'put' ? o.seq === seq : seq === undefined));
      assert.ok(ok, `acknowledged put of ${key} (seq ${last.seq}) lost: found ${String(seq)}`);
    } else {
      const ok = seq === undefined || later.some((o) => o.op === 'put' && o.seq === seq);
      assert.ok(ok, `acknowledged delete of ${key} (seq ${last.seq}) lost: found ${String(seq)}`);
    }
  }
  return entries;
}

/** How long the last round of {@link crashRounds} keeps the writer's output unread before the kill. */
const STALL_MS = 1000;

/** `rounds` rounds killed at a random moment, then one killed after the test stopped reading for {@link STALL_MS}. */
async function crashRounds(backend: 'durable' | 'durable-ordered' | 'file', rounds: number): Promise<void> {
  const root = await makeTempDir('sss-crash-');
  try {
    const dir = join(root, 'data');
    const h: History = { tried: new Map(), acked: new Map() };
    let totalAcked = 0;
    for (let r = 0; r <= rounds; r++) {
      // The last round stops reading long enough for the pipe to fill (it holds a few hundred lines; the writer prints
      // about one a millisecond): a writer that went on past an unflushed `try` line leaves values no announced put
      // wrote, as the original writer did on a loaded machine.
      const stall = r === rounds;
      const killAfter = stall ? STALL_MS : 5 + Math.floor(Math.random() * 120);
      totalAcked += await runAndKill(backend, dir, r * 7919 + 1, killAfter, h, stall);
      const store = backend === 'file' ? await FileStorage.open(dir) : await openDurableStorage(dir);
      try {
        await verify(store, h);
      } finally {
        await store.close();
      }
    }
    assert.ok(totalAcked > rounds, `the writer made progress (${totalAcked} acknowledged operations)`);
  } finally {
    await removeTempDir(root);
  }
}

test('durable store (append log): SIGKILL at random moments never loses an acknowledged write or tears an entry', async () => {
  await crashRounds('durable', 20);
});

test('durable store, ordered groups (writeOrdered, as a KV v2 write): SIGKILL never loses an acknowledged group', async () => {
  await crashRounds('durable-ordered', 15);
});

test('file-per-entry candidate survives the same crash rounds', async () => {
  await crashRounds('file', 5);
});
