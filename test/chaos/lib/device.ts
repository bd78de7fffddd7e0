/**
 * A throw-away device for the boot-flow parts: the test device of test/helpers/boot-env.ts (configuration.yaml,
 * key folder, the software hook hooks/ikm-dev with a random IKM) plus its own `serve` process, a token that can
 * write and read `secret/`, and the checks every part makes on the key folder.
 */
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { IKM_DEV, makeBootEnv, type BootEnv } from '../../helpers/boot-env.js';
import { readKeyFile } from '../../../src/keyfile/keyfile.js';
import { StoreClient, dataOf } from './http.js';
import { type LeakScan } from './leaks.js';
import { ServeProc } from './procs.js';
import { createToken, must } from './store.js';
import { excerpt, onCleanup } from './util.js';

/** Files that may stay in a key folder once every command has finished. */
const KEY_FOLDER_FILES = new Set(['resp-init.json', 'kdf-salt.dat']);

/** A device: folders, hook, store. */
export class Device {
  readonly be: BootEnv;
  readonly serve: ServeProc;
  readonly client: StoreClient;
  /** A token (orphan, policy edgex-service-chaos: everything under secret/) made with the token-issuing token. */
  chaosToken: string | undefined;
  /** The secret written before the crash, if any. */
  secret: { path: string; value: string } | undefined;
  /** Extra IKMs (rewrap targets) and the hooks that print them. */
  readonly extraIkms: { hook: string; ikmHex: string }[] = [];
  private readonly unregister: () => void;

  private constructor(be: BootEnv, serve: ServeProc) {
    this.be = be;
    this.serve = serve;
    this.client = new StoreClient(serve.url, 4);
    this.unregister = onCleanup(() => this.close());
  }

  /** A fresh device with its own (uninitialized) store; `yaml` adds SecretStore settings. */
  static async create(yaml: Record<string, string | number | boolean> = {}): Promise<Device> {
    const be = await makeBootEnv({ WaitTimeout: 20, ...yaml });
    try {
      const serve = await ServeProc.start(join(be.dir, 'store-data'));
      return new Device(be, serve);
    } catch (err) {
      await be.close();
      throw err;
    }
  }

  /** The store's URL (stable across restarts). */
  get url(): string {
    return this.serve.url;
  }

  /** `bootstrap --addr URL` arguments. */
  bootstrapArgs(): string[] {
    return ['bootstrap', '--addr', this.serve.url];
  }

  /** The environment with a given hook (default: the device's ikm-dev hook), or without any. */
  envWith(hook: string | undefined | null): NodeJS.ProcessEnv {
    if (hook === null) return this.be.envNoHook;
    return { ...this.be.env, EDGEX_IKM_HOOK: hook ?? IKM_DEV };
  }

  /** Writes a second hook printing a fresh IKM (for `keys rewrap --new-hook`). */
  async addHook(): Promise<{ hook: string; ikmHex: string }> {
    const n = this.extraIkms.length + 1;
    const ikmHex = randomBytes(32).toString('hex');
    const ikmFile = join(this.be.dir, `ikm-${n}.hex`);
    await writeFile(ikmFile, ikmHex + '\n', { mode: 0o600 });
    await chmod(ikmFile, 0o600);
    const hook = join(this.be.dir, `ikm-${n}`);
    await writeFile(hook, `#!/bin/sh\nIKM_DEV_FILE='${ikmFile}' exec '${IKM_DEV}'\n`);
    await chmod(hook, 0o700);
    const h = { hook, ikmHex };
    this.extraIkms.push(h);
    return h;
  }

  /** Every IKM this device used (the device's own first). */
  ikms(): Buffer[] {
    return [Buffer.from(this.be.ikmHex, 'hex'), ...this.extraIkms.map((h) => Buffer.from(h.ikmHex, 'hex'))];
  }

  /** The token-issuing token written by the last bootstrap (undefined when absent). */
  async adminToken(): Promise<string | undefined> {
    try {
      const doc = JSON.parse(await readFile(this.be.adminTokenPath, 'utf8')) as { auth?: { client_token?: string } };
      return doc.auth?.client_token;
    } catch {
      return undefined;
    }
  }

  /**
   * After a successful bootstrap: makes the chaos token with the token-issuing token (an edgex-service-* policy on
   * secret/*, an orphan so that revoking the token-issuing token at the next boot leaves it) and writes a secret.
   */
  async provisionSecret(): Promise<void> {
    const admin = await this.adminToken();
    if (admin === undefined) throw new Error('no token-issuing token file after bootstrap');
    await must(this.client, 'PUT', 'sys/policies/acl/edgex-service-chaos', {
      token: admin,
      body: { policy: 'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }' },
    });
    this.chaosToken = (await createToken(this.client, admin, { policies: ['edgex-service-chaos'], ttl: '24h' }, 'auth/token/create-orphan')).token;
    const value = randomBytes(16).toString('hex');
    const path = `secret/chaos/${randomBytes(4).toString('hex')}`;
    await must(this.client, 'PUT', path, { token: this.chaosToken, body: { value } });
    this.secret = { path, value };
  }

