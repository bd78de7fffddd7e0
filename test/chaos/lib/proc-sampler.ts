/**
 * Worker thread of {@link ProcSampler} (lib/leaks.ts): polls the process tree under a root pid every few
 * milliseconds and posts each distinct argv (/proc/<pid>/cmdline) and environment (/proc/<pid>/environ) it sees, so
 * that the leak scan covers what every process of the run carried on its command line and in its environment.
 * Synchronous reads in a loop, stopped through a shared flag.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

interface Params {
  rootPid: number;
  intervalMs: number;
  stop: SharedArrayBuffer;
}

const { rootPid, intervalMs, stop } = workerData as Params;
const flag = new Int32Array(stop);
const seen = new Set<string>();
let samples = 0;
let processes = 0;
const pidsSeen = new Set<number>();

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

function children(pid: number): number[] {
  const text = read(`/proc/${pid}/task/${pid}/children`);
  if (text === undefined) return [];
  return text
    .split(' ')
    .filter((s) => s !== '')
    .map(Number);
}

function sampleOnce(): void {
  const stack = [rootPid];
  const visited = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop();
    if (pid === undefined || visited.has(pid)) continue;
    visited.add(pid);
    if (!pidsSeen.has(pid)) {
      pidsSeen.add(pid);
      processes++;
    }
    for (const kind of ['cmdline', 'environ'] as const) {
      const text = read(`/proc/${pid}/${kind}`);
      if (text === undefined || text === '') continue;
      const key = createHash('sha1').update(text).digest('hex');
      if (seen.has(key)) continue;
      seen.add(key);
      parentPort?.postMessage({ type: 'text', source: `/proc/${pid}/${kind}`, text: text.replace(/\0/g, '\n') });
    }
    stack.push(...children(pid));
  }
  samples++;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
while (Atomics.load(flag, 0) === 0) {
  sampleOnce();
  Atomics.wait(sleeper, 0, 0, intervalMs);
}
sampleOnce();
parentPort?.postMessage({ type: 'done', samples, processes });
