/**
 * `secretstore-setup serve`: runs the embedded Vault-API-compatible secret store over a data folder (default) or, as
 * one node of an active/standby cluster, over etcd (docs/ha.md), until SIGTERM or SIGINT. Starts sealed whenever the
 * store is initialized; on a signal it stops accepting, finishes in-flight requests, seals (wiping keys from memory)
 * and closes the storage. Settings come from flags and, with `--config`, from a Vault-style file (flags win).
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Command, CommandContext } from '../command.js';
import { parseCommandArgs, parseIntegerOption } from '../args.js';
import { SecretStoreError, describeCause } from '../../errors.js';
import { wipe } from '../../crypto.js';
import { DEFAULT_MAX_BODY_BYTES, type TlsMaterial } from '../../store/http/http-server.js';
import type { SharedStorage } from '../../store/storage/shared-storage.js';
import { StoreServer, type StoreServerOptions } from '../../store/server.js';
import { readServeConfig, splitList, type EtcdFileSettings, type ServeFileConfig } from './serve-config.js';
import { isProtectedBlob, unprotectBlob } from '../../vmk/protected-blob.js';
import { hookOptionsFromEnv, runIkmHook } from '../../vmk/ikm-hook.js';

/** Default listen address, as Vault's. */
export const DEFAULT_LISTEN = '127.0.0.1:8200';
/** Purpose label of a TLS key protected with the IKM hook (`secretstore-setup protect --purpose tls-key`). */
export const TLS_KEY_PURPOSE = 'tls-key';

/** Default key prefix in etcd (Vault's storage "etcd" `path` is "/vault/"; keys here have no leading slash). */
export const DEFAULT_ETCD_PREFIX = 'vault/';
/** Environment variable holding the etcd password (never on the command line, where `ps` shows it). */
export const ETCD_PASSWORD_ENV = 'SECRETSTORE_ETCD_PASSWORD';

const USAGE = `Usage: secretstore-setup serve --data DIR [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--max-body BYTES]
       secretstore-setup serve --storage etcd --etcd-endpoints URL[,URL…] --api-addr URL [--etcd-prefix PREFIX] [...]
       secretstore-setup serve --config FILE [flags that override the file]

Runs the embedded secret store, which speaks Vault's HTTP API (/v1/...), over the data folder DIR (created 0700), or
as one node of an active/standby cluster whose nodes share etcd (docs/ha.md): one node is active, the others are
standbys that forward requests to it. The store starts sealed; initialize it once (PUT /v1/sys/init, on any one node)
and unseal it (every node) with the key shares after each start.
When ready it prints one line on stdout: "listening on http://HOST:PORT" (https with TLS), with the real port.
SIGTERM or SIGINT: stop accepting, finish in-flight requests, seal, close the storage, exit 0.

Options:
  --config FILE       Vault-style configuration (HCL or JSON): storage "file"|"etcd" {…}, listener "tcp" {…}, api_addr
  --storage KIND      file (default) or etcd
  --data DIR          data folder (file storage; required); holds only encrypted entries and the plaintext seal configuration
  --listen HOST:PORT  address to listen on (default ${DEFAULT_LISTEN}; port 0 picks a free port; [::1]:8200 for IPv6)
  --tls-cert FILE     PEM certificate chain; with --tls-key, serve HTTPS
  --tls-key FILE      PEM private key, or a file protected with the IKM hook (decrypted in memory with EDGEX_IKM_HOOK)
  --max-body BYTES    largest request body accepted (default ${DEFAULT_MAX_BODY_BYTES}, as Vault); larger → 413

etcd storage (HA):
  --etcd-endpoints URL[,URL…]  etcd client URLs (Vault's address)
  --etcd-prefix PREFIX         key prefix shared by the cluster's nodes (default ${DEFAULT_ETCD_PREFIX}; Vault's path)
  --api-addr URL               this node's URL for clients and forwarding standbys (Vault's api_addr); required unless
                               --listen names a specific address (then http(s)://HOST:PORT of the listener is used)
  --etcd-ca-file FILE          CA of etcd's server certificates (PEM)
  --etcd-cert-file FILE        client certificate for etcd (PEM), with --etcd-key-file
  --etcd-key-file FILE         its key (PEM)
  --etcd-username NAME         etcd user; the password comes from --etcd-password-file FILE or ${ETCD_PASSWORD_ENV}
  --etcd-password-file FILE    file holding the etcd password (one line)
  --forward-ca-file FILE       CA of the other nodes' TLS certificates, for forwarding to an https api_addr
                               (default: the system's CAs and this node's --tls-cert)

Examples:
  secretstore-setup serve --data /var/lib/secretstore
  secretstore-setup serve --data ./data --listen 0.0.0.0:8200 --tls-cert server.crt --tls-key server.key.protected
  secretstore-setup serve --storage etcd --etcd-endpoints http://127.0.0.1:2379 --listen 127.0.0.1:8201
`;

