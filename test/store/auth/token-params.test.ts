import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejects } from '../../helpers/logical.js';
import type { JsonObject } from '../../../src/store/logical.js';
import {
  defaultTokenParams,
  legacyFieldsAfterWrite,
  legacyTokenData,
  parseTokenParams,
  tokenParamsData,
  type TokenParams,
} from '../../../src/store/auth/token-params.js';

const parse = (data: JsonObject, current: TokenParams = defaultTokenParams()): Promise<TokenParams> =>
  Promise.resolve().then(() => parseTokenParams(data, current));

test('defaults and their GET shape', () => {
  assert.deepEqual(tokenParamsData(defaultTokenParams()), {
    token_bound_cidrs: [],
    token_explicit_max_ttl: 0,
    token_max_ttl: 0,
    token_no_default_policy: false,
    token_num_uses: 0,
    token_period: 0,
    token_policies: [],
    token_ttl: 0,
    token_type: 'default',
  });
});

test('token_* fields with Vault\'s conversions', async () => {
  const p = await parse({
    token_bound_cidrs: '10.0.0.0/8, 127.0.0.1',
    token_explicit_max_ttl: '2h',
    token_max_ttl: 7200,
    token_no_default_policy: 'true',
    token_num_uses: '3',
    token_period: '90s',
    token_policies: ' edgex-a ,Edgex-B,,',
    token_ttl: '1h',
    token_type: 'service',
  });
  assert.deepEqual(tokenParamsData(p), {
    token_bound_cidrs: ['10.0.0.0/8', '127.0.0.1'],
    token_explicit_max_ttl: 7200,
    token_max_ttl: 7200,
    token_no_default_policy: true,
    token_num_uses: 3,
    token_period: 90,
    token_policies: ['edgex-a', 'Edgex-B'],
    token_ttl: 3600,
    token_type: 'service',
  });
});

test('fields not sent keep their current values; the input is not modified', async () => {
  const current = await parse({ token_policies: ['a'], token_ttl: 60, token_bound_cidrs: ['10.0.0.1'] });
  const next = await parse({ token_max_ttl: 120 }, current);
  assert.deepEqual(next.token_policies, ['a']);
  assert.equal(next.token_ttl, 60);
  assert.equal(next.token_max_ttl, 120);
  next.token_policies.push('b');
  next.token_bound_cidrs.push('x');
  assert.deepEqual(current.token_policies, ['a']);
  assert.deepEqual(current.token_bound_cidrs, ['10.0.0.1']);
  assert.equal(current.token_max_ttl, 0);
});

test('token types: default, service, default-service; batch refused', async () => {
  assert.equal((await parse({ token_type: '' })).token_type, 'default');
  assert.equal((await parse({ token_type: 'default' })).token_type, 'default');
  assert.equal((await parse({ token_type: 'default-service' })).token_type, 'default-service');
  await rejects(parse({ token_type: 'batch' }), 400, ['batch tokens are not supported by this store']);
  await rejects(parse({ token_type: 'default-batch' }), 400, ['batch tokens are not supported by this store']);
  await rejects(parse({ token_type: 'weird' }), 400, [`invalid 'token_type' value "weird"`]);
});

test('Vault\'s checks and messages', async () => {
  await rejects(parse({ token_ttl: '2h', token_max_ttl: '1h' }), 400, ["'token_ttl' cannot be greater than 'token_max_ttl'"]);
  const capped = await parse({ token_max_ttl: '1h' });
  await rejects(parse({ token_ttl: '2h' }, capped), 400, ["'token_ttl' cannot be greater than 'token_max_ttl'"]);
  await rejects(parse({ token_ttl: -1 }), 400, ["'token_ttl' cannot be negative"]);
  await rejects(parse({ token_max_ttl: '-5s' }), 400, ["'token_max_ttl' cannot be negative"]);
  await rejects(parse({ token_period: -5 }), 400, ["'token_period' cannot be negative"]);
  await rejects(parse({ token_explicit_max_ttl: -5 }), 400, ["'token_explicit_max_ttl' cannot be negative"]);
  await rejects(parse({ token_num_uses: -1 }), 400, ["'token_num_uses' cannot be negative"]);
  await rejects(parse({ token_ttl: '1x' }), 400, ['error converting input for field "token_ttl": time: invalid duration "1x"']);
  await rejects(parse({ ttl: 'soon' }), 400, ['error converting input for field "ttl": time: invalid duration "soon"']);
  await rejects(parse({ token_num_uses: 'many' }), 400, ['error converting input many for field "token_num_uses"']);
  await rejects(parse({ token_no_default_policy: 'maybe' }), 400, ['error converting input maybe for field "token_no_default_policy"']);
  await rejects(parse({ token_bound_cidrs: ['nope'] }), 400, [
    'error parsing address "nope": Unable to convert "nope" to an IPv4 or IPv6 address, or a UNIX Socket',
  ]);
  // A zero max TTL means "the mount's": any TTL is allowed against it.
  assert.equal((await parse({ token_ttl: '100h', token_max_ttl: 0 })).token_ttl, 360000);
});

test('legacy aliases apply when their token_* name is absent; token_* wins when both are sent', async () => {
  const legacy = await parse({ policies: 'B, a,a', ttl: '1m', max_ttl: '1h', period: 30, bound_cidrs: '127.0.0.1' });
  assert.deepEqual(legacy.token_policies, ['a', 'b']);
  assert.equal(legacy.token_ttl, 60);
  assert.equal(legacy.token_max_ttl, 3600);
  assert.equal(legacy.token_period, 30);
  assert.deepEqual(legacy.token_bound_cidrs, ['127.0.0.1']);
  assert.deepEqual((await parse({ policies: 'root,x' })).token_policies, ['root']);

  const both = await parse({ policies: 'old', token_policies: 'new', ttl: 1, token_ttl: 2, bound_cidrs: 'bogus', token_bound_cidrs: '10.0.0.1' });
  assert.deepEqual(both.token_policies, ['new']);
  assert.equal(both.token_ttl, 2);
  assert.deepEqual(both.token_bound_cidrs, ['10.0.0.1']);
  // The check runs on the merged values, whichever names they came by.
  await rejects(parse({ ttl: '2h', token_max_ttl: '1h' }), 400, ["'token_ttl' cannot be greater than 'token_max_ttl'"]);
  // JSON null is "not sent".
  assert.equal((await parse({ token_ttl: null, ttl: 5 })).token_ttl, 5);
});

test('legacy bookkeeping: which legacy names a GET shows', async () => {
  assert.deepEqual(legacyFieldsAfterWrite({ policies: 'a', ttl: 5 }, []), ['policies', 'ttl']);
  // token_* alone turns the legacy name off; both turn it on; an untouched pair keeps its state.
  assert.deepEqual(legacyFieldsAfterWrite({ token_policies: 'a' }, ['policies', 'ttl']), ['ttl']);
  assert.deepEqual(legacyFieldsAfterWrite({ token_policies: 'a', policies: 'b' }, []), ['policies']);
  assert.deepEqual(legacyFieldsAfterWrite({ token_num_uses: 2 }, ['max_ttl', 'bound_cidrs']), ['max_ttl', 'bound_cidrs']);

  const p = await parse({ policies: 'a', ttl: 0, bound_cidrs: '10.0.0.1', period: '1m' });
  assert.deepEqual(legacyTokenData(p, ['policies', 'ttl', 'bound_cidrs', 'period']), { policies: ['a'], bound_cidrs: ['10.0.0.1'], period: 60 });
  assert.deepEqual(legacyTokenData(p, []), {});
});