  /** Whether the secret written before the crash reads back (true when none was written). */
  async secretReadsBack(): Promise<{ ok: boolean; detail: string }> {
    if (this.secret === undefined || this.chaosToken === undefined) return { ok: true, detail: 'no secret' };
    try {
      const r = await this.client.api('GET', this.secret.path, { token: this.chaosToken });
      const value = dataOf(r)?.value;
      return value === this.secret.value ? { ok: true, detail: 'ok' } : { ok: false, detail: `GET ${this.secret.path}: HTTP ${r.status} ${excerpt(r.text, 120)}` };
    } catch (err) {
      return { ok: false, detail: `GET ${this.secret.path}: ${(err as Error).message}` };
    }
  }

  /** Names in the key folder that are not the key file or its salt (temp files, locks, markers), pids masked. */
  async keyFolderLeftovers(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.be.keysDir);
    } catch {
      return [];
    }
    return names.filter((n) => !KEY_FOLDER_FILES.has(n)).map(maskName);
  }

  /** Names in the key folder (for reports). */
  async keyFolder(): Promise<string[]> {
    try {
      return (await readdir(this.be.keysDir)).map(maskName).sort();
    } catch {
      return [];
    }
  }

  /**
   * Whether any key file readable with one of the device's IKMs (or in plaintext) holds shares that unseal this
   * store: restarts the store (sealed) and tries them. Used to tell "operator action needed" from "shares lost".
   */
  async sharesUnseal(): Promise<{ ok: boolean; detail: string }> {
    const candidates: Buffer[][] = [];
    for (const ikm of [...this.ikms(), undefined]) {
      try {
        const { secrets } = await readKeyFile({ dir: this.be.keysDir }, ikm);
        candidates.push(secrets.shares);
      } catch {
        // not this IKM, or no file
      }
    }
    if (candidates.length === 0) return { ok: false, detail: 'no key file readable with any IKM of the device' };
    await this.serve.restart();
    for (const shares of candidates) {
      await this.client.api('PUT', 'sys/unseal', { body: { reset: true } }).catch(() => undefined);
      for (const s of shares) {
        const r = await this.client.api('PUT', 'sys/unseal', { body: { key: s.toString('hex') } }).catch(() => undefined);
        if (r !== undefined && (r.body as { sealed?: boolean } | undefined)?.sealed === false) return { ok: true, detail: 'the key file unseals the store' };
        if (r === undefined || r.status !== 200) break;
      }
    }
    return { ok: false, detail: 'the key file does not unseal the store' };
  }

  /** Adds the device's secrets (IKMs, shares, tokens), outputs and folders to a leak scan. */
  async collectLeaks(scan: LeakScan, outputs: readonly string[], skip: (path: string) => boolean = () => false): Promise<void> {
    this.ikms().forEach((ikm, i) => {
      scan.addSecret(`IKM ${i}`, ikm);
    });
    for (const ikm of [...this.ikms(), undefined]) {
      try {
        const { secrets } = await readKeyFile({ dir: this.be.keysDir }, ikm);
        secrets.shares.forEach((s, i) => {
          scan.addSecret(`share ${i}`, s);
        });
        if (secrets.rootToken !== undefined) scan.addSecret('root token', secrets.rootToken);
        break;
      } catch {
        // next
      }
    }
    const admin = await this.adminToken();
    if (admin !== undefined) scan.addSecret('token-issuing token', admin);
    if (this.chaosToken !== undefined) scan.addSecret('chaos token', this.chaosToken);
    for (const [i, o] of [...outputs, ...this.be.outputs].entries()) scan.addText(`cli output ${i}`, o);
    scan.addText('serve output', this.serve.output());
    // Files that hold a secret by design: the software hook's IKM files and the token-issuing token file.
    await scan.addFolder(this.be.dir, (p) => /\/ikm(-\d+)?\.hex$/.test(p) || p === this.be.adminTokenPath || skip(p));
  }

  async close(): Promise<void> {
    this.unregister();
    this.client.close();
    await this.serve.kill();
    await this.be.close();
  }
}

/** Masks pids, random suffixes and times in a file name or message, so equal outcomes group together. */
export function maskName(name: string): string {
  return name
    .replace(/\.tmp-\d+-[0-9a-f]+/g, '.tmp-<pid>-<rand>')
    .replace(/\.lock\.\d+-[0-9a-f]+/g, '.lock.<pid>-<rand>')
    .replace(/\.stale-\d+-[0-9a-f]+/g, '.stale-<pid>-<rand>');
}

/** The one-line error of a CLI run (`secretstore-setup …: message`), masked for grouping. */
export function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const err = [...lines].reverse().find((l) => l.startsWith('secretstore-setup')) ?? lines.at(-1) ?? '';
  return maskMessage(err);
}

/** Masks temp paths, ports, times and pids in a message. */
export function maskMessage(text: string): string {
  return maskName(text)
    .replace(/\/tmp\/sss-[A-Za-z0-9-]+/g, '<dir>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/process \d+/g, 'process <pid>')
    .replace(/after \d+ s/g, 'after <n> s');
}

/** Writes a random PEM-looking private key file (for `protect`); returns its bytes. */
export async function writeFakeKey(path: string): Promise<Buffer> {
  const dir = path.slice(0, path.lastIndexOf('/'));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const body = randomBytes(1200).toString('base64').replace(/(.{64})/g, '$1\n');
  const bytes = Buffer.from(`-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`);
  await writeFile(path, bytes, { mode: 0o600 });
  return bytes;
}
