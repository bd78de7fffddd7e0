import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SecretStoreError, isSecretStoreError } from '../../../src/errors.js';
import { defaultTokenConfig } from '../../../src/edgex/services/default-token-config.js';
import {
  ENV_SERVICE_ENTRY,
  parseAddSecretstoreTokens,
  serviceList,
} from '../../../src/edgex/services/service-names.js';
import {
  matchesEdgexServiceNameRule,
  matchesUserpassNameRule,
  serviceNameProblems,
} from '../../../src/edgex/services/service-name-rules.js';
import type { TokenConfigEntry } from '../../../src/edgex/services/token-config.js';

const EDGEX_RULE = "has a character EdgeX's service-name rule ^[\\w. \\~\\^\\-\\|\\<\\>\\{\\}]{1,512}$ does not allow";
const USERPASS_RULE = 'has a character the userpass user-name rule ^[-a-zA-Z0-9_]+$ does not allow (only letters, digits, "-" and "_")';

test('EdgeX rule in JavaScript accepts exactly the characters of the Go regex (ASCII \\w and . ~^-|<>{} and space)', () => {
  const allowed = new Set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_. ~^-|<>{}');
  for (let code = 0; code < 0x3000; code++) {
    const c = String.fromCharCode(code);
    assert.equal(matchesEdgexServiceNameRule(`a${c}b`), allowed.has(c), `U+${code.toString(16)}`);
  }
  assert.ok(matchesEdgexServiceNameRule('a'.repeat(512)));
  assert.ok(!matchesEdgexServiceNameRule('a'.repeat(513)));
  assert.ok(!matchesEdgexServiceNameRule(''));
  assert.ok(!matchesEdgexServiceNameRule('a\n'), '$ is the end of the text, not of a line');
});

test('the userpass rule: letters, digits, - and _ only', () => {
  assert.ok(matchesUserpassNameRule('core-data_2'));
  for (const bad of ['a.b', 'a b', 'a~b', '', 'a/b', 'é', 'a\n']) assert.ok(!matchesUserpassNameRule(bad), JSON.stringify(bad));
});

test('serviceNameProblems says which rule a name breaks', () => {
  assert.deepEqual(serviceNameProblems('core-data'), []);
  assert.deepEqual(serviceNameProblems('a.b'), [USERPASS_RULE]);
  assert.deepEqual(serviceNameProblems('a/b'), [EDGEX_RULE, USERPASS_RULE]);
  assert.deepEqual(serviceNameProblems('x'.repeat(513)), ["is longer than EdgeX's limit of 512 characters"]);
  assert.deepEqual(serviceNameProblems(''), ['is empty']);
});

test('EDGEX_ADD_SECRETSTORE_TOKENS: unset or blank means none', () => {
  assert.deepEqual(parseAddSecretstoreTokens(undefined), []);
  assert.deepEqual(parseAddSecretstoreTokens(''), []);
  assert.deepEqual(parseAddSecretstoreTokens(' \t '), []);
  assert.deepEqual(parseAddSecretstoreTokens(',, ,'), []);
});

test('EDGEX_ADD_SECRETSTORE_TOKENS: split on commas, trimmed, empties skipped, duplicates once, first-seen order', () => {
  assert.deepEqual(parseAddSecretstoreTokens(' app-a , ,device-b,,app-a,\tdevice_c\n,'), ['app-a', 'device-b', 'device_c']);
  // Go's strings.TrimSpace also strips NEL and the Unicode spaces, but not the BOM.
  assert.deepEqual(parseAddSecretstoreTokens('\u0085app-x\u3000'), ['app-x']);
  assert.throws(() => parseAddSecretstoreTokens('\ufeffapp-x'), { code: 'CONFIG' });
});

test('names EdgeX accepts but userpass refuses (., space, ~) are all named in one error, with the rule', () => {
  assert.throws(
    () => parseAddSecretstoreTokens('good-one,my.service, my service ,x~y,good-two'),
    (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'CONFIG'));
      assert.equal(
        err.message,
        `EDGEX_ADD_SECRETSTORE_TOKENS has 3 invalid service names: "my.service" ${USERPASS_RULE}; "my service" ${USERPASS_RULE}; ` +
          `"x~y" ${USERPASS_RULE}; fix or remove them (nothing has been changed)`,
      );
      return true;
    },
  );
});

