import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSecretStoreError } from '../../../src/errors.js';
import { TOKEN_PROVIDER_DEFAULTS, configDirFromArgs, loadTokenProviderSettings } from '../../../src/edgex/token-provider/provider-settings.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

test('configDirFromArgs: EdgeX spellings, = form, absent', () => {
  assert.equal(configDirFromArgs(['-configDir', 'res-file-token-provider']), 'res-file-token-provider');
  assert.equal(configDirFromArgs(['--configDir=/etc/x']), '/etc/x');
  assert.equal(configDirFromArgs(['-cd', 'a']), 'a');
  assert.equal(configDirFromArgs(['createToken', '-entityId', 'e']), undefined);
  assert.equal(configDirFromArgs([]), undefined);
});

test('defaults without a config dir; relative paths resolved from cwd', async () => {
  const s = await loadTokenProviderSettings(undefined, {}, '/srv');
  assert.deepEqual(s, { ...TOKEN_PROVIDER_DEFAULTS, configFile: '/srv/res-file-token-provider/token-config.json' });
});

test("the provider's configuration.yaml, then TOKENFILEPROVIDER_* env; a missing file keeps the defaults", async () => {
  const dir = await makeTempDir('sss-provider-');
  try {
    await mkdir(join(dir, 'res-file-token-provider'));
    await writeFile(
      join(dir, 'res-file-token-provider', 'configuration.yaml'),
      'TokenFileProvider:\n  OutputDir: out\n  DefaultJWTTTL: 5m\n  UserPassMountPoint: up2\nSecretStore:\n  Host: x\n',
    );
    const s = await loadTokenProviderSettings('res-file-token-provider', { TOKENFILEPROVIDER_DEFAULTTOKENTTL: '2h', TOKENFILEPROVIDER_OUTPUTFILENAME: 't.json' }, dir);
    assert.equal(s.outputDir, join(dir, 'out'));
    assert.equal(s.defaultJwtTtl, '5m');
    assert.equal(s.userPassMountPoint, 'up2');
    assert.equal(s.defaultTokenTtl, '2h');
    assert.equal(s.outputFilename, 't.json');
    assert.equal(s.defaultJwtAudience, 'edgex');
    assert.equal(s.configFileExplicit, undefined, 'ConfigFile not set: the default list may stand in');
    const explicit = await loadTokenProviderSettings(undefined, { TOKENFILEPROVIDER_CONFIGFILE: 'tc.json' }, dir);
    assert.equal(explicit.configFileExplicit, true);
    const none = await loadTokenProviderSettings('nowhere', {}, dir);
    assert.equal(none.outputDir, '/tmp/edgex/secrets');
  } finally {
    await removeTempDir(dir);
  }
});

test('bad settings are CONFIG errors naming the key', async () => {
  const dir = await makeTempDir('sss-provider-');
  try {
    await writeFile(join(dir, 'configuration.yaml'), 'TokenFileProvider:\n  OutputDir: 5\n');
    await assert.rejects(loadTokenProviderSettings(dir, {}, dir), (e: unknown) => isSecretStoreError(e, 'CONFIG') && /TokenFileProvider\.OutputDir/.test(e.message));
    await writeFile(join(dir, 'configuration.yaml'), 'TokenFileProvider: [1]\n');
    await assert.rejects(loadTokenProviderSettings(dir, {}, dir), (e: unknown) => isSecretStoreError(e, 'CONFIG') && /must be a mapping/.test(e.message));
    await writeFile(join(dir, 'configuration.yaml'), 'a: [\n');
    await assert.rejects(loadTokenProviderSettings(dir, {}, dir), (e: unknown) => isSecretStoreError(e, 'CONFIG') && /not valid YAML/.test(e.message));
    await assert.rejects(loadTokenProviderSettings(undefined, { TOKENFILEPROVIDER_USERPASSMOUNTPOINT: 'a/b' }, dir), (e: unknown) =>
      isSecretStoreError(e, 'CONFIG') && /UserPassMountPoint/.test(e.message),
    );
    await assert.rejects(loadTokenProviderSettings(undefined, { TOKENFILEPROVIDER_OUTPUTFILENAME: '../x' }, dir), (e: unknown) =>
      isSecretStoreError(e, 'CONFIG') && /OutputFilename/.test(e.message),
    );
  } finally {
    await removeTempDir(dir);
  }
});
