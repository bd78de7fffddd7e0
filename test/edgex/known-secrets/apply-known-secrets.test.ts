/**
 * Applying the known-secrets plan against an in-memory KV that refuses overwrites: first run creates, second changes
 * nothing, existing values are what copies get, invalid secrets stop the run before any write, a provider script's
 * password is used, and no password ever reaches a log line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSecretStoreError } from '../../../src/errors.js';
import { Logger, type LogFormat } from '../../../src/log.js';
import { parseAddKnownSecrets } from '../../../src/edgex/known-secrets/add-known-secrets.js';
import { ensureKnownSecrets, wipeKnownSecretsSummary } from '../../../src/edgex/known-secrets/apply-known-secrets.js';
import { planKnownSecrets, type KnownSecretsPlan, type KnownSecretsSettings } from '../../../src/edgex/known-secrets/known-secrets-plan.js';
import { passwordGenerator, type PasswordGenerator } from '../../../src/edgex/known-secrets/password.js';
import { assertNoSecrets } from '../../helpers/secret-scan.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { v4Settings } from './fixtures.js';
import { MemoryKv } from './memory-kv.js';

function plan(settings: KnownSecretsSettings = v4Settings('mqtt'), extra = 'postgres[app-rules-engine],message-bus[app-rules-engine]'): KnownSecretsPlan {
  const additions = parseAddKnownSecrets(extra, { busType: settings.secureMessageBus.Type, databaseType: settings.databaseType, version: settings.version });
  return planKnownSecrets(settings, additions);
}

function capture(format: LogFormat = 'text'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', format, sink: (l) => lines.push(l) }), lines };
}

function allPaths(p: KnownSecretsPlan): string[] {
  return p.secrets.flatMap((s) => [s.main.path, ...s.copies.map((c) => c.path)]);
}

function secretsOf(kv: MemoryKv): { label: string; value: Buffer }[] {
  return [...kv.store.entries()].map(([path, pair]) => ({ label: path, value: Buffer.from(pair.password) }));
}

test('first run creates every path; copies hold the main value; each postgres user has its own password', async () => {
  const kv = new MemoryKv();
  const p = plan();
  const { log, lines } = capture();
  const summary = await ensureKnownSecrets(kv, p, log);
  assert.deepEqual(summary.created, allPaths(p));
  assert.deepEqual(summary.kept, []);
  const perService = p.secrets.filter((s) => s.kind === 'per-service').length;
  assert.equal(summary.generated, 3 + perService, 'redisdb, postgres superuser, message-bus, one per postgres user');
  for (const secret of p.secrets) {
    const main = kv.store.get(secret.main.path);
    assert.ok(main !== undefined);
    assert.equal(main.username, secret.username);
    assert.equal(main.password.length, 44);
    for (const copy of secret.copies) assert.deepEqual(kv.store.get(copy.path), main, copy.path);
  }
  const redis = kv.store.get('secret/edgex/security-bootstrapper-redis/redisdb');
  assert.equal(redis?.username, 'default');
  assert.equal(kv.store.get('secret/edgex/core-data/redisdb')?.password, redis.password);
  assert.equal(kv.store.get('secret/edgex/security-bootstrapper-messagebus/message-bus')?.username, 'msgbususer');
  assert.equal(kv.store.get('secret/edgex/core-command/message-bus')?.username, 'msgbususer');
  assert.equal(kv.store.get('secret/edgex/security-bootstrapper-postgres/postgres')?.username, 'postgres');
  const coreData = kv.store.get('secret/edgex/core-data/postgres');
  assert.equal(coreData?.username, 'core_data');
  assert.deepEqual(kv.store.get('secret/edgex/security-bootstrapper-postgres/core-data/postgres'), coreData);
  assert.equal(kv.store.get('secret/edgex/app-rules-engine/postgres')?.username, 'app-rules-engine');
  const postgresPasswords = new Set(p.secrets.filter((s) => s.name === 'postgres').map((s) => kv.store.get(s.main.path)?.password));
  assert.equal(postgresPasswords.size, perService + 1, 'every postgres user has a different password');
  // main paths are written before their copies
  assert.ok(kv.writes.indexOf('secret/edgex/security-bootstrapper-redis/redisdb') < kv.writes.indexOf('secret/edgex/core-data/redisdb'));
  // the shared values come back for the eKuiper files
  assert.equal(summary.credentials['message-bus']?.password.toString(), kv.store.get('secret/edgex/security-bootstrapper-messagebus/message-bus')?.password);
  assert.equal(summary.credentials.redisdb?.username, 'default');
  assertNoSecrets(lines, secretsOf(kv));
  wipeKnownSecretsSummary(summary);
  assert.ok(summary.credentials.redisdb.password.every((b) => b === 0));
});

test('second run changes nothing: every path kept, no password made, no write', async () => {
  const kv = new MemoryKv();
  const p = plan();
  await ensureKnownSecrets(kv, p, capture().log);
  const before = structuredClone([...kv.store.entries()]);
  const writes = kv.writes.length;
  const { log, lines } = capture();
  const summary = await ensureKnownSecrets(kv, p, log);
  assert.deepEqual(summary.created, []);
  assert.deepEqual(summary.kept, allPaths(p));
  assert.equal(summary.generated, 0);
  assert.equal(kv.writes.length, writes);
  assert.deepEqual([...kv.store.entries()], before);
  assert.ok(!lines.some((l) => l.includes('WARN')), 'no copy differs');
  assertNoSecrets(lines, secretsOf(kv));
});

test("an existing main secret's value is what the missing copies get; it is not written again", async () => {
  const kv = new MemoryKv();
  kv.store.set('secret/edgex/security-bootstrapper-redis/redisdb', { username: 'default', password: 'existing-redis-password-0123456789' });
  kv.store.set('secret/edgex/security-bootstrapper-messagebus/message-bus', { username: 'someone', password: 'existing-bus-password-0123456789' });
  const summary = await ensureKnownSecrets(kv, plan(), capture().log);
  assert.ok(!kv.writes.includes('secret/edgex/security-bootstrapper-redis/redisdb'));
  assert.deepEqual(kv.store.get('secret/edgex/core-keeper/redisdb'), { username: 'default', password: 'existing-redis-password-0123456789' });
  assert.deepEqual(kv.store.get('secret/edgex/app-rules-engine/message-bus'), { username: 'someone', password: 'existing-bus-password-0123456789' });
  assert.equal(summary.credentials['message-bus']?.password.toString(), 'existing-bus-password-0123456789');
  assert.equal(summary.credentials['message-bus'].username, 'someone');
});

test('an existing copy with another value is kept as it is (never overwritten), with a warning naming paths only', async () => {
  const kv = new MemoryKv();
  kv.store.set('secret/edgex/core-data/redisdb', { username: 'default', password: 'stale-copy-password-0123456789abc' });
  const { log, lines } = capture('json');
  const summary = await ensureKnownSecrets(kv, plan(), log);
  assert.equal(kv.store.get('secret/edgex/core-data/redisdb')?.password, 'stale-copy-password-0123456789abc');
  assert.ok(summary.kept.includes('secret/edgex/core-data/redisdb'));
  const warning = lines.find((l) => l.includes('"level":"warn"'));
  assert.ok(warning !== undefined);
  assert.match(warning, /"path":"secret\/edgex\/core-data\/redisdb"/);
  assert.match(warning, /"source":"secret\/edgex\/security-bootstrapper-redis\/redisdb"/);
  assertNoSecrets(lines, secretsOf(kv));
});

test("a service's postgres password missing at one of its two paths gets the other path's value", async () => {
  const kv = new MemoryKv();
  kv.store.set('secret/edgex/security-bootstrapper-postgres/core-data/postgres', { username: 'core_data', password: 'db-user-password-0123456789abcdef' });
  const summary = await ensureKnownSecrets(kv, plan(), capture().log);
  assert.deepEqual(kv.store.get('secret/edgex/core-data/postgres'), { username: 'core_data', password: 'db-user-password-0123456789abcdef' });
  assert.ok(summary.kept.includes('secret/edgex/security-bootstrapper-postgres/core-data/postgres'));
});

test('an invalid existing secret (200 with an empty password) is a fatal, clear error before anything is written', async () => {
  for (const path of ['secret/edgex/support-scheduler/message-bus', 'secret/edgex/security-bootstrapper-redis/redisdb']) {
    const kv = new MemoryKv();
    kv.store.set(path, { username: 'msgbususer', password: '' });
    await assert.rejects(ensureKnownSecrets(kv, plan(), capture().log), (err: unknown) => {
      assert.ok(isSecretStoreError(err, 'STORE_ERROR'));
      assert.match(err.message, new RegExp(`secret at ${path} exists but has no username or no password; known secrets are never overwritten`));
      return true;
    });
    assert.deepEqual(kv.writes, [], 'nothing written');
  }
  const kv = new MemoryKv();
  kv.store.set('secret/edgex/core-data/postgres', { username: '', password: 'x' });
  await assert.rejects(ensureKnownSecrets(kv, plan(), capture().log), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR'));
});

test('a password provider script is used for new passwords (its trailing newline removed); nothing of them is logged', async () => {
  const dir = await makeTempDir('sss-apply-');
  try {
    const counter = join(dir, 'n');
    const path = join(dir, 'provider');
    await writeFile(path, `#!/bin/sh\necho x >> ${counter}\nprintf 'Provided/Pass+word=%s-%s\\n' "$1" "$(wc -l < ${counter} | tr -d ' ')"\n`);
    await chmod(path, 0o755);
    const { log, lines } = capture();
    const passwords = await passwordGenerator({ provider: path, args: ['abcdefgh'] }, log);
    const kv = new MemoryKv();
    const summary = await ensureKnownSecrets(kv, plan(v4Settings('redis'), 'redisdb[app-rules-engine]'), log, { passwords });
    assert.equal(kv.store.get('secret/edgex/security-bootstrapper-redis/redisdb')?.password, 'Provided/Pass+word=abcdefgh-1');
    assert.equal(kv.store.get('secret/edgex/app-rules-engine/redisdb')?.password, 'Provided/Pass+word=abcdefgh-1');
    assert.equal(kv.store.get('secret/edgex/core-data/postgres')?.password.endsWith('\n'), false);
    assert.equal(summary.generated, 8);
    assert.ok(lines.some((l) => l.includes(`generator="password provider ${path}"`)));
    assertNoSecrets(lines, secretsOf(kv));
  } finally {
    await removeTempDir(dir);
  }
});

test('a failing generator or store stops the run with its error; the summary credentials are not leaked', async () => {
  const failing: PasswordGenerator = { description: 'failing', generate: () => Promise.reject(new Error('boom')) };
  await assert.rejects(ensureKnownSecrets(new MemoryKv(), plan(), capture().log, { passwords: failing }), /boom/);
  const kv = new MemoryKv();
  kv.failWriteAt = 'secret/edgex/core-data/redisdb';
  await assert.rejects(ensureKnownSecrets(kv, plan(), capture().log), /injected failure/);
  // a rerun completes what was left (main present: its value is copied on)
  kv.failWriteAt = undefined;
  const summary = await ensureKnownSecrets(kv, plan(), capture().log);
  assert.ok(summary.kept.includes('secret/edgex/security-bootstrapper-redis/redisdb'));
  assert.equal(kv.store.get('secret/edgex/core-data/redisdb')?.password, kv.store.get('secret/edgex/security-bootstrapper-redis/redisdb')?.password);
});
