/**
 * The known-secrets plan: EdgeX 4.x and 3.1 defaults, each bus type, the compose additions, and the conflict and
 * validation checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretStoreError } from '../../../src/errors.js';
import { parseAddKnownSecrets } from '../../../src/edgex/known-secrets/add-known-secrets.js';
import { planKnownSecrets, type KnownSecretsPlan, type KnownSecretsSettings } from '../../../src/edgex/known-secrets/known-secrets-plan.js';
import { v31Settings, v4Settings } from './fixtures.js';

const NONE = { redisdb: [], 'message-bus': [], postgres: [] };

function additions(value: string, settings: KnownSecretsSettings): ReturnType<typeof parseAddKnownSecrets> {
  return parseAddKnownSecrets(value, { busType: settings.secureMessageBus.Type, databaseType: settings.databaseType, version: settings.version });
}

/** A compact view: `name kind user main <- copies`. */
function view(plan: KnownSecretsPlan): string[] {
  return plan.secrets.map((s) => `${s.name} ${s.kind} ${s.username} ${s.main.path} <- ${s.copies.map((c) => `${c.path}(${c.reason})`).join(' ')}`);
}

const DB4 = ['core-metadata', 'core-data', 'core-keeper', 'support-notifications', 'support-scheduler', 'security-proxy-auth'];
const USERS4 = ['core_metadata', 'core_data', 'core_keeper', 'support_notifications', 'support_scheduler', 'security_proxy_auth'];

test('EdgeX 4 defaults (Database.Type postgres, bus none) with the 4.0.1 compose additions', () => {
  const settings = v4Settings();
  const plan = planKnownSecrets(settings, additions('postgres[app-rules-engine],message-bus[app-rules-engine]', settings));
  const expected = [
    `redisdb shared default secret/edgex/security-bootstrapper-redis/redisdb <- ${DB4.map((s) => `secret/edgex/${s}/redisdb(database)`).join(' ')}`,
    'postgres per-service app-rules-engine secret/edgex/app-rules-engine/postgres <- secret/edgex/security-bootstrapper-postgres/app-rules-engine/postgres(bootstrapper)',
    ...DB4.map((s, i) => `postgres per-service ${USERS4[i] ?? ''} secret/edgex/${s}/postgres <- secret/edgex/security-bootstrapper-postgres/${s}/postgres(bootstrapper)`),
    'postgres shared postgres secret/edgex/security-bootstrapper-postgres/postgres <- ',
  ];
  assert.deepEqual(view(plan), expected);
  // message-bus[…] is ignored with bus none
  assert.ok(!plan.secrets.some((s) => s.name === 'message-bus'));
  assert.equal(plan.secrets[1]?.main.reason, 'addition');
  assert.equal(plan.secrets[2]?.main.reason, 'database');
});

test('EdgeX 4, bus redis: the bus services get redisdb copies too (each path once)', () => {
  const settings = v4Settings('redis');
  const plan = planKnownSecrets(settings, additions('redisdb[app-rules-engine;core-data],message-bus[ignored]', settings));
  const redis = plan.secrets[0];
  assert.ok(redis !== undefined);
  assert.deepEqual(
    redis.copies.map((c) => `${c.service}:${c.reason}`),
    [
      'app-rules-engine:addition',
      'core-data:addition',
      'core-metadata:database',
      'core-keeper:database',
      'support-notifications:database',
      'support-scheduler:database',
      'security-proxy-auth:database',
      'core-command:message-bus-service',
    ],
  );
  assert.ok(!plan.secrets.some((s) => s.name === 'message-bus'), 'the redis bus has no message-bus secret');
});

test('EdgeX 4, bus mqtt: a message-bus secret copied to the additions and the bus services', () => {
  const settings = v4Settings('mqtt');
  const plan = planKnownSecrets(settings, additions('postgres[app-rules-engine],message-bus[app-rules-engine]', settings));
  const bus = plan.secrets.at(-1);
  assert.ok(bus !== undefined);
  assert.equal(bus.name, 'message-bus');
  assert.equal(bus.username, 'msgbususer');
  assert.equal(bus.main.path, 'secret/edgex/security-bootstrapper-messagebus/message-bus');
  assert.deepEqual(
    bus.copies.map((c) => `${c.path}:${c.reason}`),
    [
      'secret/edgex/app-rules-engine/message-bus:addition',
      'secret/edgex/core-command/message-bus:message-bus-service',
      'secret/edgex/core-metadata/message-bus:message-bus-service',
      'secret/edgex/core-data/message-bus:message-bus-service',
      'secret/edgex/core-keeper/message-bus:message-bus-service',
      'secret/edgex/support-notifications/message-bus:message-bus-service',
      'secret/edgex/support-scheduler/message-bus:message-bus-service',
    ],
  );
  // redisdb is still there (always), without bus-service copies
  assert.equal(plan.secrets[0]?.copies.length, DB4.length);
});