/** A parsed `--listen` value. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `HOST:PORT` or `[IPV6]:PORT`; anything else is a USAGE error. */
export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port > 65535) {
    throw new SecretStoreError('USAGE', `--listen must be HOST:PORT (port 0..65535), got "${value}"`);
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Creates the data folder 0700, or checks that an existing one is a folder other users cannot access. */
async function prepareDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await stat(dir);
    if (!st.isDirectory()) throw new SecretStoreError('IO', `--data ${dir} is not a folder; point --data at a folder`);
    if ((st.mode & 0o077) !== 0) {
      throw new SecretStoreError(
        'UNSAFE_PERMISSIONS',
        `data folder ${dir} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}); run "chmod 700 ${dir}"`,
      );
    }
  } catch (err) {
    if (err instanceof SecretStoreError) throw err;
    throw new SecretStoreError('IO', `cannot create or read the data folder ${dir} (${describeCause(err)}); check the path and permissions`, {
      cause: err,
    });
  }
}

async function readFileOrFail(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot read the ${what} file ${path} (${describeCause(err)}); check the path and permissions`, { cause: err });
  }
}

/** Loads the TLS certificate and key; a protected key is decrypted in memory with the IKM hook (IKM wiped after). */
async function loadTls(ctx: CommandContext, certPath: string, keyPath: string): Promise<TlsMaterial> {
  const cert = await readFileOrFail(resolve(ctx.cwd, certPath), 'TLS certificate');
  const keyFile = await readFileOrFail(resolve(ctx.cwd, keyPath), 'TLS key');
  if (!isProtectedBlob(keyFile)) return { cert, key: keyFile };
  const hook = hookOptionsFromEnv(ctx.env);
  if (hook === undefined) {
    throw new SecretStoreError('HOOK_NOT_CONFIGURED', `the TLS key ${keyPath} is protected; set EDGEX_IKM_HOOK to the IKM hook that protected it`);
  }
  let ikm: Buffer | undefined;
  try {
    ikm = await runIkmHook(hook);
    return { cert, key: unprotectBlob(ikm, TLS_KEY_PURPOSE, keyFile) };
  } finally {
    wipe(ikm, keyFile);
  }
}

/** Listen hosts that name no address another node could reach (then `--api-addr` is required). */
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::']);

/** The etcd flags (refused with the file storage, where they would silently do nothing). */
const ETCD_FLAGS = [
  'etcd-endpoints',
  'etcd-prefix',
  'api-addr',
  'etcd-ca-file',
  'etcd-cert-file',
  'etcd-key-file',
  'etcd-username',
  'etcd-password-file',
  'forward-ca-file',
] as const;

type EtcdFlagValues = Partial<Record<(typeof ETCD_FLAGS)[number], string>>;

/** `--api-addr`: an absolute http(s) URL without path, query or credentials (other nodes append `/v1/...`). */
export function parseApiAddr(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SecretStoreError('USAGE', `--api-addr must be a URL such as https://10.0.0.1:8200, got "${value}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new SecretStoreError('USAGE', `--api-addr must be http(s)://HOST:PORT, got "${value}"`);
  }
  if (url.pathname !== '/' && url.pathname !== '') throw new SecretStoreError('USAGE', `--api-addr must not have a path, got "${value}"`);
  return `${url.protocol}//${url.host}`;
}

