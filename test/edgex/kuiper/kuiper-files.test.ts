/**
 * eKuiper's files: rewritten only when present, with EdgeX's YAML for the redis and mqtt buses, atomically, keeping
 * mode and owner; no bus → nothing; another bus type → CONFIG error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSecretStoreError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import {
  DEFAULT_KUIPER_CONFIG_PATH,
  DEFAULT_KUIPER_CONNECTIONS_PATH,
  configureKuiperFiles,
  kuiperBusFields,
  type KuiperSettings,
} from '../../../src/edgex/kuiper/kuiper-files.js';
import type { UserPassword } from '../../../src/edgex/known-secrets/credential.js';
import type { KnownSecretName } from '../../../src/edgex/known-secrets/known-secret-names.js';
import { assertNoSecrets } from '../../helpers/secret-scan.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const YAML = await import('yaml');

/** EdgeX's templates (secure-messagebus.go lines 30-66), filled in as Go's text/template does: values unquoted. */
function edgexSources(user: string, password: string, port: number, protocol: string, selector: string, type: string): string {
  return `
application_conf:
  port: 5571
  protocol: tcp
  server: localhost
  topic: application
default:
  optional:
    Username: ${user}
    Password: ${password}
  port: ${port}
  protocol: ${protocol}
  server: localhost
  connectionSelector: ${selector}
  topic: rules-events
  type: ${type}
mqtt_conf:
  optional:
    ClientId: client1
  port: 1883
  protocol: tcp
  server: localhost
  topic: events
  type: mqtt
`;
}

function edgexConnections(user: string, password: string, connector: string, protocol: string, port: number, type: string): string {
  return `
edgex:
  ${connector}: #connection key
    protocol: ${protocol}
    server: localhost
    port: ${port}
    type: ${type}
    optional:
      Username: ${user}
      Password: ${password}
`;
}

const REDIS_PW = 'Rk9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr';
const BUS_PW = 'TXF0dEJ1c1Bhc3N3b3JkMDEyMzQ1Njc4OWFiY2RlZmdo';

function credentials(): Partial<Record<KnownSecretName, UserPassword>> {
  return {
    redisdb: { username: 'default', password: Buffer.from(REDIS_PW) },
    'message-bus': { username: 'msgbususer', password: Buffer.from(BUS_PW) },
  };
}

async function withDir(fn: (dir: string, settings: (busType: string) => KuiperSettings) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('sss-kuiper-');
  try {
    await mkdir(join(dir, 'kuiper'));
    await mkdir(join(dir, 'kuiper-connections'));
    await fn(dir, (busType) => ({
      busType,
      kuiperConfigPath: join(dir, 'kuiper', 'edgex.yaml'),
      kuiperConnectionsPath: join(dir, 'kuiper-connections', 'connection.yaml'),
    }));
  } finally {
    await removeTempDir(dir);
  }
}

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ sink: (l) => lines.push(l) }), lines };
}

test("EdgeX's default paths", () => {
  assert.equal(DEFAULT_KUIPER_CONFIG_PATH, '/tmp/kuiper/edgex.yaml');
  assert.equal(DEFAULT_KUIPER_CONNECTIONS_PATH, '/tmp/kuiper-connections/connection.yaml');
});

test('absent files are left absent', async () => {
  await withDir(async (dir, settings) => {
    const { log, lines } = capture();
    const result = await configureKuiperFiles(settings('redis'), credentials(), log);
    assert.deepEqual(result.written, []);
    assert.deepEqual(result.skipped, [settings('redis').kuiperConfigPath, settings('redis').kuiperConnectionsPath]);
    assert.deepEqual(await readdir(join(dir, 'kuiper')), []);
    assert.deepEqual(await readdir(join(dir, 'kuiper-connections')), []);
    assert.equal(lines.filter((l) => l.includes('eKuiper file absent')).length, 2);
  });
});

test('redis bus: both present files rewritten with the redisdb credentials, EdgeX YAML, mode and owner kept', async () => {
  await withDir(async (_dir, settings) => {
    const s = settings('redis');
    await writeFile(s.kuiperConfigPath, 'old: sources\n', { mode: 0o644 });
    await writeFile(s.kuiperConnectionsPath, 'old: connections\n', { mode: 0o640 });
    await chown(s.kuiperConfigPath, 1001, 1001); // eKuiper's user in EdgeX's compose files
    const { log, lines } = capture();
    const result = await configureKuiperFiles(s, credentials(), log);
    assert.deepEqual(result.written, [s.kuiperConfigPath, s.kuiperConnectionsPath]);

    const sources = await readFile(s.kuiperConfigPath, 'utf8');
    assert.equal(sources, edgexSources('"default"', `"${REDIS_PW}"`, 6379, 'redis', 'edgex.redisMsgBus', 'redis'));
    assert.deepEqual(YAML.parse(sources), YAML.parse(edgexSources('default', REDIS_PW, 6379, 'redis', 'edgex.redisMsgBus', 'redis')));
    const connections = await readFile(s.kuiperConnectionsPath, 'utf8');
    assert.equal(connections, edgexConnections('"default"', `"${REDIS_PW}"`, 'redisMsgBus', 'redis', 6379, 'redis'));
    assert.deepEqual(YAML.parse(connections), {
      edgex: { redisMsgBus: { protocol: 'redis', server: 'localhost', port: 6379, type: 'redis', optional: { Username: 'default', Password: REDIS_PW } } },
    });

    const info = await stat(s.kuiperConfigPath);
    assert.equal(info.mode & 0o7777, 0o644);
    assert.equal(info.uid, 1001);
    assert.equal(info.gid, 1001);
    assert.equal((await stat(s.kuiperConnectionsPath)).mode & 0o7777, 0o640);
    assertNoSecrets(lines, [
      { label: 'redis', value: Buffer.from(REDIS_PW) },
      { label: 'bus', value: Buffer.from(BUS_PW) },
    ]);
  });
});