test('another bus type (nats): a message-bus secret for the additions only', () => {
  const settings = v4Settings('nats');
  const plan = planKnownSecrets(settings, additions('message-bus[app-rules-engine]', settings));
  const bus = plan.secrets.at(-1);
  assert.equal(bus?.name, 'message-bus');
  assert.deepEqual(bus.copies.map((c) => c.service), ['app-rules-engine']);
});

test('EdgeX 4 with Database.Type redisdb: no postgres secrets; redisdb copies for every Databases service', () => {
  const settings = v4Settings('none', 'redisdb');
  const plan = planKnownSecrets(settings, { ...NONE, postgres: ['ignored'] });
  assert.deepEqual(plan.secrets.map((s) => s.name), ['redisdb']);
  assert.deepEqual(plan.secrets[0]?.copies.map((c) => c.service), DB4);
});

test('EdgeX 3.1 defaults with the 3.1.1 compose addition: redisdb only; entries without a Service are skipped', () => {
  const settings = v31Settings();
  const plan = planKnownSecrets(settings, additions('redisdb[app-rules-engine]', settings));
  assert.deepEqual(view(plan), [
    'redisdb shared default secret/edgex/security-bootstrapper-redis/redisdb <- ' +
      [
        'app-rules-engine(addition)',
        'core-command(database)',
        'core-metadata(database)',
        'core-data(database)',
        'support-notifications(database)',
        'support-scheduler(database)',
      ]
        .map((s) => `secret/edgex/${s.replace('(', '/redisdb(')}`)
        .join(' '),
  ]);
  // 3.1 never has postgres, whatever the database type says
  assert.deepEqual(planKnownSecrets({ ...settings, databaseType: 'postgres' }, { ...NONE, postgres: ['x'] }).secrets.map((s) => s.name), ['redisdb']);
});

test('EdgeX 3.1, bus mqtt: message-bus for the bus services', () => {
  const plan = planKnownSecrets(v31Settings('mqtt'), NONE);
  assert.deepEqual(plan.secrets.map((s) => s.name), ['redisdb', 'message-bus']);
  assert.equal(plan.secrets[1]?.copies.length, 6);
});

test('a postgres service listed in the additions and in Databases is planned once, with the addition user (EdgeX: first written wins)', () => {
  const settings = v4Settings();
  const plan = planKnownSecrets(settings, additions('postgres[core-data]', settings));
  const coreData = plan.secrets.filter((s) => s.main.service === 'core-data');
  assert.equal(coreData.length, 1);
  assert.equal(coreData[0]?.username, 'core-data');
});

test('a Databases entry without Username uses the service name as the PostgreSQL user (EdgeX would store an empty user)', () => {
  const settings: KnownSecretsSettings = { ...v4Settings(), databases: { x: { Service: 'device-foo' }, y: { Service: 'device-bar', Username: '' } } };
  const plan = planKnownSecrets(settings, NONE);
  assert.deepEqual(plan.secrets.filter((s) => s.kind === 'per-service').map((s) => s.username), ['device-foo', 'device-bar']);
});

test("redisdb[security-bootstrapper-redis] is the main path itself: not planned twice", () => {
  const settings = v4Settings();
  const plan = planKnownSecrets(settings, additions('redisdb[security-bootstrapper-redis]', settings));
  assert.equal(plan.secrets[0]?.copies.length, DB4.length);
});

test('postgres[security-bootstrapper-postgres] would put a service user at the superuser path: CONFIG error', () => {
  const settings = v4Settings();
  assert.throws(
    () => planKnownSecrets(settings, additions('postgres[security-bootstrapper-postgres]', settings)),
    (err: unknown) => isSecretStoreError(err, 'CONFIG') && /secret\/edgex\/security-bootstrapper-postgres\/postgres would hold two different PostgreSQL credentials/.test(err.message),
  );
});

test('invalid service names in the configuration or in hand-made additions are CONFIG errors', () => {
  const bad: KnownSecretsSettings = { ...v4Settings(), databases: { x: { Service: 'a/b' } } };
  assert.throws(() => planKnownSecrets(bad, NONE), (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes('Databases.x.Service names the service "a/b"'));
  const badBus: KnownSecretsSettings = { ...v4Settings('redis'), secureMessageBus: { Type: 'redis', Services: { y: { Service: '..' } } } };
  assert.throws(() => planKnownSecrets(badBus, NONE), (err: unknown) => isSecretStoreError(err, 'CONFIG') && err.message.includes('SecureMessageBus.Services.y.Service'));
  assert.throws(() => planKnownSecrets(v4Settings(), { ...NONE, redisdb: ['x?y'] }), (err: unknown) => isSecretStoreError(err, 'CONFIG'));
});
