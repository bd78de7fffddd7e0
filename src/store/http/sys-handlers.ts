/**
 * The `sys/*` endpoints Vault serves outside the logical router, most of them unauthenticated and available while
 * sealed: init (and init/abandon), seal-status, unseal, health, leader, generate-root and rekey. They answer raw JSON (no envelope) and,
 * for a method they do not serve, 405 `{"errors":[]}` as Vault's http package does.
 */
import { StoreApiError } from '../api-error.js';
import type { Storage } from '../storage/storage.js';
import type { JsonObject } from '../logical.js';
import type { SealPort } from './ports.js';
import { errorResult, noContent, okJson, type ApiResult } from './response.js';

/** What a sys handler gets: the method, the query and a lazily parsed JSON body. */
export interface SysCall {
  method: string;
  query: Record<string, string>;
  body: () => JsonObject;
}

/** Services the sys handlers call. */
export interface SysServices {
  seal: SealPort;
  /** Creates the root token at init (through SealManager.init's callback, while the barrier is briefly open). */
  createRootToken: (barrier: Storage) => Promise<string>;
  /** Mints a new root token at the end of generate-root; fails with 503 when sealed. */
  mintRootToken: () => Promise<string>;
  /**
   * HA: re-reads what other nodes may have changed in the seal state (init, rekey) before a seal endpoint answers;
   * returns undefined when there is nothing to wait for (a single node, or unsealed).
   */
  refreshSeal?: () => Promise<void> | undefined;
  /** HA: the `sys/leader` body (throws 503 while sealed); absent on a single node (`ha_enabled: false`). */
  leader?: () => Promise<JsonObject>;
  /** HA: this node is an unsealed standby (`sys/seal` is refused there, as Vault refuses it). */
  isStandby?: () => boolean;
}

/** A sys handler; undefined means "not mine". */
export type SysHandler = (call: SysCall, services: SysServices) => ApiResult | Promise<ApiResult>;

const methodNotAllowed = (): ApiResult => errorResult(405, []);
const isWrite = (method: string): boolean => method === 'PUT' || method === 'POST';

/** Waits for {@link SysServices.refreshSeal} when it has something to do (a single node never waits). */
function refreshed(s: SysServices): Promise<void> | undefined {
  return s.refreshSeal?.();
}

async function init(call: SysCall, s: SysServices): Promise<ApiResult> {
  if (call.method === 'GET') {
    await refreshed(s);
    return okJson({ initialized: s.seal.initialized });
  }
  if (!isWrite(call.method)) return methodNotAllowed();
  const { keys, rootToken } = await s.seal.init(call.body(), s.createRootToken);
  try {
    return okJson({
      keys: keys.map((k) => k.toString('hex')),
      keys_base64: keys.map((k) => k.toString('base64')),
      root_token: rootToken,
    });
  } finally {
    // The shares leave the process only in this response; drop our copies now.
    for (const k of keys) k.fill(0);
  }
}

/** `PUT sys/init/abandon`: unauthenticated, allowed while sealed (the seal state machine checks everything). */
async function initAbandon(call: SysCall, s: SysServices): Promise<ApiResult> {
  if (!isWrite(call.method)) return methodNotAllowed();
  if (s.seal.abandonInit === undefined) return errorResult(404, []);
  return okJson(await s.seal.abandonInit(call.body()));
}

function sealStatus(call: SysCall, s: SysServices): ApiResult | Promise<ApiResult> {
  if (call.method !== 'GET') return methodNotAllowed();
  const pending = refreshed(s);
  if (pending !== undefined) return pending.then(() => okJson(s.seal.sealStatus()));
  return okJson(s.seal.sealStatus());
}

async function unseal(call: SysCall, s: SysServices): Promise<ApiResult> {
  if (!isWrite(call.method)) return methodNotAllowed();
  return okJson(await s.seal.unseal(call.body()));
}

function health(call: SysCall, s: SysServices): ApiResult | Promise<ApiResult> {
  if (call.method !== 'GET' && call.method !== 'HEAD') return methodNotAllowed();
  const answer = (): ApiResult => {
    const { status, body } = s.seal.health(call.query);
    return call.method === 'HEAD' ? { status } : { status, body };
  };
  const pending = refreshed(s);
  return pending === undefined ? answer() : pending.then(answer);
}

function leader(call: SysCall, s: SysServices): ApiResult | Promise<ApiResult> {
  if (call.method !== 'GET') return methodNotAllowed();
  if (s.leader !== undefined) return s.leader().then(okJson);
  // A single node without HA: Vault answers this shape (ha_enabled false) whether sealed or not.
  return okJson({
    ha_enabled: false,
    is_self: false,
    active_time: '0001-01-01T00:00:00Z',
    leader_address: '',
    leader_cluster_address: '',
    performance_standby: false,
    performance_standby_last_remote_wal: 0,
  });
}

/** The three verbs of a key ceremony's `attempt`/`init` endpoint: status, start, cancel (generate-root and rekey alike). */
interface CeremonyVerbs {
  status(): Record<string, unknown>;
  start(body: Record<string, unknown>): Record<string, unknown>;
  cancel(): void;
}

function ceremonyAttempt(call: SysCall, verbs: CeremonyVerbs): ApiResult {
  switch (call.method) {
    case 'GET':
      return okJson(verbs.status());
    case 'PUT':
    case 'POST':
      return okJson(verbs.start(call.body()));
    case 'DELETE':
      verbs.cancel();
      return noContent();
    default:
      return methodNotAllowed();
  }
}

function generateRootAttempt(call: SysCall, s: SysServices): ApiResult {
  return ceremonyAttempt(call, {
    status: () => s.seal.generateRootStatus(),
    start: (body) => s.seal.generateRootStart(body),
    cancel: () => {
      s.seal.generateRootCancel();
    },
  });
}

async function generateRootUpdate(call: SysCall, s: SysServices): Promise<ApiResult> {
  if (!isWrite(call.method)) return methodNotAllowed();
  return okJson(await s.seal.generateRootUpdate(call.body(), s.mintRootToken));
}

function rekeyInit(call: SysCall, s: SysServices): ApiResult {
  return ceremonyAttempt(call, {
    status: () => s.seal.rekeyStatus(),
    start: (body) => s.seal.rekeyInit(body),
    cancel: () => {
      s.seal.rekeyCancel();
    },
  });
}

async function rekeyUpdate(call: SysCall, s: SysServices): Promise<ApiResult> {
  if (!isWrite(call.method)) return methodNotAllowed();
  return okJson(await s.seal.rekeyUpdate(call.body()));
}

/** The unauthenticated sys endpoints by exact path (after `/v1/`). */
export const SYS_HANDLERS: ReadonlyMap<string, SysHandler> = new Map<string, SysHandler>([
  ['sys/init', init],
  ['sys/init/abandon', initAbandon],
  ['sys/seal-status', sealStatus],
  ['sys/unseal', unseal],
  ['sys/health', health],
  ['sys/leader', leader],
  ['sys/generate-root/attempt', generateRootAttempt],
  ['sys/generate-root/update', generateRootUpdate],
  ['sys/rekey/init', rekeyInit],
  ['sys/rekey/update', rekeyUpdate],
]);

/** Throws Vault's 503 when the store is sealed (used by paths that need the logical layer). */
export function assertUnsealed(seal: SealPort): void {
  if (seal.sealed) throw new StoreApiError(503, 'Vault is sealed');
}
