import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthResponse, sealStatusBody, type CoreState } from '../../../src/store/seal/status.js';
import { StoreApiError } from '../../../src/store/api-error.js';

const base: CoreState = {
  initialized: true,
  sealed: false,
  threshold: 3,
  shares: 5,
  progress: 0,
  nonce: '',
  version: '1.0.0',
  buildDate: '2026-01-01T00:00:00Z',
  storageType: 'file',
  cluster: { name: 'vault-cluster-0a1b2c3d', id: '00000000-0000-4000-8000-000000000000' },
};

test('seal-status keeps Vault field order and shows cluster fields only while unsealed', () => {
  assert.deepEqual(Object.keys(sealStatusBody(base)), [
    'type', 'initialized', 'sealed', 't', 'n', 'progress', 'nonce', 'version', 'build_date', 'migration',
    'cluster_name', 'cluster_id', 'recovery_seal', 'storage_type', 'init_attempt_supported',
  ]);
  const sealed = sealStatusBody({ ...base, sealed: true, progress: 2, nonce: 'n' });
  assert.equal(sealed.cluster_name, undefined);
  assert.equal(sealed.progress, 2);
  assert.equal(sealed.t, 3);
  assert.equal(sealed.init_attempt_supported, true);
  assert.equal('init_attempt_sha256' in sealed, false);
  const withAttempt = sealStatusBody({ ...base, sealed: true, initAttemptSha256: 'ab'.repeat(32) });
  assert.equal(withAttempt.init_attempt_sha256, 'ab'.repeat(32));
  assert.deepEqual(Object.keys(withAttempt).slice(-2), ['init_attempt_supported', 'init_attempt_sha256']);
});

test('health: precedence uninit → sealed → active, custom codes, time in seconds', () => {
  const now = 1_700_000_000_123;
  assert.deepEqual(healthResponse(base, {}, now), {
    status: 200,
    body: {
      initialized: true,
      sealed: false,
      standby: false,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: 1_700_000_000,
      version: '1.0.0',
      enterprise: false,
      cluster_name: 'vault-cluster-0a1b2c3d',
      cluster_id: '00000000-0000-4000-8000-000000000000',
    },
  });
  assert.equal(healthResponse(base, { activecode: '204' }).status, 204);
  assert.equal(healthResponse({ ...base, sealed: true }, { activecode: '204' }).status, 503);
  assert.equal(healthResponse({ ...base, sealed: true }, { sealedcode: '200', standbyok: 'true' }).status, 200);
  assert.equal(healthResponse({ ...base, initialized: false, sealed: true }, { sealedcode: '200' }).status, 501);
  assert.equal(healthResponse({ ...base, initialized: false, sealed: true }, { uninitcode: '+204' }).status, 204);
  assert.equal(healthResponse(base, { standbyok: '', perfstandbyok: 'false', drsecondarycode: '472', performancestandbycode: '473' }).status, 200);
  const bad: Record<string, string>[] = [{ activecode: 'abc' }, { sealedcode: '5.0' }, { uninitcode: '' }, { standbycode: '42' }, { standbyok: 'yes' }, { perfstandbyok: '2' }];
  for (const q of bad) {
    assert.throws(() => healthResponse(base, q), (e: unknown) => e instanceof StoreApiError && e.status === 400 && e.errors.length === 0, JSON.stringify(q));
  }
});
