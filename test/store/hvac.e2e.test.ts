/**
 * End to end with a second real third-party client, the Python hvac library (Debian's python3-hvac 0.11.2, run with
 * /usr/bin/python3 — not whatever python is first on PATH), against `secretstore-setup serve` running as a separate
 * process. `hvac_client.py` drives init 3/2, unseal, KV v2 (its list sends the LIST method, so this proves the
 * request-line rewrite), KV v1, policies, a policy-limited token (lookup-self, a denied read, renew-self,
 * revoke-self) and seal, then prints one JSON summary of what hvac returned or raised; this test asserts it.
 * Under CI (`CI=true`, where `.ci/run` installs python3-hvac) a missing interpreter or hvac fails the test;
 * elsewhere the test is skipped with a loud reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServe } from '../helpers/serve.js';
import { assertStepsOk, requireHvac, runHvacScript } from '../helpers/hvac.js';

test('hvac (Debian python3-hvac) against serve: init, unseal, KV v2 with LIST, KV v1, policies, tokens, seal', async (t) => {
  if (!requireHvac(t)) return;
  const serve = await startServe();
  try {
    const { summary } = await runHvacScript('test/store/hvac_client.py', serve.url);
    assert.match(String(summary.hvac_version), /^\d+\.\d+/, 'hvac reports its version');
    const steps = summary.steps;
    // A failed step carries hvac's exception and message: show them all at once when anything broke.
    assertStepsOk(summary);
    assert.deepEqual(Object.keys(steps).sort(), ['bad_unseal', 'init', 'kv1', 'kv2', 'policies', 'seal', 'tokens', 'unseal']);

    assert.deepEqual(steps.init, {
      ok: true,
      initialized_before: false,
      initialized_after: true,
      key_count: 3,
      key_hex_lengths: [66],
      keys_base64_count: 3,
      root_token_prefix: 'hvs.',
      root_token_length: 28,
    });
    assert.deepEqual(steps.bad_unseal, { ok: true, exception: 'InvalidRequest', errors: ["'key' must be a valid hex or base64 string"] });
    assert.deepEqual(steps.unseal, { ok: true, sealed_before: true, progress_after_first: 1, t: 2, n: 3, sealed_after: false, is_sealed: false });
    assert.deepEqual(steps.kv2, {
      ok: true,
      written_version: 1,
      read_data: { user: 'edgex', pw: 'rotated' },
      read_version: 2,
      version1_data: { user: 'edgex', pw: 's3cr3t' },
      list_keys: ['cache/', 'db'],
      missing: 'InvalidPath',
    });
    assert.deepEqual(steps.kv1, {
      ok: true,
      write_status: 204,
      read_data: { token: 'abc', n: 3 },
      list_keys: ['core'],
      mount_types: { 'kv1/': 'kv', 'kv2/': 'kv' },
      kv2_options: { version: '2' },
    });
    assert.deepEqual(steps.policies, {
      ok: true,
      create_status: 204,
      read_name: 'app-read',
      read_rules: 'path "kv2/data/app/*" {\n  capabilities = ["read"]\n}\n',
      listed: ['app-read', 'default', 'root'],
    });
    assert.deepEqual(steps.tokens, {
      ok: true,
      auth_policies: ['app-read', 'default'],
      token_prefix: 'hvs.',
      renewable: true,
      lease_duration: 3600,
      lookup_policies: ['app-read', 'default'],
      lookup_path: 'auth/token/create',
      lookup_ttl_positive: true,
      allowed_read: 'edgex',
      denied: { exception: 'Forbidden', errors: ['permission denied'] },
      renew_lease_duration: 7200,
      revoke_status: 204,
      after_revoke: 'Forbidden',
      root_is_authenticated: true,
    });
    assert.deepEqual(steps.seal, {
      ok: true,
      seal_status: 204,
      is_sealed: true,
      read_while_sealed: { exception: 'VaultDown', errors: ['Vault is sealed'] },
    });

    // Nothing secret reached the server's log: neither the KV values nor a token.
    const out = serve.output();
    for (const needle of ['s3cr3t', 'rotated', 'hvs.']) assert.equal(out.includes(needle), false, `serve output contains ${needle}`);
  } finally {
    await serve.close();
  }
});
