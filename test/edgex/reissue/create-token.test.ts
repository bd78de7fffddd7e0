/**
 * `reissueServiceToken` (EdgeX's `createToken -entityId`) against a small programmable store: the exact calls and
 * body EdgeX sends, the alias and policy rules, the atomic token file, and failures that leave the old file alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { isSecretStoreError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import { VaultClient } from '../../../src/vault/client.js';
import { isEntityId, reissueServiceToken, reissueTokenRequest, type ReissueTokenSettings } from '../../../src/edgex/reissue/create-token.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { assertNoSecrets } from '../../helpers/secret-scan.js';

const ENTITY = '3f2a9c1e-0b4d-5e6f-7a8b-9c0d1e2f3a4b';
const ADMIN = `s.${randomBytes(18).toString('base64url')}`;

interface Seen {
  method: string;
  path: string;
  token: string;
  body: unknown;
}

type Answer = { status: number; body?: unknown } | undefined;

/** A store that records every request and answers with `answer` (undefined → 404). */
async function fakeStore(answer: (seen: Seen) => Answer): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const s: Seen = {
        method: req.method ?? '',
        path: (req.url ?? '').replace(/^\/v1\//, ''),
        token: String(req.headers['x-vault-token'] ?? ''),
        body: raw === '' ? undefined : (JSON.parse(raw) as unknown),
      };
      seen.push(s);
      const a = answer(s) ?? { status: 404, body: { errors: [] } };
      if (a.body === undefined) res.writeHead(a.status).end();
      else res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function entityAnswer(aliases: unknown, policies: unknown): Answer {
  return { status: 200, body: { request_id: 'r', data: { id: ENTITY, name: 'entity_1234', aliases, policies, metadata: null, disabled: false } } };
}

/** A token-create answer as the store gives it; the token and accessor are fresh random strings. */
function createAnswer(): { answer: Answer; token: string; accessor: string } {
  const token = `s.${randomBytes(18).toString('base64url')}`;
  const accessor = randomBytes(12).toString('base64url');
  return {
    token,
    accessor,
    answer: {
      status: 200,
      body: {
        request_id: 'abc',
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: null,
        wrap_info: null,
        warnings: null,
        auth: {
          client_token: token,
          accessor,
          policies: ['default', 'edgex-service-core-data'],
          token_policies: ['default', 'edgex-service-core-data'],
          metadata: { user: 'core-data' },
          lease_duration: 3600,
          renewable: true,
          entity_id: '99999999-8888-7777-6666-555555555555',
          token_type: 'service',
          orphan: true,
          num_uses: 0,
        },
      },
    },
  };
}

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', sink: (l) => lines.push(l) }), lines };
}

async function withDir(fn: (dir: string, settings: ReissueTokenSettings) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('sss-reissue-');
  try {
    await fn(dir, { outputDir: join(dir, 'secrets'), outputFilename: 'secrets-token.json', tokenTtl: '1h' });
  } finally {
    await removeTempDir(dir);
  }
}

test('the body sent to auth/token/create/<service> is EdgeX RegenToken’s, field for field', () => {
  assert.deepEqual(reissueTokenRequest('core-data', ['edgex-service-core-data'], '1h'), {
    display_name: 'token-core-data',
    role_name: 'core-data',
    entity_alias: 'core-data',
    no_parent: true,
    policies: ['edgex-service-core-data'],
    meta: { user: 'core-data' },
    ttl: '1h',
    period: '1h',
    renewable: true,
  });
  assert.ok(isEntityId(ENTITY));
  assert.ok(!isEntityId(`${ENTITY}/x`));
});

