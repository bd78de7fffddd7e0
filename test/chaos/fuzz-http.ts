/**
 * Chaos part `fuzz-http` (with `fuzz-properties`, the part `fuzz`): generated requests against `serve` over raw TCP.
 *
 * Phase A (80 % of CHAOS_FUZZ_REQUESTS, default 10 000): methods (GET, LIST, HEAD, POST, PUT, PATCH, DELETE and
 * odd ones) × ~90 targets (canaries, sys/auth/identity endpoints, the narrow token's own area) × ~40 path tricks
 * (traversal plain and percent-encoded, double encoding, double slashes, case, trailing slashes, NUL, backslash,
 * overlong UTF-8, absolute form …) × token variants (none, garbage, revoked, expired, used up, orphan, narrow,
 * read-only, entity disabled, case-changed, truncated, duplicated, Bearer forms). Never the root token. Oracles:
 *   - no 2xx unless some plausible reading of the path (decoded 0–2 times, slashes collapsed, dot segments resolved,
 *     lower-cased) is one the token may use with that method (a model of its policies, the default policy and the
 *     unauthenticated endpoints) — else a bypass;
 *   - no response to a non-root request contains a canary value or a token the caller does not own;
 *   - state seen through the root token (canary secrets, policies, users, entities, OIDC keys, token roles, mounts,
 *     auth methods, token accessors, key listings outside the narrow area, the canary user's password) is the same
 *     before and after.
 * Phase B (20 %; at least the grid of every endpoint × 8 bodies, 304 requests): the root token against write
 *   endpoints (sandbox names) with malformed bodies: invalid JSON,
 *   invalid UTF-8, lone surrogates, deep nesting, wide objects, huge strings and keys, wrong types, extreme numbers,
 *   a 33 MiB body. Oracle: no 5xx (client mistakes), no crash, canaries intact.
 * Phase C: every ordered pair of request kinds (GET with and without body, HEAD, DELETE with and without body, POST,
 *   PUT with Content-Length, with a 64 KiB body and chunked, PATCH, LIST, GET ?list) pipelined in one TCP write, then again fragmented at random
 *   offsets, plus random triples: both answers, in order, as when sent alone, and their effects. Request smuggling
 *   attempts (Content-Length with Transfer-Encoding, duplicate lengths, obs-fold, bad chunk sizes, LF-only, LIST
 *   through the rewriter): the smuggled write never lands, at most one answer, connection closed.
 * Slow clients (CHAOS_FUZZ_SLOW_CLIENTS, 24, open during A–C): headers one line per second, bodies one byte per
 *   second, and the same after a LIST: the server must keep answering others and cut each one within its timeout plus
 *   Node's 30 s check interval plus 10 s (headers 60 s, bodies 100 s; CHAOS_FUZZ_SLOW_SECONDS, 100, bounds the wait).
 * Memory: a second, sealed `serve` gets 5 × 6 `PUT sys/unseal` with a 4 MiB key (hex, then base64): RSS may grow
 *   by at most 40 MiB over the last three batches (a kept key would add ≥ 72 MiB), and no 5xx.
 * Figures: requests, bypasses (0), 5xx (0), crashes (0), peak RSS (VmHWM) of serve.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { LeakScan, checkLeaks, scanServeAndRemove } from './lib/leaks.js';
import { RawConn, StoreClient, dataOf, rawRequest, type RawResponse } from './lib/http.js';
import { ServeProc, memoryOf } from './lib/procs.js';
import { createToken, expectOk, initStore, listKeys, must, unsealStore, type StoreKeys } from './lib/store.js';
import { Report, Rng, envInt, excerpt, onCleanup, percentile, runAsMain, seedFromEnv, sleep, type PartResult } from './lib/util.js';

export interface FuzzOptions {
  requests: number;
  concurrency: number;
  slowClients: number;
  slowSeconds: number;
  memoryProbe: boolean;
  pipelineTriples: number;
  seed: number;
}

export function optionsFromEnv(): FuzzOptions {
  return {
    requests: envInt('CHAOS_FUZZ_REQUESTS', 10_000),
    concurrency: Math.max(1, envInt('CHAOS_FUZZ_CONCURRENCY', 8)),
    slowClients: envInt('CHAOS_FUZZ_SLOW_CLIENTS', 24),
    slowSeconds: envInt('CHAOS_FUZZ_SLOW_SECONDS', 100),
    memoryProbe: envInt('CHAOS_FUZZ_MEMORY_PROBE', 1) === 1,
    pipelineTriples: envInt('CHAOS_FUZZ_PIPELINE_TRIPLES', 60),
    seed: seedFromEnv(),
  };
}

type Level = 'none' | 'narrow' | 'readonly';

/** A generated request. */
interface Req {
  label: string;
  /** What 5xx answers are grouped by (the label without the token variant). */
  group: string;
  method: string;
  target: string;
  headers: [string, string][];
  body?: Buffer;
  /** Access level of the token the store should see (phase A); undefined for root requests. */
  level?: Level;
}

/** The fuzz's store and identities. */
interface Ctx {
  serve: ServeProc;
  client: StoreClient;
  keys: StoreKeys;
  root: string;
  narrow: string;
  narrowAccessor: string;
  readonly: string;
  orphan: string;
  revoked: string;
  expired: string;
  usedUp: string;
  disabled: string;
  /** Values that no non-root request may ever see, and the level allowed to see each (undefined: none). */
  secrets: { value: string; label: string; readableBy?: Level }[];
  canaryUserPassword: string;
  report: Report;
  rng: Rng;
}

/** Running counts. */
interface Stats {
  sent: number;
  byStatus: Map<number, number>;
  fiveXX: Map<string, { count: number; status: number; error: string; repro: string }>;
  /** The same 5xx grouped by method, path and answer only (one failure per defect). */
  fiveXXByPath: Map<string, { count: number; example: string; repro: string }>;
  bypasses: { kind: string; detail: string; repro: string }[];
  hangs: { label: string; repro: string }[];
  /** Well-framed requests whose connection closed without any answer. */
  resets: Map<string, { count: number; repro: string }>;
  closedNoAnswer: number;
  crashes: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Requests as text, for failure reports

function maskTokens(ctx: Ctx, text: string): string {
  let t = text;
  const names: [string, string][] = [
    [ctx.root, '<root-token>'],
    [ctx.narrow, '<narrow-token>'],
    [ctx.readonly, '<readonly-token>'],
    [ctx.orphan, '<orphan-token>'],
    [ctx.revoked, '<revoked-token>'],
    [ctx.expired, '<expired-token>'],
    [ctx.usedUp, '<used-up-token>'],
    [ctx.disabled, '<disabled-entity-token>'],
  ];
  for (const [v, n] of names) if (v !== '') t = t.split(v).join(n).split(v.toUpperCase()).join(`${n}(upper-cased)`);
  return t;
}

/** A reproduction: the raw bytes (escaped, long runs shortened) to send with `printf … | nc`. */
function reproOf(ctx: Ctx, bytes: Buffer): string {
  let s = bytes.length > 600 ? Buffer.concat([bytes.subarray(0, 500), Buffer.from(`...(${bytes.length} bytes in all)...`), bytes.subarray(-60)]).toString('latin1') : bytes.toString('latin1');
  s = s.replace(/(.)\1{40,}/g, (m, c: string) => `[${c} x${m.length}]`);
  s = maskTokens(ctx, s).replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/'/g, "'\\''");
  s = Array.from(s, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 || code >= 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c;
  }).join('');
  return `printf '${s}' | nc 127.0.0.1 <port>`;
}

function bytesOf(r: Req): Buffer {
  return rawRequest(r.method, r.target, r.headers, r.body);
}

// ---------------------------------------------------------------------------------------------------------------
// The access model (phase A)

const UNAUTH_EXACT = new Set([
  'sys/health',
  'sys/seal-status',
  'sys/leader',
  'sys/init',
  'sys/unseal',
  'sys/generate-root/attempt',
  'sys/generate-root/update',
  'sys/rekey/init',
  'sys/rekey/update',
]);
const DEFAULT_POLICY_PREFIXES = [
  'auth/token/lookup-self',
  'auth/token/renew-self',
  'auth/token/revoke-self',
  'sys/capabilities-self',
  'sys/internal/ui/resultant-acl',
  'sys/renew',
  'sys/leases/renew',
  'sys/leases/lookup',
  'cubbyhole',
  'sys/wrapping/',
  'sys/tools/hash',
  'sys/control-group/request',
];

function isReadish(method: string): boolean {
  return ['GET', 'HEAD', 'LIST'].includes(method.toUpperCase());
}