test('a name both rules refuse, a too-long name, a repeated bad name (once), singular wording', () => {
  assert.throws(() => parseAddSecretstoreTokens('a/b,a/b'), {
    code: 'CONFIG',
    message: `EDGEX_ADD_SECRETSTORE_TOKENS has an invalid service name: "a/b" ${EDGEX_RULE} and ${USERPASS_RULE}; fix or remove them (nothing has been changed)`,
  });
  const long = 'x'.repeat(600);
  assert.throws(() => parseAddSecretstoreTokens(`ok,${long}`), {
    code: 'CONFIG',
    message: `EDGEX_ADD_SECRETSTORE_TOKENS has an invalid service name: "${'x'.repeat(80)}"… is longer than EdgeX's limit of 512 characters; fix or remove them (nothing has been changed)`,
  });
  assert.throws(() => parseAddSecretstoreTokens('a\u0000b'), {
    code: 'CONFIG',
    message: `EDGEX_ADD_SECRETSTORE_TOKENS has an invalid service name: "a\\u0000b" ${EDGEX_RULE} and ${USERPASS_RULE}; fix or remove them (nothing has been changed)`,
  });
});

test('property: parseAddSecretstoreTokens only ever throws SecretStoreError, and accepted names pass both rules', () => {
  const alphabet = fc.constantFrom(...'ab-_Z9., ~^|<>{}/\t\n\u00a0é\ufeff'.split(''));
  const value = fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 40 }), fc.array(fc.string({ unit: alphabet }), { maxLength: 6 }).map((a) => a.join(',')));
  fc.assert(
    fc.property(value, (v) => {
      let names: string[];
      try {
        names = parseAddSecretstoreTokens(v);
      } catch (err) {
        assert.ok(err instanceof SecretStoreError && err.code === 'CONFIG', String(err));
        return;
      }
      assert.equal(new Set(names).size, names.length);
      for (const n of names) {
        assert.ok(matchesEdgexServiceNameRule(n) && matchesUserpassNameRule(n), JSON.stringify(n));
        assert.ok(v.includes(n));
      }
    }),
    { numRuns: 2000 },
  );
});

test('serviceList: env names get the defaults, a token-config entry of the same name wins, sorted by name', () => {
  const custom: TokenConfigEntry = { edgex_use_defaults: false, custom_policy: { path: { 'x/*': { capabilities: ['read'] } } } };
  const config = new Map<string, TokenConfigEntry>([
    ['zeta', { edgex_use_defaults: true }],
    ['device-x', custom],
  ]);
  const list = serviceList(config, parseAddSecretstoreTokens('device-x,alpha,Beta'));
  assert.deepEqual(list, [
    { name: 'Beta', entry: ENV_SERVICE_ENTRY },
    { name: 'alpha', entry: ENV_SERVICE_ENTRY },
    { name: 'device-x', entry: custom },
    { name: 'zeta', entry: { edgex_use_defaults: true } },
  ]);
  assert.deepEqual(ENV_SERVICE_ENTRY, { edgex_use_defaults: true });
});

test('serviceList over the 4.x defaults with no extra names: 18 services in name order', () => {
  const list = serviceList(defaultTokenConfig('4'), []);
  assert.equal(list.length, 18);
  const names = list.map((s) => s.name);
  assert.deepEqual(names, [...names].sort());
  assert.equal(list.find((s) => s.name === 'security-proxy-setup')?.entry.custom_policy !== undefined, true);
});

test('serviceList re-checks every name and reports all bad ones at once', () => {
  const config = new Map<string, TokenConfigEntry>([['bad.name', { edgex_use_defaults: true }]]);
  assert.throws(() => serviceList(config, ['ok', 'x y']), {
    code: 'CONFIG',
    message: `the service list has 2 invalid service names: "bad.name" ${USERPASS_RULE}; "x y" ${USERPASS_RULE}; fix the token config or EDGEX_ADD_SECRETSTORE_TOKENS`,
  });
});