test('re-issue: reads the entity, creates the token through the role, writes the whole answer atomically (0600, folder 0700)', async () => {
  await withDir(async (dir, settings) => {
    const created = createAnswer();
    const store = await fakeStore((s) => {
      if (s.method === 'GET' && s.path === `identity/entity/id/${ENTITY}`) {
        return entityAnswer([{ name: 'core-data', mount_type: 'userpass' }, { name: 'other', mount_type: 'token' }], ['edgex-service-core-data']);
      }
      if (s.method === 'POST' && s.path === 'auth/token/create/core-data') return created.answer;
      return undefined;
    });
    const { log, lines } = capture();
    try {
      // An old token file, to be replaced.
      await mkdir(join(settings.outputDir, 'core-data'), { recursive: true, mode: 0o755 });
      const file = join(settings.outputDir, 'core-data', 'secrets-token.json');
      await writeFile(file, '{"auth":{"client_token":"old"}}\n', { mode: 0o644 });
      const before = await stat(file);
      const client = new VaultClient({ address: store.url });
      const result = await reissueServiceToken(client, ADMIN, ENTITY, settings, log);
      assert.deepEqual(result, { service: 'core-data', path: file, policies: ['edgex-service-core-data'] });
      assert.deepEqual(
        store.seen.map((s) => `${s.method} ${s.path}`),
        [`GET identity/entity/id/${ENTITY}`, 'POST auth/token/create/core-data'],
      );
      assert.ok(store.seen.every((s) => s.token === ADMIN));
      assert.deepEqual(store.seen[1]?.body, reissueTokenRequest('core-data', ['edgex-service-core-data'], '1h'));
      const text = await readFile(file, 'utf8');
      assert.ok(text.endsWith('}\n'));
      const written = JSON.parse(text) as { auth: { client_token: string } };
      assert.deepEqual(written, created.answer?.body);
      assert.equal(written.auth.client_token, created.token);
      // Keys sorted at every level, as EdgeX (Go's json of a map) writes them.
      assert.ok(text.indexOf('"auth"') < text.indexOf('"data"') && text.indexOf('"accessor"') < text.indexOf('"client_token"'));
      const after = await stat(file);
      assert.notEqual(after.ino, before.ino, 'replaced by rename, not rewritten in place');
      assert.equal(after.mode & 0o777, 0o600);
      assert.equal((await stat(join(settings.outputDir, 'core-data'))).mode & 0o777, 0o700);
      assert.ok(lines.some((l) => l.includes('service token re-issued') && l.includes('service=core-data') && l.includes(`entityId=${ENTITY}`)));
      assertNoSecrets(lines, [
        { label: 'admin token', value: Buffer.from(ADMIN) },
        { label: 'new token', value: Buffer.from(created.token) },
        { label: 'accessor', value: Buffer.from(created.accessor) },
      ]);
      assert.ok(dir.length > 0);
    } finally {
      await store.close();
    }
  });
});

test('an entity without policies (one made by an earlier re-issue) gets ["edgex-service-<alias>"]', async () => {
  for (const policies of [[], null, undefined]) {
    await withDir(async (_dir, settings) => {
      const created = createAnswer();
      const store = await fakeStore((s) =>
        s.method === 'GET' ? entityAnswer([{ name: 'app-rules-engine', mount_type: 'token' }], policies) : s.path === 'auth/token/create/app-rules-engine' ? created.answer : undefined,
      );
      try {
        const result = await reissueServiceToken(new VaultClient({ address: store.url }), ADMIN, ENTITY, settings, capture().log);
        assert.deepEqual(result.policies, ['edgex-service-app-rules-engine']);
        assert.deepEqual((store.seen[1]?.body as Record<string, unknown>).policies, ['edgex-service-app-rules-engine']);
      } finally {
        await store.close();
      }
    });
  }
});

test('no alias, a malformed alias or a name unfit for a path → a clear STORE_ERROR and no token is created', async () => {
  const cases: Array<{ aliases: unknown; match: RegExp }> = [
    { aliases: [], match: /has no alias/ },
    { aliases: null, match: /has no alias/ },
    { aliases: [{ name: '../../sys/policies' }], match: /not a valid service name/ },
    { aliases: [{ name: 'core data' }], match: /not a valid service name/ },
    { aliases: [{ name: '' }], match: /not a valid service name/ },
    { aliases: [{ name: 7 }], match: /aliases\[0\]\.name/ },
    { aliases: 'core-data', match: /aliases/ },
    { aliases: [null], match: /aliases\[0\]/ },
  ];
  for (const c of cases) {
    await withDir(async (_dir, settings) => {
      const store = await fakeStore((s) => (s.method === 'GET' ? entityAnswer(c.aliases, []) : createAnswer().answer));
      try {
        await assert.rejects(reissueServiceToken(new VaultClient({ address: store.url }), ADMIN, ENTITY, settings, capture().log), (err: unknown) => {
          assert.ok(isSecretStoreError(err, 'STORE_ERROR'), String(err));
          assert.match(err.message, c.match);
          return true;
        });
        assert.equal(store.seen.length, 1, JSON.stringify(c.aliases));
      } finally {
        await store.close();
      }
    });
  }
});

