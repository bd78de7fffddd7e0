import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreApiError } from '../../../src/store/api-error.js';
import { parseHcl } from '../../../src/store/policy/hcl.js';
import { parsePolicy, type Capability } from '../../../src/store/policy/policy.js';

function parseError(text: string, message: string): void {
  assert.throws(
    () => parsePolicy('p', text),
    (e: unknown) => {
      assert.ok(e instanceof StoreApiError);
      assert.equal(e.status, 400);
      assert.deepEqual(e.errors, [message]);
      return true;
    },
  );
}

test('HCL: path blocks, capabilities, comments of every kind', () => {
  const p = parsePolicy(
    'app',
    `# hash comment
// slash comment
/* block
   comment */
path "secret/data/app" {
  capabilities = ["read", "list"] # trailing
}
path "/secret/metadata/*" {
  capabilities = ["list",]
  comment = "leading slash is stripped"
}
path "secret/+/config" { capabilities = ["update"] }
`,
  );
  assert.equal(p.name, 'app');
  assert.deepEqual(p.rules, [
    { path: 'secret/data/app', prefix: false, segmentWildcards: false, capabilities: ['read', 'list'] },
    { path: 'secret/metadata/', prefix: true, segmentWildcards: false, capabilities: ['list'] },
    { path: 'secret/+/config', prefix: false, segmentWildcards: true, capabilities: ['update'] },
  ]);
});

test('JSON form is equivalent to HCL', () => {
  const json = parsePolicy('j', JSON.stringify({ path: { 'secret/*': { capabilities: ['read'] }, 'sys/seal': { capabilities: ['update', 'sudo'] } } }));
  const hcl = parsePolicy('j', 'path "secret/*" { capabilities = ["read"] }\npath "sys/seal" { capabilities = ["update", "sudo"] }');
  assert.deepEqual(json.rules, hcl.rules);
  const listForm = parsePolicy('j', JSON.stringify({ path: [{ 'secret/*': { capabilities: ['read'] } }] }));
  assert.deepEqual(listForm.rules, [json.rules[0]]);
});

test('legacy policy values map to capabilities', () => {
  const p = parsePolicy(
    'l',
    'path "a" { policy = "read" }\npath "b" { policy = "write" }\npath "c" { policy = "sudo" }\npath "d" { policy = "deny" }',
  );
  assert.deepEqual(
    p.rules.map((r) => r.capabilities),
    [['read', 'list'], ['create', 'read', 'update', 'delete', 'list'], ['create', 'read', 'update', 'delete', 'list', 'sudo'], ['deny']],
  );
});

test('deny drops every other capability; duplicates collapse', () => {
  const p = parsePolicy('d', 'path "x" { capabilities = ["read", "deny", "list"] }\npath "y" { capabilities = ["read", "read"] }');
  assert.deepEqual(p.rules[0]?.capabilities, ['deny']);
  assert.deepEqual(p.rules[1]?.capabilities, ['read']);
});

test('heredoc strings and the name key are accepted', () => {
  const p = parsePolicy('h', 'name = "h"\npath "x" {\n  comment = <<EOT\nmulti\nline\nEOT\n  capabilities = ["read"]\n}\n');
  assert.deepEqual(p.rules[0]?.capabilities, ['read']);
});

test('indented heredocs (<<-) strip the common indentation', () => {
  const items = parseHcl('comment = <<-EOT\n    one\n      two\n    EOT\n');
  const v = items[0]?.value;
  assert.equal(v?.kind === 'string' ? v.value : undefined, 'one\n  two\n');
});

test('empty text is an empty policy (the store rejects it, not the parser)', () => {
  assert.deepEqual(parsePolicy('e', '').rules, []);
});

