/**
 * The Vault client: retries only where repeating is harmless, timeouts, lists as GET ?list=true, tokens only in the
 * header and never in logs, validated responses, TLS with a CA file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FakeCluster, FakeVault } from '../helpers/fake-vault.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { VaultClient } from '../../src/vault/client.js';
import { Logger } from '../../src/log.js';
import { isSecretStoreError } from '../../src/errors.js';
import { closeServer } from '../helpers/close-server.js';

const run = promisify(execFile);

async function withFake(fn: (fake: FakeVault) => Promise<void>): Promise<void> {
  const fake = new FakeVault();
  await fake.start();
  try {
    await fn(fake);
  } finally {
    await fake.stop();
  }
}

test('connection refused is retried with backoff, then STORE_UNREACHABLE with what to check', async () => {
  const lines: string[] = [];
  const client = new VaultClient({ address: 'http://127.0.0.1:9', retries: 2, retryDelayMs: 10, log: new Logger({ level: 'debug', sink: (l) => lines.push(l) }) });
  await assert.rejects(client.sealStatus(), (err: unknown) => {
    assert.ok(isSecretStoreError(err, 'STORE_UNREACHABLE'));
    assert.match(err.message, /cannot reach the secret store at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
    return true;
  });
  assert.equal(lines.filter((l) => l.includes('retrying request')).length, 2);
});

test('a probe with retries 0 is tried once: a node that is down costs one refused connection', async () => {
  const lines: string[] = [];
  const client = new VaultClient({ address: 'http://127.0.0.1:9', retries: 2, retryDelayMs: 10, log: new Logger({ level: 'debug', sink: (l) => lines.push(l) }) });
  await assert.rejects(client.health({ retries: 0 }), (err: unknown) => isSecretStoreError(err, 'STORE_UNREACHABLE'));
  assert.equal(lines.filter((l) => l.includes('retrying request')).length, 0);
});

test('sys/leader: a lone fake says HA is off; a cluster node says who is active', async () => {
  await withFake(async (fake) => {
    assert.deepEqual(await new VaultClient({ address: fake.url }).leader(), { haEnabled: false, isSelf: false, leaderAddress: '' });
  });
  const cluster = new FakeCluster(2);
  const [a, b] = await cluster.start();
  try {
    const [na, nb] = cluster.nodes;
    if (na === undefined || nb === undefined || a === undefined || b === undefined) throw new Error('two nodes');
    await assert.rejects(new VaultClient({ address: a }).leader(), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR'), 'a sealed node answers an error');
    na.sealed = false;
    nb.sealed = false;
    cluster.makeActive(nb);
    assert.deepEqual(await new VaultClient({ address: a }).leader(), { haEnabled: true, isSelf: false, leaderAddress: b });
    assert.deepEqual(await new VaultClient({ address: b }).leader(), { haEnabled: true, isSelf: true, leaderAddress: b });
  } finally {
    await cluster.stop();
  }
});

test('a reset GET is retried; a reset init (not idempotent) is never sent twice', async () => {
  await withFake(async (fake) => {
    let drops = 1;
    fake.hook = (req, _res, path) => {
      if (drops > 0 && (path === 'sys/seal-status' || path === 'sys/init')) {
        drops--;
        req.socket.destroy();
        return true;
      }
      return false;
    };
    const client = new VaultClient({ address: fake.url, retryDelayMs: 5 });
    const status = await client.sealStatus();
    assert.equal(status.initialized, false);
    assert.equal(fake.requests.filter((r) => r === 'GET sys/seal-status').length, 2);
    drops = 1;
    await assert.rejects(client.init(5, 3), (err: unknown) => isSecretStoreError(err, 'STORE_UNREACHABLE'));
    assert.equal(fake.requests.filter((r) => r === 'PUT sys/init').length, 1, 'init sent once');
  });
});

test('a request that gets no answer times out with STORE_TIMEOUT', async () => {
  await withFake(async (fake) => {
    fake.hook = (_req, _res, path) => path === 'sys/seal-status';
    const client = new VaultClient({ address: fake.url, timeoutMs: 100, retries: 0 });
    await assert.rejects(client.sealStatus(), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_TIMEOUT'));
      assert.match(err.message, /did not answer GET \/v1\/sys\/seal-status within 100 ms/);
      return true;
    });
  });
});

test('lists use GET ?list=true; the token goes in X-Vault-Token and never into debug logs', async () => {
  await withFake(async (fake) => {
    const lines: string[] = [];
    const client = new VaultClient({ address: fake.url, log: new Logger({ level: 'debug', sink: (l) => lines.push(l) }) });
    const init = await client.init(1, 1);
    const token = init.rootToken.toString();
    let seen: string | undefined;
    let listQuery = false;
    fake.hook = (req, _res, path) => {
      if (path === 'auth/token/accessors') {
        seen = String(req.headers['x-vault-token']);
        listQuery = (req.url ?? '').includes('list=true') && req.method === 'GET';
      }
      return false;
    };
    const share = init.shares[0];
    assert.ok(share !== undefined);
    await client.unseal(share);
    const accessors = await client.listAccessors(token);
    assert.equal(accessors.length, 1);
    assert.equal(seen, token);
    assert.equal(listQuery, true);
    assert.ok(lines.length > 0);
    assert.ok(!lines.join('\n').includes(token), 'token not logged');
    assert.ok(!lines.join('\n').includes(share.toString('hex')), 'share not logged');
  });
});

test('a store that drips its answer slowly is cut at the deadline (STORE_TIMEOUT), not held forever', async () => {
  await withFake(async (fake) => {
    const timers: NodeJS.Timeout[] = [];
    fake.hook = (_req, res, path) => {
      if (path !== 'sys/seal-status') return false;
      // Headers at once, then one body byte every 20 ms: never idle long enough for a socket-inactivity timeout.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const t = setInterval(() => res.write(' '), 20);
      timers.push(t);
      res.on('close', () => {
        clearInterval(t);
      });
      return true;
    };
    try {
      const client = new VaultClient({ address: fake.url, timeoutMs: 300, retries: 0 });
      await assert.rejects(client.sealStatus(), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'STORE_TIMEOUT'), String(err));
        assert.match(err.message, /did not answer GET \/v1\/sys\/seal-status within 300 ms/);
        return true;
      });
    } finally {
      for (const t of timers) clearInterval(t);
    }
  });
});

test('malformed responses become STORE_ERROR naming the field, never a TypeError', async () => {
  await withFake(async (fake) => {
    const bodies: unknown[] = [{ initialized: 'yes', sealed: true, t: 1, n: 1, progress: 0 }, [], 'text', { sealed: false }];
    for (const body of bodies) {
      fake.hook = (_req, res, path) => {
        if (path !== 'sys/seal-status') return false;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
        return true;
      };
      await assert.rejects(new VaultClient({ address: fake.url }).sealStatus(), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'STORE_ERROR'));
        assert.match(err.message, /malformed response from the store to sys\/seal-status/);
        return true;
      });
    }
    fake.hook = (_req, res) => {
      res.writeHead(200).end('{not json');
      return true;
    };
    await assert.rejects(new VaultClient({ address: fake.url }).sealStatus(), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR') && /non-JSON/.test(err.message));
  });
});

test('a 400 on unseal is UNSEAL_REJECTED with the store message and what to do', async () => {
  await withFake(async (fake) => {
    const client = new VaultClient({ address: fake.url });
    await client.init(1, 1);
    await assert.rejects(client.unseal(Buffer.alloc(33, 7)), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'UNSEAL_REJECTED'));
      assert.match(err.message, /rejected the unseal key shares \(unable to retrieve stored keys: invalid key\)/);
      return true;
    });
  });
});

test('TLS: a certificate from a CA the client was not given (UNABLE_TO_VERIFY_LEAF_SIGNATURE) is a CONFIG error, not retried as a reset', async () => {
  const dir = await makeTempDir('sss-tls-leaf-');
  try {
    const p = (n: string): string => join(dir, n);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=test CA']);
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/CN=127.0.0.1']);
    await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    await run('openssl', ['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('leaf.pem'), '-days', '1', '-extfile', p('ext.cnf')]);
    let requests = 0;
    const server = https.createServer({ key: await readFile(p('leaf.key')), cert: await readFile(p('leaf.pem')) }, (_req, res) => {
      requests++;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
    let handshakes = 0;
    server.on('connection', () => handshakes++);
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve);
    });
    try {
      const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await assert.rejects(new VaultClient({ address, retries: 3 }).sealStatus(), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'CONFIG'), String(err));
        assert.match(err.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE.*check CaFilePath/);
        return true;
      });
      assert.equal(handshakes, 1, 'not retried');
      assert.equal(requests, 0);
    } finally {
      await closeServer(server);
    }
  } finally {
    await removeTempDir(dir);
  }
});

test('bad addresses are CONFIG errors', () => {
  for (const address of ['not a url', 'ftp://x', 'http://user:pw@host:1']) {
    assert.throws(() => new VaultClient({ address }), (err: unknown) => isSecretStoreError(err, 'CONFIG'));
  }
});

test('TLS: an untrusted certificate fails clearly; with the CA file it works', async () => {
  const dir = await makeTempDir('sss-tls-');
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const server = https.createServer({ key: await readFile(key), cert: await readFile(cert) }, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ type: 'shamir', initialized: false, sealed: true, t: 0, n: 0, progress: 0, version: 'x' }));
    });
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve);
    });
    try {
      const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await assert.rejects(new VaultClient({ address, retries: 0 }).sealStatus(), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'CONFIG'));
        assert.match(err.message, /TLS connection to .* failed \(.+\); check CaFilePath/);
        return true;
      });
      const status = await new VaultClient({ address, ca: await readFile(cert) }).sealStatus();
      assert.equal(status.initialized, false);
    } finally {
      await closeServer(server);
    }
  } finally {
    await removeTempDir(dir);
  }
});