test('mqtt bus: the message-bus credentials, edgex.mqttMsgBus, port 1883, protocol tcp', async () => {
  await withDir(async (_dir, settings) => {
    const s = settings('mqtt');
    await writeFile(s.kuiperConfigPath, '', { mode: 0o600 });
    await writeFile(s.kuiperConnectionsPath, '', { mode: 0o600 });
    await configureKuiperFiles(s, credentials(), capture().log);
    assert.equal(await readFile(s.kuiperConfigPath, 'utf8'), edgexSources('"msgbususer"', `"${BUS_PW}"`, 1883, 'tcp', 'edgex.mqttMsgBus', 'mqtt'));
    assert.deepEqual(YAML.parse(await readFile(s.kuiperConnectionsPath, 'utf8')), {
      edgex: { mqttMsgBus: { protocol: 'tcp', server: 'localhost', port: 1883, type: 'mqtt', optional: { Username: 'msgbususer', Password: BUS_PW } } },
    });
  });
});

test('only the present file is written when just one exists', async () => {
  await withDir(async (dir, settings) => {
    const s = settings('mqtt');
    await writeFile(s.kuiperConnectionsPath, 'x: 1\n');
    const result = await configureKuiperFiles(s, credentials(), capture().log);
    assert.deepEqual(result.written, [s.kuiperConnectionsPath]);
    assert.deepEqual(await readdir(join(dir, 'kuiper')), []);
  });
});

test('passwords YAML would misread unquoted stay exact (EdgeX pastes them in raw)', async () => {
  await withDir(async (_dir, settings) => {
    const s = settings('redis');
    await writeFile(s.kuiperConfigPath, '');
    for (const pw of ['a: b #c', '"quoted', "'single", '123', 'yes', 'null', 'back\\slash\ttab\nnewline', '- item', '{x}', '\u00e9\u2028\u{1f600}']) {
      await configureKuiperFiles(s, { redisdb: { username: 'default', password: Buffer.from(pw) } }, capture().log);
      const doc = YAML.parse(await readFile(s.kuiperConfigPath, 'utf8')) as { default: { optional: { Password: unknown } } };
      assert.equal(doc.default.optional.Password, pw);
    }
  });
});

test('no bus (none or empty): nothing is looked at or written', async () => {
  await withDir(async (_dir, settings) => {
    for (const busType of ['none', '']) {
      const s = settings(busType);
      await writeFile(s.kuiperConfigPath, 'keep\n');
      assert.deepEqual(await configureKuiperFiles(s, {}, capture().log), { written: [], skipped: [] });
      assert.equal(await readFile(s.kuiperConfigPath, 'utf8'), 'keep\n');
    }
  });
  assert.equal(kuiperBusFields('none'), undefined);
});

test('any other bus type is a CONFIG error, even when the files are absent (EdgeX checks the type first)', async () => {
  await withDir(async (_dir, settings) => {
    for (const busType of ['nats', 'Redis', 'MQTT', 'zero']) {
      await assert.rejects(configureKuiperFiles(settings(busType), credentials(), capture().log), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'CONFIG'));
        assert.match(err.message, new RegExp(`invalid SecureMessageBus.Type "${busType}" for the eKuiper files; use redis, mqtt or none`));
        return true;
      });
    }
  });
});

test('a missing credential is an internal error; a folder at the path an IO error', async () => {
  await withDir(async (_dir, settings) => {
    const s = settings('mqtt');
    await writeFile(s.kuiperConfigPath, '');
    await assert.rejects(configureKuiperFiles(s, { redisdb: { username: 'default', password: Buffer.from('x') } }, capture().log), (err: unknown) =>
      isSecretStoreError(err, 'INTERNAL'),
    );
    const f = settings('redis');
    await mkdir(f.kuiperConnectionsPath);
    await assert.rejects(configureKuiperFiles(f, credentials(), capture().log), (err: unknown) => isSecretStoreError(err, 'IO') && /not a regular file/.test(err.message));
  });
});

test('a symbolic link at the path is replaced by the new file, never written through', async () => {
  await withDir(async (dir, settings) => {
    const s = settings('redis');
    const target = join(dir, 'elsewhere.yaml');
    await writeFile(target, 'do not touch\n');
    await symlink(target, s.kuiperConfigPath);
    await configureKuiperFiles(s, credentials(), capture().log);
    assert.equal(await readFile(target, 'utf8'), 'do not touch\n');
    assert.ok((await lstat(s.kuiperConfigPath)).isFile());
    assert.match(await readFile(s.kuiperConfigPath, 'utf8'), /connectionSelector: edgex\.redisMsgBus/);
    // no temp file left behind
    assert.deepEqual(await readdir(join(dir, 'kuiper')), ['edgex.yaml']);
  });
});
