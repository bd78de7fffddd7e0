import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTokenConfig } from '../../../src/edgex/services/default-token-config.js';
import {
  defaultServicePolicyPaths,
  servicePolicyDocument,
  servicePolicyName,
} from '../../../src/edgex/services/service-policy.js';
import { parseTokenConfig } from '../../../src/edgex/services/token-config.js';

// Expected texts computed independently, as Go's json.Marshal writes the map EdgeX builds (keys sorted byte-wise).
const CORE_DATA_4 =
  '{"path":{"identity/oidc/introspect":{"capabilities":["create","update"]},"identity/oidc/token/core-data":{"capabilities":["read"]},' +
  '"secret/edgex/core-data/*":{"capabilities":["create","update","delete","list","read"]}}}';
const CORE_DATA_3_1 =
  '{"path":{"consul/creds/core-data":{"capabilities":["read"]},"identity/oidc/introspect":{"capabilities":["create","update"]},' +
  '"identity/oidc/token/core-data":{"capabilities":["read"]},"secret/edgex/core-data/*":{"capabilities":["create","update","delete","list","read"]}}}';
const SPIFFE_4 =
  '{"path":{"auth/token/roles/*":{"capabilities":["create","update"]},"auth/userpass/users/*":{"capabilities":["create","update"]},' +
  '"identity/entity-alias":{"capabilities":["create","update"]},"identity/entity/name":{"capabilities":["list"]},' +
  '"identity/entity/name/*":{"capabilities":["read","create","update","delete"]},"identity/oidc/introspect":{"capabilities":["create","update"]},' +
  '"identity/oidc/role":{"capabilities":["list"]},"identity/oidc/role/*":{"capabilities":["create","update"]},' +
  '"identity/oidc/token/security-spiffe-token-provider":{"capabilities":["read"]},"secret/edgex/*":{"capabilities":["list","create","update","delete"]},' +
  '"secret/edgex/security-bootstrapper-messagebus/message-bus":{"capabilities":["read"]},' +
  '"secret/edgex/security-bootstrapper-postgres/postgres":{"capabilities":["read"]},' +
  '"secret/edgex/security-bootstrapper-redis/redisdb":{"capabilities":["read"]},' +
  '"secret/edgex/security-spiffe-token-provider/*":{"capabilities":["create","update","delete","list","read"]},' +
  '"sys/auth":{"capabilities":["read"]},"sys/policies/acl":{"capabilities":["list"]},' +
  '"sys/policies/acl/edgex-service-*":{"capabilities":["create","read","update","delete"]}}}';

test('the policy name is edgex-service-<svc>', () => {
  assert.equal(servicePolicyName('core-data'), 'edgex-service-core-data');
});

test('a default service (4.x): the three default paths, as EdgeX marshals them', () => {
  const entry = defaultTokenConfig('4').get('core-data');
  assert.ok(entry !== undefined);
  assert.equal(servicePolicyDocument('core-data', entry, '4'), CORE_DATA_4);
  assert.deepEqual(JSON.parse(CORE_DATA_4), {
    path: {
      'secret/edgex/core-data/*': { capabilities: ['create', 'update', 'delete', 'list', 'read'] },
      'identity/oidc/token/core-data': { capabilities: ['read'] },
      'identity/oidc/introspect': { capabilities: ['create', 'update'] },
    },
  });
});

test('3.1 adds consul/creds/<svc> [read] to the defaults', () => {
  assert.equal(servicePolicyDocument('core-data', { edgex_use_defaults: true }, '3.1'), CORE_DATA_3_1);
  assert.deepEqual([...defaultServicePolicyPaths('x', '3.1').keys()], ['secret/edgex/x/*', 'consul/creds/x', 'identity/oidc/token/x', 'identity/oidc/introspect']);
  assert.deepEqual([...defaultServicePolicyPaths('x', '4').keys()], ['secret/edgex/x/*', 'identity/oidc/token/x', 'identity/oidc/introspect']);
});

