/**
 * Chaos part `crash-store`: concurrent writers against `serve`, SIGKILLs of `serve` at random moments, and after
 * each restart + unseal a check that every acknowledged (2xx) write is intact; then a full disk and a read-only data
 * folder.
 *
 * Writers (CHAOS_STORE_WRITERS, 8) each own a bounded key space and send one request at a time: KV v1 writes and
 * deletes (values up to 4 KiB, so the log grows and gets compacted), KV v2 writes (each answer's version is
 * recorded), token creates and revokes, ACL policy writes, userpass users, entities and OIDC keys. A 2xx is an
 * acknowledgement: the store promised durability. The one request each writer had in flight at the kill may or may
 * not have landed; anything else observed after the restart is a lost (or invented) write.
 *
 * Rounds (CHAOS_STORE_KILLS, 100): write for U(100, 1000) ms, SIGKILL serve, restart it on the same port and data
 * folder, unseal, verify every item (all of them, every round: the key spaces are bounded). store.log shrinking
 * between rounds counts as a compaction.
 *
 * Full disk (CHAOS_STORE_FULL_DISK, 1): serve on a 2 MiB tmpfs (needs root and mount; skipped with the reason
 * otherwise) written until the disk is full: refused writes must get an HTTP error (no hang, no reset, no 2xx),
 * the store must keep serving reads, restart on the full disk, and after the tmpfs is grown keep every acknowledged
 * write and accept new ones. Read-only (same tmpfs remounted ro): writes refused, reads served, a restart on the
 * read-only folder fails with a one-line error or serves reads, and after remounting rw everything acknowledged is
 * there.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { LeakScan, checkLeaks } from './lib/leaks.js';
import { StoreClient, TransportError, dataOf, type HttpResult } from './lib/http.js';
import { ServeProc } from './lib/procs.js';
import { expectOk, initStore, must, unsealStore, type StoreKeys } from './lib/store.js';
import { Report, Rng, envInt, excerpt, mapLimit, onCleanup, runAsMain, seedFromEnv, sleep, type PartResult } from './lib/util.js';

export interface CrashStoreOptions {
  kills: number;
  writers: number;
  minWindowMs: number;
  maxWindowMs: number;
  fullDisk: boolean;
  seed: number;
}

export function optionsFromEnv(): CrashStoreOptions {
  return {
    kills: envInt('CHAOS_STORE_KILLS', 100),
    writers: Math.max(1, envInt('CHAOS_STORE_WRITERS', 8)),
    minWindowMs: envInt('CHAOS_STORE_MIN_WINDOW_MS', 100),
    maxWindowMs: envInt('CHAOS_STORE_MAX_WINDOW_MS', 1000),
    fullDisk: envInt('CHAOS_STORE_FULL_DISK', 1) === 1,
    seed: seedFromEnv(),
  };
}

type Kind = 'kv1' | 'kv2' | 'token' | 'policy' | 'user' | 'entity' | 'oidc';
const KINDS: Kind[] = ['kv1', 'kv2', 'token', 'policy', 'user', 'entity', 'oidc'];

/** What the store must hold for one item: the acknowledged state, and states of unanswered writes that may have landed. */
interface Item {
  kind: Kind;
  key: string;
  /** Canonical acknowledged state (null = absent / revoked for tokens). */
  acked: string | null;
  /** States of writes in flight at a kill (may or may not have landed). */
  maybe: (string | null)[];
  /** Acknowledged writes of this item so far. */
  acks: number;
}

/** The writers' shared model of what was acknowledged. */
class Model {
  readonly items = new Map<string, Item>();
  acks = 0;
  readonly acksByKind = new Map<Kind, number>();
  readonly refused = new Map<string, number>();

  item(kind: Kind, key: string): Item {
    const id = `${kind}:${key}`;
    let it = this.items.get(id);
    if (it === undefined) {
      it = { kind, key, acked: null, maybe: [], acks: 0 };
      this.items.set(id, it);
    }
    return it;
  }

  ack(it: Item, state: string | null): void {
    it.acked = state;
    it.maybe = [];
    it.acks++;
    this.acks++;
    this.acksByKind.set(it.kind, (this.acksByKind.get(it.kind) ?? 0) + 1);
  }
}

