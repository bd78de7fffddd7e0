import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSecretStoreError } from '../../../src/errors.js';
import { MAX_TOKEN_CONFIG_BYTES, loadTokenConfig, parseTokenConfig } from '../../../src/edgex/services/token-config.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const SRC = '/etc/token-config.json';

/** Asserts that parsing `doc` fails with a CONFIG error whose message is exactly `message`. */
function rejects(doc: unknown, message: string): void {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
  assert.throws(() => parseTokenConfig(text, SRC), (err: unknown) => {
    assert.ok(isSecretStoreError(err, 'CONFIG'), `not a CONFIG error: ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
}

/** Asserts a CONFIG error about entry `svc` with the given detail. */
function rejectsEntry(entry: unknown, detail: string, svc = 'svc'): void {
  rejects({ [svc]: entry }, `token config ${SRC}, entry "${svc}": ${detail}`);
}

test('a full entry parses to typed fields; unknown keys and custom_token_parameters are ignored', () => {
  const config = parseTokenConfig(
    JSON.stringify({
      'my-svc': {
        edgex_use_defaults: false,
        custom_policy: { path: { 'secret/x/*': { capabilities: ['read', 'list'] } }, other: 1 },
        custom_token_parameters: { ttl: '1h' },
        file_permissions: { uid: 2002, gid: 2001, mode_octal: '0640', extra: true },
        comment: 'ignored',
      },
      other_svc: { edgex_use_defaults: true },
    }),
    SRC,
  );
  assert.deepEqual(
    config,
    new Map([
      [
        'my-svc',
        {
          edgex_use_defaults: false,
          custom_policy: { path: { 'secret/x/*': { capabilities: ['read', 'list'] } } },
          file_permissions: { uid: 2002, gid: 2001, mode_octal: '0640' },
        },
      ],
      ['other_svc', { edgex_use_defaults: true }],
    ]),
  );
  assert.deepEqual([...config.keys()], ['my-svc', 'other_svc'], 'file order is kept');
});

test('absent or null optional fields are "not set" (edgex_use_defaults false), as in Go', () => {
  const config = parseTokenConfig(
    '{"a": {}, "b": {"edgex_use_defaults": null, "custom_policy": null, "file_permissions": null}, ' +
      '"c": {"custom_policy": {}}, "d": {"custom_policy": {"path": null}}, "e": {"file_permissions": {"uid": null, "gid": 5}}}',
    SRC,
  );
  assert.deepEqual(config.get('a'), { edgex_use_defaults: false });
  assert.deepEqual(config.get('b'), { edgex_use_defaults: false });
  assert.deepEqual(config.get('c'), { edgex_use_defaults: false, custom_policy: {} });
  assert.deepEqual(config.get('d'), { edgex_use_defaults: false, custom_policy: {} });
  assert.deepEqual(config.get('e'), { edgex_use_defaults: false, file_permissions: { gid: 5 } });
});

test('an empty object is an empty config', () => {
  assert.equal(parseTokenConfig('{}', SRC).size, 0);
});

test('odd but valid names and paths stay own keys (no prototype tricks)', () => {
  const config = parseTokenConfig('{"__proto__": {"custom_policy": {"path": {"__proto__": {"capabilities": ["read"]}}}}}', SRC);
  const entry = config.get('__proto__');
  assert.ok(entry !== undefined);
  assert.deepEqual(Object.keys(entry.custom_policy?.path ?? {}), ['__proto__']);
  assert.equal(config.get('constructor'), undefined);
});

test('not JSON: the error gives the place, never the content', () => {
  rejects('{"a": {"edgex_use_defaults": true}\n "b": 1}', `token config ${SRC} is not valid JSON (line 2, column 2); fix its syntax`);
  rejects('{"a": ', `token config ${SRC} is not valid JSON; fix its syntax`);
  rejects('{"secret-looking": x}', `token config ${SRC} is not valid JSON; fix its syntax`);
  rejects('{} trailing', `token config ${SRC} is not valid JSON (line 1, column 4); fix its syntax`);
});

test('the document must be an object', () => {
  rejects([], `token config ${SRC} must be a JSON object of service names, got an array`);
  rejects('null', `token config ${SRC} must be a JSON object of service names, got null`);
  rejects('"x"', `token config ${SRC} must be a JSON object of service names, got a string`);
});

test('a service name must pass EdgeX rule and the userpass rule', () => {
  rejects(
    { 'bad.name': { edgex_use_defaults: true } },
    `token config ${SRC}: service name "bad.name" has a character the userpass user-name rule ^[-a-zA-Z0-9_]+$ does not allow (only letters, digits, "-" and "_"); rename the entry`,
  );
  rejects(
    { '../etc': { edgex_use_defaults: true } },
    `token config ${SRC}: service name "../etc" has a character EdgeX's service-name rule ^[\\w. \\~\\^\\-\\|\\<\\>\\{\\}]{1,512}$ does not allow and has a character the userpass user-name rule ^[-a-zA-Z0-9_]+$ does not allow (only letters, digits, "-" and "_"); rename the entry`,
  );
  rejects({ '': {} }, `token config ${SRC}: service name "" is empty; rename the entry`);
});

test('entry and field types are checked, with the file and the entry named', () => {
  rejectsEntry(null, 'must be an object like {"edgex_use_defaults": true}, got null');
  rejectsEntry(true, 'must be an object like {"edgex_use_defaults": true}, got a boolean');
  rejectsEntry({ edgex_use_defaults: 'yes' }, 'edgex_use_defaults must be true or false, got a string');
  rejectsEntry({ edgex_use_defaults: 1 }, 'edgex_use_defaults must be true or false, got a number');
  rejectsEntry({ Edgex_Use_Defaults: true }, 'key "Edgex_Use_Defaults" differs from "edgex_use_defaults" only in case; write "edgex_use_defaults"');
  rejectsEntry({ file_permissions: { UID: 0 } }, 'key "UID" differs from "uid" only in case; write "uid"');
});

test('custom_policy: an object of paths, each with known capabilities only', () => {
  rejectsEntry(
    { custom_policy: [{ path: { 'secret/x': { capabilities: ['read'] } } }] },
    'custom_policy must be an object like {"path": {"<path>": {"capabilities": ["read"]}}}, got an array',
  );
  rejectsEntry({ custom_policy: { path: [] } }, 'custom_policy.path must be an object of policy paths, got an array');
  rejectsEntry({ custom_policy: { path: { 'a/b': ['read'] } } }, 'custom_policy.path["a/b"] must be an object like {"capabilities": ["read"]}, got an array');
  rejectsEntry(
    { custom_policy: { path: { 'a/b': { capabilities: ['read'], denied_parameters: { x: [] } } } } },
    'custom_policy.path["a/b"] has "denied_parameters"; only "capabilities" is supported in a custom path rule, remove the rest',
  );
  rejectsEntry({ custom_policy: { path: { 'a/b': {} } } }, 'custom_policy.path["a/b"].capabilities is missing; list the capabilities, like ["read"]');
  rejectsEntry({ custom_policy: { path: { 'a/b': { capabilities: 'read' } } } }, 'custom_policy.path["a/b"].capabilities must be a list of capability names, got a string');
  rejectsEntry({ custom_policy: { path: { 'a/b': { capabilities: [] } } } }, 'custom_policy.path["a/b"].capabilities is empty; list at least one capability or remove the path');
  rejectsEntry(
    { custom_policy: { path: { 'a/b': { capabilities: ['read', 'write'] } } } },
    'custom_policy.path["a/b"].capabilities[1] "write" is not a capability; use create, read, update, patch, delete, list, sudo, deny',
  );
  rejectsEntry(
    { custom_policy: { path: { 'a/b': { capabilities: ['READ'] } } } },
    'custom_policy.path["a/b"].capabilities[0] "READ" is not a capability; use create, read, update, patch, delete, list, sudo, deny',
  );
  rejectsEntry(
    { custom_policy: { path: { 'a/b': { capabilities: [null] } } } },
    'custom_policy.path["a/b"].capabilities[0] null is not a capability; use create, read, update, patch, delete, list, sudo, deny',
  );
  rejectsEntry({ custom_policy: { path: { '': { capabilities: ['read'] } } } }, 'custom_policy.path has an empty path; name the path the rule is for');
  rejectsEntry({ custom_policy: { path: { 'a\nb': { capabilities: ['read'] } } } }, 'custom_policy.path["a\\nb"] has a control character; remove it');
});

test('every capability name is accepted, in the order given', () => {
  const caps = ['deny', 'sudo', 'list', 'delete', 'patch', 'update', 'read', 'create'];
  const config = parseTokenConfig(JSON.stringify({ s: { custom_policy: { path: { p: { capabilities: caps } } } } }), SRC);
  assert.deepEqual(config.get('s')?.custom_policy?.path?.p?.capabilities, caps);
});

test('file_permissions: uid/gid non-negative integers, mode_octal an octal string up to 0777', () => {
  const ok = parseTokenConfig(JSON.stringify({ s: { file_permissions: { uid: 0, gid: 4294967294, mode_octal: '600' } } }), SRC);
  assert.deepEqual(ok.get('s')?.file_permissions, { uid: 0, gid: 4294967294, mode_octal: '600' });
  assert.deepEqual(parseTokenConfig('{"s": {"file_permissions": {"mode_octal": "0777"}}}', SRC).get('s')?.file_permissions, { mode_octal: '0777' });
  rejectsEntry({ file_permissions: [] }, 'file_permissions must be an object like {"uid": 2002, "gid": 2001, "mode_octal": "0600"}, got an array');
  rejectsEntry({ file_permissions: { uid: -1 } }, 'file_permissions.uid must be an integer from 0 to 4294967294, got -1');
  rejectsEntry({ file_permissions: { gid: 1.5 } }, 'file_permissions.gid must be an integer from 0 to 4294967294, got 1.5');
  rejectsEntry({ file_permissions: { gid: 4294967295 } }, 'file_permissions.gid must be an integer from 0 to 4294967294, got 4294967295');
  rejectsEntry({ file_permissions: { uid: '2002' } }, 'file_permissions.uid must be an integer from 0 to 4294967294, got a string');
  rejectsEntry({ file_permissions: { mode_octal: 384 } }, 'file_permissions.mode_octal must be an octal string from "0000" to "0777" like "0600", got a number');
  for (const bad of ['', '0o600', '0x180', '+600', '0680', '1777', '4755', ' 0600', '0600\n']) {
    rejectsEntry(
      { file_permissions: { mode_octal: bad } },
      `file_permissions.mode_octal must be an octal string from "0000" to "0777" like "0600", got ${JSON.stringify(bad)}`,
    );
  }
});

let dir = '';
before(async () => {
  dir = await makeTempDir('sss-token-config-');
});
after(async () => {
  await removeTempDir(dir);
});

test('loadTokenConfig reads and parses a file, naming it in parse errors', async () => {
  const path = join(dir, 'good.json');
  await writeFile(path, '{"core-data": {"edgex_use_defaults": true}}');
  assert.deepEqual(await loadTokenConfig(path), new Map([['core-data', { edgex_use_defaults: true }]]));
  const bad = join(dir, 'bad.json');
  await writeFile(bad, '{"core-data": {"edgex_use_defaults": "true"}}');
  await assert.rejects(loadTokenConfig(bad), {
    code: 'CONFIG',
    message: `token config ${bad}, entry "core-data": edgex_use_defaults must be true or false, got a string`,
  });
});

test('loadTokenConfig: a missing file is a CONFIG error with the path; a folder an IO error', async () => {
  const missing = join(dir, 'nope.json');
  await assert.rejects(loadTokenConfig(missing), {
    code: 'CONFIG',
    message: `token config ${missing} does not exist; create it or point TokenFileProvider.ConfigFile at the right file`,
  });
  await assert.rejects(loadTokenConfig(dir), {
    code: 'IO',
    message: `cannot read the token config ${dir} (EISDIR); check that it is a readable file`,
  });
});

test('loadTokenConfig refuses a file over the size limit', async () => {
  const big = join(dir, 'big.json');
  await writeFile(big, ' '.repeat(MAX_TOKEN_CONFIG_BYTES + 1));
  await assert.rejects(loadTokenConfig(big), {
    code: 'CONFIG',
    message: `token config ${big} is ${MAX_TOKEN_CONFIG_BYTES + 1} bytes, more than the ${MAX_TOKEN_CONFIG_BYTES} allowed; is it the right file?`,
  });
});
