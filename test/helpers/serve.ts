/**
 * Starts `secretstore-setup serve` as a separate process on 127.0.0.1 port 0 with a temp data folder, for end-to-end
 * tests (reusable by any component's tests). `restart()` stops it and starts it again on the same data folder and
 * port (a restarted store comes back sealed); `close()` stops it and removes the temp folder.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startStoreProcess, type StoreProcess } from '../../src/bootstrap/store-process.js';
import { CLI_MAIN } from './paths.js';
import { makeTempDir, removeTempDir } from './tmp.js';
import { restartablePort } from './free-port.js';

/** A running serve process and its folders. */
export interface ServeHandle {
  /** Current base URL (the port stays the same across restarts). */
  url: string;
  dataDir: string;
  /** Everything every incarnation of the process printed (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** Stop (if running) and start again on the same data folder and port. */
  restart(): Promise<void>;
  /** Stop and remove the temp folder (when this helper made it). */
  close(): Promise<void>;
}

/** Options of {@link startServe}. */
export interface StartServeOptions {
  /** Use this data folder (not removed by close) instead of a fresh temp one. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  args?: string[];
}

/** Starts serve and resolves once it listens. */
export async function startServe(options: StartServeOptions = {}): Promise<ServeHandle> {
  const own = options.dataDir === undefined ? await makeTempDir('sss-serve-') : undefined;
  const dataDir = options.dataDir ?? join(own ?? '', 'data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let log = '';
  const launch = (listen?: string): Promise<StoreProcess> =>
    startStoreProcess({
      cliMain: CLI_MAIN,
      dataDir,
      ...(listen === undefined ? {} : { listen }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.args === undefined ? {} : { args: options.args }),
    });
  // A port below the ephemeral range, so no client's source port takes it while the store is down for a restart.
  let proc: StoreProcess | undefined;
  for (let i = 0; proc === undefined; i++) {
    try {
      proc = await launch(`127.0.0.1:${String(await restartablePort())}`);
    } catch (err) {
      if (i >= 5 || !/EADDRINUSE|address already in use/i.test((err as Error).message)) throw err;
    }
  }
  const listen = proc.listen;
  const handle: ServeHandle = {
    url: proc.url,
    dataDir,
    output: () => log + (proc?.output() ?? ''),
    stop: async () => {
      if (proc === undefined) return;
      await proc.stop();
      log += proc.output();
      proc = undefined;
    },
    restart: async () => {
      await handle.stop();
      // The port was just freed; retry briefly in case the kernel still holds it.
      for (let i = 0; ; i++) {
        try {
          proc = await launch(listen);
          break;
        } catch (err) {
          if (i >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      handle.url = proc.url;
    },
    close: async () => {
      await handle.stop();
      if (own !== undefined) await removeTempDir(own);
    },
  };
  return handle;
}