/** Canonical form of a KV v1 value. */
function kv1State(v: string, pad: string): string {
  return `${v}:${pad.length}:${createHash('sha256').update(pad).digest('hex').slice(0, 12)}`;
}

/** Reads an item's current state from the store (root token). */
async function observe(c: StoreClient, root: string, it: Item): Promise<string | null> {
  const get = async (path: string, token = root): Promise<HttpResult> => {
    const r = await c.api('GET', path, { token });
    if (r.status !== 200 && r.status !== 404 && !(it.kind === 'token' && r.status === 403)) throw new Error(`GET ${path}: HTTP ${r.status} ${excerpt(r.text, 120)}`);
    return r;
  };
  switch (it.kind) {
    case 'kv1': {
      const r = await get(`kv1/${it.key}`);
      const d = dataOf(r);
      return r.status === 404 || d === undefined ? null : kv1State(String(d.v), String(d.pad));
    }
    case 'kv2': {
      const r = await get(`kv2/data/${it.key}`);
      const d = dataOf(r) as { data?: { v?: unknown }; metadata?: { version?: unknown } } | undefined;
      return r.status === 404 || d?.data === undefined ? null : `v${String(d.metadata?.version)}:${String(d.data.v)}`;
    }
    case 'token': {
      const r = await get('auth/token/lookup-self', it.key);
      return r.status === 200 ? 'live' : null;
    }
    case 'policy': {
      const r = await get(`sys/policies/acl/${it.key}`);
      return r.status === 404 ? null : String(dataOf(r)?.policy);
    }
    case 'user': {
      const r = await get(`auth/userpass/users/${it.key}`);
      const p = dataOf(r)?.token_policies;
      return r.status === 404 ? null : Array.isArray(p) ? p.map(String).sort().join(',') : 'none';
    }
    case 'entity': {
      const r = await get(`identity/entity/name/${it.key}`);
      const m = dataOf(r)?.metadata as Record<string, unknown> | undefined;
      return r.status === 404 ? null : String(m?.seq);
    }
    case 'oidc': {
      const r = await get(`identity/oidc/key/${it.key}`);
      const d = dataOf(r);
      return r.status === 404 || d === undefined ? null : `${String(d.algorithm)}:${JSON.stringify(d.allowed_client_ids)}`;
    }
  }
}