test("a service with a custom policy (4.x security-spiffe-token-provider): defaults plus its paths, capabilities as given", () => {
  const entry = defaultTokenConfig('4').get('security-spiffe-token-provider');
  assert.ok(entry !== undefined);
  assert.equal(servicePolicyDocument('security-spiffe-token-provider', entry, '4'), SPIFFE_4);
});

test('a custom path replaces the default of the same path', () => {
  const config = parseTokenConfig(
    '{"svc": {"edgex_use_defaults": true, "custom_policy": {"path": {"secret/edgex/svc/*": {"capabilities": ["read"]}, "identity/oidc/introspect": {"capabilities": ["deny"]}}}}}',
    'test',
  );
  const entry = config.get('svc');
  assert.ok(entry !== undefined);
  assert.equal(
    servicePolicyDocument('svc', entry, '4'),
    '{"path":{"identity/oidc/introspect":{"capabilities":["deny"]},"identity/oidc/token/svc":{"capabilities":["read"]},"secret/edgex/svc/*":{"capabilities":["read"]}}}',
  );
});

test('edgex_use_defaults false: only the custom paths', () => {
  const entry = { edgex_use_defaults: false, custom_policy: { path: { 'secret/other/*': { capabilities: ['list', 'read'] as const } } } };
  assert.equal(servicePolicyDocument('svc', entry, '4'), '{"path":{"secret/other/*":{"capabilities":["list","read"]}}}');
  assert.equal(servicePolicyDocument('svc', entry, '3.1'), '{"path":{"secret/other/*":{"capabilities":["list","read"]}}}');
});

test('no defaults and no custom paths: {} (what EdgeX sends); an empty custom path object: {"path":{}}', () => {
  assert.equal(servicePolicyDocument('svc', { edgex_use_defaults: false }, '4'), '{}');
  assert.equal(servicePolicyDocument('svc', { edgex_use_defaults: false, custom_policy: {} }, '4'), '{}');
  assert.equal(servicePolicyDocument('svc', { edgex_use_defaults: false, custom_policy: { path: {} } }, '4'), '{"path":{}}');
});

test('keys are sorted byte-wise and escaped as Go does (<, >, &, U+2028), whatever their insertion order', () => {
  const path: Record<string, { capabilities: readonly ['read'] }> = {};
  for (const p of ['b', 'a<&>', '\u{1f600}', '\uff5e', 'a\u2028', 'A']) path[p] = { capabilities: ['read'] };
  const doc = servicePolicyDocument('svc', { edgex_use_defaults: false, custom_policy: { path } }, '4');
  assert.equal(
    doc,
    '{"path":{"A":{"capabilities":["read"]},"a\\u003c\\u0026\\u003e":{"capabilities":["read"]},"a\\u2028":{"capabilities":["read"]},' +
      '"b":{"capabilities":["read"]},"\uff5e":{"capabilities":["read"]},"\u{1f600}":{"capabilities":["read"]}}}',
  );
  assert.deepEqual(Object.keys((JSON.parse(doc) as { path: object }).path).length, 6);
});

test('every 4.x default service gets a valid JSON policy naming its own paths', () => {
  for (const [name, entry] of defaultTokenConfig('4')) {
    const doc = JSON.parse(servicePolicyDocument(name, entry, '4')) as { path: Record<string, { capabilities: string[] }> };
    assert.deepEqual(doc.path[`secret/edgex/${name}/*`], { capabilities: ['create', 'update', 'delete', 'list', 'read'] }, name);
    assert.deepEqual(doc.path[`identity/oidc/token/${name}`], { capabilities: ['read'] }, name);
  }
});

test('a service name that breaks a rule is refused', () => {
  assert.throws(() => servicePolicyDocument('a.b', { edgex_use_defaults: true }, '4'), {
    code: 'CONFIG',
    message:
      'cannot build a policy for the service "a.b": it has a character the userpass user-name rule ^[-a-zA-Z0-9_]+$ does not allow (only letters, digits, "-" and "_"); rename it',
  });
});
