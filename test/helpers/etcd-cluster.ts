/**
 * Real etcd clusters for tests: 1 or 3 members of the installed `etcd` (Debian's etcd-server, 3.4) on 127.0.0.1,
 * ports picked at run time, data folders under one temp folder. etcd cannot bind port 0, so free ports are found by
 * listening on port 0 and closing; if another process takes one in between (etcd exits with "address already in
 * use"), the whole cluster is started again on new ports. Every test stops what it started: `stopAll()` in `t.after`
 * kills every member and removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from './tmp.js';
import { stopChild } from './stop-child.js';
import type { TestContext } from 'node:test';
import { requireTools } from './require-tools.js';
import { restartablePort } from './free-port.js';

/** The etcd program (PATH lookup). */
export const ETCD = 'etcd';
/** Debian package that has it (for skip/fail messages). */
export const ETCD_PACKAGES = 'etcd-server etcd-client';

/** A free port that stays usable across a member's restart (below the ephemeral range; see free-port.ts). */
export const freePort = (): Promise<number> => restartablePort();

/** One member: its name, URLs, folder and (while it runs) its process. */
export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | undefined;
  /** The last few KiB of its output, for failure messages. */
  output: string;
}

/** Options of {@link EtcdCluster.start}. */
export interface EtcdClusterOptions {
  /** Extra flags for every member (e.g. `['--auth-token', 'simple']`). */
  extraArgs?: string[];
  /** How long to wait for a healthy cluster (default 20 s). */
  readyTimeoutMs?: number;
  /** Serve clients over https with these PEM files, requiring client certificates signed by `ca`. */
  clientTls?: EtcdTlsFiles;
}

/** PEM files of a member's client TLS (the test's own client certificate, signed by `ca`, for health checks). */
export interface EtcdTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** GET `url` with a short timeout: the status and body, or undefined when it did not answer. */
function httpGet(url: string, timeoutMs: number, tls?: EtcdTlsFiles): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const options: https.RequestOptions = { timeout: timeoutMs, agent: false };
    if (tls !== undefined) {
      options.ca = readFileSync(tls.ca);
      options.cert = readFileSync(tls.cert);
      options.key = readFileSync(tls.key);
    }
    const req = (tls === undefined ? http : https).get(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => {
        resolve(undefined);
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(undefined);
    });
  });
}

/** A running test cluster. */
export class EtcdCluster {
  readonly members: EtcdMember[];
  private readonly root: string;
  private readonly extraArgs: string[];
  private readonly tls: EtcdTlsFiles | undefined;
  private readonly token: string;

  private constructor(root: string, members: EtcdMember[], extraArgs: string[], tls: EtcdTlsFiles | undefined) {
    this.root = root;
    this.members = members;
    this.extraArgs = extraArgs;
    this.tls = tls;
    this.token = `sss-test-${randomUUID()}`;
  }

  /** Starts a cluster of `size` members and waits until every member is healthy. */
  static async start(size: 1 | 3, options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const root = await makeTempDir('sss-etcd-');
    let lastError: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      const members: EtcdMember[] = [];
      for (let i = 0; i < size; i++) {
        const clientPort = await freePort();
        const peerPort = await freePort();
        const dataDir = join(root, `attempt${attempt}-m${i}`);
        await mkdir(dataDir, { mode: 0o700 });
        members.push({
          name: `m${i}`,
          clientPort,
          peerPort,
          clientUrl: `${options.clientTls === undefined ? 'http' : 'https'}://127.0.0.1:${clientPort}`,
          peerUrl: `http://127.0.0.1:${peerPort}`,
          dataDir,
          process: undefined,
          output: '',
        });
      }
      const cluster = new EtcdCluster(root, members, options.extraArgs ?? [], options.clientTls);
      try {
        for (let i = 0; i < size; i++) cluster.spawn(i);
        await cluster.waitHealthy(options.readyTimeoutMs ?? 20_000);
        return cluster;
      } catch (err) {
        lastError = err;
        await cluster.killAll();
        const portTaken = members.some((m) => m.output.includes('address already in use'));
        if (!portTaken) break;
      }
    }
    await removeTempDir(root);
    throw lastError instanceof Error ? lastError : new Error('etcd did not start');
  }

  /** Client URLs of every member, in member order. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  private member(index: number): EtcdMember {
    const m = this.members[index];
    if (m === undefined) throw new Error(`no member ${index}`);
    return m;
  }

  private spawn(index: number): void {
    const m = this.member(index);
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', this.token,
      ...(this.tls === undefined
        ? []
        : ['--cert-file', this.tls.cert, '--key-file', this.tls.key, '--trusted-ca-file', this.tls.ca, '--client-cert-auth']),
      ...this.extraArgs,
    ];
    m.output = '';
    const child = spawn(ETCD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer): void => {
      m.output = (m.output + d.toString('utf8')).slice(-16_384);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => {
      m.output += `\nspawn error: ${err.message}`;
    });
    m.process = child;
  }

  /** Waits until every running member answers /health with true (a leader is elected, the member serves). */
  async waitHealthy(timeoutMs = 20_000, indexes?: number[]): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const which = indexes ?? this.members.map((_, i) => i).filter((i) => this.member(i).process !== undefined);
    for (;;) {
      let healthy = 0;
      for (const i of which) {
        const m = this.member(i);
        if (m.process?.exitCode !== null && m.process?.exitCode !== undefined) {
          throw new Error(`etcd member ${m.name} exited (${m.process.exitCode}): ${m.output.slice(-2000)}`);
        }
        const res = await httpGet(`${m.clientUrl}/health`, 1000, this.tls);
        if (res?.status === 200 && res.body.includes('"true"')) healthy++;
      }
      if (healthy === which.length) return;
      if (Date.now() > deadline) {
        throw new Error(`etcd did not become healthy within ${timeoutMs} ms: ${this.members.map((m) => `${m.name}: ${m.output.slice(-600)}`).join('\n')}`);
      }
      await sleep(100);
    }
  }

  /** Sends `signal` to a member and waits until it has exited. */
  private async signal(index: number, signal: NodeJS.Signals): Promise<void> {
    const m = this.member(index);
    const child = m.process;
    m.process = undefined;
    await stopChild(child, signal);
  }

  /** kill -9 of one member (a crash: no clean shutdown, no leadership transfer). */
  kill(index: number): Promise<void> {
    return this.signal(index, 'SIGKILL');
  }

  /** A clean stop of one member (SIGTERM). */
  stop(index: number): Promise<void> {
    return this.signal(index, 'SIGTERM');
  }

  /** Starts a stopped or killed member again on its data folder (and ports); does not wait for health. */
  restart(index: number): void {
    if (this.member(index).process !== undefined) throw new Error(`member ${index} is running`);
    this.spawn(index);
  }

  private async killAll(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.kill(i)));
  }

  /** Kills every member and removes every folder. */
  async stopAll(): Promise<void> {
    await this.killAll();
    await removeTempDir(this.root);
  }
}

/**
 * One single-member cluster for all the tests of one file, started by the first test that asks for it (or a skip
 * when etcd is missing: see requireTools); the file registers `stop` with `test.after`.
 */
export function lazySingleMember(): { get(t: TestContext): Promise<EtcdCluster | undefined>; stop(): Promise<void> } {
  let cluster: EtcdCluster | undefined;
  return {
    async get(t) {
      if (!requireTools(t, [ETCD], ETCD_PACKAGES)) return undefined;
      cluster ??= await EtcdCluster.start(1);
      return cluster;
    },
    async stop() {
      await cluster?.stopAll();
    },
  };
}
