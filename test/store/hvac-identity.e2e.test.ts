/**
 * End to end with the Python hvac library (Debian's python3-hvac 0.11.2, run with /usr/bin/python3) against
 * `secretstore-setup serve` as a separate process, for the identity features: `hvac_identity_client.py` enables
 * userpass (`sys.enable_auth_method`), creates a user with `token_policies` and logs in with
 * `auth.userpass.login`, looks the token up and renews it, creates and reads an entity by name, binds an entity alias
 * and logs in through it, creates the ES384 OIDC key and a role, generates a signed identity token, introspects it
 * (active) and a tampered copy (inactive), reads the JWKS and discovery document, creates and reads a token role and
 * a token with the role and an `entity_alias`, and LISTs the token accessors — all through hvac's own methods. It
 * prints one JSON summary; each test below asserts one step of it, so a divergence shows up as exactly the step
 * that diverges. The store runs once for the whole file and is stopped by the runner itself.
 *
 * Under CI (`CI=true`, where `.ci/run` installs python3-hvac) a missing interpreter or hvac fails the tests;
 * elsewhere they are skipped with a loud reason.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startServe } from '../helpers/serve.js';
import { requireHvac, runHvacScript, type HvacStep, type HvacSummary } from '../helpers/hvac.js';

/** What one run of the script against a fresh store produced. */
interface Run {
  summary: HvacSummary;
  /** Everything the store printed. */
  output: string;
}

let run: Promise<Run> | undefined;

/** Starts the store, runs the script once for all tests of this file, and stops the store again. */
function runOnce(): Promise<Run> {
  run ??= (async () => {
    const serve = await startServe();
    try {
      const { summary } = await runHvacScript('test/store/hvac_identity_client.py', serve.url);
      return { summary, output: serve.output() };
    } finally {
      await serve.close();
    }
  })();
  return run;
}

/** The facts of step `name`, after checking that hvac is there and that the step succeeded; undefined if skipped. */
async function stepOf(t: TestContext, name: string): Promise<HvacStep | undefined> {
  if (!requireHvac(t)) return undefined;
  const { summary } = await runOnce();
  const s = summary.steps[name];
  assert.ok(s !== undefined, `step ${name} did not run (an earlier step failed): ${JSON.stringify(summary.steps)}`);
  // A failed step carries hvac's exception, message and the failing line.
  assert.equal(s.ok, true, `step ${name} failed: ${JSON.stringify(s)}`);
  return s;
}

const FORBIDDEN = { exception: 'Forbidden', errors: ['permission denied'] };
const INVALID_CREDENTIALS = { exception: 'InvalidRequest', errors: ['invalid username or password'] };

test('hvac identity: every step ran and succeeded, with the Debian hvac', async (t) => {
  if (!requireHvac(t)) return;
  const { summary } = await runOnce();
  assert.match(String(summary.hvac_version), /^\d+\.\d+/, 'hvac reports its version');
  const failed = Object.entries(summary.steps).filter(([, s]) => s.ok !== true);
  assert.deepEqual(failed, [], `steps failed: ${JSON.stringify(failed)}`);
  assert.deepEqual(Object.keys(summary.steps).sort(), [
    'accessors',
    'alias',
    'entity',
    'id_token',
    'init',
    'login',
    'lookup_self',
    'oidc',
    'token_role',
    'user',
    'userpass',
  ]);
});

test('hvac identity: init and unseal', async (t) => {
  const s = await stepOf(t, 'init');
  if (s === undefined) return;
  assert.deepEqual(s, { ok: true, sealed_after: false, t: 1, n: 1 });
});

test('hvac identity: sys.enable_auth_method("userpass") and list_auth_methods', async (t) => {
  const s = await stepOf(t, 'userpass');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    enable_status: 204,
    enable_again: { exception: 'InvalidRequest', errors: ['path is already in use at userpass/'] },
    types: { 'token/': 'token', 'userpass/': 'userpass' },
    accessor_shape: true,
  });
});

test('hvac identity: auth.userpass.create_or_update_user with token_policies and token_period', async (t) => {
  const s = await stepOf(t, 'user');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    create_status: 204,
    token_policies: ['app-a'],
    token_period: 3600,
    password_shown: false,
    listed: ['app-a'],
    no_password: { exception: 'InvalidRequest', errors: ['missing password'] },
  });
});

test('hvac identity: auth.userpass.login (a first login makes the entity; a wrong password is a 400)', async (t) => {
  const s = await stepOf(t, 'login');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    bad_password: INVALID_CREDENTIALS,
    unknown_user: INVALID_CREDENTIALS,
    token_adopted: true,
    token_shape: true,
    is_authenticated: true,
    policies: ['app-a', 'default'],
    token_policies: ['app-a', 'default'],
    // Vault's login answer omits identity_policies when the entity grants none (`json:"identity_policies,omitempty"`
    // in sdk/logical HTTPAuth); the step reports "absent" then.
    identity_policies: 'absent',
    metadata: { username: 'app-a' },
    lease_duration: 3600,
    renewable: true,
    orphan: true,
    entity_id_shape: true,
  });
});

test('hvac identity: auth.token.lookup_self and renew_self; KV through token_policies', async (t) => {
  const s = await stepOf(t, 'lookup_self');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    policies: ['app-a', 'default'],
    identity_policies: 'absent',
    period: 3600,
    renewable: true,
    path: 'auth/userpass/login/app-a',
    display_name: 'userpass-app-a',
    meta: { username: 'app-a' },
    orphan: true,
    entity_matches_login: true,
    accessor_matches_login: true,
    renew_lease_duration: 3600,
    kv_read: { user: 'a' },
    kv_denied: FORBIDDEN,
  });
});