/** Whether a token of `level` may get a 2xx for `method` on the API path `p` (permissive: no false alarms). */
function allowed(level: Level, method: string, p: string): boolean {
  const bare = p.replace(/\/+$/, '');
  if (UNAUTH_EXACT.has(bare) || bare.startsWith('auth/userpass/login/') || bare.startsWith('identity/oidc/.well-known/')) return true;
  if (level === 'none') return false;
  if (DEFAULT_POLICY_PREFIXES.some((d) => bare.startsWith(d.replace(/\/$/, '')))) return true;
  if (level === 'narrow') {
    if (p.startsWith('secret/narrow/forbidden/')) return false;
    if (bare === 'secret/narrow' || p.startsWith('secret/narrow/')) return true;
    if (p.startsWith('kv/data/narrow/') || p.startsWith('kv/metadata/narrow/') || bare === 'kv/metadata/narrow') return true;
    if (p.startsWith('sys/internal/ui/mounts/secret') || p.startsWith('sys/internal/ui/mounts/kv')) return true;
    return false;
  }
  if ((bare === 'secret/ro' || p.startsWith('secret/ro/')) && isReadish(method)) return true;
  return p.startsWith('sys/internal/ui/mounts/secret');
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Plausible API paths a raw request target could mean (see the module comment). */
function readings(target: string): string[] {
  let t = target;
  const abs = /^https?:\/\/[^/]*(\/.*)?$/i.exec(t);
  if (abs !== null) t = abs[1] ?? '/';
  t = t.split('#')[0] ?? '';
  t = t.split('?')[0] ?? '';
  const raws = new Set<string>([t]);
  let d: string | undefined = t;
  for (let i = 0; i < 2 && d !== undefined; i++) {
    d = safeDecode(d);
    if (d !== undefined) raws.add(d);
  }
  const out = new Set<string>();
  for (const r of raws) {
    for (const v of [r, r.toLowerCase(), r.replace(/\\/g, '/'), r.split(';')[0] ?? r, r.split('\0')[0] ?? r]) {
      if (!/^\/v1\//i.test(v)) continue;
      let p = v.slice(4).replace(/\/{2,}/g, '/').replace(/^\//, '');
      const trailing = p.endsWith('/');
      p = posix.normalize(p);
      if (p === '.' || p.startsWith('..')) continue;
      if (trailing && !p.endsWith('/')) p += '/';
      out.add(p);
      out.add(p.toLowerCase());
    }
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------------------------
// Generators

const TARGETS = [
  'secret/canary',
  'secret/narrow/forbidden/canary',
  'secret/narrow/forbidden/',
  'secret/ro/canary',
  'secret/ro/',
  'secret/narrow/x',
  'secret/narrow/',
  'secret/narrow',
  'secret/',
  'secret/other/x',
  'kv/data/canary',
  'kv/metadata/canary',
  'kv/delete/canary',
  'kv/undelete/canary',
  'kv/destroy/canary',
  'kv/subkeys/canary',
  'kv/data/narrow/x',
  'kv/metadata/narrow/',
  'kv/metadata/',
  'kv/config',
  'sys/policies/acl/canary-policy',
  'sys/policies/acl/narrow',
  'sys/policies/acl/default',
  'sys/policies/acl/root',
  'sys/policies/acl',
  'sys/policy/canary-policy',
  'sys/policy',
  'auth/userpass/users/canary-user',
  'auth/userpass/users/canary-user/password',
  'auth/userpass/users/canary-user/policies',
  'auth/userpass/users',
  'auth/userpass/login/canary-user',
  'identity/entity/name/canary-entity',
  'identity/entity/name',
  'identity/entity',
  'identity/entity/id',
  'identity/entity-alias',
  'identity/oidc/key/canary-key',
  'identity/oidc/key/canary-key/rotate',
  'identity/oidc/key',
  'identity/oidc/role/canary-role',
  'identity/oidc/token/canary-role',
  'identity/oidc/config',
  'identity/oidc/.well-known/keys',
  'identity/oidc/.well-known/openid-configuration',
  'auth/token/roles/canary-role',
  'auth/token/roles',
  'auth/token/create',
  'auth/token/create-orphan',
  'auth/token/create/canary-role',
  'auth/token/lookup',
  'auth/token/lookup-accessor',
  'auth/token/accessors',
  'auth/token/revoke-orphan',
  'auth/token/lookup-self',
  'auth/token/renew',
  'sys/mounts',
  'sys/mounts/secret',
  'sys/mounts/kv',
  'sys/mounts/newmount',
  'sys/mounts/secret/tune',
  'sys/auth',
  'sys/auth/userpass',
  'sys/auth/newauth',
  'sys/auth/userpass/tune',
  'sys/seal',
  'sys/step-down',
  'sys/remount',
  'sys/raw/core/mounts',
  'sys/internal/ui/mounts',
  'sys/internal/ui/mounts/secret',
  'sys/internal/ui/mounts/kv/canary',
  'sys/capabilities-self',
  'sys/capabilities',
  'sys/internal/ui/resultant-acl',
  'cubbyhole/x',
  'sys/tools/hash',
  ...UNAUTH_EXACT,
  'sys/key-status',
  'sys/rotate',
  'sys/host-info',
  'nonexistent/path',
  '',
];

function pct(c: string): string {
  return [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

type Trick = (p: string, rng: Rng, url: string) => string;
const TRICKS: [string, Trick][] = [
  ['plain', (p) => `/v1/${p}`],
  ['plain', (p) => `/v1/${p}`],
  ['plain', (p) => `/v1/${p}`],
  ['double-slash-front', (p) => `/v1//${p}`],
  ['double-slash-mid', (p) => `/v1/${p.replace('/', '//')}`],
  ['trailing-slash', (p) => `/v1/${p}/`],
  ['trailing-double-slash', (p) => `/v1/${p}//`],
  ['dot-segment', (p) => `/v1/./${p}`],
  ['dot-suffix', (p) => `/v1/${p}/.`],
  ['traversal', (p) => `/v1/secret/narrow/../../${p}`],
  ['traversal-in-mount', (p) => `/v1/secret/narrow/../${p.replace(/^secret\//, '')}`],
  ['traversal-deep', (p) => `/v1/secret/narrow/x/../../../${p}`],
  ['traversal-encoded', (p) => `/v1/secret/narrow/%2e%2e/%2e%2e/${p}`],
  ['traversal-encoded-upper', (p) => `/v1/secret/narrow/%2E%2E/%2E%2E/${p}`],
  ['traversal-encoded-slash', (p) => `/v1/secret/narrow/..%2f..%2f${p}`],
  ['traversal-mixed', (p) => `/v1/secret/narrow/.%2e/.%2e/${p}`],
  ['traversal-double-encoded', (p) => `/v1/secret/narrow/%252e%252e/%252e%252e/${p}`],
  ['narrow-prefix-encoded', (p) => `/v1/secret/narrow%2f..%2f..%2f${p}`],
  ['encoded-slash', (p) => `/v1/${p.split('/').join('%2F')}`],
  ['encoded-chars', (p, rng) => `/v1/${Array.from(p, (c) => (rng.chance(0.3) ? pct(c) : c)).join('')}`],
  ['double-encoded-chars', (p, rng) => `/v1/${Array.from(p, (c) => (rng.chance(0.3) ? `%25${c.charCodeAt(0).toString(16)}` : c)).join('')}`],
  ['upper-case', (p) => `/v1/${p.toUpperCase()}`],
  ['mixed-case', (p, rng) => `/v1/${Array.from(p, (c) => (rng.chance(0.5) ? c.toUpperCase() : c)).join('')}`],
  ['upper-v1', (p) => `/V1/${p}`],
  ['no-v1', (p) => `/${p}`],
  ['nul', (p) => `/v1/${p}%00`],
  ['nul-suffix', (p) => `/v1/${p}%00.json`],
  ['backslash', (p) => `/v1/${p.split('/').join('\\')}`],
  ['encoded-backslash', (p) => `/v1/${p.split('/').join('%5c')}`],
  ['semicolon', (p) => `/v1/${p};x=y`],
  ['fragment', (p) => `/v1/${p}#frag`],
  ['query-list', (p) => `/v1/${p}?list=true`],
  ['query-dup', (p) => `/v1/${p}?list=1&list=0&version=1`],
  ['absolute-form', (p, _r, url) => `${url}/v1/${p}`],
  ['overlong-utf8', (p) => `/v1/${p}%c0%af`],
  ['fullwidth-solidus', (p) => `/v1/${p.replace('/', '%ef%bc%8f')}`],
  ['zero-width', (p) => `/v1/${p}%e2%80%8b`],
  ['bad-percent', (p) => `/v1/${p}%zz`],
  ['space', (p) => `/v1/${p} x`],
  ['long-path', (p) => `/v1/${p}/${'a'.repeat(8000)}`],
  ['many-slashes', (p) => `/v1/${'/'.repeat(200)}${p}`],
];

const METHODS: [string, number][] = [
  ['GET', 20],
  ['LIST', 12],
  ['POST', 15],
  ['PUT', 15],
  ['DELETE', 10],
  ['PATCH', 6],
  ['HEAD', 6],
  ['OPTIONS', 2],
  ['TRACE', 1],
  ['list', 2],
  ['GeT', 1],
  ['PROPFIND', 1],
  ['CONNECT', 1],
];

function weighted<T>(rng: Rng, items: readonly [T, number][]): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let r = rng.float(0, total);
  for (const [v, w] of items) {
    r -= w;
    if (r < 0) return v;
  }
  return (items[items.length - 1] as [T, number])[0];
}

const WRITE_BODIES = [
  '{"v":"pwned"}',
  '{"data":{"v":"pwned"}}',
  '{"policy":"path \\"*\\" { capabilities = [\\"create\\",\\"read\\",\\"update\\",\\"delete\\",\\"list\\",\\"sudo\\"] }"}',
  '{"password":"pwned"}',
  '{"policies":["root"]}',
  '{"token_policies":["root"]}',
  '{"type":"kv"}',
  '{"disabled":false,"policies":["root"]}',
  '{"metadata":{"x":"pwned"}}',
  '{"algorithm":"RS256","allowed_client_ids":["*"]}',
  '{"key":"00"}',
  '{"reset":true}',
  '{"secret_shares":1,"secret_threshold":1}',
  '{"allowed_policies":["root"]}',
  '{"versions":[1]}',
  '{"paths":["secret/canary"]}',
  '{}',
  '',
];

/** Token header variants, with the level the store should see. */
function tokenVariants(ctx: Ctx): [string, [string, string][], Level][] {
  const garbage = `hvs.${randomBytes(18).toString('base64url').slice(0, 24)}`;
  return [
    ['none', [], 'none'],
    ['empty', [['X-Vault-Token', '']], 'none'],
    ['garbage', [['X-Vault-Token', garbage]], 'none'],
    ['garbage-long', [['X-Vault-Token', 'x'.repeat(10_000)]], 'none'],
    ['word-root', [['X-Vault-Token', 'root']], 'none'],
    ['narrow', [['X-Vault-Token', ctx.narrow]], 'narrow'],
    ['narrow', [['X-Vault-Token', ctx.narrow]], 'narrow'],
    ['narrow-bearer', [['Authorization', `Bearer ${ctx.narrow}`]], 'narrow'],
    ['narrow-bearer-lower', [['authorization', `bearer ${ctx.narrow}`]], 'narrow'],
    ['narrow-padded', [['X-Vault-Token', `  ${ctx.narrow}  `]], 'narrow'],
    ['narrow-upper', [['X-Vault-Token', ctx.narrow.toUpperCase()]], 'none'],
    ['narrow-truncated', [['X-Vault-Token', ctx.narrow.slice(0, -1)]], 'none'],
    ['narrow-extended', [['X-Vault-Token', `${ctx.narrow}x`]], 'none'],
    ['narrow-duplicated', [['X-Vault-Token', ctx.narrow], ['X-Vault-Token', garbage]], 'none'],
    ['garbage-x-narrow-bearer', [['X-Vault-Token', garbage], ['Authorization', `Bearer ${ctx.narrow}`]], 'none'],
    ['bearer-two-words', [['Authorization', `Bearer ${garbage} ${ctx.narrow}`]], 'none'],
    ['bearer-empty', [['Authorization', 'Bearer ']], 'none'],
    ['basic-auth', [['Authorization', `Basic ${Buffer.from('root:root').toString('base64')}`]], 'none'],
    ['accessor-as-token', [['X-Vault-Token', ctx.narrowAccessor]], 'none'],
    ['readonly', [['X-Vault-Token', ctx.readonly]], 'readonly'],
    ['orphan', [['X-Vault-Token', ctx.orphan]], 'narrow'],
    ['revoked', [['X-Vault-Token', ctx.revoked]], 'none'],
    ['expired', [['X-Vault-Token', ctx.expired]], 'none'],
    ['used-up', [['X-Vault-Token', ctx.usedUp]], 'none'],
    ['entity-disabled', [['X-Vault-Token', ctx.disabled]], 'none'],
  ];
}

function genPhaseA(ctx: Ctx, rng: Rng, variants: ReturnType<typeof tokenVariants>): Req {
  const [tokenName, headers, level] = rng.pick(variants);
  const target = rng.pick(TARGETS);
  const [trickName, trick] = rng.pick(TRICKS);
  const method = weighted(rng, METHODS);
  const hs: [string, string][] = [...headers];
  let body: Buffer | undefined;
  const upper = method.toUpperCase();
  if (upper === 'POST' || upper === 'PUT' || upper === 'PATCH' || (rng.chance(0.05) && upper !== 'CONNECT')) {
    body = Buffer.from(rng.pick(WRITE_BODIES));
    if (upper === 'PATCH' && rng.chance(0.7)) hs.push(['Content-Type', 'application/merge-patch+json']);
  }
  return {
    label: `A ${method} ${target || '(empty)'} ${trickName} ${tokenName}`,
    group: `A ${method} ${target || '(empty)'} ${trickName}`,
    method,
    target: trick(target, rng, ctx.serve.url),
    headers: hs,
    ...(body === undefined ? {} : { body }),
    level,
  };
}

function deepObject(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Malformed bodies for phase B (name, bytes, weight). */
function phaseBBodies(): [string, () => Buffer, number][] {
  const j = (v: unknown): (() => Buffer) => () => Buffer.from(JSON.stringify(v));
  const s = (t: string): (() => Buffer) => () => Buffer.from(t, 'utf8');
  return [
    ['empty', s(''), 4],
    ['empty-object', s('{}'), 8],
    ['null', s('null'), 3],
    ['array', s('[]'), 3],
    ['number', s('1'), 2],
    ['string', s('"x"'), 2],
    ['truncated', s('{"a":'), 3],
    ['trailing-garbage', s('{"a":1}}'), 3],
    ['nul-bytes', () => Buffer.alloc(16), 2],
    ['random-bytes', () => randomBytes(300), 3],
    ['invalid-utf8', () => Buffer.concat([Buffer.from('{"v":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('","key":"'), Buffer.from([0x80, 0x81]), Buffer.from('"}')]), 4],
    ['lone-surrogate', s('{"v":"\\ud800","key":"\\udfff","policy":"\\ud800","name":"\\udc00"}'), 3],
    ['bom', s('\ufeff{"v":1}'), 2],
    ['deep-object-1k', s(deepObject(1000)), 3],
    ['deep-object-20k', s(deepObject(20_000)), 3],
    ['deep-array-100k', s('['.repeat(100_000) + ']'.repeat(100_000)), 2],
    ['deep-data-5k', s(`{"data":${deepObject(5000)},"metadata":${deepObject(5000)},"policy":${deepObject(100)}}`), 3],
    ['wide-object', () => Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i])))), 1],
    ['long-key', () => Buffer.from(`{"${'k'.repeat(1_000_000)}":1}`), 1],
    ['huge-string', () => Buffer.from(JSON.stringify({ v: 'x'.repeat(5_000_000), data: { v: 'y'.repeat(100) } })), 1],
    ['huge-array', () => Buffer.from(JSON.stringify({ v: Array.from({ length: 300_000 }, (_, i) => i) })), 1],
    [
      'wrong-types',
      j({ policies: 5, ttl: {}, num_uses: 'x', data: 'x', metadata: [1], key: 7, secret_shares: 'a', secret_threshold: [], type: ['kv'], password: 12, token_policies: 'x', allowed_client_ids: 'x', algorithm: 5, rotation_period: -1, policy: 7, options: 'x', config: 5, versions: 'x', name: {}, id: 5, reset: 'yes', pgp_key: 5, nonce: [] }),
      6,
    ],
    ['wrong-types-2', j({ policies: [{}], meta: 'x', period: [], explicit_max_ttl: true, data: [1, 2], options: { cas: 'x' }, metadata: { a: { b: 1 } }, key: null, secret_shares: null, type: null, password: null, policy: null }), 5],
    ['negative-numbers', j({ secret_shares: -1, secret_threshold: -5, num_uses: -1, ttl: -10, max_versions: -1, version: -1, versions: [-1], period: -5, rotation_period: -1, verification_ttl: -1 }), 4],
    ['big-numbers', s('{"secret_shares":1e308,"secret_threshold":9007199254740993,"ttl":1e999,"num_uses":99999999999999999999,"max_versions":1e20,"versions":[1e30],"period":1e30}'), 4],
    ['string-numbers', j({ secret_shares: '3', secret_threshold: '2', ttl: '1e9h', period: '999999999999h', num_uses: '1', max_versions: '2', rotation_period: '99999999h' }), 3],
    ['proto-pollution', s('{"__proto__":{"admin":true,"policies":["root"]},"constructor":{"prototype":{"x":1}},"data":{"__proto__":{"x":1}}}'), 3],
    ['unseal-garbage', j({ key: 'zz' }), 2],
    ['unseal-long-hex', j({ key: 'ab'.repeat(100_000) }), 2],
    ['unseal-huge-key', j({ key: 'a'.repeat(4 * 1024 * 1024) }), 1],
    ['over-seal-limit', j({ key: 'a'.repeat(1024 * 1024), reset: true }), 1],
    ['hcl-garbage', j({ policy: 'path "x" { capabilities = [' }), 3],
    ['hcl-deep', j({ policy: '{'.repeat(10_000) }), 2],
    ['hcl-deep-brackets', j({ policy: `path "x" { capabilities = ${'['.repeat(10_000)} }` }), 2],
    ['hcl-huge', j({ policy: 'path "a/*" { capabilities = ["read"] }\n'.repeat(50_000) }), 1],
    ['json-policy-deep', j({ policy: deepObject(5000) }), 2],
    ['many-policies', j({ policies: Array.from({ length: 10_000 }, (_, i) => `p${i}`), token_policies: Array.from({ length: 10_000 }, (_, i) => `p${i}`) }), 1],
    ['bad-durations', j({ ttl: '1y', period: '-1s', explicit_max_ttl: '9999999999999999h', rotation_period: 'abc', verification_ttl: '1e9', max_ttl: 'P1D', token_ttl: '1h1h' }), 3],
    ['bad-names', j({ name: '../../etc', id: '../x', mount_accessor: '../', canonical_id: '%00', path: '..', type: '../kv' }), 3],
    ['too-large', () => Buffer.alloc(33 * 1024 * 1024 + 1, 0x20), 0.15],
  ];
}

/** Write endpoints for phase B (root, sandbox names). */
function phaseBTargets(n: number): [string, string][] {
  return [
    ['PUT', 'sys/rekey/init'],
    ['PUT', 'sys/rekey/update'],
    ['PUT', 'sys/unseal'],
    ['PUT', 'sys/init'],
    ['PUT', 'sys/generate-root/attempt'],
    ['PUT', 'sys/generate-root/update'],
    ['POST', 'auth/token/create'],
    ['POST', 'auth/token/create-orphan'],
    ['POST', 'auth/token/lookup'],
    ['POST', 'auth/token/lookup-accessor'],
    ['POST', 'auth/token/renew'],
    ['POST', 'auth/token/revoke-accessor'],
    ['POST', `sys/mounts/fz-m${n}`],
    ['POST', 'sys/mounts/fz-m/tune'],
    ['POST', `sys/auth/fz-a${n}`],
    ['PUT', `sys/policies/acl/fz-p${n}`],
    ['PUT', `sys/policy/fz-p${n}`],
    ['PUT', `secret/fz/${n}`],
    ['POST', `kv/data/fz/${n}`],
    ['PATCH', `kv/data/fz/${n}`],
    ['POST', `kv/metadata/fz/${n}`],
    ['POST', `kv/delete/fz/${n}`],
    ['POST', `kv/undelete/fz/${n}`],
    ['POST', `kv/destroy/fz/${n}`],
    ['POST', `auth/userpass/users/fz-u${n}`],
    ['POST', `auth/userpass/login/fz-u${n}`],
    ['POST', 'identity/entity'],
    ['POST', `identity/entity/name/fz-e${n}`],
    ['POST', 'identity/entity-alias'],
    ['POST', `identity/oidc/key/fz-k${n}`],
    ['POST', `identity/oidc/role/fz-r${n}`],
    ['POST', 'identity/oidc/introspect'],
    ['POST', `auth/token/roles/fz-r${n}`],
    ['POST', `auth/token/create/fz-r${n}`],
    ['POST', 'sys/capabilities-self'],
    ['POST', 'sys/capabilities'],
    ['POST', 'sys/tools/hash'],
    ['PUT', `cubbyhole/fz${n}`],
  ];
}

/** Bodies every phase-B target gets once, whatever the sizes (so that short runs meet the same defects). */
const GRID_BODIES = ['empty-object', 'invalid-utf8', 'lone-surrogate', 'wrong-types', 'deep-object-20k', 'deep-data-5k', 'unseal-long-hex', 'over-seal-limit'];

/** The grid of every phase-B target with each of {@link GRID_BODIES}, then random (target, body) pairs. */
function genPhaseB(ctx: Ctx, rng: Rng, n: number, bodies: ReturnType<typeof phaseBBodies>): Req {
  const targets = phaseBTargets(n % 50);
  const gridSize = targets.length * GRID_BODIES.length;
  let method: string;
  let path: string;
  let bodyName: string;
  let make: () => Buffer;
  if (n < gridSize) {
    [method, path] = targets[n % targets.length] as [string, string];
    const name = GRID_BODIES[Math.floor(n / targets.length)] as string;
    const found = bodies.find(([b]) => b === name);
    if (found === undefined) throw new Error(`no body ${name}`);
    [bodyName, make] = found;
  } else {
    [method, path] = rng.pick(targets);
    [bodyName, make] = weighted(rng, bodies.map(([name, f, w]) => [[name, f] as const, w]));
  }
  const hs: [string, string][] = [['X-Vault-Token', ctx.root]];
  if (method === 'PATCH') hs.push(['Content-Type', 'application/merge-patch+json']);
  const label = `B ${method} ${path.replace(/fz-?[a-z]?\d+|\/\d+$/g, (m) => m.replace(/\d+/, '<n>'))} ${bodyName}`;
  return { label, group: label, method, target: `/v1/${path}`, headers: hs, body: make() };
}

// ---------------------------------------------------------------------------------------------------------------
// Setup and state

async function setUp(ctx0: { serve: ServeProc; client: StoreClient; report: Report; rng: Rng }, scan: LeakScan): Promise<Ctx> {
  const c = ctx0.client;
  const keys = await initStore(c, 3, 2);
  await unsealStore(c, keys.keys);
  const root = keys.rootToken;
  const T = { token: root };
  await must(c, 'POST', 'sys/mounts/secret', { ...T, body: { type: 'kv', options: { version: '1' } } });
  await must(c, 'POST', 'sys/mounts/kv', { ...T, body: { type: 'kv', options: { version: '2' } } });
  await must(c, 'POST', 'sys/auth/userpass', { ...T, body: { type: 'userpass' } });
  await must(c, 'PUT', 'sys/policies/acl/narrow', {
    ...T,
    body: {
      policy: [
        'path "secret/narrow/*" { capabilities = ["create", "read", "update", "delete", "list"] }',
        'path "secret/narrow/forbidden/*" { capabilities = ["deny"] }',
        'path "kv/data/narrow/*" { capabilities = ["create", "read", "update", "delete", "patch"] }',
        'path "kv/metadata/narrow/*" { capabilities = ["read", "list", "delete"] }',
      ].join('\n'),
    },
  });
  await must(c, 'PUT', 'sys/policies/acl/readonly', { ...T, body: { policy: 'path "secret/ro/*" { capabilities = ["read", "list"] }' } });
  await must(c, 'PUT', 'sys/policies/acl/canary-policy', { ...T, body: { policy: 'path "secret/canary" { capabilities = ["read"] }' } });
  const cv = (): string => `cnry${randomBytes(12).toString('hex')}`;
  const secrets: Ctx['secrets'] = [];
  const canary = async (path: string, body: Record<string, unknown>, value: string, readableBy?: Level): Promise<void> => {
    await must(c, 'PUT', path, { ...T, body });
    secrets.push(readableBy === undefined ? { value, label: `canary ${path}` } : { value, label: `canary ${path}`, readableBy });
  };
  let v = cv();
  await canary('secret/canary', { v }, v);
  v = cv();
  await canary('secret/narrow/forbidden/canary', { v }, v);
  v = cv();
  await canary('secret/ro/canary', { v }, v, 'readonly');
  v = cv();
  await canary('kv/data/canary', { data: { v } }, v);
  await must(c, 'PUT', 'secret/narrow/x', { ...T, body: { v: 'narrow-own' } });
  await must(c, 'PUT', 'kv/data/narrow/x', { ...T, body: { data: { v: 'narrow-own' } } });
  await must(c, 'PUT', 'secret/other/x', { ...T, body: { v: 'other' } });
  const canaryUserPassword = `pw-${randomBytes(12).toString('hex')}`;
  await must(c, 'POST', 'auth/userpass/users/canary-user', { ...T, body: { password: canaryUserPassword, token_policies: ['canary-policy'] } });
  await must(c, 'POST', 'identity/entity/name/canary-entity', { ...T, body: { metadata: { v: 'canary' }, policies: ['canary-policy'] } });
  await must(c, 'POST', 'identity/oidc/key/canary-key', { ...T, body: { algorithm: 'ES256', allowed_client_ids: ['canary'] } });
  await must(c, 'POST', 'identity/oidc/role/canary-role', { ...T, body: { key: 'canary-key', client_id: 'canary-client' } });
  await must(c, 'POST', 'auth/token/roles/canary-role', { ...T, body: { allowed_policies: ['canary-policy'], orphan: false } });
  // A first login creates the user's entity: do it now, so that the snapshots' own logins change nothing.
  const first = await must(c, 'POST', 'auth/userpass/login/canary-user', { body: { password: canaryUserPassword } });
  const firstToken = (first.body as { auth?: { client_token?: string } }).auth?.client_token;
  if (firstToken !== undefined) await c.api('POST', 'auth/token/revoke-self', { token: firstToken });
  // Identities.
  const narrowT = await createToken(c, root, { policies: ['narrow'], ttl: '24h' });
  const readonly = (await createToken(c, root, { policies: ['readonly'], ttl: '24h' })).token;
  const orphan = (await createToken(c, root, { policies: ['narrow'], ttl: '24h' }, 'auth/token/create-orphan')).token;
  const revoked = (await createToken(c, root, { policies: ['narrow'], ttl: '24h' })).token;
  await must(c, 'POST', 'auth/token/revoke', { ...T, body: { token: revoked } });
  const expired = (await createToken(c, root, { policies: ['narrow'], ttl: '1s' })).token;
  const usedUp = (await createToken(c, root, { policies: ['narrow'], ttl: '24h', num_uses: 1 })).token;
  await c.api('GET', 'auth/token/lookup-self', { token: usedUp });
  const dpw = `pw-${randomBytes(8).toString('hex')}`;
  await must(c, 'POST', 'auth/userpass/users/fz-disabled', { ...T, body: { password: dpw, token_policies: ['narrow'] } });
  const login = await must(c, 'POST', 'auth/userpass/login/fz-disabled', { body: { password: dpw } });
  const la = (login.body as { auth?: { client_token?: string; entity_id?: string } }).auth;
  if (la?.client_token === undefined || la.entity_id === undefined) throw new Error('userpass login: no token');
  await must(c, 'POST', `identity/entity/id/${la.entity_id}`, { ...T, body: { disabled: true } });
  await sleep(1300); // the 1 s token expires; one use makes the store revoke it now, not during phase A
  await c.api('GET', 'auth/token/lookup-self', { token: expired });
  const ctx: Ctx = {
    ...ctx0,
    keys,
    root,
    narrow: narrowT.token,
    narrowAccessor: narrowT.accessor,
    readonly,
    orphan,
    revoked,
    expired,
    usedUp,
    disabled: la.client_token,
    secrets,
    canaryUserPassword,
  };
  for (const [label, t] of [
    ['root token', root],
    ['narrow token', ctx.narrow],
    ['readonly token', readonly],
    ['orphan token', orphan],
    ['revoked token', revoked],
    ['expired token', expired],
    ['used-up token', usedUp],
    ['entity-disabled token', ctx.disabled],
  ] as const) {
    scan.addSecret(label, t);
  }
  keys.keys.forEach((k, i) => {
    scan.addSecret(`unseal key ${i}`, Buffer.from(k, 'hex'));
  });
  scan.addSecret('canary-user password', canaryUserPassword);
  // Tokens a non-root caller must never see (besides its own).
  secrets.push({ value: root, label: 'root token' }, { value: readonly, label: 'readonly token', readableBy: 'readonly' });
  return ctx;
}

/** Everything the root token sees that a non-root request must not change. */
async function snapshot(ctx: Ctx): Promise<Map<string, string>> {
  const c = ctx.client;
  const T = { token: ctx.root };
  const snap = new Map<string, string>();
  const get = async (path: string): Promise<void> => {
    const r = await c.api('GET', path, T);
    const d = dataOf(r) ?? {};
    delete d.last_update_time;
    snap.set(`GET ${path}`, `${r.status} ${JSON.stringify(d)}`);
  };
  for (const p of [
    'secret/canary',
    'secret/narrow/forbidden/canary',
    'secret/ro/canary',
    'secret/other/x',
    'kv/data/canary',
    'kv/metadata/canary',
    'kv/config',
    'sys/policies/acl/canary-policy',
    'sys/policies/acl/narrow',
    'sys/policies/acl/readonly',
    'sys/policies/acl/default',
    'auth/userpass/users/canary-user',
    'auth/userpass/users/fz-disabled',
    'identity/entity/name/canary-entity',
    'identity/oidc/key/canary-key',
    'identity/oidc/role/canary-role',
    'identity/oidc/config',
    'auth/token/roles/canary-role',
    'sys/seal-status',
  ]) {
    await get(p);
  }
  const mounts = await c.api('GET', 'sys/mounts', T);
  snap.set('sys/mounts', Object.keys(dataOf(mounts) ?? {}).sort().join(','));
  const auths = await c.api('GET', 'sys/auth', T);
  snap.set('sys/auth', Object.keys(dataOf(auths) ?? {}).sort().join(','));
  for (const p of ['sys/policies/acl', 'auth/userpass/users', 'identity/entity/name', 'identity/oidc/key', 'identity/oidc/role', 'auth/token/roles', 'auth/token/accessors', 'kv/metadata/']) {
    snap.set(`LIST ${p}`, (await listKeys(c, p, ctx.root)).filter((k) => k !== 'narrow/').sort().join(','));
  }
  const walk = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    for (const k of await listKeys(c, prefix, ctx.root)) {
      const full = `${prefix}${k}`;
      if (full === 'secret/narrow/') out.push(...(await walk('secret/narrow/forbidden/')).map((x) => x));
      else if (k.endsWith('/')) out.push(...(await walk(full)));
      else out.push(full);
    }
    return out;
  };
  snap.set('secret/ keys', (await walk('secret/')).sort().join(','));
  const login = await c.api('POST', 'auth/userpass/login/canary-user', { body: { password: ctx.canaryUserPassword } });
  snap.set('canary-user login', String(login.status));
  if (login.status === 200) {
    const t = (login.body as { auth?: { client_token?: string; accessor?: string } }).auth;
    if (t?.client_token !== undefined) await c.api('POST', 'auth/token/revoke-self', { token: t.client_token });
  }
  return snap;
}

// ---------------------------------------------------------------------------------------------------------------
// Running requests

/** A worker's connection, reopened when the server closes it. */
class Lane {
  private conn: RawConn | undefined;
  readonly recent: string[] = [];
  private readonly ctx: Ctx;
  constructor(ctx: Ctx) {
    this.ctx = ctx;
  }

  async exchange(bytes: Buffer, method: string, timeoutMs: number): Promise<{ response?: RawResponse; closed: boolean; timedOut: boolean }> {
    if (this.conn === undefined || this.conn.closed) {
      this.conn?.destroy();
      this.conn = await RawConn.connect(this.ctx.serve.url);
    }
    const conn = this.conn;
    this.recent.push(reproOf(this.ctx, bytes).slice(0, 400));
    if (this.recent.length > 5) this.recent.shift();
    await conn.send(bytes);
    const ex = await conn.read([method.toUpperCase() === 'HEAD' ? 'HEAD' : method], timeoutMs);
    const response = ex.responses[0];
    if (response !== undefined && /close/i.test(response.headers.connection ?? '')) {
      conn.destroy();
      this.conn = undefined;
    }
    if (ex.timedOut || ex.closed) {
      conn.destroy();
      this.conn = undefined;
    }
    return { ...(response === undefined ? {} : { response }), closed: ex.closed, timedOut: ex.timedOut };
  }

  close(): void {
    this.conn?.destroy();
  }
}

/** Brings serve back after a crash (restart + unseal); records the crash with the lanes' last requests. */
async function recoverFromCrash(ctx: Ctx, stats: Stats, lanes: Lane[]): Promise<boolean> {
  if (ctx.serve.alive) return false;
  const crash = ctx.serve.crashes.at(-1);
  stats.crashes.push(`${crash === undefined ? 'serve gone' : `exit ${String(crash.code ?? crash.signal)}: ${excerpt(crash.tail, 200)}`}; last requests: ${lanes.flatMap((l) => l.recent.slice(-1)).join(' || ')}`);
  await ctx.serve.restart();
  await unsealStore(ctx.client, ctx.keys.keys);
  return true;
}

let restarting: Promise<boolean> | undefined;

async function runOne(ctx: Ctx, lane: Lane, req: Req, stats: Stats, lanes: Lane[]): Promise<void> {
  const bytes = bytesOf(req);
  let result;
  try {
    result = await lane.exchange(bytes, req.method, bytes.length > 1_000_000 ? 60_000 : 15_000);
  } catch {
    // connect failed: serve down?
    restarting ??= recoverFromCrash(ctx, stats, lanes).finally(() => {
      restarting = undefined;
    });
    await restarting;
    return;
  }
  stats.sent++;
  if (result.response === undefined) {
    if (result.timedOut) stats.hangs.push({ label: req.label, repro: reproOf(ctx, bytes) });
    else {
      stats.closedNoAnswer++;
      // A well-framed request (phase B) must get an answer, even a refusal, before the connection is closed.
      if (req.level === undefined) {
        const g = stats.resets.get(req.group);
        if (g === undefined) stats.resets.set(req.group, { count: 1, repro: reproOf(ctx, bytes) });
        else g.count++;
      }
    }
    if (!ctx.serve.alive) {
      restarting ??= recoverFromCrash(ctx, stats, lanes).finally(() => {
        restarting = undefined;
      });
      await restarting;
    }
    return;
  }
  const { status, body } = result.response;
  stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
  if (status >= 500) {
    const error = excerpt(body.toString('utf8'), 120);
    const key = `${req.group} → ${status} ${error}`;
    const g = stats.fiveXX.get(key);
    if (g === undefined) stats.fiveXX.set(key, { count: 1, status, error, repro: reproOf(ctx, bytes) });
    else g.count++;
    const where = `${req.method.toUpperCase()} ${(readings(req.target)[0] ?? req.target).replace(/\d+/g, '<n>')} → ${status} ${error}`;
    const d = stats.fiveXXByPath.get(where);
    if (d === undefined) stats.fiveXXByPath.set(where, { count: 1, example: req.label, repro: reproOf(ctx, bytes) });
    else d.count++;
  }
  if (req.level !== undefined) {
    const text = body.toString('latin1');
    if (status >= 200 && status < 300) {
      const paths = readings(req.target);
      if (!paths.some((p) => allowed(req.level as Level, req.method, p))) {
        stats.bypasses.push({ kind: '2xx without the capability', detail: `${req.label} → ${status} (paths read as: ${paths.slice(0, 3).join(' | ')})`, repro: reproOf(ctx, bytes) });
      }
    }
    for (const s of ctx.secrets) {
      if (s.readableBy !== undefined && s.readableBy === req.level) continue;
      if (text.includes(s.value)) stats.bypasses.push({ kind: 'secret in a response', detail: `${s.label} in the answer to ${req.label} (${status})`, repro: reproOf(ctx, bytes) });
    }
    if (req.level !== 'narrow' && text.includes(ctx.narrow)) stats.bypasses.push({ kind: 'secret in a response', detail: `narrow token in the answer to ${req.label}`, repro: reproOf(ctx, bytes) });
  }
}

async function runPhase(ctx: Ctx, count: number, concurrency: number, gen: (i: number) => Req, stats: Stats): Promise<void> {
  const lanes = Array.from({ length: concurrency }, () => new Lane(ctx));
  let next = 0;
  await Promise.all(
    lanes.map(async (lane) => {
      for (;;) {
        const i = next++;
        if (i >= count) break;
        await runOne(ctx, lane, gen(i), stats, lanes);
      }
      lane.close();
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Phase C: pipelining and smuggling

interface Kind {
  name: string;
  method: string;
  build: (n: number) => { target: string; headers: [string, string][]; body?: Buffer; chunked?: boolean };
  /** Checks the effect after the exchange (undefined = nothing to check). */
  effect?: (n: number) => Promise<string | undefined>;
  /** Checks the answer's body (undefined = fine). */
  answer?: (r: RawResponse) => string | undefined;
}

function chunked(body: Buffer): Buffer {
  const half = Math.floor(body.length / 2);
  const parts = [body.subarray(0, half), body.subarray(half)].filter((p) => p.length > 0);
  return Buffer.concat([...parts.flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')]);
}

function pipelineKinds(ctx: Ctx): Kind[] {
  const T: [string, string] = ['X-Vault-Token', ctx.root];
  const c = ctx.client;
  const valueAt = async (path: string): Promise<string | undefined> => {
    const r = await c.api('GET', path, { token: ctx.root });
    return r.status === 200 ? String(dataOf(r)?.v) : undefined;
  };
  const wrote = (prefix: string) => async (n: number): Promise<string | undefined> => {
    const v = await valueAt(`secret/pp/${prefix}-${n}`);
    return v === String(n) ? undefined : `secret/pp/${prefix}-${n} holds ${String(v)} instead of ${n}`;
  };
  const gone = async (n: number): Promise<string | undefined> => ((await valueAt(`secret/pp/d-${n}`)) === undefined ? undefined : `secret/pp/d-${n} still exists after DELETE`);
  const readsR = (r: RawResponse): string | undefined => (r.body.toString().includes('"v":"r"') ? undefined : `GET answer lacks the value: ${excerpt(r.body.toString(), 80)}`);
  const lists = (r: RawResponse): string | undefined => (r.body.toString().includes('"keys":[') ? undefined : `LIST answer lacks keys: ${excerpt(r.body.toString(), 80)}`);
  const body = (n: number): Buffer => Buffer.from(JSON.stringify({ v: String(n) }));
  return [
    { name: 'GET', method: 'GET', build: () => ({ target: '/v1/secret/pp/r', headers: [T] }), answer: readsR },
    { name: 'GET+body', method: 'GET', build: () => ({ target: '/v1/secret/pp/r', headers: [T, ['Content-Type', 'application/json']], body: Buffer.from('{}') }), answer: readsR },
    { name: 'HEAD', method: 'HEAD', build: () => ({ target: '/v1/sys/health', headers: [T] }) },
    { name: 'DELETE', method: 'DELETE', build: (n) => ({ target: `/v1/secret/pp/d-${n}`, headers: [T] }), effect: gone },
    { name: 'DELETE+body', method: 'DELETE', build: (n) => ({ target: `/v1/secret/pp/d-${n}`, headers: [T], body: Buffer.from('{}') }), effect: gone },
    { name: 'POST', method: 'POST', build: (n) => ({ target: `/v1/secret/pp/p-${n}`, headers: [T], body: body(n) }), effect: wrote('p') },
    { name: 'PUT', method: 'PUT', build: (n) => ({ target: `/v1/secret/pp/u-${n}`, headers: [T], body: body(n) }), effect: wrote('u') },
    { name: 'PUT-64k', method: 'PUT', build: (n) => ({ target: `/v1/secret/pp/b-${n}`, headers: [T], body: Buffer.from(JSON.stringify({ v: String(n), pad: 'p'.repeat(65_536) })) }), effect: wrote('b') },
    { name: 'PUT-chunked', method: 'PUT', build: (n) => ({ target: `/v1/secret/pp/c-${n}`, headers: [T, ['Transfer-Encoding', 'chunked']], body: chunked(body(n)), chunked: true }), effect: wrote('c') },
    {
      name: 'PATCH',
      method: 'PATCH',
      build: (n) => ({ target: '/v1/kv/data/pp/patch', headers: [T, ['Content-Type', 'application/merge-patch+json']], body: Buffer.from(JSON.stringify({ data: { x: String(n) } })) }),
    },
    { name: 'LIST', method: 'LIST', build: () => ({ target: '/v1/secret/pp/', headers: [T] }), answer: lists },
    { name: 'GET?list', method: 'GET', build: () => ({ target: '/v1/secret/pp/?list=true', headers: [T] }), answer: lists },
  ];
}

function kindBytes(k: Kind, n: number): Buffer {
  const b = k.build(n);
  return rawRequest(k.method, b.target, b.headers, b.body);
}

async function prepareKind(ctx: Ctx, n: number): Promise<void> {
  await must(ctx.client, 'PUT', `secret/pp/d-${n}`, { token: ctx.root, body: { v: 'd' } });
}

async function pipelining(ctx: Ctx, report: Report, triples: number): Promise<number> {
  const c = ctx.client;
  await must(c, 'PUT', 'secret/pp/r', { token: ctx.root, body: { v: 'r' } });
  await must(c, 'POST', 'kv/data/pp/patch', { token: ctx.root, body: { data: { x: '0' } } });
  const kinds = pipelineKinds(ctx);
  let n = 1;
  // Baselines: each kind alone on a fresh connection.
  const expected = new Map<string, number>();
  for (const k of kinds) {
    await prepareKind(ctx, n);
    const conn = await RawConn.connect(ctx.serve.url);
    await conn.send(kindBytes(k, n));
    const ex = await conn.read([k.method]);
    conn.destroy();
    const status = ex.responses[0]?.status ?? 0;
    expected.set(k.name, status);
    if (status < 200 || status > 299) report.fail('each pipelined request kind works alone', `${k.name} alone → ${status} ${excerpt(ex.responses[0]?.body.toString() ?? '', 100)}`);
    n++;
  }
  let exchanges = 0;
  const failuresByPair = new Map<string, { count: number; detail: string; repro: string }>();
  const run = async (seq: Kind[], fragmented: boolean, rng: Rng): Promise<void> => {
    const ns: number[] = [];
    for (let i = 0; i < seq.length; i++) {
      await prepareKind(ctx, n);
      ns.push(n++);
    }
    const parts = seq.map((k, i) => kindBytes(k, ns[i] ?? 0));
    const all = Buffer.concat(parts);
    const splits = fragmented ? [rng.int(1, all.length - 1), rng.int(1, all.length - 1), rng.int(1, all.length - 1)] : [];
    const conn = await RawConn.connect(ctx.serve.url);
    await conn.send(all, splits);
    const ex = await conn.read(seq.map((k) => k.method), 8000);
    conn.destroy();
    exchanges++;
    const problems: string[] = [];
    if (ex.responses.length !== seq.length) problems.push(`${ex.responses.length} of ${seq.length} answers${ex.timedOut ? ' (timed out)' : ''}${ex.closed ? ' (connection closed)' : ''}`);
    seq.forEach((k, i) => {
      const r = ex.responses[i];
      if (r === undefined) return;
      if (r.status !== expected.get(k.name)) problems.push(`${k.name} answered ${r.status} (alone: ${String(expected.get(k.name))}) ${excerpt(r.body.toString(), 80)}`);
      else {
        const bad = k.answer?.(r);
        if (bad !== undefined) problems.push(`${k.name}: ${bad}`);
      }
    });
    for (const [i, k] of seq.entries()) {
      const bad = await k.effect?.(ns[i] ?? 0);
      if (bad !== undefined) problems.push(`${k.name}: ${bad}`);
    }
    if (problems.length > 0) {
      const key = `${seq.map((k) => k.name).join(' + ')}${fragmented ? ' (fragmented)' : ''}`;
      const g = failuresByPair.get(key);
      if (g === undefined) failuresByPair.set(key, { count: 1, detail: problems.join('; '), repro: reproOf(ctx, all) });
      else g.count++;
    }
  };
  const rng = ctx.rng.fork(777);
  for (const a of kinds) for (const b of kinds) await run([a, b], false, rng);
  for (const a of kinds) for (const b of kinds) await run([a, b], true, rng);
  for (let i = 0; i < triples; i++) await run([rng.pick(kinds), rng.pick(kinds), rng.pick(kinds)], rng.chance(0.5), rng);
  for (const [pair, g] of failuresByPair) report.fail('pipelined requests are answered in order as when sent alone', `${pair}: ${g.detail}${g.count > 1 ? ` (×${g.count})` : ''}`, g.repro);
  report.check('pipelining: sequences answered wrongly', `${failuresByPair.size} distinct of ${exchanges} sent (${kinds.length}² pairs whole and fragmented, ${triples} triples)`, '= 0', failuresByPair.size === 0);
  return exchanges * 2;
}

async function smuggling(ctx: Ctx, report: Report): Promise<number> {
  const c = ctx.client;
  let sent = 0;
  const failures: string[] = [];
  const variants: [string, (inner: Buffer, outerPath: string) => Buffer][] = [];
  const head = (method: string, path: string, extra: string[]): string => [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `X-Vault-Token: ${ctx.root}`, 'Content-Type: application/json', ...extra].join('\r\n') + '\r\n\r\n';
  const zero = '0\r\n\r\n';
  for (const method of ['POST', 'LIST']) {
    variants.push(
      [`${method} CL+TE`, (inner, p) => Buffer.concat([Buffer.from(head(method, p, [`Content-Length: ${zero.length + inner.length}`, 'Transfer-Encoding: chunked']) + zero), inner])],
      [`${method} TE+CL`, (inner, p) => Buffer.concat([Buffer.from(head(method, p, ['Transfer-Encoding: chunked', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
      [`${method} CL+CL`, (inner, p) => Buffer.concat([Buffer.from(head(method, p, ['Content-Length: 0', `Content-Length: ${inner.length}`])), inner])],
      [`${method} CL list`, (inner, p) => Buffer.concat([Buffer.from(head(method, p, [`Content-Length: 0, ${inner.length}`])), inner])],
      [`${method} TE tab + CL`, (inner, p) => Buffer.concat([Buffer.from(head(method, p, ['Transfer-Encoding:\tchunked', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
    );
  }
  variants.push(
    ['TE chunked, identity + CL', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding: chunked, identity', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
    ['TE identity, chunked + CL', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding: identity, chunked', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
    ['TE obs-fold + CL', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding:', ' chunked', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
    ['TE space before colon + CL', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding : chunked', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
    ['TE xchunked + CL', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding: xchunked', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
    ['two TE headers + CL', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity', `Content-Length: ${zero.length + inner.length}`]) + zero), inner])],
    ['CL plus sign', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, [`Content-Length: +${inner.length}`])), inner])],
    ['CL hex', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, [`Content-Length: 0x${inner.length.toString(16)}`])), inner])],
    ['CL negative', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Content-Length: -1'])), inner])],
    ['chunk size overflow', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding: chunked']) + 'ffffffffffffffffffff\r\n'), inner])],
    ['chunk size 0x prefix', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, ['Transfer-Encoding: chunked']) + `0x${inner.length.toString(16)}\r\n`), inner, Buffer.from('\r\n0\r\n\r\n')])],
    ['LF-only CL+TE', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, [`Content-Length: ${zero.length + inner.length}`, 'Transfer-Encoding: chunked']).replace(/\r\n/g, '\n') + zero), inner])],
    ['bare CR in header', (inner, p) => Buffer.concat([Buffer.from(head('POST', p, [`X-A: a\rContent-Length: ${inner.length}`])), inner])],
    ['LIST then CL+TE', (inner, p) => Buffer.concat([Buffer.from(head('LIST', '/v1/secret/pp/', [])), Buffer.from(head('POST', p, [`Content-Length: ${zero.length + inner.length}`, 'Transfer-Encoding: chunked']) + zero), inner])],
    ['LIST then CL+CL', (inner, p) => Buffer.concat([Buffer.from(head('LIST', '/v1/secret/pp/', [])), Buffer.from(head('POST', p, ['Content-Length: 0', `Content-Length: ${inner.length}`])), inner])],
  );
  for (const [i, [name, build]] of variants.entries()) {
    const key = `secret/narrow/smuggled-${i}`;
    const inner = rawRequest('PUT', `/v1/${key}`, [['X-Vault-Token', ctx.narrow]], '{"v":"smuggled"}');
    const bytes = build(inner, `/v1/secret/pp/outer-${i}`);
    const conn = await RawConn.connect(ctx.serve.url);
    await conn.send(bytes);
    const expectAnswers = name.startsWith('LIST then') ? 2 : 1;
    const ex = await conn.read(Array.from({ length: expectAnswers }, (_, j) => (name.startsWith('LIST then') && j === 0 ? 'GET' : 'POST')), 3000);
    await conn.settle(500);
    const extra = (await conn.read(['POST'], 1)).responses.length;
    const closed = conn.closed;
    conn.destroy();
    sent++;
    const landed = (await c.api('GET', key, { token: ctx.root })).status === 200;
    const problems: string[] = [];
    if (landed) problems.push('the smuggled PUT landed');
    if (extra > 0) problems.push(`${ex.responses.length + extra} answers (at most ${expectAnswers})`);
    if (!closed) problems.push('the connection stayed open');
    if (problems.length > 0) {
      failures.push(name);
      report.fail('ambiguous framing never smuggles a request, and closes the connection', `${name}: ${problems.join(', ')}; answers ${ex.responses.map((r) => r.status).join(',')}`, reproOf(ctx, bytes));
    }
  }
  report.check('smuggling attempts with an effect, an extra answer or the connection kept open', `${failures.length} of ${variants.length}`, '= 0', failures.length === 0);
  return sent;
}

// ---------------------------------------------------------------------------------------------------------------
// Slow clients

interface Slow {
  kind: 'headers' | 'body' | 'headers-after-list';
  opened: number;
  closedAfterMs?: number;
  stop: () => void;
}

async function openSlow(ctx: Ctx, kind: Slow['kind']): Promise<Slow> {
  const conn = await RawConn.connect(ctx.serve.url);
  const s: Slow = {
    kind,
    opened: Date.now(),
    stop: () => {
      conn.destroy();
    },
  };
  const ticker: { timer?: NodeJS.Timeout } = {};
  const onClose = (): void => {
    s.closedAfterMs ??= Date.now() - s.opened;
    clearInterval(ticker.timer);
  };
  conn.socket.on('close', onClose);
  conn.socket.on('end', onClose);
  if (kind === 'headers-after-list') {
    await conn.send(rawRequest('LIST', '/v1/secret/pp/', [['X-Vault-Token', ctx.root]]));
    await conn.read(['GET'], 5000);
    s.opened = Date.now();
  }
  if (kind === 'body') await conn.send(Buffer.from(`PUT /v1/secret/narrow/slow HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${ctx.narrow}\r\nContent-Length: 100000\r\n\r\n{`));
  else await conn.send(Buffer.from('GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n'));
  let i = 0;
  ticker.timer = setInterval(() => {
    if (conn.closed) {
      onClose();
      return;
    }
    conn.socket.write(kind === 'body' ? ' ' : `X-Slow-${i++}: a\r\n`);
  }, 1000);
  const prevStop = s.stop;
  s.stop = () => {
    clearInterval(ticker.timer);
    prevStop();
  };
  return s;
}

// ---------------------------------------------------------------------------------------------------------------

/** Huge unseal keys against a sealed store (a second `serve`, initialized and restarted), batch after batch. */
async function memoryProbe(dir: string, report: Report, scan: LeakScan): Promise<void> {
  const serve = await ServeProc.start(join(dir, 'data-sealed'));
  const c = new StoreClient(serve.url, 1);
  try {
    const keys = await initStore(c, 3, 2);
    keys.keys.forEach((k, i) => {
      scan.addSecret(`unseal key (sealed store) ${i}`, Buffer.from(k, 'hex'));
    });
    scan.addSecret('root token (sealed store)', keys.rootToken);
    await serve.restart();
    const pid = serve.pid;
    if (pid === undefined) return;
    for (const [name, make] of [
      ['a 4 MiB hex key', () => randomBytes(2 * 1024 * 1024).toString('hex')],
      ['a 4 MiB base64 key', () => randomBytes(3 * 1024 * 1024).toString('base64')],
    ] as const) {
      const rss: number[] = [];
      const statuses = new Map<string, number>();
      for (let batch = 0; batch < 5; batch++) {
        for (let i = 0; i < 6; i++) {
          const r = await c.api('PUT', 'sys/unseal', { body: { key: make() }, timeoutMs: 30_000 }).catch(() => undefined);
          const st = r === undefined ? 'no answer' : `${r.status} ${excerpt(r.text, 60)}`;
          statuses.set(st, (statuses.get(st) ?? 0) + 1);
        }
        await sleep(700);
        rss.push((memoryOf(pid)?.rssKiB ?? 0) / 1024);
      }
      // A request that kept its 4 MiB key would add ≥ 72 MiB over batches 3–5 (18 requests); heap sizing noise is
      // tens of MiB, mostly during the first two batches.
      const growth = (rss[4] ?? 0) - (rss[1] ?? 0);
      report.check(
        `memory: RSS growth over batches 3–5 of 6 × PUT sys/unseal (sealed) with ${name}`,
        `${growth.toFixed(1)} MiB (RSS ${rss.map((r) => r.toFixed(0)).join(' / ')} MiB)`,
        '≤ 40 MiB',
        growth <= 40,
        `RSS after each batch: ${rss.map((r) => r.toFixed(0)).join(' / ')} MiB`,
      );
      for (const [st, n] of statuses) {
        const repro = `curl -X PUT http://127.0.0.1:<port>/v1/sys/unseal --data-binary @key.json  # {"key":"<${name}>"}`;
        if (st.startsWith('5')) report.fail('no 5xx for client mistakes', `PUT sys/unseal (sealed store) with ${name} → ${st} (×${n})`, repro);
        if (st === 'no answer') report.fail('a refused request gets its answer (not a connection reset)', `PUT sys/unseal (sealed store) with ${name}: the connection was reset before any answer in ${n} of 30 requests`, repro);
      }
      report.info(`answers to PUT sys/unseal (sealed) with ${name}`, [...statuses].map(([k, n]) => `${k} ×${n}`).join('; '));
    }
    const mem = memoryOf(pid);
    report.info('peak RSS of the sealed serve (VmHWM, MiB)', mem === undefined ? 'n/a' : (mem.hwmKiB / 1024).toFixed(1));
    report.check('sealed serve crashes', serve.crashes.length, '= 0', serve.crashes.length === 0);
  } finally {
    c.close();
    await serve.kill();
  }
}

export async function run(options: Partial<FuzzOptions> = {}): Promise<PartResult> {
  const o: FuzzOptions = { ...optionsFromEnv(), ...options };
  const report = new Report('fuzz-http');
  const rng = new Rng(o.seed);
  report.note(`seed ${o.seed}; ${o.concurrency} connections; phase A ${Math.round(o.requests * 0.8)} requests, phase B ${o.requests - Math.round(o.requests * 0.8)}`);
  const scan = new LeakScan();
  const dir = await makeTempDir('sss-chaos-fuzz-');
  const unregister = onCleanup(() => removeTempDir(dir));
  const serve = await ServeProc.start(join(dir, 'data'));
  const client = new StoreClient(serve.url, 8);
  const stats: Stats = { sent: 0, byStatus: new Map(), fiveXX: new Map(), fiveXXByPath: new Map(), bypasses: [], hangs: [], resets: new Map(), closedNoAnswer: 0, crashes: [] };
  const slows: Slow[] = [];
  try {
    const ctx = await setUp({ serve, client, report, rng }, scan);
    const before = await snapshot(ctx);
    // Slow clients for the whole run, and a health probe measuring how others are served meanwhile.
    const slowKinds: Slow['kind'][] = ['headers', 'body', 'headers-after-list'];
    for (let i = 0; i < o.slowClients; i++) slows.push(await openSlow(ctx, slowKinds[i % 3] as Slow['kind']));
    const slowStarted = Date.now();
    const probing = { on: true };
    const probeMs: number[] = [];
    let probeFailures = 0;
    const probe = (async () => {
      const pc = new StoreClient(serve.url, 1);
      while (probing.on) {
        const t = performance.now();
        try {
          const r = await pc.api('GET', 'sys/health', { timeoutMs: 5000 });
          if (r.status === 200) probeMs.push(performance.now() - t);
          else probeFailures++;
        } catch {
          probeFailures++;
        }
        await sleep(200);
      }
      pc.close();
    })();

    // Phase A.
    const variants = tokenVariants(ctx);
    const nA = Math.round(o.requests * 0.8);
    const tA = performance.now();
    await runPhase(ctx, nA, o.concurrency, () => genPhaseA(ctx, rng, variants), stats);
    const aSeconds = (performance.now() - tA) / 1000;
    // Cancel ceremonies phase A may have started (unauthenticated by design), then compare the state.
    await client.api('DELETE', 'sys/generate-root/attempt');
    await client.api('DELETE', 'sys/rekey/init');
    const after = await snapshot(ctx);
    const changed: string[] = [];
    for (const [k, v] of before) if (after.get(k) !== v) changed.push(`${k}: ${excerpt(v, 100)} → ${excerpt(after.get(k) ?? '(missing)', 100)}`);
    for (const ch of changed) stats.bypasses.push({ kind: 'state changed by a request without the capability', detail: ch, repro: 'see the phase A requests of this run (CHAOS_SEED)' });

    // Phase B.
    const bodies = phaseBBodies();
    const nB = Math.max(o.requests - nA, phaseBTargets(0).length * GRID_BODIES.length);
    const tB = performance.now();
    await runPhase(ctx, nB, Math.min(o.concurrency, 4), (i) => genPhaseB(ctx, rng, i, bodies), stats);
    report.info('phase B seconds', ((performance.now() - tB) / 1000).toFixed(1));
    await client.api('DELETE', 'sys/generate-root/attempt');
    await client.api('DELETE', 'sys/rekey/init');
    const afterB = await snapshot(ctx);
    for (const k of ['GET secret/canary', 'GET secret/narrow/forbidden/canary', 'GET kv/data/canary', 'GET sys/policies/acl/canary-policy', 'GET auth/userpass/users/canary-user', 'canary-user login']) {
      if (afterB.get(k) !== before.get(k)) report.fail('canaries intact after the malformed-body phase', `${k}: ${excerpt(afterB.get(k) ?? '', 100)}`);
    }

    // Phase C.
    const tC = performance.now();
    const pipelined = await pipelining(ctx, report, o.pipelineTriples);
    const smuggled = await smuggling(ctx, report);
    report.info('phase C seconds', ((performance.now() - tC) / 1000).toFixed(1));

    // Memory.
    const tM = performance.now();
    if (o.memoryProbe) await memoryProbe(dir, report, scan);
    report.info('memory probe seconds', ((performance.now() - tM) / 1000).toFixed(1));

    // Slow clients: wait (bounded) for the server to cut them.
    const headerBound = 60_000;
    const bodyBound = 100_000;
    if (o.slowClients > 0) {
      const waitUntil = slowStarted + Math.min(o.slowSeconds * 1000, bodyBound + 5000);
      while (Date.now() < waitUntil && slows.some((s) => s.closedAfterMs === undefined)) await sleep(500);
      probing.on = false;
      await probe;
      const checkedLong = o.slowSeconds * 1000 >= bodyBound;
      for (const kind of slowKinds) {
        const ss = slows.filter((s) => s.kind === kind);
        if (ss.length === 0) continue;
        const bound = kind === 'body' ? bodyBound : headerBound;
        const cut = ss.filter((s) => s.closedAfterMs !== undefined && s.closedAfterMs <= bound).length;
        const times = ss.map((s) => (s.closedAfterMs === undefined ? 'open' : (s.closedAfterMs / 1000).toFixed(0)));
        const value = `${cut} of ${ss.length} cut (s: ${[...new Set(times)].slice(0, 6).join(', ')})`;
        if (checkedLong || o.slowSeconds * 1000 >= bound) report.check(`slow clients (${kind}) cut by the server`, value, `all within ${bound / 1000} s`, cut === ss.length);
        else report.info(`slow clients (${kind}) cut by the server (not checked: CHAOS_FUZZ_SLOW_SECONDS < ${bound / 1000})`, value);
      }
    } else {
      probing.on = false;
      await probe;
    }
    report.check('health probe failures while slow clients were connected', probeFailures, '= 0', probeFailures === 0);
    report.info('health probe latency while slow clients were connected (p50 / p99 ms)', `${percentile(probeMs, 50).toFixed(1)} / ${percentile(probeMs, 99).toFixed(1)}`);

    // Figures.
    const total = stats.sent + pipelined + smuggled;
    report.table({ title: 'answers by status (phases A and B)', header: ['status', 'count'], rows: [...stats.byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => [s, n]) });
    if (stats.fiveXX.size > 0) {
      report.table({ title: '5xx answers (grouped by request kind)', header: ['request (phase, method, target, variant)', 'answer', 'count'], rows: [...stats.fiveXX].map(([k, g]) => [k.split(' → ')[0] ?? k, `${g.status} ${g.error}`, g.count]) });
    }
    for (const [k, g] of stats.fiveXXByPath) report.fail('no 5xx for client mistakes', `${k} (×${g.count}; e.g. ${g.example})`, g.repro);
    for (const b of stats.bypasses) report.fail('nothing without the capability gets a 2xx, a secret or a change', `${b.kind}: ${b.detail}`, b.repro);
    for (const h of stats.hangs.slice(0, 10)) report.fail('every request is answered or closed', `no answer within the time limit: ${h.label}`, h.repro);
    for (const cr of stats.crashes) report.fail('serve never crashes', cr);
    for (const [k, g] of stats.resets) report.fail('a refused request gets its answer (not a connection reset)', `${k}: closed without an answer (×${g.count})`, g.repro);
    report.check('requests', total, `≥ ${o.requests}`, total >= o.requests);
    report.info('phase A requests per second', (nA / aSeconds).toFixed(0));
    report.check('bypasses', stats.bypasses.length, '= 0', stats.bypasses.length === 0);
    report.check('5xx answers', [...stats.fiveXX.values()].reduce((s, g) => s + g.count, 0), '= 0', stats.fiveXX.size === 0);
    report.check('requests without answer (hangs)', stats.hangs.length, '= 0', stats.hangs.length === 0);
    report.info('connections closed without an answer (malformed requests)', stats.closedNoAnswer);
    report.check('crashes', serve.crashes.length, '= 0', serve.crashes.length === 0);
    const pid = serve.pid;
    const mem = pid === undefined ? undefined : memoryOf(pid);
    report.info('peak RSS of serve (VmHWM, MiB)', mem === undefined ? 'n/a' : (mem.hwmKiB / 1024).toFixed(1));
    expectOk(await client.api('GET', 'sys/health'), 'health at the end');
  } finally {
    for (const s of slows) s.stop();
    client.close();
    await scanServeAndRemove(scan, serve, dir);
    unregister();
  }
  checkLeaks(report, scan, 'tokens, unseal keys, passwords in the serve log and data folder');
  return report.result();
}

runAsMain(import.meta.url, () => run());