/** One writer: its own key space, one request at a time, until `stop()` says so. */
async function writer(w: number, c: StoreClient, root: string, model: Model, rng: Rng, stop: () => boolean, scan: LeakScan, counters: { seq: number; fiveHundreds: string[] }): Promise<void> {
  const liveTokens: Item[] = [];
  for (const it of model.items.values()) if (it.kind === 'token' && it.acked === 'live' && it.key.length > 0 && tokenOwner.get(it.key) === w) liveTokens.push(it);
  while (!stop()) {
    const seq = ++counters.seq;
    const roll = rng.int(1, 100);
    let it: Item;
    let send: () => Promise<HttpResult>;
    let stateOnAck: (r: HttpResult) => string | null;
    let predicted: string | null;
    if (roll <= 30) {
      const key = `w${w}/k${rng.int(0, 49)}`;
      const pad = randomBytes(rng.int(0, 3000)).toString('base64');
      it = model.item('kv1', key);
      predicted = kv1State(String(seq), pad);
      send = () => c.api('PUT', `kv1/${key}`, { token: root, body: { v: String(seq), pad } });
      stateOnAck = () => predicted;
    } else if (roll <= 35) {
      const key = `w${w}/k${rng.int(0, 49)}`;
      it = model.item('kv1', key);
      predicted = null;
      send = () => c.api('DELETE', `kv1/${key}`, { token: root });
      stateOnAck = () => null;
    } else if (roll <= 60) {
      const key = `w${w}/k${rng.int(0, 49)}`;
      it = model.item('kv2', key);
      const prev = it.acked === null ? 0 : Number(/^v(\d+):/.exec(it.acked)?.[1] ?? '0');
      predicted = `v${prev + 1}:${seq}`;
      send = () => c.api('POST', `kv2/data/${key}`, { token: root, body: { data: { v: String(seq), pad: randomBytes(rng.int(0, 600)).toString('hex') } } });
      stateOnAck = (r) => `v${String((dataOf(r) as { version?: unknown } | undefined)?.version)}:${seq}`;
    } else if (roll <= 72) {
      if (liveTokens.length >= 20 || (liveTokens.length > 0 && roll > 69)) {
        const idx = rng.int(0, liveTokens.length - 1);
        const victim = liveTokens[idx] as Item;
        liveTokens.splice(idx, 1);
        it = victim;
        predicted = null;
        send = () => c.api('POST', 'auth/token/revoke', { token: root, body: { token: victim.key } });
        stateOnAck = () => null;
      } else {
        const r = await c.api('POST', 'auth/token/create', { token: root, body: { policies: ['default'], ttl: '72h' } }).catch((err: unknown) => err);
        if (r instanceof TransportError) {
          if (stop()) return;
          continue; // an unanswered create has no id to check
        }
        if (r instanceof Error) throw r;
        const res = r as HttpResult;
        const id = (res.body as { auth?: { client_token?: string } } | undefined)?.auth?.client_token;
        if (res.status === 200 && id !== undefined) {
          scan.addSecret('token', id);
          tokenOwner.set(id, w);
          const t = model.item('token', id);
          model.ack(t, 'live');
          liveTokens.push(t);
        } else {
          count(model, res, counters);
        }
        continue;
      }
    } else if (roll <= 84) {
      const name = `cs-w${w}-p${rng.int(0, 49)}`;
      it = model.item('policy', name);
      const text = `path "kv1/w${w}/p/${seq}/*" {\n  capabilities = ["read", "list"]\n}\n`;
      predicted = text;
      send = () => c.api('PUT', `sys/policies/acl/${name}`, { token: root, body: { policy: text } });
      stateOnAck = () => text;
    } else if (roll <= 87) {
      const name = `u-w${w}-${rng.int(0, 9)}`;
      it = model.item('user', name);
      const password = randomBytes(12).toString('base64url');
      scan.addSecret('userpass password', password);
      const policies = [`pol-${seq}`, 'default'].sort();
      predicted = policies.join(',');
      send = () => c.api('POST', `auth/userpass/users/${name}`, { token: root, body: { password, token_policies: policies } });
      stateOnAck = () => predicted;
    } else if (roll <= 96) {
      const name = `e-w${w}-${rng.int(0, 19)}`;
      it = model.item('entity', name);
      predicted = String(seq);
      send = () => c.api('POST', `identity/entity/name/${name}`, { token: root, body: { metadata: { seq: String(seq) } } });
      stateOnAck = () => predicted;
    } else {
      const name = `k-w${w}-${rng.int(0, 5)}`;
      it = model.item('oidc', name);
      const algorithm = rng.pick(['ES256', 'EdDSA', 'ES384']);
      predicted = `${algorithm}:${JSON.stringify([`c${seq}`])}`;
      send = () => c.api('POST', `identity/oidc/key/${name}`, { token: root, body: { algorithm, allowed_client_ids: [`c${seq}`] } });
      stateOnAck = () => predicted;
    }
    it.maybe.push(predicted);
    let r: HttpResult;
    try {
      r = await send();
    } catch (err) {
      if (err instanceof TransportError) {
        // Unanswered: it may or may not have landed (stays in `maybe`). The store is going down: stop.
        return;
      }
      throw err;
    }
    it.maybe.pop();
    if (r.status >= 200 && r.status < 300) {
      model.ack(it, stateOnAck(r));
      if (it.kind === 'token') tokenOwner.delete(it.key);
    } else {
      count(model, r, counters);
      if (it.kind === 'token' && it.acked === 'live') liveTokens.push(it);
    }
  }
}

/** Which writer created a token (so a writer resumes with its own live tokens). */
const tokenOwner = new Map<string, number>();

function count(model: Model, r: HttpResult, counters: { fiveHundreds: string[] }): void {
  const k = `${r.status} ${excerpt(r.text, 80)}`;
  model.refused.set(k, (model.refused.get(k) ?? 0) + 1);
  if (r.status >= 500) counters.fiveHundreds.push(k);
}

