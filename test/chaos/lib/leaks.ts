/**
 * The leak scan every part runs over what it saw: every secret of the run (IKMs, shares, tokens) in each form a
 * leak would take — raw text for printable secrets, hex in both cases, base64 padded, unpadded and url-safe (the
 * forms of test/helpers/secret-scan.ts) — looked for, whole or in any run of 15+ characters, in every output, log
 * and file kept, and in every process's argv and environment sampled from /proc during the run. Binary secrets
 * (shares, IKMs) are also looked for as raw bytes (any 12-byte run) in files. Counts hits instead of stopping at
 * the first, and names the secret's label and the source, never the value.
 */
import { readFile, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { MIN_LEAK, secretForms } from '../../helpers/secret-scan.js';
import { removeTempDir } from '../../helpers/tmp.js';
import type { ServeProc } from './procs.js';
import type { Report } from './util.js';

/** Same window and stride as secret-scan.ts: every leaked run of MIN_LEAK (15) or more characters is caught. */
const WINDOW = 12;
const STRIDE = 4;
/** Raw-byte window for binary secrets in files. */
const RAW_WINDOW = 12;

/** One hit: which secret (label), where, and in which form. */
export interface LeakHit {
  label: string;
  source: string;
  form: string;
}

/** What a scan covered and found. */
export interface LeakReport {
  hits: LeakHit[];
  secrets: number;
  sources: number;
  bytes: number;
  procSamples: number;
  processes: number;
}

const FORM_NAMES = ['hex', 'HEX', 'base64', 'base64 (unpadded)', 'base64url', 'text'];

/** Collects secrets and the places to search, then scans. */
export class LeakScan {
  private readonly secrets = new Map<string, { label: string; value: Buffer }>();
  private readonly texts: { source: string; text: string }[] = [];
  private readonly files: { source: string; bytes: Buffer }[] = [];
  private sampler: ProcSampler | undefined;
  private procSamples = 0;
  private processes = 0;

  /** Adds a secret (deduplicated by value). Too short values (< 8 bytes) are ignored. */
  addSecret(label: string, value: Buffer | string): void {
    const buf = Buffer.isBuffer(value) ? Buffer.from(value) : Buffer.from(value, 'utf8');
    if (buf.length < 8) return;
    const key = buf.toString('hex');
    if (!this.secrets.has(key)) this.secrets.set(key, { label, value: buf });
  }

  get secretCount(): number {
    return this.secrets.size;
  }

  /** Adds an output or log text. */
  addText(source: string, text: string): void {
    if (text !== '') this.texts.push({ source, text });
  }

  /**
   * Adds every regular file under `dir` (recursively) except those `skip` names (files that hold a secret by design:
   * the software hook's IKM file, the token-issuing token file).
   */
  async addFolder(dir: string, skip: (path: string) => boolean = () => false): Promise<number> {
    let count = 0;
    const walk = async (d: string): Promise<void> => {
      let names: string[];
      try {
        names = await readdir(d);
      } catch {
        return;
      }
      for (const name of names) {
        const p = join(d, name);
        let st;
        try {
          st = await lstat(p);
        } catch {
          continue;
        }
        if (st.isDirectory()) await walk(p);
        else if (st.isFile() && !skip(p)) {
          try {
            this.files.push({ source: p, bytes: await readFile(p) });
            count++;
          } catch {
            // vanished meanwhile
          }
        }
      }
    };
    await walk(dir);
    return count;
  }

  /** Starts sampling /proc under this process (every `intervalMs`). */
  startProcSampler(intervalMs = 4): void {
    if (this.sampler !== undefined) return;
    this.sampler = new ProcSampler(process.pid, intervalMs, (source, text) => {
      this.addText(source, text);
    });
  }

  /** Stops the sampler (and keeps its counts). */
  async stopProcSampler(): Promise<void> {
    const s = this.sampler;
    if (s === undefined) return;
    this.sampler = undefined;
    const { samples, processes } = await s.stop();
    this.procSamples += samples;
    this.processes += processes;
  }

  /** Searches every text and file for every secret. */
  scan(): LeakReport {
    // window → (label, form) of every secret's stride windows (and each form's last window).
    const windows = new Map<string, { label: string; form: string }>();
    const raw = new Map<number, { label: string; value: Buffer; at: number }[]>();
    for (const { label, value } of this.secrets.values()) {
      const forms = secretForms(value);
      const all = allForms(value);
      for (const form of forms) {
        const formName = FORM_NAMES[all.indexOf(form)] ?? 'form';
        for (let i = 0; i + WINDOW <= form.length; i += STRIDE) windows.set(form.slice(i, i + WINDOW), { label, form: formName });
        if (form.length >= WINDOW) windows.set(form.slice(-WINDOW), { label, form: formName });
      }
      if (value.length >= RAW_WINDOW) {
        for (let at = 0; at + RAW_WINDOW <= value.length; at += 4) {
          const k = value.readUInt32BE(at);
          const list = raw.get(k) ?? [];
          list.push({ label, value, at });
          raw.set(k, list);
        }
      }
    }
    const hits: LeakHit[] = [];
    const seen = new Set<string>();
    const hit = (h: LeakHit): void => {
      const k = `${h.label}\u0000${h.source}\u0000${h.form}`;
      if (!seen.has(k)) {
        seen.add(k);
        hits.push(h);
      }
    };
    let bytes = 0;
    const scanText = (source: string, text: string): void => {
      bytes += text.length;
      for (const m of text.matchAll(/[A-Za-z0-9+/=_.-]{12,}/g)) {
        const run = m[0];
        for (let i = 0; i + WINDOW <= run.length; i++) {
          const w = windows.get(run.slice(i, i + WINDOW));
          if (w !== undefined) hit({ label: w.label, source, form: w.form });
        }
      }
    };
    for (const { source, text } of this.texts) scanText(source, text);
    for (const { source, bytes: b } of this.files) {
      scanText(source, b.toString('latin1'));
      for (let i = 0; i + RAW_WINDOW <= b.length; i++) {
        const cands = raw.get(b.readUInt32BE(i));
        if (cands === undefined) continue;
        for (const c of cands) {
          if (b.subarray(i, i + RAW_WINDOW).equals(c.value.subarray(c.at, c.at + RAW_WINDOW))) hit({ label: c.label, source, form: 'raw bytes' });
        }
      }
    }
    return { hits, secrets: this.secrets.size, sources: this.texts.length + this.files.length, bytes, procSamples: this.procSamples, processes: this.processes };
  }
}

/** The same list secretForms builds, unfiltered, to name the form of a window. */
function allForms(secret: Buffer): string[] {
  const b64 = secret.toString('base64');
  const forms = [secret.toString('hex'), secret.toString('hex').toUpperCase(), b64, b64.replace(/=+$/, ''), secret.toString('base64url')];
  if (secret.every((c) => c >= 0x21 && c <= 0x7e)) forms.push(secret.toString('latin1'));
  return forms;
}

/** Polls /proc under a pid in a worker thread (see proc-sampler.ts). */
export class ProcSampler {
  private readonly worker: Worker;
  private readonly flag: Int32Array;
  private readonly finished: Promise<{ samples: number; processes: number }>;

  constructor(rootPid: number, intervalMs: number, onText: (source: string, text: string) => void) {
    const stop = new SharedArrayBuffer(4);
    this.flag = new Int32Array(stop);
    this.worker = new Worker(new URL('./proc-sampler.js', import.meta.url), { workerData: { rootPid, intervalMs, stop } });
    this.finished = new Promise((resolve, reject) => {
      this.worker.on('message', (m: { type: string; source?: string; text?: string; samples?: number; processes?: number }) => {
        if (m.type === 'text' && m.source !== undefined && m.text !== undefined) onText(m.source, m.text);
        if (m.type === 'done') resolve({ samples: m.samples ?? 0, processes: m.processes ?? 0 });
      });
      this.worker.on('error', reject);
    });
  }

  async stop(): Promise<{ samples: number; processes: number }> {
    Atomics.store(this.flag, 0, 1);
    const r = await this.finished;
    await this.worker.terminate();
    return r;
  }
}

export { MIN_LEAK };

/**
 * The end of a part that ran `serve` on `dir/data`: its output and data folder go to the scan, it is killed and
 * `dir` removed (call in the part's `finally`).
 */
export async function scanServeAndRemove(scan: LeakScan, serve: ServeProc, dir: string): Promise<void> {
  scan.addText('serve output', serve.output());
  await serve.kill();
  await scan.addFolder(join(dir, 'data'));
  await removeTempDir(dir);
}

/**
 * Runs the scan and records its hits in `report` as one check (`what`: the secrets looked for, and where); the first
 * five hits are named, their source shown through `showSource` (e.g. to mask what a message quotes). Returns the
 * scan's result (for its coverage figures).
 */
export function checkLeaks(report: Report, scan: LeakScan, what: string, showSource: (source: string) => string = (source) => source): LeakReport {
  const leaks = scan.scan();
  report.check(`leak hits (${what})`, leaks.hits.length, '= 0', leaks.hits.length === 0, leaks.hits.slice(0, 5).map((h) => `${h.label} in ${showSource(h.source)} (${h.form})`).join('; '));
  return leaks;
}
