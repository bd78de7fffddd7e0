/**
 * A tang server for tests: keys generated in a temp folder, served on a loopback port by a small Node TCP server
 * that spawns `/usr/libexec/tangd <db>` per connection (tang is inetd-style: HTTP on stdin/stdout). It can be
 * stopped and started again on the same port, since a clevis JWE records the server URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from './tmp.js';
import { mustRun } from './run-hook.js';

/** Where Debian installs tang's programs. */
export const TANGD = '/usr/libexec/tangd';
export const TANGD_KEYGEN = '/usr/libexec/tangd-keygen';
/** Programs the tang tests need. */
export const TANG_TOOLS = [TANGD, TANGD_KEYGEN, 'tang-show-keys', 'clevis', 'jose', 'curl'];
/** Debian packages providing them. */
export const TANG_PACKAGES = 'tang clevis jose curl';

/** A tang server. */
export interface Tang {
  url: string;
  port: number;
  /** Thumbprint of the signing key, for clevis `thp` pinning. */
  thp: string;
  /** A temp folder for the test's own files (removed by {@link Tang.close}). */
  workDir: string;
  /** Stops listening (existing connections are cut). */
  stop(): Promise<void>;
  /** Listens again on the same port with the same keys. */
  start(): Promise<void>;
  /** Stops and removes the folders. */
  close(): Promise<void>;
}

/** Generates keys and starts serving on 127.0.0.1 (port 0 = any free port). */
export async function startTang(): Promise<Tang> {
  const workDir = await makeTempDir('sss-tang-');
  const db = join(workDir, 'db');
  await mkdir(db, { mode: 0o700 });
  await mustRun(TANGD_KEYGEN, [db], process.env);
  const children = new Set<ChildProcess>();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const onConnection = (socket: Socket): void => {
    sockets.add(socket);
    const child = spawn(TANGD, [db], { stdio: ['pipe', 'pipe', 'ignore'] });
    children.add(child);
    socket.pipe(child.stdin).on('error', () => undefined);
    child.stdout.pipe(socket);
    socket.on('error', () => child.kill('SIGKILL'));
    socket.on('close', () => {
      sockets.delete(socket);
      child.kill('SIGKILL');
    });
    child.on('exit', () => {
      children.delete(child);
      socket.end();
    });
  };

  const start = async (): Promise<void> => {
    const s = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        resolve();
      });
    });
    const addr = s.address();
    if (typeof addr === 'object' && addr !== null) port = addr.port;
    server = s;
  };
  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    for (const sock of sockets) sock.destroy();
    for (const c of children) c.kill('SIGKILL');
    await new Promise<void>((resolve) => s.close(() => {
      resolve();
    }));
  };

  await start();
  const thp = (await mustRun('tang-show-keys', [String(port)], process.env)).trim().split('\n')[0] ?? '';
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    thp,
    workDir,
    stop,
    start,
    close: async () => {
      await stop();
      await removeTempDir(workDir);
    },
  };
}
