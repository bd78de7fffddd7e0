/**
 * EDGEX_ADD_KNOWN_SECRETS: EdgeX's grammar, every example and error path, and a property test that the parser only
 * ever throws CONFIG SecretStoreErrors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSecretStoreError } from '../../../src/errors.js';
import {
  ADD_KNOWN_SECRETS_ENV,
  knownSecretNames,
  parseAddKnownSecrets,
  type AddKnownSecretsOptions,
} from '../../../src/edgex/known-secrets/add-known-secrets.js';
import { EDGEX_SERVICE_NAME_PATTERN, isValidServiceName } from '../../../src/edgex/known-secrets/service-name.js';

const V4: AddKnownSecretsOptions = { busType: 'mqtt', databaseType: 'postgres', version: '4' };
const V4_NONE: AddKnownSecretsOptions = { busType: 'none', databaseType: 'postgres', version: '4' };
const V31: AddKnownSecretsOptions = { busType: 'none', databaseType: '', version: '3.1' };

function rejects(value: string, options: AddKnownSecretsOptions, pattern: RegExp): void {
  assert.throws(
    () => parseAddKnownSecrets(value, options),
    (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'CONFIG'), `CONFIG error for ${JSON.stringify(value)}`);
      assert.match(err.message, pattern);
      assert.match(err.message, new RegExp(`^${ADD_KNOWN_SECRETS_ENV} is invalid: `));
      assert.match(err.message, /the format is name\[service;service\],name\[service\] with name one of /);
      return true;
    },
  );
}

test('unset, empty or blank: nothing to add', () => {
  for (const value of [undefined, '', '   ', '\t\n ']) {
    assert.deepEqual(parseAddKnownSecrets(value, V4), { redisdb: [], 'message-bus': [], postgres: [] });
  }
});

test("EdgeX compose defaults: 3.1.1 'redisdb[app-rules-engine]', 4.0.1 'postgres[app-rules-engine],message-bus[app-rules-engine]'", () => {
  assert.deepEqual(parseAddKnownSecrets('redisdb[app-rules-engine]', V31), { redisdb: ['app-rules-engine'], 'message-bus': [], postgres: [] });
  assert.deepEqual(parseAddKnownSecrets('postgres[app-rules-engine],message-bus[app-rules-engine]', V4), {
    redisdb: [],
    'message-bus': ['app-rules-engine'],
    postgres: ['app-rules-engine'],
  });
});

test('message-bus entries are validated, then ignored when the bus has no message-bus secret (none, empty, redis)', () => {
  for (const busType of ['none', '', 'redis']) {
    const out = parseAddKnownSecrets('postgres[app-rules-engine],message-bus[app-rules-engine]', { ...V4, busType });
    assert.deepEqual(out['message-bus'], [], busType);
    assert.deepEqual(out.postgres, ['app-rules-engine']);
    rejects('message-bus[a/b]', { ...V4, busType }, /the service name "a\/b" in the entry "message-bus\[a\/b\]" has invalid characters/);
  }
  assert.deepEqual(parseAddKnownSecrets('message-bus[x]', { ...V4, busType: 'nats' })['message-bus'], ['x']);
});

test('lists: split on ";" and trimmed; names trimmed; a name listed twice has its lists concatenated (duplicates kept)', () => {
  assert.deepEqual(parseAddKnownSecrets('  redisdb [ a ; b;c ] , redisdb[a] ,message-bus[d]  ', V4), {
    redisdb: ['a', 'b', 'c', 'a'],
    'message-bus': ['d'],
    postgres: [],
  });
  // every character EdgeX's rule allows
  assert.deepEqual(parseAddKnownSecrets('redisdb[A_z.0 ~^-|<>{}]', V4).redisdb, ['A_z.0 ~^-|<>{}']);
});

test("the first ']' is dropped and text after it stays part of the list, as in EdgeX", () => {
  assert.deepEqual(parseAddKnownSecrets('redisdb[a]b', V4).redisdb, ['ab']);
  assert.deepEqual(parseAddKnownSecrets('redisdb[a]x;y', V4).redisdb, ['ax', 'y']);
  assert.deepEqual(parseAddKnownSecrets('redisdb[a;b] ', V4).redisdb, ['a', 'b']);
  rejects('redisdb[a]]', V4, /the service name "a\]" in the entry "redisdb\[a\]\]" has invalid characters/);
});

test("missing or too many '['", () => {
  rejects('redisdb', V4, /the entry "redisdb" must have exactly one '\[' \(it has 0\)/);
  rejects('redisdb[a[b]', V4, /the entry "redisdb\[a\[b\]" must have exactly one '\[' \(it has 2\)/);
  rejects('redisdb[a],', V4, /the entry "" must have exactly one '\['/);
  rejects(',redisdb[a]', V4, /the entry "" must have exactly one '\['/);
  rejects('redisdb[a;b],,redisdb[c]', V4, /the entry "" must have exactly one/);
});

test("missing ']'", () => {
  rejects('redisdb[a', V4, /the service list of "redisdb" in the entry "redisdb\[a" has no closing '\]'/);
  rejects('redisdb[a;b', V4, /no closing/);
});

test('empty service list, and empty service names inside a list', () => {
  rejects('redisdb[]', V4, /the service list of "redisdb" in the entry "redisdb\[\]" is empty/);
  rejects('redisdb[  ]', V4, /is empty/);
  rejects('redisdb[a;]', V4, /the service name "" in the entry "redisdb\[a;\]" is empty/);
  rejects('redisdb[;a]', V4, /the service name "" .* is empty/);
});

test('bad service names: reserved URL characters, non-ASCII, too long, and (stricter than EdgeX) . and ..', () => {
  for (const bad of ['a/b', 'a:b', 'a?b', 'a#b', 'a@b', 'a!b', 'a$b', 'a&b', "a'b", 'a(b', 'a*b', 'a+b', 'a=b', 'a%b', 'a\\b', 'é', 'a\u0000b']) {
    rejects(`redisdb[${bad}]`, V4, /has invalid characters or is too long/);
  }
  rejects(`redisdb[${'x'.repeat(513)}]`, V4, /has invalid characters or is too long/);
  assert.deepEqual(parseAddKnownSecrets(`redisdb[${'x'.repeat(512)}]`, V4).redisdb, ['x'.repeat(512)]);
  rejects('redisdb[..]', V4, /the service name "\.\." in the entry "redisdb\[\.\.\]" is a relative path segment/);
  rejects('redisdb[.]', V4, /is a relative path segment/);
  assert.deepEqual(parseAddKnownSecrets('redisdb[...;.a]', V4).redisdb, ['...', '.a']);
});

test('unknown secret names; postgres only for EdgeX 4 with database type postgres', () => {
  rejects('kafka[a]', V4, /"kafka" in the entry "kafka\[a\]" is not a known secret/);
  rejects('Redisdb[a]', V4, /"Redisdb" .* is not a known secret/);
  rejects('[a]', V4, /"" in the entry "\[a\]" is not a known secret/);
  rejects('postgres[app-rules-engine]', { ...V4, databaseType: 'redisdb' }, /"postgres" .* is not a known secret \(postgres is known only when Database\.Type is postgres, here "redisdb"\)/);
  rejects('postgres[app-rules-engine]', V31, /not a known secret \(EdgeX 3\.1 has no postgres secret\)/);
  rejects('postgres[a]', { ...V31, databaseType: 'postgres' }, /EdgeX 3\.1 has no postgres secret/);
  assert.deepEqual(knownSecretNames(V4), ['redisdb', 'message-bus', 'postgres']);
  assert.deepEqual(knownSecretNames({ ...V4, databaseType: 'redisdb' }), ['redisdb', 'message-bus']);
  assert.deepEqual(knownSecretNames(V31), ['redisdb', 'message-bus']);
});

test("the name is checked before the ']' (EdgeX's order): an unknown name without ']' reports the name", () => {
  rejects('kafka[a', V4, /"kafka" .* is not a known secret/);
});

test("trimming follows Go's strings.TrimSpace: U+0085 and NBSP are trimmed, U+FEFF is not", () => {
  assert.deepEqual(parseAddKnownSecrets('\u0085redisdb\u00a0[\u2003a\u3000]\u0085', V4).redisdb, ['a']);
  rejects('\ufeffredisdb[a]', V4, /is not a known secret/);
});

test('messages quote the part and stay bounded for a huge value', () => {
  rejects(`redisdb${'y'.repeat(10_000)}`, V4, /the entry "redisdby{113}…" must have exactly one/);
});

test('the service-name rule is EdgeX regex, unchanged', () => {
  assert.equal(EDGEX_SERVICE_NAME_PATTERN.source, String.raw`^[\w. ~^\-|<>{}]{1,512}$`);
  assert.ok(isValidServiceName('core-data'));
  assert.ok(!isValidServiceName('core-data\n'), '$ matches only at the very end');
  assert.ok(!isValidServiceName(''));
});

test('property: any input either parses or throws a CONFIG SecretStoreError — never anything else', () => {
  const piece = fc.constantFrom('redisdb', 'message-bus', 'postgres', 'kafka', '[', ']', ';', ',', ' ', 'a', 'core-data', '/', '.', '..', '\u0085', '\ufeff', '');
  const options = fc.record({
    busType: fc.constantFrom('none', '', 'redis', 'mqtt', 'nats'),
    databaseType: fc.constantFrom('postgres', 'redisdb', ''),
    version: fc.constantFrom('4' as const, '3.1' as const),
  });
  const input = fc.oneof(fc.array(piece, { maxLength: 20 }).map((p) => p.join('')), fc.string({ unit: 'binary', maxLength: 80 }));
  fc.assert(
    fc.property(input, options, (value, opts) => {
      try {
        const out = parseAddKnownSecrets(value, opts);
        for (const list of Object.values(out)) for (const s of list) assert.ok(isValidServiceName(s));
      } catch (err) {
        assert.ok(isSecretStoreError(err, 'CONFIG'), `unexpected error for ${JSON.stringify(value)}: ${String(err)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: well-formed specifications parse back to their lists', () => {
  const service = fc.stringMatching(/^[A-Za-z0-9_~^|<>{}-][\w.~^\-|<>{}]{0,20}$/);
  const entry = fc.record({ name: fc.constantFrom('redisdb' as const, 'message-bus' as const, 'postgres' as const), services: fc.array(service, { minLength: 1, maxLength: 4 }) });
  fc.assert(
    fc.property(fc.array(entry, { minLength: 1, maxLength: 5 }), (entries) => {
      const value = entries.map((e) => ` ${e.name} [ ${e.services.join(' ; ')} ] `).join(',');
      const out = parseAddKnownSecrets(value, V4);
      for (const name of ['redisdb', 'message-bus', 'postgres'] as const) {
        assert.deepEqual(out[name], entries.filter((e) => e.name === name).flatMap((e) => e.services));
      }
      assert.deepEqual(parseAddKnownSecrets(value, V4_NONE)['message-bus'], []);
    }),
  );
});
