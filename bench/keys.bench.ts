/**
 * Benchmark of the VMK envelopes: encrypt and decrypt of a 5-share key file in the v2 and edgex formats, as the
 * median of many runs and as a ratio against plain JSON parse + serialize of the same file measured in the same
 * run; plus the whole key-file write (atomic, fsync, verified) and read through the disk. Prints markdown tables.
 * Run: `npm run bench -- keys` (or `node dist/bench/keys.bench.js`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from '../src/crypto.js';
import { decryptEdgexShares, encryptEdgexShares, parseEdgexDocument, serializeEdgexDocument } from '../src/vmk/envelope-edgex.js';
import { decryptV2, encryptV2, parseV2 } from '../src/vmk/envelope-v2.js';
import { parseJsonObject } from '../src/vmk/json-fields.js';
import { readKeyFile, writeKeyFile } from '../src/keyfile/keyfile.js';

const SHARES = 5;
const RUNS = 3000;
const DISK_RUNS = 60;

/** Median wall time in microseconds of `fn` over `runs` runs (after a warm-up of a tenth as many). */
async function median(runs: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < Math.ceil(runs / 10); i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/** Plain JSON parse + serialize of the same bytes: the cost any JSON key file pays, our baseline. */
function jsonRoundTrip(bytes: Buffer): () => string {
  return () => JSON.stringify(JSON.parse(bytes.toString('utf8')));
}

async function main(): Promise<void> {
  const ikm = randomBytes(32);
  const salt = randomBytes(32);
  const shares = Array.from({ length: SHARES }, () => randomBytes(33));
  const v2Bytes = encryptV2(ikm, { shares, threshold: 3 });
  const edgexBytes = serializeEdgexDocument(encryptEdgexShares(ikm, salt, shares));
  const v2Base = await median(RUNS, jsonRoundTrip(v2Bytes));
  const edgexBase = await median(RUNS, jsonRoundTrip(edgexBytes));

  const rows: [string, number, number][] = [
    ['v2 encrypt (5 shares)', await median(RUNS, () => encryptV2(ikm, { shares, threshold: 3 })), v2Base],
    ['v2 decrypt (parse + check + 5 shares)', await median(RUNS, () => decryptV2(ikm, parseV2(v2Bytes, parseJsonObject(v2Bytes, 'f', 'KEYFILE_MALFORMED'), 'f'), 'f')), v2Base],
    ['edgex encrypt (5 shares)', await median(RUNS, () => serializeEdgexDocument(encryptEdgexShares(ikm, salt, shares))), edgexBase],
    ['edgex decrypt (parse + 5 shares)', await median(RUNS, () => decryptEdgexShares(ikm, [salt], parseEdgexDocument(parseJsonObject(edgexBytes, 'f', 'KEYFILE_MALFORMED'), 'f'), 'f')), edgexBase],
  ];

  const out: string[] = [];
  out.push(`Key file with ${SHARES} shares of 33 bytes; median of ${RUNS} runs; baseline = JSON.parse + JSON.stringify of the same file (v2: ${v2Bytes.length} bytes, edgex: ${edgexBytes.length} bytes), measured in this run: v2 ${v2Base.toFixed(1)} µs, edgex ${edgexBase.toFixed(1)} µs.`, '');
  out.push('| operation | median (µs) | × JSON parse+serialize |', '| --- | ---: | ---: |');
  for (const [name, us, base] of rows) out.push(`| ${name} | ${us.toFixed(1)} | ${(us / base).toFixed(1)} |`);

  const dir = await mkdtemp(join(tmpdir(), 'sss-bench-keys-'));
  try {
    const disk: [string, number][] = [];
    for (const format of ['v2', 'edgex'] as const) {
      const loc = { dir: join(dir, format) };
      disk.push([`${format} writeKeyFile (lock, temp, fsync, verify, rename, fsync dir)`, await median(DISK_RUNS, () => writeKeyFile(loc, { shares }, { format, ikm }))]);
      disk.push([`${format} readKeyFile (lock, read, decrypt)`, await median(DISK_RUNS * 5, () => readKeyFile(loc, ikm))]);
    }
    out.push('', `Through the disk (${tmpdir()}), median of ${DISK_RUNS} writes / ${DISK_RUNS * 5} reads:`, '');
    out.push('| operation | median (µs) |', '| --- | ---: |');
    for (const [name, us] of disk) out.push(`| ${name} | ${us.toFixed(0)} |`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`keys bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
