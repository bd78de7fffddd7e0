/** Configuration: EdgeX defaults, YAML, SECRETSTORE_* env overrides, flags, validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { loadConfig, resolveConfig } from '../src/config.js';
import { isSecretStoreError, SecretStoreError } from '../src/errors.js';
import { makeTempDir, removeTempDir } from './helpers/tmp.js';

test('no file, no env: EdgeX defaults', async () => {
  const dir = await makeTempDir();
  try {
    const { config, source } = await loadConfig({}, {}, dir);
    assert.equal(source, 'built-in defaults');
    assert.deepEqual(config.nodes, ['http://localhost:8200']);
    assert.equal(config.tokenFolderPath, '/openbao/config/assets');
    assert.equal(config.tokenFile, 'resp-init.json');
    assert.equal(config.secretShares, 5);
    assert.equal(config.secretThreshold, 3);
    assert.equal(config.revokeRootTokens, true);
    assert.equal(config.tokenProviderAdminTokenPath, '/run/edgex/secrets/tokenprovider/secrets-token.json');
    assert.equal(config.keyFileFormat, 'v2');
    assert.equal(config.kvVersion, 1);
  } finally {
    await removeTempDir(dir);
  }
});

test('configuration.yaml in the working directory, overridden by SECRETSTORE_<KEY>, then by flags', async () => {
  const dir = await makeTempDir();
  try {
    await writeFile(
      join(dir, 'configuration.yaml'),
      'LogLevel: DEBUG\nSecretStore:\n  Type: vault\n  Host: edgex-vault\n  Port: 8201\n  VaultSecretShares: 3\n  VaultSecretThreshold: 2\n  TokenFolderPath: assets\n  RevokeRootTokens: false\n  TokenProvider: /ignored\n',
    );
    const { config, source } = await loadConfig({}, { SECRETSTORE_PORT: '9000', SECRETSTORE_REVOKEROOTTOKENS: 'TRUE' }, dir);
    assert.equal(source, join(dir, 'configuration.yaml'));
    assert.deepEqual(config.nodes, ['http://edgex-vault:9000']);
    assert.equal(config.secretShares, 3);
    assert.equal(config.secretThreshold, 2);
    assert.equal(config.tokenFolderPath, join(dir, 'assets'), 'relative paths resolve against the working directory');
    assert.equal(config.revokeRootTokens, true);
    const flags = await loadConfig({ addrs: ['https://a:1/', 'https://b:2'], intervalSeconds: 7 }, { VAULT_ADDR: 'http://ignored:1' }, dir);
    assert.deepEqual(flags.config.nodes, ['https://a:1', 'https://b:2']);
    assert.equal(flags.config.intervalSeconds, 7);
    const env = await loadConfig({}, { BAO_ADDR: 'http://bao:8200' }, dir);
    assert.deepEqual(env.config.nodes, ['http://bao:8200']);
    // VAULT_ADDR wins over BAO_ADDR; an exported but empty VAULT_ADDR does not hide BAO_ADDR.
    const both = await loadConfig({}, { VAULT_ADDR: 'http://vault:8200', BAO_ADDR: 'http://bao:8200' }, dir);
    assert.deepEqual(both.config.nodes, ['http://vault:8200']);
    const emptyVault = await loadConfig({}, { VAULT_ADDR: '', BAO_ADDR: 'http://bao:8200' }, dir);
    assert.deepEqual(emptyVault.config.nodes, ['http://bao:8200']);
  } finally {
    await removeTempDir(dir);
  }
});

test('invalid settings are CONFIG errors naming the key', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ Port: 0 }, /SecretStore\.Port/],
    [{ Port: '80a' }, /SecretStore\.Port/],
    [{ Protocol: 'ftp' }, /Protocol must be http or https/],
    [{ SecretShares: 3, SecretThreshold: 4 }, /cannot be larger/],
    [{ SecretShares: 3, SecretThreshold: 1 }, /at least 2/],
    [{ SecretShares: 256 }, /SecretShares/],
    [{ RevokeRootTokens: 'maybe' }, /true or false/],
    [{ TokenFile: 'a/b' }, /plain file name/],
    [{ KeyFileFormat: 'plaintext' }, /v2 or edgex/],
    [{ KvVersion: 3 }, /KvVersion/],
    [{ Host: 'a b' }, /Host/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(
      () => resolveConfig(raw, {}, {}, '/'),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && message.test(err.message),
      JSON.stringify(raw),
    );
  }
  const dir = await makeTempDir();
  try {
    await writeFile(join(dir, 'bad.yaml'), 'SecretStore: [1, 2]\n');
    await assert.rejects(loadConfig({ configPath: 'bad.yaml' }, {}, dir), (err: unknown) => isSecretStoreError(err, 'CONFIG') && /must be a mapping/.test(err.message));
    await writeFile(join(dir, 'bad2.yaml'), 'SecretStore: {\n');
    await assert.rejects(loadConfig({ configPath: 'bad2.yaml' }, {}, dir), (err: unknown) => isSecretStoreError(err, 'CONFIG') && /not valid YAML/.test(err.message));
    await assert.rejects(loadConfig({ configPath: 'absent.yaml' }, {}, dir), (err: unknown) => isSecretStoreError(err, 'CONFIG') && /cannot read/.test(err.message));
  } finally {
    await removeTempDir(dir);
  }
});

test('property: valid share settings always resolve; anything else is a CONFIG error, never a crash', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 65535 }), (n, t, port) => {
      const valid = t <= n && (n === 1 || t >= 2);
      try {
        const c = resolveConfig({ SecretShares: n, SecretThreshold: t, Port: String(port) }, {}, {}, '/');
        assert.ok(valid);
        assert.equal(c.secretShares, n);
        assert.equal(c.nodes[0], `http://localhost:${port}`);
      } catch (err) {
        assert.ok(!valid && isSecretStoreError(err, 'CONFIG'));
      }
    }),
  );
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom('Port', 'Host', 'SecretShares', 'TokenFile', 'RevokeRootTokens', 'Protocol'), fc.jsonValue()), (raw) => {
      try {
        resolveConfig(raw, {}, {}, '/');
      } catch (err) {
        assert.ok(err instanceof SecretStoreError);
      }
    }),
  );
});

test("the repository's configuration.yaml holds exactly the built-in defaults", async () => {
  // Walk up from the compiled test to the checkout (works from dist/ and .build/<name>/).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      await access(join(dir, 'package.json'));
      await access(join(dir, 'configuration.yaml'));
      break;
    } catch {
      const parent = dirname(dir);
      assert.notEqual(parent, dir, 'configuration.yaml found');
      dir = parent;
    }
  }
  const file = await loadConfig({ configPath: join(dir, 'configuration.yaml') }, {}, '/');
  const builtIn = await loadConfig({}, {}, '/nonexistent-folder');
  assert.deepEqual(file.config, builtIn.config);
});
