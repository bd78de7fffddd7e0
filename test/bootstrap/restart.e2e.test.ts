/**
 * The store restarting while a `bootstrap` process runs against a real `serve` process: the run must end 0 with the
 * store unsealed — never initialized twice, the shares never lost — instead of exiting 1. The restart is placed
 * deterministically: a TCP proxy in front of the store holds one chosen request while the store restarts (or stops),
 * or a gated IKM hook holds the flow between loading the key file and unsealing while the store goes down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAIN } from '../helpers/paths.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';
import { makeBootEnv, type BootEnv } from '../helpers/boot-env.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { VaultClient } from '../../src/vault/client.js';
import { writeHook } from '../vmk/hook-scripts.js';

/**
 * A TCP proxy in front of the store that shows `decide` the request line of every request (kept-alive connections
 * carry several) before forwarding it; `decide` may hold it (restart the store meanwhile) or drop the connection.
 * When the store side of a connection closes (the store stopped), the client side is closed too, as a restarting
 * store closes its connections.
 */
async function startProxy(backendPort: number, decide: (requestLine: string) => Promise<'forward' | 'drop'>): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const REQUEST_LINE = /^(?:GET|PUT|POST|DELETE|HEAD|LIST|PATCH) \S+ HTTP\/1\.[01]$/m;
  const server = net.createServer((client) => {
    sockets.add(client);
    let upstream: net.Socket | undefined;
    const connectUpstream = (): net.Socket => {
      const up = net.connect(backendPort, '127.0.0.1');
      sockets.add(up);
      up.on('data', (d: Buffer) => client.write(d));
      up.on('error', () => undefined);
      up.on('close', () => {
        sockets.delete(up);
        client.destroy();
      });
      return up;
    };
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      client.pause();
      queue = queue.then(async () => {
        const line = REQUEST_LINE.exec(chunk.toString('latin1').replace(/\r\n/g, '\n'))?.[0];
        const action = line === undefined ? 'forward' : await decide(line).catch(() => 'drop' as const);
        if (action === 'drop') {
          client.destroy();
          upstream?.destroy();
          return;
        }
        if (upstream === undefined || upstream.destroyed) upstream = connectUpstream();
        upstream.write(chunk);
        client.resume();
      });
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      sockets.delete(client);
      upstream?.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

/** Runs `bootstrap --addr url` as a process; `onLine` sees stderr as it comes. */
function runBootstrap(be: BootEnv, url: string, onStderr: (all: string) => void, env: NodeJS.ProcessEnv = be.env): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, 'bootstrap', '--addr', url], { cwd: be.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      onStderr(stderr);
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      be.outputs.push(stderr);
      resolve({ code, stderr });
    });
  });
}

function port(url: string): number {
  return Number(new URL(url).port);
}

async function checkUnsealedAndNoSecrets(be: BootEnv, store: ServeHandle): Promise<void> {
  assert.equal((await new VaultClient({ address: store.url }).health()).status, 200, 'the store is unsealed');
  const ikm = Buffer.from(be.ikmHex, 'hex');
  const { secrets } = await readKeyFile({ dir: be.keysDir }, ikm);
  assertNoSecrets([store.output(), ...be.outputs], [{ label: 'IKM', value: ikm }, ...secrets.shares.map((value, i) => ({ label: `share ${i}`, value }))]);
}

test('first boot: the store restarts (comes back sealed) right after the unseal — bootstrap unseals it again and ends 0', { timeout: 120_000 }, async () => {
  const be = await makeBootEnv();
  const store = await startServe();
  let fired = false;
  let restarting: Promise<void> | undefined;
  const proxy = await startProxy(port(store.url), async (line) => {
    if (!fired && line.startsWith('PUT /v1/sys/generate-root/attempt')) {
      fired = true;
      restarting = store.restart();
      await restarting; // this request then reaches the new, sealed store
    }
    return 'forward';
  });
  try {
    const r = await runBootstrap(be, proxy.url, () => undefined);
    assert.ok(fired, 'the restart happened mid-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the secret store went away during bootstrap/);
    assert.equal((r.stderr.match(/initializing the secret store/g) ?? []).length, 1, 'initialized once');
    assert.equal((r.stderr.match(/node unsealed/g) ?? []).length, 2, 'unsealed, restarted, unsealed again');
    await checkUnsealedAndNoSecrets(be, store);
  } finally {
    await restarting?.catch(() => undefined); // never close the store while a restart is still starting it
    await proxy.close();
    await store.close();
    await be.close();
  }
});

test('the store goes down mid-run (connections fail) and comes back: bootstrap waits for it and ends 0', { timeout: 120_000 }, async () => {
  const be = await makeBootEnv();
  const store = await startServe();
  let down = false;
  let fired = false;
  let stopping: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  const proxy = await startProxy(port(store.url), async (line) => {
    if (!fired && line.startsWith('GET /v1/auth/token/accessors')) {
      fired = true;
      down = true;
      stopping = store.stop();
      await stopping;
    }
    return down ? 'drop' : 'forward';
  });
  try {
    const first = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(first.code, 0, first.stderr);
    await store.restart();
    const r = await runBootstrap(be, proxy.url, (stderr) => {
      if (down && restarting === undefined && stderr.includes('waiting for the secret store')) {
        restarting = (stopping ?? Promise.resolve()).then(() => store.restart()).then(() => {
          down = false;
        });
      }
    });
    await restarting;
    assert.ok(fired, 'the store went down mid-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the secret store went away during bootstrap.*state=unreachable/);
    assert.doesNotMatch(r.stderr, /initializing the secret store/);
    await checkUnsealedAndNoSecrets(be, store);
  } finally {
    await stopping?.catch(() => undefined);
    await restarting?.catch(() => undefined);
    await proxy.close();
    await store.close();
    await be.close();
  }
});

test('the store stops while the IKM hook runs (connection refused at the unseal) and restarts: bootstrap ends 0', { timeout: 120_000 }, async () => {
  const be = await makeBootEnv();
  const store = await startServe();
  let gate: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  try {
    const first = await be.cli(['bootstrap', '--addr', store.url]);
    assert.equal(first.code, 0, first.stderr);
    await store.restart();
    // A hook that holds the flow until the test lets it go: the store is stopped meanwhile.
    const started = join(be.dir, 'hook-started');
    const go = join(be.dir, 'hook-go');
    const hook = await writeHook(
      be.dir,
      'ikm-gated',
      `: > '${started}'\ni=0\nwhile [ ! -e '${go}' ]; do sleep 0.05; i=$((i+1)); [ "$i" -lt 600 ] || exit 1; done\nprintf '%s\\n' '${be.ikmHex}'`,
    );
    let stopped = false;
    const child = { exited: false };
    gate = (async () => {
      while (!existsSync(started)) {
        if (child.exited) return; // the run ended without running the hook: the assertions below say why
        await new Promise((r) => setTimeout(r, 20));
      }
      await store.stop();
      stopped = true;
      await writeFile(go, '');
    })();
    const r = await runBootstrap(
      be,
      store.url,
      (stderr) => {
        if (stopped && restarting === undefined && stderr.includes('waiting for the secret store')) restarting = store.restart();
      },
      { ...be.env, EDGEX_IKM_HOOK: hook },
    );
    child.exited = true;
    await gate;
    await restarting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the secret store went away during bootstrap.*state=unreachable/);
    assert.match(r.stderr, /node unsealed/);
    await checkUnsealedAndNoSecrets(be, store);
  } finally {
    await gate?.catch(() => undefined);
    await restarting?.catch(() => undefined);
    await store.close();
    await be.close();
  }
});