test('Vault error messages', () => {
  parseError('path "secret/x" { capabilities = ["read", "fly"] }', 'failed to parse policy: path "secret/x": invalid capability "fly"');
  parseError('path "/secret/x" { capabilities = ["y"] }', 'failed to parse policy: path "/secret/x": invalid capability "y"');
  parseError('path "x" { policy = "admin" }', 'failed to parse policy: path "x": invalid policy "admin"');
  parseError('path "a/+*" { capabilities = ["read"] }', `failed to parse policy: path "a/+*": invalid use of wildcards ('+*' is forbidden)`);
  parseError('foo "x" { capabilities = ["read"] }', 'failed to parse policy: invalid key "foo" on line 1');
  parseError('path "x" {\n capabilities = ["read"]\n color = "red"\n}', 'failed to parse policy: path "x": invalid key "color" on line 3');
  parseError(
    'path "x" { capabilities = ["read"]\n allowed_parameters = { "a" = [] } }',
    'failed to parse policy: path "x": "allowed_parameters" is not supported by this store',
  );
  parseError('path "x" { capabilities = ["read"] ', 'failed to parse policy: At 1:36: object expected closing RBRACE got: EOF');
  parseError('path "x { }', 'failed to parse policy: At 1:6: literal not terminated');
  parseError('{"path": ', 'failed to parse policy: invalid JSON');
  parseError('path "x" { capabilities = [1] }', 'failed to parse policy: path "x": capabilities must be a list of strings');
});

test('the parser never throws anything but a 400 StoreApiError (property)', () => {
  const fragments = fc.constantFrom('path', '"a/*"', '{', '}', '[', ']', '=', ',', '"read"', 'capabilities', '#', '\n', '<<EOT\n', 'EOT', '/*', '*/', '"', '\\', '+', '-1', 'true', '{"path":');
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.array(fragments, { maxLength: 40 }).map((a) => a.join(' '))), (text) => {
      try {
        parsePolicy('p', text);
      } catch (e) {
        assert.ok(e instanceof StoreApiError, `unexpected ${String(e)}`);
        assert.equal(e.status, 400);
        assert.match(e.message, /^failed to parse policy: /);
      }
    }),
    { numRuns: 2000 },
  );
});

test('deep nesting is refused, not a stack overflow', () => {
  parseError('path "x" { a = ' + '['.repeat(5000), 'failed to parse policy: At 1:47: nesting too deep');
});

test('rendered policies parse back to their rules, in HCL and JSON (property)', () => {
  const caps: Capability[] = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'];
  const segment = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/);
  const rule = fc.record({
    parts: fc.array(fc.oneof(segment, fc.constant('+')), { minLength: 1, maxLength: 4 }),
    glob: fc.boolean(),
    caps: fc.uniqueArray(fc.constantFrom(...caps), { minLength: 1, maxLength: 7 }),
  });
  fc.assert(
    fc.property(fc.array(rule, { minLength: 1, maxLength: 5 }), (rules) => {
      const paths = rules.map((r) => r.parts.join('/') + (r.glob && r.parts.at(-1) !== '+' ? '*' : ''));
      const hcl = rules.map((r, i) => `path "${paths[i] ?? ''}" {\n  capabilities = ${JSON.stringify(r.caps)}\n}`).join('\n');
      const parsed = parsePolicy('p', hcl);
      assert.equal(parsed.rules.length, rules.length);
      parsed.rules.forEach((pr, i) => {
        const r = rules[i];
        assert.ok(r !== undefined);
        assert.deepEqual(pr.capabilities, r.caps);
        assert.equal(pr.segmentWildcards, r.parts.includes('+'));
        assert.equal(pr.prefix, (paths[i] ?? '').endsWith('*'));
      });
      const obj: Record<string, unknown> = {};
      rules.forEach((r, i) => (obj[paths[i] ?? ''] = { capabilities: r.caps }));
      const unique = new Set(paths).size === paths.length;
      if (unique) assert.deepEqual(parsePolicy('p', JSON.stringify({ path: obj })).rules, parsed.rules);
    }),
    { numRuns: 300 },
  );
});
