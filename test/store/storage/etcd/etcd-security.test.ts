import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isSecretStoreError } from '../../../../src/errors.js';
import { Logger } from '../../../../src/log.js';
import { openEtcdStorage } from '../../../../src/store/storage/etcd/etcd-storage.js';
import { EtcdCluster, ETCD, ETCD_PACKAGES } from '../../../helpers/etcd-cluster.js';
import { requireTools } from '../../../helpers/require-tools.js';
import { assertNoSecrets } from '../../../helpers/secret-scan.js';
import { makeTempDir, removeTempDir } from '../../../helpers/tmp.js';

const run = promisify(execFile);

async function etcdctl(endpoint: string, args: string[], user?: string): Promise<void> {
  await run('etcdctl', ['--endpoints', endpoint, ...(user === undefined ? [] : ['--user', user]), ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
}

test('etcd user and password: refused credentials are a CONFIG error; an expired token is renewed; no secret is logged', async (t: TestContext) => {
  if (!requireTools(t, [ETCD, 'etcdctl'], ETCD_PACKAGES)) return;
  const cluster = await EtcdCluster.start(1, { extraArgs: ['--auth-token', 'simple'] });
  t.after(() => cluster.stopAll());
  const endpoint = cluster.endpoints[0] as string;
  const rootPassword = randomBytes(18).toString('base64url');
  const password = randomBytes(18).toString('base64url');
  await etcdctl(endpoint, ['user', 'add', 'root', `--new-user-password=${rootPassword}`]);
  await etcdctl(endpoint, ['role', 'add', 'store']);
  await etcdctl(endpoint, ['role', 'grant-permission', 'store', '--prefix=true', 'readwrite', 'vault/']);
  await etcdctl(endpoint, ['user', 'add', 'store', `--new-user-password=${password}`]);
  await etcdctl(endpoint, ['user', 'grant-role', 'store', 'store']);
  await etcdctl(endpoint, ['auth', 'enable']);

  const lines: string[] = [];
  const messages: string[] = [];
  const log = new Logger({ level: 'debug', sink: (l) => lines.push(l) });
  await assert.rejects(openEtcdStorage({ endpoints: [endpoint], prefix: 'vault/' }, log), (e) => {
    messages.push((e as Error).message);
    return isSecretStoreError(e, 'CONFIG') && e.message.includes('requires authentication');
  });
  await assert.rejects(openEtcdStorage({ endpoints: [endpoint], prefix: 'vault/', username: 'store', password: 'wrong-password' }, log), (e) => {
    messages.push((e as Error).message);
    return isSecretStoreError(e, 'CONFIG') && e.message.includes('username or password');
  });
  const s = await openEtcdStorage({ endpoints: [endpoint], prefix: 'vault/', username: 'store', password }, log);
  t.after(() => s.close());
  await s.put('k', Buffer.from('v'));
  assert.deepEqual(await s.get('k'), Buffer.from('v'));
  const lock = await s.ha.acquire({ nodeId: 'a', apiAddr: 'http://a' }, new AbortController().signal);
  s.fenceWith(lock);
  await s.put('fenced', Buffer.from('1'));
  // Outside its role's prefix: refused as a configuration problem.
  const other = await openEtcdStorage({ endpoints: [endpoint], prefix: 'other/', username: 'store', password }, log).catch((e: unknown) => e);
  assert.ok(isSecretStoreError(other, 'CONFIG'), String(other));
  messages.push(other.message);

  // A restarted member forgets its simple tokens: the next call authenticates again.
  await lock.release();
  s.fenceWith(undefined);
  await cluster.stop(0);
  cluster.restart(0);
  await cluster.waitHealthy();
  assert.deepEqual(await s.get('k'), Buffer.from('v'));
  await s.put('k2', Buffer.from('v2'));
  assert.ok(lines.some((l) => l.includes('authenticating again')), 'the token was renewed');
  assertNoSecrets([...lines, ...messages], [
    { label: 'etcd password', value: Buffer.from(password) },
    { label: 'etcd root password', value: Buffer.from(rootPassword) },
  ]);
});

test('https endpoints with a private CA and a client certificate', async (t: TestContext) => {
  if (!requireTools(t, [ETCD, 'openssl'], `${ETCD_PACKAGES} openssl`)) return;
  const dir = await makeTempDir('sss-etcd-tls-');
  t.after(() => removeTempDir(dir));
  const f = (name: string): string => join(dir, name);
  const openssl = (args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test etcd CA']);
  for (const name of ['server', 'client']) {
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await openssl([
      'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1',
      '-extfile', await writeExt(dir, name),
    ]);
  }
  const cluster = await EtcdCluster.start(1, { clientTls: { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') } });
  t.after(() => cluster.stopAll());
  const endpoint = cluster.endpoints[0] as string;
  assert.match(endpoint, /^https:/);
  const log = new Logger({ level: 'error', sink: () => undefined });
  const tls = { ca: await readFile(f('ca.crt')), cert: await readFile(f('client.crt')), key: await readFile(f('client.key')) };
  const givenKey = Buffer.from(tls.key);
  const s = await openEtcdStorage({ endpoints: [endpoint], prefix: 'vault/', tls: { ...tls, key: givenKey } }, log);
  t.after(() => s.close());
  // `serve` wipes the key it read once the storage is open: new connections (concurrent calls open some) must not
  // need it.
  givenKey.fill(0);
  await Promise.all(Array.from({ length: 12 }, (_, i) => s.put(`c${i}`, Buffer.from('x'))));
  await s.put('k', Buffer.from('over tls'));
  assert.deepEqual(await s.get('k'), Buffer.from('over tls'));
  // Without the CA, the server is not trusted: a CONFIG error, not a retry loop.
  await assert.rejects(openEtcdStorage({ endpoints: [endpoint], prefix: 'vault/', tls: { cert: tls.cert, key: tls.key } }, log), (e) =>
    isSecretStoreError(e, 'CONFIG'),
  );
});

/** An openssl extension file: the server certificate names 127.0.0.1; both may be used either way. */
async function writeExt(dir: string, name: string): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const path = join(dir, `${name}.ext`);
  await writeFile(path, `subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n`);
  return path;
}
