import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApiError } from '../../../../src/store/api-error.js';
import {
  RESERVED_CLAIMS,
  decodeTemplateParam,
  templateClaims,
  validateTemplate,
  type TemplateEntity,
} from '../../../../src/store/identity/oidc/oidc-template.js';

const NOW = 1_700_000_000;

const ENTITY: TemplateEntity = {
  id: 'ent-1',
  name: 'core-data',
  metadata: { color: 'green', 'a.b': 'dotted' },
  aliases: [
    { id: 'al-1', name: 'core-data-user', mount_accessor: 'auth_userpass_1234', metadata: { team: 'edgex' }, custom_metadata: { tier: 'gold' } },
  ],
};

/** Asserts `fn` throws a 400 StoreApiError with exactly `message`. */
function throws400(fn: () => void, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StoreApiError);
    assert.equal(e.status, 400);
    if (typeof message === 'string') assert.deepEqual(e.errors, [message]);
    else assert.match(e.errors[0] ?? '', message);
    return true;
  });
}

test('template: EdgeX literal template gives its claims', () => {
  validateTemplate('{"name": "core-data"}', NOW);
  assert.deepEqual(templateClaims('{"name": "core-data"}', ENTITY, NOW), { name: 'core-data' });
  assert.deepEqual(templateClaims('', ENTITY, NOW), {});
});

test('template: placeholders become the JSON encoding of their values', () => {
  const template = `{
    "name": {{identity.entity.name}}, "id": {{ identity.entity.id }},
    "m": {{identity.entity.metadata.color}}, "dotted": {{identity.entity.metadata.a.b}},
    "all": {{identity.entity.metadata}},
    "n": {{identity.entity.aliases.auth_userpass_1234.name}}, "aid": {{identity.entity.aliases.auth_userpass_1234.id}},
    "am": {{identity.entity.aliases.auth_userpass_1234.metadata.team}},
    "amall": {{identity.entity.aliases.auth_userpass_1234.metadata}},
    "cm": {{identity.entity.aliases.auth_userpass_1234.custom_metadata.tier}},
    "cmall": {{identity.entity.aliases.auth_userpass_1234.custom_metadata}},
    "groups": {{identity.entity.groups.names}}, "gids": {{identity.entity.groups.ids}},
    "nested": {"t": {{time.now}}, "later": {{time.now.plus.1h}}, "before": {{time.now.minus.60}}}}`;
  validateTemplate(template, NOW);
  assert.deepEqual(templateClaims(template, ENTITY, NOW), {
    name: 'core-data',
    id: 'ent-1',
    m: 'green',
    dotted: 'dotted',
    all: { color: 'green', 'a.b': 'dotted' },
    n: 'core-data-user',
    aid: 'al-1',
    am: 'edgex',
    amall: { team: 'edgex' },
    cm: 'gold',
    cmall: { tier: 'gold' },
    groups: [],
    gids: [],
    nested: { t: NOW, later: NOW + 3600, before: NOW - 60 },
  });
});

test('template: missing values are empty, as in Vault JSON mode (the claim stays)', () => {
  const template = '{"m": {{identity.entity.metadata.nope}}, "n": {{identity.entity.aliases.unknown_acc.name}}, "am": {{identity.entity.aliases.unknown_acc.metadata}}}';
  assert.deepEqual(templateClaims(template, ENTITY, NOW), { m: '', n: '', am: {} });
});

test('template: a placeholder inside a quoted string is substituted as text', () => {
  const template = '{"x": "x-{{identity.entity.name}}-{{time.now}}", "g": "g={{identity.entity.groups.names}}", "q": "a\\"{{identity.entity.id}}"}';
  validateTemplate(template, NOW);
  assert.deepEqual(templateClaims(template, ENTITY, NOW), { x: `x-core-data-${NOW}`, g: 'g=[]', q: 'a"ent-1' });
  // Values needing escapes stay valid JSON inside the string.
  const quoted = { ...ENTITY, name: 'a"b\\c' };
  assert.deepEqual(templateClaims('{"x": "<{{identity.entity.name}}>", "y": {{identity.entity.name}}}', quoted, NOW), { x: '<a"b\\c>', y: 'a"b\\c' });
});

test('template: nested objects closing with }} are accepted', () => {
  validateTemplate('{"a":{"b":{"c":1}}}', NOW);
  assert.deepEqual(templateClaims('{"a":{"b":{{identity.entity.name}}}}', ENTITY, NOW), { a: { b: 'core-data' } });
});