test('bad policies from the store, an unknown entity, a refused create → errors; the old token file is untouched', async () => {
  await withDir(async (_dir, settings) => {
    const file = join(settings.outputDir, 'core-data', 'secrets-token.json');
    await mkdir(join(settings.outputDir, 'core-data'), { recursive: true });
    await writeFile(file, 'OLD\n', { mode: 0o600 });
    let entity: Answer = entityAnswer([{ name: 'core-data' }], ['ok', 3]);
    let create: Answer = { status: 400, body: { errors: ["invalid 'entity_alias' value"] } };
    const store = await fakeStore((s) => (s.method === 'GET' ? entity : create));
    const client = new VaultClient({ address: store.url });
    try {
      await assert.rejects(reissueServiceToken(client, ADMIN, ENTITY, settings, capture().log), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR') && /policies/.test(err.message));
      entity = undefined;
      await assert.rejects(reissueServiceToken(client, ADMIN, ENTITY, settings, capture().log), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'STORE_ERROR'));
        assert.match(err.message, new RegExp(`no identity entity with id ${ENTITY}`));
        return true;
      });
      entity = { status: 403, body: { errors: ['permission denied'] } };
      await assert.rejects(reissueServiceToken(client, ADMIN, ENTITY, settings, capture().log), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR') && /denied/.test(err.message));
      entity = entityAnswer([{ name: 'core-data' }], ['edgex-service-core-data']);
      await assert.rejects(reissueServiceToken(client, ADMIN, ENTITY, settings, capture().log), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'STORE_ERROR'));
        assert.match(err.message, /HTTP 400 to auth\/token\/create\/core-data: invalid 'entity_alias' value/);
        return true;
      });
      // A 200 without a token does not replace the file either.
      create = { status: 200, body: { auth: { client_token: '' } } };
      await assert.rejects(reissueServiceToken(client, ADMIN, ENTITY, settings, capture().log), (err: unknown) => isSecretStoreError(err, 'STORE_ERROR'));
      assert.equal(await readFile(file, 'utf8'), 'OLD\n');
    } finally {
      await store.close();
    }
  });
});

test('an entity id that is not a UUID is refused before any request; bad settings are CONFIG errors', async () => {
  await withDir(async (_dir, settings) => {
    const store = await fakeStore(() => undefined);
    const client = new VaultClient({ address: store.url });
    try {
      for (const bad of ['', '../sys/seal', `${ENTITY}/x`, 'x'.repeat(36)]) {
        await assert.rejects(reissueServiceToken(client, ADMIN, bad, settings, capture().log), (err: unknown) => isSecretStoreError(err, 'USAGE'));
      }
      for (const s of [{ outputFilename: '../x' }, { outputFilename: '' }, { outputDir: '' }, { tokenTtl: '' }, { tokenTtl: '1h"' }]) {
        await assert.rejects(reissueServiceToken(client, ADMIN, ENTITY, { ...settings, ...s }, capture().log), (err: unknown) => isSecretStoreError(err, 'CONFIG'), JSON.stringify(s));
      }
      assert.equal(store.seen.length, 0);
    } finally {
      await store.close();
    }
  });
});

test('a token whose file cannot be written is revoked (revoke-self with that token) and the error is IO', async () => {
  await withDir(async (dir, settings) => {
    const created = createAnswer();
    const store = await fakeStore((s) => {
      if (s.method === 'GET') return entityAnswer([{ name: 'core-data' }], ['edgex-service-core-data']);
      if (s.path === 'auth/token/create/core-data') return created.answer;
      if (s.path === 'auth/token/revoke-self') return { status: 204 };
      return undefined;
    });
    // OutputDir is a file: the token folder cannot be made.
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'x');
    const { log, lines } = capture();
    try {
      await assert.rejects(reissueServiceToken(new VaultClient({ address: store.url }), ADMIN, ENTITY, { ...settings, outputDir: blocker }, log), (err: unknown) =>
        isSecretStoreError(err, 'IO'),
      );
      const revoke = store.seen.find((s) => s.path === 'auth/token/revoke-self');
      assert.ok(revoke);
      assert.equal(revoke.token, created.token);
      assertNoSecrets(lines.length > 0 ? lines : ['(no lines)'], [{ label: 'new token', value: Buffer.from(created.token) }]);
    } finally {
      await store.close();
    }
  });
});
