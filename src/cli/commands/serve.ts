/**
 * `secretstore-setup serve`: runs the embedded Vault-API-compatible secret store over a data folder until SIGTERM or
 * SIGINT. Starts sealed whenever the store is initialized; on a signal it stops accepting, finishes in-flight
 * requests, seals (wiping keys from memory) and closes the storage.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command, CommandContext } from '../command.js';
import { parseCommandArgs, parseIntegerOption } from '../args.js';
import { SecretStoreError, describeCause } from '../../errors.js';
import { wipe } from '../../crypto.js';
import { DEFAULT_MAX_BODY_BYTES, type TlsMaterial } from '../../store/http/http-server.js';
import { StoreServer } from '../../store/server.js';
import { isProtectedBlob, unprotectBlob } from '../../vmk/protected-blob.js';
import { hookOptionsFromEnv, runIkmHook } from '../../vmk/ikm-hook.js';

/** Default listen address, as Vault's. */
export const DEFAULT_LISTEN = '127.0.0.1:8200';
/** Purpose label of a TLS key protected with the IKM hook (`secretstore-setup protect --purpose tls-key`). */
export const TLS_KEY_PURPOSE = 'tls-key';

const USAGE = `Usage: secretstore-setup serve --data DIR [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--max-body BYTES]

Runs the embedded secret store, which speaks Vault's HTTP API (/v1/...), over the data folder DIR (created 0700).
The store starts sealed; initialize it once (PUT /v1/sys/init) and unseal it with the key shares after each start.
When ready it prints one line on stdout: "listening on http://HOST:PORT" (https with TLS), with the real port.
SIGTERM or SIGINT: stop accepting, finish in-flight requests, seal, close the storage, exit 0.

Options:
  --data DIR          data folder (required); holds only encrypted entries and the plaintext seal configuration
  --listen HOST:PORT  address to listen on (default ${DEFAULT_LISTEN}; port 0 picks a free port; [::1]:8200 for IPv6)
  --tls-cert FILE     PEM certificate chain; with --tls-key, serve HTTPS
  --tls-key FILE      PEM private key, or a file protected with the IKM hook (decrypted in memory with EDGEX_IKM_HOOK)
  --max-body BYTES    largest request body accepted (default ${DEFAULT_MAX_BODY_BYTES}, as Vault); larger → 413

Examples:
  secretstore-setup serve --data /var/lib/secretstore
  secretstore-setup serve --data ./data --listen 0.0.0.0:8200 --tls-cert server.crt --tls-key server.key.protected
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
      data: { type: 'string' },
      listen: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-body': { type: 'string' },
    });
    if (values.data === undefined || values.data === '') throw new SecretStoreError('USAGE', '--data DIR is required; see --help');
    const listen = parseListen(values.listen ?? DEFAULT_LISTEN);
    const maxBodyBytes = parseIntegerOption('max-body', values['max-body'], 1, 1024 * 1024 * 1024) ?? DEFAULT_MAX_BODY_BYTES;
    const certPath = values['tls-cert'];
    const keyPath = values['tls-key'];
    if ((certPath === undefined) !== (keyPath === undefined)) {
      throw new SecretStoreError('USAGE', '--tls-cert and --tls-key go together; give both or neither');
    }
    const dataDir = resolve(ctx.cwd, values.data);
    await prepareDataDir(dataDir);
    const tls = certPath !== undefined && keyPath !== undefined ? await loadTls(ctx, certPath, keyPath) : undefined;
    let server: StoreServer;
    try {
      server = await StoreServer.start({ dataDir, host: listen.host, port: listen.port, tls, maxBodyBytes, log: ctx.log });
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