test('template: reserved top-level claims are refused on write and dropped on issue', () => {
  for (const claim of RESERVED_CLAIMS) {
    throws400(
      () => { validateTemplate(`{"${claim}": "x"}`, NOW); },
      `top level key "${claim}" not allowed. Restricted keys: iat, aud, exp, iss, sub, namespace, nonce, auth_time, at_hash, c_hash`,
    );
  }
  // Below the top level they are ordinary keys.
  validateTemplate('{"inner": {"iss": 1}}', NOW);
  assert.deepEqual(templateClaims('{"iss": "evil", "ok": 1}', ENTITY, NOW), { ok: 1 });
});

test('template: write-time validation errors', () => {
  throws400(() => { validateTemplate('{"a": ', NOW); }, /^error parsing template JSON: /);
  throws400(() => { validateTemplate('not json', NOW); }, /^error parsing template JSON: /);
  throws400(() => { validateTemplate('[1, 2]', NOW); }, 'error parsing template JSON: the template must be a JSON object');
  throws400(() => { validateTemplate('"str"', NOW); }, 'error parsing template JSON: the template must be a JSON object');
  throws400(() => { validateTemplate('{"a": {{identity.entity.name}', NOW); }, 'error parsing template: unbalanced templating characters');
  throws400(() => { validateTemplate('{"a": {{identity.{{entity}}}', NOW); }, 'error parsing template: unbalanced templating characters');
  throws400(
    () => { validateTemplate('{"a": {{identity.entity.nope}}}', NOW); },
    'error parsing template: no value could be found for one of the template directives',
  );
  throws400(() => { validateTemplate('{"a": {{unknown.x}}}', NOW); }, 'error parsing template: no value could be found for one of the template directives');
  throws400(() => { validateTemplate('{"a": {{identity.entity.aliases.acc}}}', NOW); }, 'error parsing template: invalid alias selector');
  throws400(
    () => { validateTemplate('{"a": {{identity.entity.aliases.acc.nope}}}', NOW); },
    'error parsing template: no value could be found for one of the template directives',
  );
  throws400(
    () => { validateTemplate('{"a": {{identity.groups.names.g.id}}}', NOW); },
    'error parsing template: string contains groups template directives but no groups were provided',
  );
  throws400(() => { validateTemplate('{"a": {{time.then}}}', NOW); }, 'error parsing template: invalid time selector "then"');
  throws400(() => { validateTemplate('{"a": {{time.now.plus}}}', NOW); }, 'error parsing template: missing time operand');
  throws400(() => { validateTemplate('{"a": {{time.now.times.1h}}}', NOW); }, 'error parsing template: invalid time operator "times"');
  throws400(() => { validateTemplate('{"a": {{time.now.plus.xyz}}}', NOW); }, 'error parsing template: invalid duration: time: invalid duration "xyz"');
  // `null` decodes to no claims in Go, so Vault accepts it.
  validateTemplate('null', NOW);
  validateTemplate('', NOW);
});

test('template: a template that no longer fills yields no claims instead of no token', () => {
  assert.deepEqual(templateClaims('{"a": {{identity.entity.nope}}}', ENTITY, NOW), {});
  assert.deepEqual(templateClaims('{"a": ', ENTITY, NOW), {});
  assert.deepEqual(templateClaims('null', ENTITY, NOW), {});
});

test('template: a __proto__ claim stays an own claim', () => {
  const claims = templateClaims('{"__proto__": {"polluted": true}}', ENTITY, NOW);
  assert.equal(Object.getPrototypeOf(claims), Object.prototype);
  assert.deepEqual(Object.keys(claims), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('template: base64 is tried first (strict standard alphabet, padded; line breaks ignored)', () => {
  const json = '{"name": {{identity.entity.name}}}';
  const b64 = Buffer.from(json, 'utf8').toString('base64');
  assert.equal(decodeTemplateParam(b64), json);
  assert.equal(decodeTemplateParam(b64.slice(0, 8) + '\n' + b64.slice(8)), json);
  assert.equal(decodeTemplateParam(json), json);
  // URL-safe alphabet or missing padding are not standard base64: the text is taken as is.
  const urlSafe = Buffer.from('{"a":"??>>"}').toString('base64url');
  assert.equal(decodeTemplateParam(urlSafe), urlSafe);
  assert.equal(decodeTemplateParam('abc'), 'abc');
  assert.equal(decodeTemplateParam(''), '');
});
