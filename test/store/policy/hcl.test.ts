import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreApiError } from '../../../src/store/api-error.js';
import { parseHcl } from '../../../src/store/policy/hcl.js';

test('values: strings with escapes, numbers, booleans, lists, objects, multi-key blocks', () => {
  const items = parseHcl('a = "x\\"y\\u0041\\n"\nb = -1.5e2\nc = true\nd = [1, "two", [false],]\ne { f = 1 }\ng "h" "i" { }\n');
  assert.deepEqual(
    items.map((i) => i.keys),
    [['a'], ['b'], ['c'], ['d'], ['e'], ['g', 'h', 'i']],
  );
  assert.deepEqual(items[0]?.value, { kind: 'string', value: 'x"yA\n', line: 1 });
  assert.deepEqual(items[1]?.value, { kind: 'number', value: -150, line: 2 });
  assert.deepEqual(items[2]?.value, { kind: 'bool', value: true, line: 3 });
  const d = items[3]?.value;
  assert.equal(d?.kind === 'list' ? d.items.length : -1, 3);
  assert.equal(items[5]?.line, 6);
});

test('line numbers count comments and heredocs', () => {
  const items = parseHcl('/* a\nb */\n# c\nx = <<EOT\n1\n2\nEOT\ny = 1\n');
  assert.equal(items[0]?.line, 4);
  assert.equal(items[1]?.line, 8);
});

test('syntax errors carry Vault\'s prefix and a position', () => {
  for (const [text, msg] of [
    ['a = ', 'failed to parse policy: At 1:5: Unknown token: EOF '],
    ['a = b', 'failed to parse policy: At 1:5: Unknown token: IDENT b'],
    ['a = "x\\q"', 'failed to parse policy: At 1:7: illegal char escape'],
    ['a = [1 2]', 'failed to parse policy: At 1:8: error parsing list, expected comma or list end, got: NUMBER'],
    ['x = <<EOT\nno end', 'failed to parse policy: At 1:5: heredoc not terminated'],
    ['/* open', 'failed to parse policy: At 1:1: comment not terminated'],
    ['a ! b', 'failed to parse policy: At 1:3: illegal char'],
    ['"k" "l" = 1', 'failed to parse policy: At 1:9: nested object expected: LBRACE got: ASSIGN'],
  ] as const) {
    assert.throws(
      () => parseHcl(text),
      (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.message === msg,
      text,
    );
  }
});
