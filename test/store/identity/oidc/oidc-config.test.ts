import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CALLER, rejects, req } from '../../../helpers/logical.js';
import { StoreApiError } from '../../../../src/store/api-error.js';
import { OidcBackend } from '../../../../src/store/identity/oidc/oidc-backend.js';
import { INVALID_ISSUER, effectiveIssuer, validateIssuer } from '../../../../src/store/identity/oidc/oidc-config.js';
import { MemoryStorage } from '../../../../src/store/storage/storage.js';

const caller = ROOT_CALLER;

function backend(): OidcBackend {
  return new OidcBackend(new MemoryStorage(), { entityById: () => undefined });
}

test('config: effective issuer is exactly /v1/identity/oidc when none is configured', () => {
  assert.equal(effectiveIssuer({ issuer: '' }), '/v1/identity/oidc');
  assert.equal(effectiveIssuer({ issuer: 'https://edgex-vault:8200' }), 'https://edgex-vault:8200/v1/identity/oidc');
});

test('config: issuer validation', () => {
  for (const ok of ['', 'http://localhost', 'https://vault.example:8200', 'https://vault.example/base', 'http://10.0.0.1:8200']) {
    validateIssuer(ok);
  }
  for (const bad of [
    'vault.example',
    'ftp://vault.example',
    'https://vault.example?x=1',
    'https://vault.example?',
    'https://vault.example#frag',
    'https://user:pw@vault.example',
    'https://user@vault.example',
    '/v1/identity/oidc',
    'https://',
  ]) {
    assert.throws(() => { validateIssuer(bad); }, (e: unknown) => {
      assert.ok(e instanceof StoreApiError, bad);
      assert.equal(e.status, 400);
      assert.deepEqual(e.errors, [INVALID_ISSUER]);
      return true;
    });
  }
});

test('config: read defaults to "", write, clear; a body without issuer changes nothing', async () => {
  const b = backend();
  assert.deepEqual((await b.handle(req('read', 'oidc/config'), caller)).data, { issuer: '' });
  assert.deepEqual(await b.handle(req('update', 'oidc/config', { issuer: 'https://vault.example:8200' }), caller), { status: 204 });
  assert.deepEqual((await b.handle(req('read', 'oidc/config'), caller)).data, { issuer: 'https://vault.example:8200' });
  assert.deepEqual(await b.handle(req('update', 'oidc/config', {}), caller), { status: 204 });
  assert.deepEqual((await b.handle(req('read', 'oidc/config/'), caller)).data, { issuer: 'https://vault.example:8200' });
  await rejects(b.handle(req('update', 'oidc/config', { issuer: 'https://vault.example?q' }), caller), 400, [INVALID_ISSUER]);
  assert.deepEqual((await b.handle(req('read', 'oidc/config'), caller)).data, { issuer: 'https://vault.example:8200' });
  await b.handle(req('create', 'oidc/config', { issuer: '' }), caller);
  assert.deepEqual((await b.handle(req('read', 'oidc/config'), caller)).data, { issuer: '' });
  await rejects(b.handle(req('delete', 'oidc/config'), caller), 405, ['1 error occurred:\n\t* unsupported operation\n\n']);
});
