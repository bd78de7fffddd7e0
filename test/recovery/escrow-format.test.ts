import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ESCROW_FORMAT, parseEscrow, serializeEscrow } from '../../src/recovery/escrow-format.js';
import { isSecretStoreError } from '../../src/errors.js';

const share = fc.uint8Array({ minLength: 33, maxLength: 33 }).map((a) => Buffer.from(a));
const secretsArb = fc
  .record({
    shares: fc.array(share, { minLength: 1, maxLength: 10 }),
    threshold: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
    rootToken: fc.option(fc.stringMatching(/^hvs\.[A-Za-z0-9]{24}$/), { nil: undefined }),
  })
  .map(({ shares, threshold, rootToken }) => ({
    shares,
    ...(threshold === undefined ? {} : { threshold: Math.min(threshold, shares.length) }),
    ...(rootToken === undefined ? {} : { rootToken: Buffer.from(rootToken) }),
  }));

test('escrow format: serialize then parse gives back the same shares, threshold and root token', () => {
  fc.assert(
    fc.property(secretsArb, (secrets) => {
      const bytes = serializeEscrow(secrets, new Date('2026-01-02T03:04:05Z'));
      const { secrets: back, info } = parseEscrow(bytes, 'copy');
      assert.equal(info.created, '2026-01-02T03:04:05.000Z');
      assert.deepEqual(back.shares, secrets.shares);
      assert.equal(back.threshold, secrets.threshold);
      assert.deepEqual(back.rootToken, secrets.rootToken);
    }),
  );
});

test('escrow format: the document is a Vault-style init response an operator can use by hand', () => {
  const shares = [Buffer.alloc(33, 1), Buffer.alloc(33, 2)];
  const doc = JSON.parse(serializeEscrow({ shares, threshold: 2 }, new Date(0)).toString('utf8')) as Record<string, unknown>;
  assert.equal(doc.format, ESCROW_FORMAT);
  assert.equal(doc.version, 1);
  assert.deepEqual(doc.keys, shares.map((s) => s.toString('hex')));
  assert.deepEqual(doc.keys_base64, shares.map((s) => s.toString('base64')));
  assert.equal(doc.threshold, 2);
  assert.equal('root_token' in doc, false);
});

test('escrow format: arbitrary bytes or altered documents fail with ESCROW_MALFORMED only', () => {
  const good = JSON.parse(serializeEscrow({ shares: [Buffer.alloc(33, 7)], threshold: 1, rootToken: Buffer.from('hvs.x') }, new Date(0)).toString()) as Record<string, unknown>;
  const mutations: [string, (d: Record<string, unknown>) => void, RegExp][] = [
    ['format', (d) => (d.format = 'other'), /is not a secretstore-setup escrow copy/],
    ['version', (d) => (d.version = 2), /has escrow version 2/],
    ['unknown field', (d) => (d.extra = 1), /unexpected field "extra"/],
    ['hex/b64 disagree', (d) => (d.keys_base64 = [Buffer.alloc(33, 8).toString('base64')]), /keys\[0\] and keys_base64\[0\] differ/],
    ['bad hex', (d) => (d.keys = ['zz']), /keys\[0\] is not hex/],
    ['threshold too high', (d) => (d.threshold = 2), /threshold must be between 1 and the share count 1/],
    ['root token type', (d) => (d.root_token = 5), /"root_token" must be a string/],
    ['no shares', (d) => ((d.keys = []), (d.keys_base64 = [])), /share/],
  ];
  for (const [name, mutate, msg] of mutations) {
    const d = structuredClone(good);
    mutate(d);
    assert.throws(() => parseEscrow(Buffer.from(JSON.stringify(d)), 'copy'), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'ESCROW_MALFORMED'), name);
      assert.match(err.message, msg, name);
      return true;
    });
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        parseEscrow(Buffer.from(bytes), 'copy');
      } catch (err) {
        assert.ok(isSecretStoreError(err, 'ESCROW_MALFORMED'));
      }
    }),
  );
});
