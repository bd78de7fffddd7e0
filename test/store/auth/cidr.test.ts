import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { rejects } from '../../helpers/logical.js';
import { MAX_CIDR_ENTRIES, addressInCidrs, normalizeAddress, parseCidrList } from '../../../src/store/auth/cidr.js';

const bad = (entry: string): string[] => [`error parsing address "${entry}": Unable to convert "${entry}" to an IPv4 or IPv6 address, or a UNIX Socket`];

test('parseCidrList normalizes blocks and addresses as Vault prints them', () => {
  assert.deepEqual(
    parseCidrList(
      [' 10.0.0.5/8 ', '127.0.0.1', '127.0.0.1/32', '::1', '::1/128', '2001:DB8:0:0:0:0:0:1/64', '1:0:0:1:0:0:0:1', 'fe80::'],
      'token_bound_cidrs',
    ),
    ['10.0.0.5/8', '127.0.0.1', '::1', '2001:db8::1/64', '1:0:0:1::1', 'fe80::'],
  );
  // IPv4-mapped IPv6 entries are the IPv4 addresses and blocks they map.
  assert.deepEqual(parseCidrList(['::ffff:1.2.3.4', '::ffff:1.2.3.0/120', '::FFFF:0102:0304'], 'f'), ['1.2.3.4', '1.2.3.0/24']);
  assert.deepEqual(parseCidrList(['::ffff:0:0/64'], 'f'), ['::ffff:0:0/64']);
  assert.deepEqual(parseCidrList([], 'f'), []);
});

test('parseCidrList refuses anything else with Vault\'s message', async () => {
  for (const entry of ['', 'x', '1.2.3', '010.0.0.1', '1.2.3.4/33', '1.2.3.4/', '1.2.3.4/a', '1.2.3.4/-1', '::/129', 'fe80::1%eth0', '/tmp/vault.sock', '1.2.3.4/8/8', ':::1']) {
    await rejects(Promise.resolve().then(() => parseCidrList(['10.0.0.0/8', entry], 'token_bound_cidrs')), 400, bad(entry));
  }
  const many = new Array<string>(MAX_CIDR_ENTRIES + 1).fill('10.0.0.1');
  await rejects(Promise.resolve().then(() => parseCidrList(many, 'bound_cidrs')), 400, [`too many entries in "bound_cidrs" (at most ${MAX_CIDR_ENTRIES})`]);
});

test('addressInCidrs: empty list allows all, unknown addresses are refused, mapped IPv4 matches', () => {
  assert.equal(addressInCidrs(undefined, []), true);
  assert.equal(addressInCidrs('203.0.113.9', []), true);
  assert.equal(addressInCidrs(undefined, ['0.0.0.0/0']), false);
  assert.equal(addressInCidrs('not-an-ip', ['0.0.0.0/0']), false);
  assert.equal(addressInCidrs('127.0.0.1', ['127.0.0.0/8']), true);
  assert.equal(addressInCidrs('::ffff:127.0.0.1', ['127.0.0.0/8']), true);
  assert.equal(addressInCidrs('::ffff:127.0.0.1', ['127.0.0.1']), true);
  assert.equal(addressInCidrs('128.0.0.1', ['127.0.0.0/8']), false);
  assert.equal(addressInCidrs('10.1.2.3', ['192.168.0.0/16', '10.0.0.5/8']), true);
  assert.equal(addressInCidrs('::1', ['127.0.0.1']), false);
  assert.equal(addressInCidrs('::1', ['::1']), true);
  assert.equal(addressInCidrs('fe80::1%eth0', ['fe80::/10']), true);
  assert.equal(addressInCidrs('2001:db8::42', ['2001:db8::/32']), true);
  assert.equal(addressInCidrs('2001:db9::42', ['2001:db8::/32']), false);
  assert.equal(addressInCidrs('1.2.3.4', ['::ffff:0:0/96'].flatMap((c) => parseCidrList([c], 'f'))), true);
});

test('normalizeAddress: canonical text, zone dropped, mapped IPv4 unwrapped', () => {
  assert.equal(normalizeAddress('FE80::1%eth0'), 'fe80::1');
  assert.equal(normalizeAddress('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeAddress('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(normalizeAddress('10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeAddress('example.org'), undefined);
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

test('property: any IPv4/IPv6 block parses, is stable under re-parsing, and contains its own address', () => {
  fc.assert(
    fc.property(fc.oneof(ipv4.map((a) => ({ a, max: 32 })), fc.ipV6().map((a) => ({ a, max: 128 }))), fc.nat(128), ({ a, max }, n) => {
      const prefix = n % (max + 1);
      const [entry] = parseCidrList([`${a}/${prefix}`], 'f');
      assert.ok(entry !== undefined);
      assert.deepEqual(parseCidrList([entry], 'f'), [entry]);
      const bare = entry.split('/')[0] ?? '';
      assert.ok(isIPv4(bare) || isIPv6(bare));
      assert.equal(addressInCidrs(a, [entry]), true);
    }),
  );
});

test('property: a block /p contains exactly the addresses sharing its first p bits', () => {
  fc.assert(
    fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(32), (x, y, p) => {
      const text = (v: number): string => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
      const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
      const same = ((x & mask) >>> 0) === ((y & mask) >>> 0);
      assert.equal(addressInCidrs(text(y), parseCidrList([`${text(x)}/${p}`], 'f')), same);
    }),
  );
});

test('property: strings that are not addresses are refused', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const bare = s.trim().split('/')[0] ?? '';
      fc.pre(!isIPv4(bare) && !isIPv6(bare));
      assert.throws(() => parseCidrList([s], 'f'));
    }),
  );
});