/** Verifies every item; returns the failures (kind, key, expected, observed). Adopts what landed of the in-flight writes. */
async function verifyAll(c: StoreClient, root: string, model: Model): Promise<string[]> {
  const problems: string[] = [];
  await mapLimit([...model.items.values()], 16, async (it) => {
    let seen: string | null;
    try {
      seen = await observe(c, root, it);
    } catch (err) {
      problems.push(`${it.kind} ${it.key}: cannot read (${(err as Error).message})`);
      return;
    }
    if (seen === it.acked || it.maybe.includes(seen)) {
      it.acked = seen;
      it.maybe = [];
      return;
    }
    const shown = (s: string | null): string => (s === null ? 'absent' : excerpt(s, 60));
    problems.push(`${it.kind} ${it.kind === 'token' ? '<token>' : it.key}: acknowledged ${shown(it.acked)}${it.maybe.length > 0 ? ` (or in flight: ${it.maybe.map(shown).join(' / ')})` : ''}, found ${shown(seen)}`);
    it.acked = seen;
    it.maybe = [];
  });
  // Revoked tokens were checked once after a restart: drop them so the set stays bounded.
  for (const [id, it] of model.items) if (it.kind === 'token' && it.acked === null && it.maybe.length === 0) model.items.delete(id);
  return problems;
}