/** Opens the etcd storage from flags over the file's storage "etcd" block (dynamically: file storage never loads it). */
async function openEtcd(ctx: CommandContext, values: EtcdFlagValues, etcd: EtcdFileSettings): Promise<SharedStorage> {
  if (etcd.haEnabled === false) {
    throw new SecretStoreError('CONFIG', 'storage "etcd" ha_enabled = false is not supported: nodes sharing etcd always elect one active node');
  }
  const endpoints = values['etcd-endpoints'] !== undefined ? splitList(values['etcd-endpoints']) : (etcd.address ?? []);
  if (endpoints.length === 0) throw new SecretStoreError('USAGE', '--storage etcd needs --etcd-endpoints URL[,URL…] (or address in storage "etcd")');
  const prefix = values['etcd-prefix'] ?? etcd.path ?? DEFAULT_ETCD_PREFIX;
  const file = (flag: string, path: string | undefined): Promise<Buffer> | undefined =>
    path === undefined ? undefined : readFileOrFail(resolve(ctx.cwd, path), `--${flag}`);
  const ca = await file('etcd-ca-file', values['etcd-ca-file'] ?? etcd.tlsCaFile);
  const cert = await file('etcd-cert-file', values['etcd-cert-file'] ?? etcd.tlsCertFile);
  const key = await file('etcd-key-file', values['etcd-key-file'] ?? etcd.tlsKeyFile);
  if ((cert === undefined) !== (key === undefined)) throw new SecretStoreError('USAGE', '--etcd-cert-file and --etcd-key-file go together; give both or neither');
  const username = values['etcd-username'] ?? etcd.username;
  const password = await etcdPassword(ctx, values['etcd-password-file'], etcd.password);
  if ((username === undefined) !== (password === undefined)) {
    throw new SecretStoreError('USAGE', `--etcd-username needs a password (--etcd-password-file or ${ETCD_PASSWORD_ENV}), and a password needs --etcd-username`);
  }
  const tls = { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
  // Loaded only for etcd: a folder store's start never pays for the etcd client.
  const { openEtcdStorage } = await import('../../store/storage/etcd/etcd-storage.js');
  try {
    return await openEtcdStorage(
      {
        endpoints,
        prefix,
        ...(Object.keys(tls).length === 0 ? {} : { tls }),
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password }),
      },
      ctx.log.child({ component: 'etcd' }),
    );
  } finally {
    wipe(key);
  }
}

/** The etcd password: `--etcd-password-file`, else the environment, else the configuration file; never argv. */
async function etcdPassword(ctx: CommandContext, path: string | undefined, fromFile: string | undefined): Promise<string | undefined> {
  if (path !== undefined) {
    const raw = await readFileOrFail(resolve(ctx.cwd, path), '--etcd-password-file');
    try {
      return raw.toString('utf8').replace(/\r?\n$/, '');
    } finally {
      wipe(raw);
    }
  }
  const env = ctx.env[ETCD_PASSWORD_ENV];
  if (env !== undefined && env !== '') return env;
  return fromFile;
}

