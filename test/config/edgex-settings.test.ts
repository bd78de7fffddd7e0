/** EdgeX's settings beyond SecretStore: EdgeX's own files, defaults, env overrides, map rules, validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'yaml';
import {
  EDGEX_3_1_DATABASES,
  EDGEX_3_1_MESSAGE_BUS_SERVICES,
  EDGEX_4_DATABASES,
  EDGEX_4_MESSAGE_BUS_SERVICES,
  edgexEnvName,
  edgexSettingsFrom,
  type EdgexSettings,
} from '../../src/config/edgex-settings.js';
import { isSecretStoreError, SecretStoreError } from '../../src/errors.js';
import { sourceFile } from '../helpers/paths.js';

const FIXTURE_4 = sourceFile('test/config/fixtures/edgex-4.x-configuration.yaml');
const FIXTURE_3_1 = sourceFile('test/config/fixtures/edgex-3.1-configuration.yaml');

function doc(text: string): Record<string, unknown> {
  return parse(text) as Record<string, unknown>;
}

function fixture(path: string): Record<string, unknown> {
  return doc(readFileSync(path, 'utf8'));
}

/** Plain copies (the constants are frozen, results are not: compare values only). */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Asserts a CONFIG error whose message matches every pattern. */
function assertConfigError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isSecretStoreError(err, 'CONFIG'), `a CONFIG error, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test("EdgeX 4.x's configuration.yaml gives EdgeX's values", () => {
  const s = edgexSettingsFrom(fixture(FIXTURE_4), {}, FIXTURE_4);
  const expected: EdgexSettings = {
    version: '4',
    tokenProvider: '/security-file-token-provider',
    tokenProviderArgs: ['-configDir', 'res-file-token-provider'],
    tokenProviderType: 'oneshot',
    passwordProvider: '',
    passwordProviderArgs: [],
    certPath: '',
    certFilePath: '',
    keyFilePath: '',
    database: { host: 'localhost', port: 5432, timeout: '5s', type: 'postgres' },
    databases: {
      metadata: { service: 'core-metadata', username: 'core_metadata' },
      coredata: { service: 'core-data', username: 'core_data' },
      corekeeper: { service: 'core-keeper', username: 'core_keeper' },
      notifications: { service: 'support-notifications', username: 'support_notifications' },
      scheduler: { service: 'support-scheduler', username: 'support_scheduler' },
      securityproxyauth: { service: 'security-proxy-auth', username: 'security_proxy_auth' },
    },
    secureMessageBus: {
      type: 'none',
      kuiperConfigPath: '/tmp/kuiper/edgex.yaml',
      kuiperConnectionsPath: '/tmp/kuiper-connections/connection.yaml',
      services: {
        command: { service: 'core-command' },
        metadata: { service: 'core-metadata' },
        coredata: { service: 'core-data' },
        corekeeper: { service: 'core-keeper' },
        rulesengine: { service: 'app-rules-engine' },
        notifications: { service: 'support-notifications' },
        scheduler: { service: 'support-scheduler' },
      },
    },
    service: { host: 'localhost', port: 59843 },
    consulSecretsAdminTokenPath: '',
    enabled: true,
  };
  assert.deepEqual(s, expected);
  assert.deepEqual(Object.keys(s.databases), Object.keys(expected.databases), 'the file order is kept');
  // The built-in 4.x maps are exactly the file's.
  assert.deepEqual(plain(EDGEX_4_DATABASES), s.databases);
  assert.deepEqual(plain(EDGEX_4_MESSAGE_BUS_SERVICES), s.secureMessageBus.services);
  assert.deepEqual(Object.keys(EDGEX_4_MESSAGE_BUS_SERVICES), Object.keys(s.secureMessageBus.services));
});

test("EdgeX 3.1's configuration.yaml gives 3.1's values (Type vault)", () => {
  const s = edgexSettingsFrom(fixture(FIXTURE_3_1), {}, FIXTURE_3_1);
  assert.equal(s.version, '3.1');
  assert.equal(s.enabled, true);
  assert.equal(s.tokenProvider, '/security-file-token-provider');
  assert.deepEqual(s.tokenProviderArgs, ['-configDir', 'res-file-token-provider']);
  assert.equal(s.consulSecretsAdminTokenPath, '/tmp/edgex/secrets/edgex-consul/admin/token.json');
  assert.deepEqual(s.databases.admin, { service: '', username: 'admin' }, 'entries without Service keep an empty one');
  assert.deepEqual(s.databases.command, { service: 'core-command', username: 'core-command' });
  assert.deepEqual(plain(EDGEX_3_1_DATABASES), s.databases);
  assert.deepEqual(Object.keys(EDGEX_3_1_DATABASES), Object.keys(s.databases));
  assert.deepEqual(plain(EDGEX_3_1_MESSAGE_BUS_SERVICES), s.secureMessageBus.services);
  assert.equal(s.secureMessageBus.type, 'none');
  // 3.1 has no Database/Service sections: the 4.x defaults stay (unused by 3.1's duties).
  assert.deepEqual(s.database, { host: 'localhost', port: 5432, timeout: '5s', type: 'postgres' });
  assert.deepEqual(s.service, { host: 'localhost', port: 59843 });
});

test('no document: EdgeX 4 defaults with no token provider (duties off); Type vault picks the 3.1 maps', () => {
  const s = edgexSettingsFrom({}, {});
  assert.equal(s.version, '4');
  assert.equal(s.tokenProvider, '');
  assert.equal(s.enabled, false);
  assert.deepEqual(s.tokenProviderArgs, ['-configDir', 'res-file-token-provider']);
  assert.equal(s.tokenProviderType, 'oneshot');
  assert.deepEqual(s.databases, plain(EDGEX_4_DATABASES));
  assert.deepEqual(s.secureMessageBus.services, plain(EDGEX_4_MESSAGE_BUS_SERVICES));
  assert.equal(s.consulSecretsAdminTokenPath, '');
  // Results are fresh objects: changing one never changes the defaults.
  s.tokenProviderArgs.push('x');
  const first = s.databases.metadata;
  assert.ok(first !== undefined);
  first.service = 'changed';
  assert.deepEqual(edgexSettingsFrom({}, {}).tokenProviderArgs, ['-configDir', 'res-file-token-provider']);
  assert.equal(edgexSettingsFrom({}, {}).databases.metadata?.service, 'core-metadata');

  const v31 = edgexSettingsFrom({ SecretStore: { Type: 'vault' } }, {});
  assert.equal(v31.version, '3.1');
  assert.deepEqual(v31.databases, plain(EDGEX_3_1_DATABASES));
  assert.deepEqual(v31.secureMessageBus.services, plain(EDGEX_3_1_MESSAGE_BUS_SERVICES));
  assert.equal(v31.consulSecretsAdminTokenPath, '/tmp/edgex/secrets/edgex-consul/admin/token.json');
  // A 4 configuration's ConsulSecretsAdminTokenPath is not EdgeX 4's: ignored.
  assert.equal(edgexSettingsFrom({ SecretStore: { ConsulSecretsAdminTokenPath: '/x' } }, {}).consulSecretsAdminTokenPath, '');
  assert.equal(edgexSettingsFrom({ SecretStore: { Type: 'vault', ConsulSecretsAdminTokenPath: '/x' } }, {}).consulSecretsAdminTokenPath, '/x');
  // null sections and values mean "not set".
  assert.deepEqual(edgexSettingsFrom({ SecretStore: null, Database: null, Databases: null, Service: { Port: null } }, {}), edgexSettingsFrom({}, {}));
});

test('env names follow go-mod-bootstrap: path joined, / and - to _, upper-cased', () => {
  assert.equal(edgexEnvName(['SecretStore', 'TokenProviderArgs']), 'SECRETSTORE_TOKENPROVIDERARGS');
  assert.equal(edgexEnvName(['Databases', 'core-data', 'Username']), 'DATABASES_CORE_DATA_USERNAME');
  assert.equal(edgexEnvName(['SecureMessageBus', 'Services', 'coredata', 'Service']), 'SECUREMESSAGEBUS_SERVICES_COREDATA_SERVICE');
});

test('env overrides every kind of setting, over the file', () => {
  const env: NodeJS.ProcessEnv = {
    SECRETSTORE_TOKENPROVIDER: '/usr/bin/provider',
    SECRETSTORE_TOKENPROVIDERARGS: ' -configDir , /etc/provider ',
    SECRETSTORE_TOKENPROVIDERTYPE: 'oneshot',
    SECRETSTORE_PASSWORDPROVIDER: '/usr/bin/pw',
    SECRETSTORE_PASSWORDPROVIDERARGS: 'a,b',
    SECRETSTORE_CERTPATH: 'proxy/cert',
    SECRETSTORE_CERTFILEPATH: '/c.pem',
    SECRETSTORE_KEYFILEPATH: '/k.pem',
    DATABASE_HOST: 'edgex-postgres',
    DATABASE_PORT: '5433',
    DATABASE_TIMEOUT: '9s',
    DATABASE_TYPE: 'redisdb',
    SECUREMESSAGEBUS_TYPE: 'mqtt',
    SECUREMESSAGEBUS_KUIPERCONFIGPATH: '/k/edgex.yaml',
    SECUREMESSAGEBUS_KUIPERCONNECTIONSPATH: '/k/connection.yaml',
    SERVICE_HOST: 'edgex-security-secretstore-setup',
    SERVICE_PORT: '60000',
    DATABASES_METADATA_SERVICE: 'my-metadata',
    DATABASES_METADATA_USERNAME: 'my_metadata',
    DATABASES_NOSUCHKEY_SERVICE: 'ignored',
    SECUREMESSAGEBUS_SERVICES_COREDATA_SERVICE: 'my-data',
    SECUREMESSAGEBUS_SERVICES_NOSUCHKEY_SERVICE: 'ignored',
  };
  const s = edgexSettingsFrom(fixture(FIXTURE_4), env, FIXTURE_4);
  assert.equal(s.tokenProvider, '/usr/bin/provider');
  assert.deepEqual(s.tokenProviderArgs, ['-configDir', '/etc/provider'], 'comma list, items trimmed');
  assert.equal(s.passwordProvider, '/usr/bin/pw');
  assert.deepEqual(s.passwordProviderArgs, ['a', 'b']);
  assert.equal(s.certPath, 'proxy/cert');
  assert.equal(s.certFilePath, '/c.pem');
  assert.equal(s.keyFilePath, '/k.pem');
  assert.deepEqual(s.database, { host: 'edgex-postgres', port: 5433, timeout: '9s', type: 'redisdb' });
  assert.equal(s.secureMessageBus.type, 'mqtt');
  assert.equal(s.secureMessageBus.kuiperConfigPath, '/k/edgex.yaml');
  assert.equal(s.secureMessageBus.kuiperConnectionsPath, '/k/connection.yaml');
  assert.deepEqual(s.service, { host: 'edgex-security-secretstore-setup', port: 60000 });
  assert.deepEqual(s.databases.metadata, { service: 'my-metadata', username: 'my_metadata' });
  assert.equal(s.databases.nosuchkey, undefined, 'env never adds a map entry');
  assert.equal(Object.keys(s.databases).length, 6);
  assert.deepEqual(s.secureMessageBus.services.coredata, { service: 'my-data' });
  assert.equal(s.secureMessageBus.services.nosuchkey, undefined);

  // Env applies to defaults too (no document), including map entries of the default maps.
  const d = edgexSettingsFrom({}, { SECRETSTORE_TOKENPROVIDER: '/p', DATABASES_COREKEEPER_USERNAME: 'keeper' });
  assert.equal(d.enabled, true);
  assert.equal(d.databases.corekeeper?.username, 'keeper');
  // SECRETSTORE_TYPE picks the line (and so the default maps).
  const v = edgexSettingsFrom({}, { SECRETSTORE_TYPE: 'vault' });
  assert.equal(v.version, '3.1');
  assert.ok('admin' in v.databases);
  // Map keys with - take _ in the variable name.
  const dash = edgexSettingsFrom({ Databases: { 'core-data': { Service: 'core-data', Username: 'u' } } }, { DATABASES_CORE_DATA_USERNAME: 'v' });
  assert.equal(dash.databases['core-data']?.username, 'v');
  // An empty list variable is an empty list; an empty string variable sets "".
  const empty = edgexSettingsFrom(fixture(FIXTURE_4), { SECRETSTORE_TOKENPROVIDERARGS: '', SECRETSTORE_PASSWORDPROVIDERARGS: ' ', DATABASE_TYPE: '' });
  assert.deepEqual(empty.tokenProviderArgs, []);
  assert.deepEqual(empty.passwordProviderArgs, []);
  assert.equal(empty.database.type, '');
  // EdgeX keeps inner empty items (only the items are trimmed).
  assert.deepEqual(edgexSettingsFrom({}, { SECRETSTORE_TOKENPROVIDERARGS: 'a,,b' }).tokenProviderArgs, ['a', '', 'b']);
});

test('`enabled` only with a TokenProvider; an empty SECRETSTORE_TOKENPROVIDER turns an EdgeX file off', () => {
  assert.equal(edgexSettingsFrom({ SecretStore: { TokenProvider: '' } }, {}).enabled, false);
  assert.equal(edgexSettingsFrom({ SecretStore: { TokenProviderArgs: ['x'], PasswordProvider: '/pw' }, Databases: {} }, {}).enabled, false);
  assert.equal(edgexSettingsFrom({ SecretStore: { TokenProvider: '/p' } }, {}).enabled, true);
  assert.equal(edgexSettingsFrom(fixture(FIXTURE_4), { SECRETSTORE_TOKENPROVIDER: '' }).enabled, false);
  assert.equal(edgexSettingsFrom({}, { SECRETSTORE_TOKENPROVIDER: '/p' }).enabled, true);
});

test("a document's map replaces EdgeX's map wholesale; without it, EdgeX's map", () => {
  const s = edgexSettingsFrom(
    doc('Databases:\n  mine:\n    Service: my-svc\n  bare:\n  nouser:\n    Service: x\nSecureMessageBus:\n  Type: redis\n  Services:\n    one:\n      Service: svc-one\n'),
    {},
  );
  assert.deepEqual(s.databases, {
    mine: { service: 'my-svc', username: '' },
    bare: { service: '', username: '' },
    nouser: { service: 'x', username: '' },
  });
  assert.deepEqual(s.secureMessageBus.services, { one: { service: 'svc-one' } });
  assert.equal(s.secureMessageBus.kuiperConfigPath, '/tmp/kuiper/edgex.yaml', 'scalars of a present section keep their defaults');
  const emptied = edgexSettingsFrom(doc('Databases: {}\nSecureMessageBus:\n  Services: {}\n'), {});
  assert.deepEqual(emptied.databases, {});
  assert.deepEqual(emptied.secureMessageBus.services, {});
  const withoutServices = edgexSettingsFrom(doc('SecureMessageBus:\n  Type: mqtt\n'), {});
  assert.deepEqual(withoutServices.secureMessageBus.services, plain(EDGEX_4_MESSAGE_BUS_SERVICES));
  // A 3.1 file with a map keeps its own; with Type vault and no map, 3.1's defaults.
  const vaultOwn = edgexSettingsFrom(doc('SecretStore:\n  Type: vault\nDatabases:\n  a:\n    Username: u\n'), {});
  assert.deepEqual(vaultOwn.databases, { a: { service: '', username: 'u' } });
});

test('map keys such as __proto__ stay plain keys', () => {
  const s = edgexSettingsFrom(doc('Databases:\n  __proto__:\n    Service: evil\n    Username: e\n'), {});
  assert.deepEqual(Object.keys(s.databases), ['__proto__']);
  assert.equal(Object.getPrototypeOf(s.databases), Object.prototype);
  assert.equal((s.databases as Record<string, unknown>).service, undefined);
});

test('bad values are CONFIG errors naming the key and where the value came from', () => {
  const file = '/etc/edgex/configuration.yaml';
  const cases: [Record<string, unknown>, NodeJS.ProcessEnv, RegExp[]][] = [
    [{ Service: { Port: 'x' } }, {}, [/Service\.Port/, /port number between 1 and 65535/, /"x"/, /in \/etc\/edgex\/configuration\.yaml/]],
    [{}, { SERVICE_PORT: 'x' }, [/Service\.Port/, /environment variable SERVICE_PORT/]],
    [{}, { SERVICE_PORT: '' }, [/Service\.Port/, /SERVICE_PORT/]],
    [{}, { DATABASE_PORT: '70000' }, [/Database\.Port/, /DATABASE_PORT/]],
    [{ Database: { Port: 0 } }, {}, [/Database\.Port/, /configuration\.yaml/]],
    [{ Database: { Port: 5432.5 } }, {}, [/Database\.Port/]],
    [{ SecretStore: { Type: 'consul' } }, {}, [/SecretStore\.Type/, /"consul"/, /openbao/, /vault/, /configuration\.yaml/]],
    [{}, { SECRETSTORE_TYPE: 'OpenBao' }, [/SecretStore\.Type/, /SECRETSTORE_TYPE/]],
    [{ SecretStore: { Type: 'toString' } }, {}, [/SecretStore\.Type/]],
    [{ SecretStore: { TokenProvider: '/p', TokenProviderType: 'longrun' } }, {}, [/SecretStore\.TokenProviderType/, /"longrun"/, /oneshot/, /configuration\.yaml/]],
    [{ SecretStore: { TokenProvider: '/p' } }, { SECRETSTORE_TOKENPROVIDERTYPE: 'longrun' }, [/TokenProviderType/, /SECRETSTORE_TOKENPROVIDERTYPE/]],
    [{}, { SECRETSTORE_TOKENPROVIDER: '/p', SECRETSTORE_TOKENPROVIDERTYPE: '' }, [/TokenProviderType/]],
    [{ SecretStore: { TokenProviderArgs: '-configDir res' } }, {}, [/SecretStore\.TokenProviderArgs/, /list of strings/]],
    [{ SecretStore: { PasswordProviderArgs: ['a', 1] } }, {}, [/SecretStore\.PasswordProviderArgs/, /item 2/]],
    [{ SecretStore: { TokenProvider: 5 } }, {}, [/SecretStore\.TokenProvider /, /must be a string/]],
    [{ SecretStore: { ServerName: true } }, {}, [/SecretStore\.ServerName/]],
    [{ SecretStore: 'x' }, {}, [/SecretStore must be a mapping/]],
    [{ Database: [1] }, {}, [/Database must be a mapping/]],
    [{ Databases: ['a'] }, {}, [/Databases must be a mapping/]],
    [{ Databases: { a: 'core-data' } }, {}, [/Databases\.a must be a mapping/]],
    [{ Databases: { a: { Username: 7 } } }, {}, [/Databases\.a\.Username/]],
    [{ SecureMessageBus: { Services: { a: { Service: ['x'] } } } }, {}, [/SecureMessageBus\.Services\.a\.Service/]],
    [{ SecureMessageBus: { Services: 'x' } }, {}, [/SecureMessageBus\.Services must be a mapping/]],
    [{ Service: { Host: 1 } }, {}, [/Service\.Host/]],
  ];
  for (const [d, env, patterns] of cases) {
    assertConfigError(() => edgexSettingsFrom(d, env, file), ...patterns);
  }
});

test('TokenProviderType is only checked when a TokenProvider is set (as EdgeX)', () => {
  const s = edgexSettingsFrom({ SecretStore: { TokenProviderType: 'longrun' } }, {});
  assert.equal(s.tokenProviderType, 'longrun');
  assert.equal(s.enabled, false);
});

test('ports: a YAML number or a string of digits from the file; digits from the environment', () => {
  assert.equal(edgexSettingsFrom({ Service: { Port: '59844' } }, {}).service.port, 59844);
  assert.equal(edgexSettingsFrom({}, { SERVICE_PORT: ' 1 ' }).service.port, 1);
  assert.equal(edgexSettingsFrom({}, { DATABASE_PORT: '65535' }).database.port, 65535);
  assertConfigError(() => edgexSettingsFrom({}, { SERVICE_PORT: '0x10' }), /Service\.Port/);
  assertConfigError(() => edgexSettingsFrom({}, { SERVICE_PORT: '-1' }), /Service\.Port/);
});

test('property: any document and env resolve or fail with a CONFIG error, never a crash', () => {
  const value = fc.oneof(fc.jsonValue(), fc.constant(null), fc.constant(undefined));
  const section = (keys: string[]): fc.Arbitrary<unknown> => fc.oneof(value, fc.dictionary(fc.constantFrom(...keys), value));
  fc.assert(
    fc.property(
      fc.record(
        {
          SecretStore: section(['Type', 'TokenProvider', 'TokenProviderArgs', 'TokenProviderType', 'PasswordProviderArgs', 'CertPath', 'ServerName']),
          Database: section(['Host', 'Port', 'Timeout', 'Type']),
          Databases: fc.oneof(value, fc.dictionary(fc.string(), section(['Service', 'Username']))),
          SecureMessageBus: section(['Type', 'Services', 'KuiperConfigPath']),
          Service: section(['Host', 'Port']),
        },
        { requiredKeys: [] },
      ),
      fc.dictionary(fc.constantFrom('SERVICE_PORT', 'DATABASE_PORT', 'SECRETSTORE_TYPE', 'SECRETSTORE_TOKENPROVIDER', 'SECRETSTORE_TOKENPROVIDERARGS'), fc.string()),
      (d, env) => {
        try {
          const s = edgexSettingsFrom(d, env);
          assert.ok(['4', '3.1'].includes(s.version));
          assert.equal(s.enabled, s.tokenProvider !== '');
          assert.ok(Number.isInteger(s.service.port) && s.service.port >= 1 && s.service.port <= 65535);
        } catch (err) {
          assert.ok(err instanceof SecretStoreError && err.code === 'CONFIG', String(err));
        }
      },
    ),
  );
});
