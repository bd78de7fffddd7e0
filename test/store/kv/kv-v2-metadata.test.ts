import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addVersion, defaultConfig, effectiveDeleteAfter, isDeleted, newKeyMeta } from '../../../src/store/kv/kv-v2-metadata.js';

test('addVersion keeps max_versions (key, then mount, then 10) and reports what to delete', () => {
  const cfg = { ...defaultConfig(), max_versions: 3 };
  const meta = newKeyMeta();
  const pruned: number[] = [];
  for (let i = 1; i <= 5; i++) pruned.push(...addVersion(meta, { createdMs: i, deletionMs: 0, destroyed: false }, cfg));
  assert.deepEqual(pruned, [1, 2]);
  assert.deepEqual(Object.keys(meta.versions), ['3', '4', '5']);
  assert.equal(meta.oldestVersion, 3);
  assert.equal(meta.createdMs, 1);
  assert.equal(meta.updatedMs, 5);
  meta.maxVersions = 1;
  assert.deepEqual(addVersion(meta, { createdMs: 6, deletionMs: 0, destroyed: false }, cfg), [3, 4, 5]);
  assert.deepEqual(Object.keys(meta.versions), ['6']);
  assert.equal(meta.oldestVersion, 6);
});

test('effectiveDeleteAfter: the shorter non-zero of key and mount', () => {
  const m = newKeyMeta();
  const c = defaultConfig();
  assert.equal(effectiveDeleteAfter(m, c), 0);
  c.delete_version_after = 60;
  assert.equal(effectiveDeleteAfter(m, c), 60);
  m.deleteVersionAfter = 30;
  assert.equal(effectiveDeleteAfter(m, c), 30);
  m.deleteVersionAfter = 90;
  assert.equal(effectiveDeleteAfter(m, c), 60);
  c.delete_version_after = 0;
  assert.equal(effectiveDeleteAfter(m, c), 90);
});

test('isDeleted: a future deletion time is only scheduled', () => {
  assert.equal(isDeleted({ createdMs: 0, deletionMs: 0, destroyed: false }, 100), false);
  assert.equal(isDeleted({ createdMs: 0, deletionMs: 100, destroyed: false }, 99), false);
  assert.equal(isDeleted({ createdMs: 0, deletionMs: 100, destroyed: false }, 100), true);
});