/** Mounts and auth methods the writers use. */
async function setUp(c: StoreClient, root: string): Promise<void> {
  await must(c, 'POST', 'sys/mounts/kv1', { token: root, body: { type: 'kv', options: { version: '1' } } });
  await must(c, 'POST', 'sys/mounts/kv2', { token: root, body: { type: 'kv', options: { version: '2' } } });
  await must(c, 'POST', 'kv2/config', { token: root, body: { max_versions: 0 } });
  await must(c, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' } });
}

async function logSize(dataDir: string): Promise<number> {
  try {
    return (await stat(join(dataDir, 'store.log'))).size;
  } catch {
    return 0;
  }
}

/** The kill rounds. */
async function killRounds(o: CrashStoreOptions, report: Report, scan: LeakScan, rng: Rng): Promise<void> {
  const root0 = await makeTempDir('sss-chaos-store-');
  const unregister = onCleanup(() => removeTempDir(root0));
  const dataDir = join(root0, 'data');
  const serve = await ServeProc.start(dataDir);
  const c = new StoreClient(serve.url, o.writers * 2 + 16);
  try {
    const keys: StoreKeys = await initStore(c, 3, 2);
    keys.keys.forEach((k, i) => {
      scan.addSecret(`unseal key ${i}`, Buffer.from(k, 'hex'));
    });
    scan.addSecret('root token', keys.rootToken);
    await unsealStore(c, keys.keys);
    await setUp(c, keys.rootToken);
    const model = new Model();
    const counters = { seq: 0, fiveHundreds: [] as string[] };
    let compactions = 0;
    let lastSize = await logSize(dataDir);
    let maxSize = lastSize;
    const restartMs: number[] = [];
    const lostByKind = new Map<string, number>();
    let rounds = 0;
    for (let round = 0; round < o.kills; round++) {
      let stopped = false;
      const writers = Array.from({ length: o.writers }, (_, w) =>
        writer(w, c, keys.rootToken, model, rng.fork(round * 64 + w), () => stopped, scan, counters).catch((err: unknown) => {
          report.fail('writers run without harness errors', (err as Error).message);
        }),
      );
      const windowMs = rng.int(o.minWindowMs, o.maxWindowMs);
      await sleep(windowMs);
      await serve.kill();
      stopped = true;
      await Promise.all(writers);
      c.close();
      rounds++;
      const t0 = performance.now();
      try {
        await serve.restart();
        await unsealStore(c, keys.keys);
      } catch (err) {
        report.fail('the store restarts and unseals after a SIGKILL', `round ${round}: ${(err as Error).message}`, `CHAOS_SEED=${o.seed}; killed after ${windowMs} ms of writing; output: ${excerpt(serve.output().split('\n').slice(-4).join(' | '), 300)}`);
        break;
      }
      restartMs.push(performance.now() - t0);
      const problems = await verifyAll(c, keys.rootToken, model);
      for (const p of problems) {
        report.fail('every acknowledged write is intact after restart + unseal', p, `CHAOS_SEED=${o.seed}; round ${round}, killed after ${windowMs} ms of writing by ${o.writers} writers`);
        const kind = p.split(' ')[0] ?? '?';
        lostByKind.set(kind, (lostByKind.get(kind) ?? 0) + 1);
      }
      const size = await logSize(dataDir);
      if (size < lastSize) compactions++;
      maxSize = Math.max(maxSize, size);
      lastSize = size;
    }
    report.table({
      title: 'acknowledged writes per kind (all rounds) and lost',
      header: ['kind', 'acknowledged', 'items checked at the end', 'lost or altered'],
      rows: KINDS.map((k) => [k, model.acksByKind.get(k) ?? 0, [...model.items.values()].filter((i) => i.kind === k).length, lostByKind.get(k) ?? 0]),
    });
    if (model.refused.size > 0) {
      report.table({ title: 'writes answered with an error (not acknowledged)', header: ['answer', 'count'], rows: [...model.refused].map(([k, n]) => [k, n]) });
    }
    report.check('SIGKILLs of serve', rounds, `≥ ${o.kills}`, rounds >= o.kills);
    report.info('acknowledged writes', model.acks);
    report.check('acknowledged writes lost or altered', [...lostByKind.values()].reduce((a, b) => a + b, 0), '= 0', lostByKind.size === 0);
    report.check('writes answered 5xx while the store was up', counters.fiveHundreds.length, '= 0', counters.fiveHundreds.length === 0, counters.fiveHundreds.slice(0, 3).join('; '));
    report.check('serve crashes (exits we did not cause)', serve.crashes.length, '= 0', serve.crashes.length === 0, serve.crashes.map((x) => excerpt(x.tail, 200)).join('; '));
    report.info('restart + unseal median ms', restartMs.length === 0 ? 0 : Math.round([...restartMs].sort((a, b) => a - b)[Math.floor(restartMs.length / 2)] ?? 0));
    report.info('log compactions observed (store.log shrank)', compactions);
    report.info('largest store.log MiB', (maxSize / 2 ** 20).toFixed(2));
    scan.addText('serve output (kill rounds)', serve.output());
    await scan.addFolder(dataDir);
  } finally {
    c.close();
    await serve.kill();
    await removeTempDir(root0);
    unregister();
  }
}

/** Runs `mount …`; returns the error text when it is not permitted. */
function mountCmd(args: string[]): string | undefined {
  try {
    execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return excerpt(e.stderr?.toString() ?? e.message, 160);
  }
}

/** Writes KV v1 entries until the disk refuses them; returns what was acknowledged and how refusals looked. */
async function fillUntilRefused(c: StoreClient, root: string, prefix: string, acked: Map<string, string>, deadlineMs: number): Promise<{ refusals: Map<string, number>; transport: number }> {
  const refusals = new Map<string, number>();
  let transport = 0;
  let consecutive = 0;
  const deadline = Date.now() + deadlineMs;
  for (let i = 0; consecutive < 30 && Date.now() < deadline; i++) {
    const path = `kv1/${prefix}/${i}`;
    const v = randomBytes(6000).toString('base64');
    try {
      const r = await c.api('PUT', path, { token: root, body: { v }, timeoutMs: 10_000 });
      if (r.status >= 200 && r.status < 300) {
        acked.set(path, v);
        consecutive = 0;
      } else {
        consecutive++;
        const k = `${r.status} ${excerpt(r.text, 80)}`;
        refusals.set(k, (refusals.get(k) ?? 0) + 1);
      }
    } catch {
      transport++;
      consecutive++;
    }
  }
  return { refusals, transport };
}

async function verifyAcked(c: StoreClient, root: string, acked: Map<string, string>): Promise<number> {
  let lost = 0;
  await mapLimit([...acked], 16, async ([path, v]) => {
    const r = await c.api('GET', path, { token: root }).catch(() => undefined);
    if (r === undefined || dataOf(r)?.v !== v) lost++;
  });
  return lost;
}

/** The full-disk and read-only sub-parts on a small tmpfs. */
async function diskLimits(report: Report, scan: LeakScan): Promise<void> {
  if (process.getuid?.() !== 0) {
    report.note('full disk and read-only data folder: skipped (mounting a tmpfs needs root; this run is not root)');
    return;
  }
  const root0 = await makeTempDir('sss-chaos-disk-');
  const mnt = join(root0, 'mnt');
  await mkdir(mnt, { mode: 0o700 });
  const why = mountCmd(['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mnt]);
  if (why !== undefined) {
    report.note(`full disk and read-only data folder: skipped (mount -t tmpfs -o size=2m is not permitted here: ${why})`);
    await removeTempDir(root0);
    return;
  }
  let mounted = true;
  const unmount = (): void => {
    if (mounted) {
      mountCmd(['-o', 'remount,rw', mnt]);
      try {
        execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      mounted = false;
    }
  };
  const unregister = onCleanup(unmount);
  const dataDir = join(mnt, 'data');
  let serve: ServeProc | undefined;
  const c0: { c?: StoreClient } = {};
  try {
    serve = await ServeProc.start(dataDir);
    const c = new StoreClient(serve.url, 4);
    c0.c = c;
    const keys = await initStore(c, 3, 2);
    keys.keys.forEach((k, i) => {
      scan.addSecret(`unseal key (disk) ${i}`, Buffer.from(k, 'hex'));
    });
    scan.addSecret('root token (disk)', keys.rootToken);
    await unsealStore(c, keys.keys);
    await must(c, 'POST', 'sys/mounts/kv1', { token: keys.rootToken, body: { type: 'kv', options: { version: '1' } } });
    const acked = new Map<string, string>();

    // Full disk.
    const full = await fillUntilRefused(c, keys.rootToken, 'full', acked, 60_000);
    const refused = [...full.refusals.values()].reduce((a, b) => a + b, 0);
    report.table({ title: 'full disk (2 MiB tmpfs): answers to refused writes', header: ['answer', 'count'], rows: [...full.refusals].map(([k, n]) => [k, n]) });
    report.check('full disk: refused writes answered with an HTTP error (not a reset/hang)', `${refused} answered, ${full.transport} without answer`, 'answered > 0, without answer = 0', refused > 0 && full.transport === 0);
    report.check('full disk: serve still running', serve.alive ? 'yes' : 'no', 'yes', serve.alive);
    const logNamesCause = /ENOSPC|no space/i.test(serve.currentOutput());
    report.check('full disk: the log names the cause (ENOSPC)', logNamesCause ? 'yes' : 'no', 'yes', logNamesCause, `serve log tail: ${excerpt(serve.currentOutput().split('\n').slice(-3).join(' | '), 240)}`);
    report.info('full disk: writes acknowledged before the disk filled', acked.size);
    let lost = await verifyAcked(c, keys.rootToken, acked);
    report.check('full disk: acknowledged writes readable while full', lost, '= 0', lost === 0);
    await serve.kill();
    let fullStart = 'started';
    try {
      await serve.restart();
      await unsealStore(c, keys.keys);
    } catch (err) {
      fullStart = `refused: ${excerpt((err as Error).message, 200)}`;
    }
    const fullClear = fullStart === 'started' || /ENOSPC|no space/i.test(fullStart);
    report.check('full disk: a restart on the full disk serves, or fails with a one-line reason naming the cause', fullStart, 'started, or a message naming ENOSPC', fullClear);
    if (fullStart === 'started') {
      lost = await verifyAcked(c, keys.rootToken, acked);
      report.check('full disk: acknowledged writes intact after a SIGKILL + restart on the full disk', lost, '= 0', lost === 0);
    }
    // Grow the disk: new writes must work again, everything acknowledged must still be there.
    mountCmd(['-o', 'remount,size=16m', mnt]);
    await serve.kill();
    await serve.restart();
    await unsealStore(c, keys.keys);
    const after = await c.api('PUT', 'kv1/after-full', { token: keys.rootToken, body: { v: 'x' } });
    report.check('full disk: writes accepted again once space is freed (after a restart)', after.status, '2xx', after.status >= 200 && after.status < 300, excerpt(after.text, 120));
    lost = await verifyAcked(c, keys.rootToken, acked);
    report.check('full disk: acknowledged writes intact after space is freed', lost, '= 0', lost === 0);

    // Read-only data folder.
    for (let i = 0; i < 20; i++) {
      const v = randomBytes(200).toString('base64');
      expectOk(await c.api('PUT', `kv1/ro-before/${i}`, { token: keys.rootToken, body: { v } }), 'write before read-only');
      acked.set(`kv1/ro-before/${i}`, v);
    }
    // A data folder found read-only at start (a file system remounted ro after an error): the running store is
    // stopped first (the kernel refuses to remount ro while files are open for writing).
    await serve.kill();
    const ro = mountCmd(['-o', 'remount,ro', mnt]);
    if (ro !== undefined) {
      report.note(`read-only data folder: skipped (remount ro failed: ${ro})`);
      await serve.restart();
      await unsealStore(c, keys.keys);
    } else {
      let roStart = 'started';
      try {
        await serve.restart();
      } catch (err) {
        roStart = `refused: ${excerpt((err as Error).message, 200)}`;
      }
      const clear = roStart === 'started' || /read-only|EROFS/i.test(roStart);
      report.check('read-only: a start on the read-only folder serves, or fails with a one-line reason naming the cause', roStart, 'started, or a message naming EROFS', clear);
      if (roStart === 'started') {
        const unsealed = await unsealStore(c, keys.keys).then(
          () => true,
          () => false,
        );
        if (unsealed) {
          lost = await verifyAcked(c, keys.rootToken, acked);
          report.check('read-only: acknowledged writes readable', lost, '= 0', lost === 0);
          const w = await c.api('PUT', 'kv1/ro-write', { token: keys.rootToken, body: { v: 'x' }, timeoutMs: 10_000 }).catch((err: unknown) => err as Error);
          const wStatus = w instanceof Error ? `no answer (${w.message})` : `${w.status} ${excerpt(w.text, 80)}`;
          report.check('read-only: a write is refused with an HTTP error', wStatus, '4xx/5xx', !(w instanceof Error) && w.status >= 400);
          const roCause = /EROFS|read-only/i.test(serve.currentOutput());
          report.check('read-only: the log names the cause (EROFS)', roCause ? 'yes' : 'no', 'yes', roCause, `serve log tail: ${excerpt(serve.currentOutput().split('\n').slice(-3).join(' | '), 240)}`);
        } else {
          report.note('read-only: the store started but could not be unsealed on the read-only folder');
        }
        report.check('read-only: serve still running', serve.alive ? 'yes' : 'no', 'yes', serve.alive);
        await serve.kill();
      }
      mountCmd(['-o', 'remount,rw', mnt]);
      await serve.restart();
      await unsealStore(c, keys.keys);
      lost = await verifyAcked(c, keys.rootToken, acked);
      report.check('read-only: acknowledged writes intact after remounting rw', lost, '= 0', lost === 0);
    }
    scan.addText('serve output (disk)', serve.output());
    await scan.addFolder(dataDir);
    report.check('serve crashes during the disk sub-parts', serve.crashes.length, '= 0', serve.crashes.length === 0, serve.crashes.map((x) => excerpt(x.tail, 200)).join('; '));
    expectOk(await c.api('GET', 'sys/health'), 'health');
  } finally {
    c0.c?.close();
    await serve?.kill();
    unmount();
    unregister();
    await removeTempDir(root0);
  }
}

export async function run(options: Partial<CrashStoreOptions> = {}): Promise<PartResult> {
  const o: CrashStoreOptions = { ...optionsFromEnv(), ...options };
  const report = new Report('crash-store');
  report.note(`seed ${o.seed}; ${o.writers} writers; kill after U(${o.minWindowMs}, ${o.maxWindowMs}) ms of writing in each round`);
  const scan = new LeakScan();
  const rng = new Rng(o.seed);
  await killRounds(o, report, scan, rng);
  if (o.fullDisk) await diskLimits(report, scan);
  else report.note('full disk and read-only data folder: off (CHAOS_STORE_FULL_DISK=0)');
  const leaks = checkLeaks(report, scan, 'unseal keys, root token, tokens, passwords in the log and data folder');
  report.info('leak scan coverage', `${leaks.secrets} secrets, ${leaks.sources} sources, ${(leaks.bytes / 2 ** 20).toFixed(1)} MiB`);
  return report.result();
}

runAsMain(import.meta.url, () => run());
