/** Configuration: EdgeX defaults, YAML, SECRETSTORE_* env overrides, flags, validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { loadConfig, resolveConfig, resolveConfigPath } from '../../src/config/config.js';
import { isSecretStoreError, SecretStoreError } from '../../src/errors.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { sourceFile } from '../helpers/paths.js';

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

// ---- EdgeX settings, key-file format default, configuration location ----

const FIXTURE_4 = sourceFile('test/config/fixtures/edgex-4.x-configuration.yaml');
const FIXTURE_3_1 = sourceFile('test/config/fixtures/edgex-3.1-configuration.yaml');

test("EdgeX 4.x's own configuration.yaml: its SecretStore values, config.edgex enabled, key files in EdgeX's format", async () => {
  const { config, source } = await loadConfig({ configPath: FIXTURE_4 }, {}, '/');
  assert.equal(source, FIXTURE_4);
  assert.deepEqual(config.nodes, ['http://localhost:8200']);
  assert.equal(config.tokenFolderPath, '/openbao/config/assets');
  assert.equal(config.secretShares, 5);
  assert.equal(config.secretThreshold, 3);
  assert.equal(config.edgex.enabled, true);
  assert.equal(config.edgex.version, '4');
  assert.equal(config.edgex.tokenProvider, '/security-file-token-provider');
  assert.equal(config.edgex.database.type, 'postgres');
  assert.equal(config.edgex.service.port, 59843);
  assert.equal(config.keyFileFormat, 'edgex', 'an EdgeX configuration defaults to the EdgeX key file format');
});

test("EdgeX 3.1's own configuration.yaml: Vault-prefixed shares, /vault paths, 3.1 rules", async () => {
  const { config } = await loadConfig({ configPath: FIXTURE_3_1 }, {}, '/');
  assert.equal(config.tokenFolderPath, '/vault/config/assets');
  assert.equal(config.secretShares, 5);
  assert.equal(config.secretThreshold, 3);
  assert.equal(config.edgex.version, '3.1');
  assert.equal(config.edgex.consulSecretsAdminTokenPath, '/tmp/edgex/secrets/edgex-consul/admin/token.json');
  assert.ok('admin' in config.edgex.databases);
  assert.equal(config.keyFileFormat, 'edgex');
});

test('key-file format: flag, then env, then file; unset everywhere: edgex for an EdgeX configuration, else v2', async () => {
  const dir = await makeTempDir();
  try {
    const withProvider = join(dir, 'edgex.yaml');
    await writeFile(withProvider, 'SecretStore:\n  TokenProvider: /security-file-token-provider\n');
    const withProviderV2 = join(dir, 'edgex-v2.yaml');
    await writeFile(withProviderV2, 'SecretStore:\n  TokenProvider: /security-file-token-provider\n  KeyFileFormat: v2\n');
    const without = join(dir, 'plain.yaml');
    await writeFile(without, 'SecretStore:\n  Host: localhost\n');
    const table: [string, NodeJS.ProcessEnv, 'v2' | 'edgex' | undefined, 'v2' | 'edgex'][] = [
      [withProvider, {}, undefined, 'edgex'],
      [withProvider, { SECRETSTORE_KEYFILEFORMAT: 'v2' }, undefined, 'v2'],
      [withProvider, {}, 'v2', 'v2'],
      [withProviderV2, {}, undefined, 'v2'],
      [withProviderV2, {}, 'edgex', 'edgex'],
      [without, {}, undefined, 'v2'],
      [without, { SECRETSTORE_TOKENPROVIDER: '/p' }, undefined, 'edgex'],
      [withProvider, { SECRETSTORE_TOKENPROVIDER: '' }, undefined, 'v2'],
      [without, { SECRETSTORE_KEYFILEFORMAT: 'edgex' }, undefined, 'edgex'],
    ];
    for (const [file, env, flag, expected] of table) {
      const overrides = flag === undefined ? { configPath: file } : { configPath: file, keyFileFormat: flag };
      const { config } = await loadConfig(overrides, env, dir);
      assert.equal(config.keyFileFormat, expected, JSON.stringify({ file, env, flag }));
    }
    // resolveConfig without a document: env alone can make it an EdgeX configuration.
    assert.equal(resolveConfig({}, {}, {}, '/').keyFileFormat, 'v2');
    assert.equal(resolveConfig({}, {}, {}, '/').edgex.enabled, false);
    assert.equal(resolveConfig({}, {}, { SECRETSTORE_TOKENPROVIDER: '/p' }, '/').keyFileFormat, 'edgex');
    assert.equal(resolveConfig({ KeyFileFormat: 'v2' }, {}, { SECRETSTORE_TOKENPROVIDER: '/p' }, '/').keyFileFormat, 'v2');
  } finally {
    await removeTempDir(dir);
  }
});

test("config.edgex: the whole document's EdgeX sections, env overrides, file paths resolved, errors naming the file", async () => {
  const dir = await makeTempDir();
  try {
    await writeFile(
      join(dir, 'configuration.yaml'),
      'SecretStore:\n  TokenProvider: /p\n  CertFilePath: certs/c.pem\n  KeyFilePath: /abs/k.pem\nDatabase:\n  Type: none\nDatabases:\n  one:\n    Service: svc\n    Username: u\nSecureMessageBus:\n  KuiperConfigPath: kuiper/edgex.yaml\n',
    );
    const { config } = await loadConfig({}, { DATABASES_ONE_USERNAME: 'v', SERVICE_PORT: '60001' }, dir);
    assert.equal(config.edgex.certFilePath, join(dir, 'certs/c.pem'));
    assert.equal(config.edgex.keyFilePath, '/abs/k.pem');
    assert.equal(config.edgex.secureMessageBus.kuiperConfigPath, join(dir, 'kuiper/edgex.yaml'));
    assert.equal(config.edgex.secureMessageBus.kuiperConnectionsPath, '/tmp/kuiper-connections/connection.yaml');
    assert.equal(config.edgex.tokenProvider, '/p', 'a command is left as written');
    assert.equal(config.edgex.database.type, 'none');
    assert.deepEqual(config.edgex.databases, { one: { service: 'svc', username: 'v' } });
    assert.equal(config.edgex.service.port, 60001);

    await writeFile(join(dir, 'bad.yaml'), 'SecretStore:\n  Type: consul\n');
    await assert.rejects(
      loadConfig({ configPath: 'bad.yaml' }, {}, dir),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes('SecretStore.Type') && err.message.includes(join(dir, 'bad.yaml')),
    );
    await assert.rejects(
      loadConfig({}, { SERVICE_PORT: 'x' }, dir),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && /Service\.Port/.test(err.message) && /SERVICE_PORT/.test(err.message),
    );
    await writeFile(join(dir, 'longrun.yaml'), 'SecretStore:\n  TokenProvider: /p\n  TokenProviderType: longrun\n');
    await assert.rejects(
      loadConfig({ configPath: 'longrun.yaml' }, {}, dir),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && /TokenProviderType/.test(err.message) && err.message.includes('longrun.yaml'),
    );
  } finally {
    await removeTempDir(dir);
  }
});

test('resolveConfigPath: --config, then EdgeX env over EdgeX flags (dir/profile/file), then ./configuration.yaml, ./res/configuration.yaml, none', async () => {
  const dir = await makeTempDir();
  const put = async (rel: string): Promise<string> => {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, 'SecretStore: {}\n');
    return path;
  };
  try {
    // Nothing asked for, nothing there: built-in defaults.
    assert.equal(resolveConfigPath({}, {}, dir), undefined);
    const res = await put('res/configuration.yaml');
    assert.equal(resolveConfigPath({}, {}, dir), res, "EdgeX's default location");
    const cwdFile = await put('configuration.yaml');
    assert.equal(resolveConfigPath({}, {}, dir), cwdFile, './configuration.yaml first');

    const files = {
      mine: await put('mine.yaml'),
      confDefault: await put('conf/configuration.yaml'),
      envConf: await put('envconf/configuration.yaml'),
      profile: await put('res/docker/configuration.yaml'),
      envProfile: await put('res/envprofile/configuration.yaml'),
      other: await put('res/other.yaml'),
      envOther: await put('res/envother.yaml'),
      all: await put('conf/docker/other.yaml'),
      allEnv: await put('envconf/envprofile/envother.yaml'),
    };
    const table: [string, Parameters<typeof resolveConfigPath>[0], NodeJS.ProcessEnv, string][] = [
      ['--config wins over everything', { config: 'mine.yaml', configDir: 'conf' }, { EDGEX_CONFIG_DIR: 'envconf', EDGEX_PROFILE: 'x' }, files.mine],
      ['--config absolute', { config: files.mine }, {}, files.mine],
      ['-cd', { configDir: 'conf' }, {}, files.confDefault],
      ['-cd absolute', { configDir: join(dir, 'conf') }, {}, files.confDefault],
      ['EDGEX_CONFIG_DIR over -cd', { configDir: 'conf' }, { EDGEX_CONFIG_DIR: 'envconf' }, files.envConf],
      ['EDGEX_CONFIG_DIR alone', {}, { EDGEX_CONFIG_DIR: 'envconf' }, files.envConf],
      ['an empty EDGEX_CONFIG_DIR is not set', { configDir: 'conf' }, { EDGEX_CONFIG_DIR: '' }, files.confDefault],
      ['an empty EdgeX setting is not a request', { configDir: '' }, { EDGEX_PROFILE: '' }, cwdFile],
      ['-p: a sub-folder of ./res', { profile: 'docker' }, {}, files.profile],
      ['EDGEX_PROFILE over -p', { profile: 'docker' }, { EDGEX_PROFILE: 'envprofile' }, files.envProfile],
      ['-cf: a file of ./res', { configFile: 'other.yaml' }, {}, files.other],
      ['EDGEX_CONFIG_FILE over -cf', { configFile: 'other.yaml' }, { EDGEX_CONFIG_FILE: 'envother.yaml' }, files.envOther],
      ['-cd/-p/-cf composed', { configDir: 'conf', profile: 'docker', configFile: 'other.yaml' }, {}, files.all],
      [
        'env composed over flags',
        { configDir: 'conf', profile: 'docker', configFile: 'other.yaml' },
        { EDGEX_CONFIG_DIR: 'envconf', EDGEX_PROFILE: 'envprofile', EDGEX_CONFIG_FILE: 'envother.yaml' },
        files.allEnv,
      ],
      ['mixed: env dir, flag profile and file', { profile: 'docker', configFile: 'other.yaml' }, { EDGEX_CONFIG_DIR: 'conf' }, files.all],
    ];
    for (const [name, location, env, expected] of table) {
      assert.equal(resolveConfigPath(location, env, dir), expected, name);
    }

    // Asked for explicitly but missing: a CONFIG error naming the exact path tried (and what named it); the
    // default files are not used instead.
    const missing: [Parameters<typeof resolveConfigPath>[0], NodeJS.ProcessEnv, string, RegExp][] = [
      [{ config: 'absent.yaml' }, {}, join(dir, 'absent.yaml'), /--config/],
      [{ configDir: 'nowhere' }, {}, join(dir, 'nowhere/configuration.yaml'), /-cd\/--configDir nowhere/],
      [{}, { EDGEX_PROFILE: 'nope' }, join(dir, 'res/nope/configuration.yaml'), /EDGEX_PROFILE=nope/],
      [{ configFile: 'x.yaml' }, {}, join(dir, 'res/x.yaml'), /-cf\/--configFile x\.yaml/],
      [{ configDir: 'conf', profile: 'docker' }, { EDGEX_CONFIG_FILE: 'y.yaml' }, join(dir, 'conf/docker/y.yaml'), /EDGEX_CONFIG_FILE=y\.yaml/],
    ];
    for (const [location, env, path, named] of missing) {
      assert.throws(
        () => resolveConfigPath(location, env, dir),
        (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes(path) && named.test(err.message),
        JSON.stringify({ location, env }),
      );
    }
    // go-mod-bootstrap's filepath.Join: an absolute -cf is still joined under the config dir.
    assert.throws(
      () => resolveConfigPath({ configFile: '/etc/x.yaml' }, {}, dir),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes(join(dir, 'res/etc/x.yaml')),
    );
    assert.throws(
      () => resolveConfigPath({ configFile: 'https://config.example/configuration.yaml' }, {}, dir),
      (err: unknown) => isSecretStoreError(err, 'CONFIG') && /URL/.test(err.message),
    );
  } finally {
    await removeTempDir(dir);
  }
});

test('loadConfig follows the EdgeX location overrides and reports the file read', async () => {
  const dir = await makeTempDir();
  try {
    await mkdir(join(dir, 'res', 'docker'), { recursive: true });
    await writeFile(join(dir, 'res', 'docker', 'configuration.yaml'), 'SecretStore:\n  Port: 8300\n');
    await writeFile(join(dir, 'res', 'configuration.yaml'), 'SecretStore:\n  Port: 8400\n');
    const profiled = await loadConfig({ profile: 'docker' }, {}, dir);
    assert.equal(profiled.source, join(dir, 'res', 'docker', 'configuration.yaml'));
    assert.deepEqual(profiled.config.nodes, ['http://localhost:8300']);
    const byEnv = await loadConfig({}, { EDGEX_PROFILE: 'docker' }, dir);
    assert.equal(byEnv.source, join(dir, 'res', 'docker', 'configuration.yaml'));
    const byDefault = await loadConfig({}, {}, dir);
    assert.equal(byDefault.source, join(dir, 'res', 'configuration.yaml'));
    assert.deepEqual(byDefault.config.nodes, ['http://localhost:8400']);
    await assert.rejects(loadConfig({ configDir: 'absent' }, {}, dir), (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes(join(dir, 'absent', 'configuration.yaml')));
    // A default candidate that exists but cannot be read is an error, not silently skipped.
    const other = await makeTempDir();
    try {
      await mkdir(join(other, 'configuration.yaml'));
      await assert.rejects(loadConfig({}, {}, other), (err: unknown) => isSecretStoreError(err, 'CONFIG') && /cannot read configuration file/.test(err.message));
    } finally {
      await removeTempDir(other);
    }
  } finally {
    await removeTempDir(dir);
  }
});