test('hvac identity: secrets.identity entity create/update/read by name and id, list by name', async (t) => {
  const s = await stepOf(t, 'entity');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    create_status: 200,
    created_name: 'edgex-app',
    id_shape: true,
    update_status: 204,
    by_name: {
      id_matches: true,
      name: 'edgex-app',
      policies: ['edgex-service-edgex-app'],
      metadata: { name: 'edgex-app' },
      disabled: false,
      aliases: [],
    },
    by_id_name: 'edgex-app',
    login_entity: { name_shape: true, policies: [], aliases: [['app-a', 'userpass', true]] },
    listed: ['edgex-app', 'entity_*'],
  });
});

test('hvac identity: create_or_update_entity_alias (200, an exact repeat 204) and the login it binds', async (t) => {
  const s = await stepOf(t, 'alias');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    create_status: 200,
    canonical_matches: true,
    repeat_status: 204,
    read: { name: 'edgex-app', mount_type: 'userpass', mount_path: 'auth/userpass/', accessor_matches: true, canonical_matches: true },
    login_entity_matches: true,
    login_policies: ['default', 'edgex-service-edgex-app'],
    login_token_policies: ['default'],
    login_identity_policies: ['edgex-service-edgex-app'],
    kv_by_entity_policy: 204,
  });
});

test('hvac identity: create_named_key (ES384) and create_or_update_role', async (t) => {
  const s = await stepOf(t, 'oidc');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    keys_before: { exception: 'InvalidPath', errors: [] },
    key_status: 204,
    key_read: { algorithm: 'ES384', allowed_client_ids: ['*'], rotation_period: 86400, verification_ttl: 86400 },
    keys: ['edgex-identity'],
    role_status: 204,
    role_read: { client_id: 'edgex', key: 'edgex-identity', template: '{"name": "edgex-app"}', ttl: 900 },
    roles: ['edgex-app'],
    config: { issuer: '' },
    missing_key: { exception: 'InvalidRequest', errors: ['key "no-such-key" does not exist'] },
  });
});

test('hvac identity: generate_signed_id_token, introspect_signed_id_token, read_active_public_keys', async (t) => {
  const s = await stepOf(t, 'id_token');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    client_id: 'edgex',
    ttl: 900,
    jwt_parts: 3,
    header: { alg: 'ES384', kid_in_jwks: true },
    claims: { iss: '/v1/identity/oidc', aud: 'edgex', sub_is_entity: true, name: 'edgex-app', namespace: 'root', lifetime: 900 },
    // Introspection answers Vault's raw top-level body, which hvac returns as is.
    introspect: { active: true },
    introspect_by_root: { active: true },
    introspect_wrong_client: { active: false, error_is_text: true },
    tampered: { active: false, keys: ['active', 'error'], error_is_text: true },
    introspect_without_capability: FORBIDDEN,
    no_entity: { exception: 'InvalidRequest', errors: ["no entity associated with the request's token"] },
    other_role: FORBIDDEN,
    jwks: [{ kty: 'EC', crv: 'P-384', alg: 'ES384', use: 'sig', private: false }],
    discovery: { issuer: '/v1/identity/oidc', jwks_uri: '/v1/identity/oidc/.well-known/keys' },
  });
});

test('hvac identity: auth.token role create/read/list and create(role_name, entity_alias)', async (t) => {
  const s = await stepOf(t, 'token_role');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    create_status: 204,
    read: {
      name: 'edgex-app',
      allowed_policies: ['edgex-service-edgex-app'],
      allowed_entity_aliases: ['edgex-app'],
      orphan: true,
      renewable: true,
      token_period: 0,
      token_type: 'default-service',
    },
    roles: ['edgex-app'],
    policies: ['default', 'edgex-service-edgex-app'],
    orphan: true,
    renewable: true,
    entity_is_userpass_entity: false,
    entity_shape: true,
    alias_case_insensitive_same_entity: true,
    // hvac sends display_name "token", which Vault prefixes: "token-token".
    lookup: { role: 'edgex-app', path: 'auth/token/create/edgex-app', display_name: 'token-token', entity_matches: true },
    kv_read: { u: 's' },
    disallowed_alias: { exception: 'InvalidRequest', errors: ["invalid 'entity_alias' value"] },
    alias_without_role: { exception: 'InvalidRequest', errors: ["'entity_alias' is only allowed in combination with token role"] },
    unknown_role: { exception: 'InvalidRequest', errors: ['unknown role no-such-role'] },
  });
});

test('hvac identity: auth.token.list_accessors and lookup_accessor', async (t) => {
  const s = await stepOf(t, 'accessors');
  if (s === undefined) return;
  assert.deepEqual(s, {
    ok: true,
    // root, app-a's login, edgex-app's login, two role tokens.
    count: 5,
    includes_every_token: true,
    lookup_accessor: { policies: ['default'], identity_policies: ['edgex-service-edgex-app'], entity_matches: true, id_hidden: true },
    without_sudo: FORBIDDEN,
  });
});

test('hvac identity: nothing secret reached the store output', async (t) => {
  if (!requireHvac(t)) return;
  const { output } = await runOnce();
  // The script's passwords all carry this marker; tokens start with hvs.
  for (const needle of ['s3cret-', 'hvs.']) assert.equal(output.includes(needle), false, `serve output contains ${needle}`);
});
