/**
 * `serve`'s etcd/HA options and its Vault-style configuration file: parsing (HCL and JSON, Vault's names), and the
 * usage errors that name the bad option, checked on the real CLI before anything is opened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseServeConfig } from '../../src/cli/commands/serve-config.js';
import { parseApiAddr } from '../../src/cli/commands/serve.js';
import { SecretStoreError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

const configError = (pattern: RegExp) => (err: unknown): boolean => err instanceof SecretStoreError && err.code === 'CONFIG' && pattern.test(err.message);

test('HCL configuration with Vault names: storage "etcd", listener "tcp", api_addr', () => {
  const cfg = parseServeConfig(
    `
    # Vault-style
    storage "etcd" {
      address    = "http://10.0.0.1:2379, http://10.0.0.2:2379"
      path       = "edge/"
      ha_enabled = "true"
      etcd_api   = "v3"
      tls_ca_file = "/etc/etcd/ca.pem"
      username = "store"
    }
    listener "tcp" {
      address = "10.0.0.1:8200"
      tls_disable = true
    }
    api_addr = "http://10.0.0.1:8200"
    ui = true
    `,
    'cfg.hcl',
  );
  assert.deepEqual(cfg, {
    storage: { type: 'etcd', address: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], path: 'edge/', haEnabled: true, tlsCaFile: '/etc/etcd/ca.pem', username: 'store' },
    listener: { address: '10.0.0.1:8200' },
    apiAddr: 'http://10.0.0.1:8200',
  });
});

test('JSON configuration, file storage', () => {
  assert.deepEqual(parseServeConfig('{"storage":{"file":{"path":"/var/lib/s"}},"listener":{"tcp":{"address":"127.0.0.1:8200"}}}', 'c.json'), {
    storage: { type: 'file', path: '/var/lib/s' },
    listener: { address: '127.0.0.1:8200' },
  });
  assert.deepEqual(parseServeConfig('{"storage":{"etcd":{"address":["http://a:2379","http://b:2379"]}}}', 'c.json').storage, {
    type: 'etcd',
    address: ['http://a:2379', 'http://b:2379'],
  });
});

test('configuration errors name the file and the setting', () => {
  assert.throws(() => parseServeConfig('storage "consul" { address = "x" }', 'a.hcl'), configError(/^a\.hcl: storage "consul" is not supported/));
  assert.throws(() => parseServeConfig('storage "etcd" { adress = "x" }', 'a.hcl'), configError(/unknown setting "adress" in storage "etcd"/));
  assert.throws(() => parseServeConfig('storage "etcd" { ha_enabled = "maybe" }', 'a.hcl'), configError(/ha_enabled must be true or false/));
  assert.throws(() => parseServeConfig('seal "transit" {}', 'a.hcl'), configError(/unknown setting "seal"/));
  assert.throws(() => parseServeConfig('storage "etcd" {', 'a.hcl'), configError(/^a\.hcl: not valid HCL: At /));
  assert.throws(() => parseServeConfig('{"storage": ', 'a.json'), configError(/not valid JSON/));
});

test('--api-addr: an http(s) URL without path', () => {
  assert.equal(parseApiAddr('https://10.0.0.1:8200'), 'https://10.0.0.1:8200');
  assert.equal(parseApiAddr('http://node-a:8200/'), 'http://node-a:8200');
  assert.equal(parseApiAddr(undefined), undefined);
  for (const bad of ['10.0.0.1:8200', 'ftp://x:1', 'http://x:1/v1', 'http://u:p@x:1']) {
    assert.throws(() => parseApiAddr(bad), (err: unknown) => err instanceof SecretStoreError && err.code === 'USAGE' && err.message.includes('--api-addr'));
  }
});

test('serve: usage errors name the option (exit 2), before anything is opened', async (t) => {
  const dir = await makeTempDir();
  t.after(() => removeTempDir(dir));
  const env = { ...process.env, SECRETSTORE_ETCD_PASSWORD: '' };
  const cases: [string[], RegExp][] = [
    [['--storage', 'consul'], /--storage must be file or etcd/],
    [['--storage', 'etcd'], /--etcd-endpoints/],
    [['--storage', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:9', '--data', dir], /--data is for --storage file/],
    [['--data', dir, '--etcd-endpoints', 'http://127.0.0.1:9'], /--etcd-endpoints needs --storage etcd/],
    [['--storage', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:9', '--listen', '0.0.0.0:0'], /--api-addr/],
    [['--storage', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:9', '--api-addr', 'nope'], /--api-addr must be a URL/],
    [['--storage', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:9', '--etcd-username', 'u'], /--etcd-username needs a password/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(['serve', ...args], { env, timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
  // The configuration file's errors are CONFIG (exit 1) and name the file.
  const cfg = join(dir, 'serve.hcl');
  await writeFile(cfg, 'storage "etcd" { ha_enabled = false  address = "http://127.0.0.1:9" }\n');
  const r = await runCli(['serve', '--config', cfg], { env, timeoutMs: 20_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /ha_enabled = false is not supported/);
});
