import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  EDGEX_3_1_TOKEN_CONFIG,
  EDGEX_4_TOKEN_CONFIG,
  defaultTokenConfig,
} from '../../../src/edgex/services/default-token-config.js';
import { parseTokenConfig } from '../../../src/edgex/services/token-config.js';
import { sourceFile } from '../../helpers/paths.js';

const FIXTURE_4 = sourceFile('test/edgex/services/fixtures/token-config-4.json');
const FIXTURE_3_1 = sourceFile('test/edgex/services/fixtures/token-config-3.1.json');
test('the 4.x constant is exactly EdgeX 4 token-config.json (fixture): same services, order and policies', () => {
  const json = JSON.parse(readFileSync(FIXTURE_4, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(EDGEX_4_TOKEN_CONFIG, json);
  assert.deepEqual(Object.keys(EDGEX_4_TOKEN_CONFIG), Object.keys(json));
});

test('the 3.1 constant is exactly EdgeX 3.1.1 token-config.json (fixture)', () => {
  const json = JSON.parse(readFileSync(FIXTURE_3_1, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(EDGEX_3_1_TOKEN_CONFIG, json);
  assert.deepEqual(Object.keys(EDGEX_3_1_TOKEN_CONFIG), Object.keys(json));
});

test('defaultTokenConfig equals what our parser makes of the EdgeX files', () => {
  assert.deepEqual(defaultTokenConfig('4'), parseTokenConfig(readFileSync(FIXTURE_4, 'utf8'), FIXTURE_4));
  assert.deepEqual(defaultTokenConfig('3.1'), parseTokenConfig(readFileSync(FIXTURE_3_1, 'utf8'), FIXTURE_3_1));
});

test('4.x lists the 18 services of the reference; 3.1 lacks core-keeper, security-bootstrapper-postgres, rules-engine, ui', () => {
  const v4 = [...defaultTokenConfig('4').keys()];
  assert.deepEqual(v4, [
    'core-command',
    'core-data',
    'core-metadata',
    'core-common-config-bootstrapper',
    'core-keeper',
    'security-bootstrapper-redis',
    'security-bootstrapper-postgres',
    'security-bootstrapper-messagebus',
    'support-notifications',
    'app-rules-engine',
    'device-virtual',
    'device-rest',
    'support-scheduler',
    'security-proxy-auth',
    'security-proxy-setup',
    'security-spiffe-token-provider',
    'rules-engine',
    'ui',
  ]);
  const v31 = [...defaultTokenConfig('3.1').keys()];
  const missing = ['core-keeper', 'security-bootstrapper-postgres', 'rules-engine', 'ui'];
  assert.deepEqual(v31, v4.filter((n) => !missing.includes(n)));
  for (const [name, entry] of defaultTokenConfig('4')) {
    assert.equal(entry.edgex_use_defaults, true, name);
    assert.equal(entry.file_permissions, undefined, name);
    const custom = entry.custom_policy !== undefined;
    assert.equal(custom, name === 'security-proxy-setup' || name === 'security-spiffe-token-provider', name);
  }
});

test("3.1's security-spiffe-token-provider policy lacks the token-role and postgres paths of 4.x", () => {
  const p4 = Object.keys(EDGEX_4_TOKEN_CONFIG['security-spiffe-token-provider']?.custom_policy?.path ?? {});
  const p31 = Object.keys(EDGEX_3_1_TOKEN_CONFIG['security-spiffe-token-provider']?.custom_policy?.path ?? {});
  assert.deepEqual(
    p4.filter((p) => !p31.includes(p)),
    ['auth/token/roles/*', 'secret/edgex/security-bootstrapper-postgres/postgres'],
  );
  assert.deepEqual(p31.filter((p) => !p4.includes(p)), []);
  assert.deepEqual(EDGEX_4_TOKEN_CONFIG['security-proxy-setup'], EDGEX_3_1_TOKEN_CONFIG['security-proxy-setup']);
});

test('the constants are frozen and defaultTokenConfig returns a fresh map each time', () => {
  assert.ok(Object.isFrozen(EDGEX_4_TOKEN_CONFIG));
  assert.ok(Object.isFrozen(EDGEX_4_TOKEN_CONFIG['security-proxy-setup']?.custom_policy?.path?.['sys/auth']?.capabilities));
  assert.throws(() => {
    (EDGEX_4_TOKEN_CONFIG as Record<string, unknown>).x = 1;
  }, TypeError);
  const a = defaultTokenConfig('4');
  (a as Map<string, unknown>).delete('ui');
  assert.ok(defaultTokenConfig('4').has('ui'));
});