/** CAs to trust when forwarding to an https node: `--forward-ca-file`, else the system's plus this node's certificate. */
async function forwardingCa(ctx: CommandContext, caPath: string | undefined, certPath: string | undefined): Promise<Buffer[] | undefined> {
  if (caPath !== undefined) return [await readFileOrFail(resolve(ctx.cwd, caPath), '--forward-ca-file')];
  if (certPath === undefined) return undefined;
  return [...rootCertificates.map((pem) => Buffer.from(pem)), await readFileOrFail(resolve(ctx.cwd, certPath), 'TLS certificate')];
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      resolve();
    }, { once: true });
  });
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the embedded Vault-compatible secret store',
  usage: USAGE,
  async run(ctx) {
    const { values } = parseCommandArgs(ctx.argv, {
      config: { type: 'string' },
      storage: { type: 'string' },
      data: { type: 'string' },
      listen: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-body': { type: 'string' },
      'etcd-endpoints': { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'api-addr': { type: 'string' },
      'etcd-ca-file': { type: 'string' },
      'etcd-cert-file': { type: 'string' },
      'etcd-key-file': { type: 'string' },
      'etcd-username': { type: 'string' },
      'etcd-password-file': { type: 'string' },
      'forward-ca-file': { type: 'string' },
    });
    const file: ServeFileConfig = values.config === undefined ? {} : await readServeConfig(resolve(ctx.cwd, values.config));
    const kind = values.storage ?? file.storage?.type ?? 'file';
    if (kind !== 'file' && kind !== 'etcd') throw new SecretStoreError('USAGE', `--storage must be file or etcd, got "${kind}"`);
    if (values.storage !== undefined && file.storage !== undefined && file.storage.type !== kind) {
      throw new SecretStoreError('USAGE', `--storage ${kind} contradicts storage "${file.storage.type}" in ${values.config ?? ''}`);
    }
    const listen = parseListen(values.listen ?? file.listener?.address ?? DEFAULT_LISTEN);
    const maxBodyBytes = parseIntegerOption('max-body', values['max-body'], 1, 1024 * 1024 * 1024) ?? DEFAULT_MAX_BODY_BYTES;
    const certPath = values['tls-cert'] ?? file.listener?.tlsCertFile;
    const keyPath = values['tls-key'] ?? file.listener?.tlsKeyFile;
    if ((certPath === undefined) !== (keyPath === undefined)) {
      throw new SecretStoreError('USAGE', '--tls-cert and --tls-key go together; give both or neither');
    }
    const etcdFlags = ETCD_FLAGS.filter((f) => values[f] !== undefined);
    // Opened last (after the TLS files are read), so a bad TLS file does not leave an etcd connection behind.
    let storage: () => Promise<Pick<StoreServerOptions, 'dataDir' | 'shared'>>;
    if (kind === 'file') {
      if (etcdFlags.length > 0) throw new SecretStoreError('USAGE', `--${etcdFlags[0] ?? ''} needs --storage etcd`);
      const data = values.data ?? (file.storage?.type === 'file' ? file.storage.path : undefined);
      if (data === undefined || data === '') throw new SecretStoreError('USAGE', '--data DIR is required; see --help');
      const dataDir = resolve(ctx.cwd, data);
      await prepareDataDir(dataDir);
      storage = () => Promise.resolve({ dataDir });
    } else {
      if (values.data !== undefined) throw new SecretStoreError('USAGE', '--data is for --storage file; etcd keeps no data folder');
      const etcd = file.storage?.type === 'etcd' ? file.storage : { type: 'etcd' as const };
      const apiAddr = parseApiAddr(values['api-addr'] ?? file.apiAddr ?? ctx.env.VAULT_API_ADDR);
      if (apiAddr === undefined && WILDCARD_HOSTS.has(listen.host)) {
        throw new SecretStoreError('USAGE', `--listen ${listen.host} names no address other nodes can forward to; give --api-addr URL (this node's URL)`);
      }
      const forwardCa = await forwardingCa(ctx, values['forward-ca-file'], certPath);
      storage = async () => ({
        shared: { storage: await openEtcd(ctx, values, etcd), storageType: 'etcd', apiAddr, forwarding: { ca: forwardCa } },
      });
    }
    const tls = certPath !== undefined && keyPath !== undefined ? await loadTls(ctx, certPath, keyPath) : undefined;
    let server: StoreServer;
    try {
      server = await StoreServer.start({ ...(await storage()), host: listen.host, port: listen.port, tls, maxBodyBytes, log: ctx.log });
    } finally {
      // The TLS context keeps its own copy of the key; ours is no longer needed.
      wipe(tls?.key);
    }
    ctx.out(`listening on ${server.url}\n`);
    ctx.log.info('store ready', { url: server.url, sealed: server.sealed, initialized: server.initialized });
    await aborted(ctx.signal);
    ctx.log.info('shutting down');
    await server.close();
    ctx.log.info('stopped');
    return 0;
  },
};
