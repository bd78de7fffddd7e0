/**
 * The store's HTTP API as a plain function of a request: `/v1/` routing, the unauthenticated `sys/*` endpoints, and
 * for every other path Vault's pipeline — sealed check, method → operation, token authentication, central ACL check
 * (with sudo for root-protected paths and create-vs-update from the backend's existence check), dispatch to the
 * backend, envelope. No sockets here (see http-server.ts), so it is tested directly and over HTTP.
 */
import { SecretStoreError } from '../../errors.js';
import { StoreApiError, noHandler, permissionDenied, sealedError } from '../api-error.js';
import { ANONYMOUS_CALLER, type CallerContext } from '../backend.js';
import { addressInCidrs } from '../auth/cidr.js';
import type { JsonObject, LogicalRequest, Operation } from '../logical.js';
import type { Storage } from '../storage/storage.js';
import type { AclPort, LogicalPort, RouteTarget, SealPort, TokenView } from './ports.js';
import {
  bodyLimitForPath,
  SEAL_BODY_LIMIT,
  checkPatchContentType,
  operationFor,
  parseJsonBody,
  parseTarget,
  queryAsData,
  requestToken,
  type ApiRequest,
} from './request.js';
import { errorResult, noContent, renderError, renderLogical, type ApiResult } from './response.js';
import { SYS_HANDLERS, type SysServices } from './sys-handlers.js';

// The listener's half of the per-endpoint body limit: the limit before reading (and the answer over it, below).
export { bodyLimitFor } from './request.js';

/** Dependencies of {@link StoreApi}. */
export interface StoreApiOptions {
  seal: SealPort;
  /** The logical layer while unsealed; undefined while sealed (it is built on unseal and dropped on seal). */
  logical: () => LogicalPort | undefined;
  /** Creates the root token at init, over the barrier SealManager.init opens for it. */
  createRootToken: (barrier: Storage) => Promise<string>;
  /** Called with the class of an unexpected error (never its message: it could carry data we cannot vet). */
  onInternalError?: (err: unknown) => void;
  /** Present when the store is one node of an HA cluster (src/store/ha/); absent for a single node. */
  ha?: HaApiHooks;
}

/** What the API asks of the HA node (src/store/ha/ha-node.ts). */
export interface HaApiHooks {
  /** Re-reads the seal state other nodes may have changed, while sealed (undefined: nothing to wait for). */
  refreshSeal(): Promise<void> | undefined;
  /** The `sys/leader` body; 503 while sealed. */
  leader(): Promise<JsonObject>;
  /** Unsealed, but not (yet) the active node. */
  isStandby(): boolean;
  /** `sys/step-down` on the active node: give the lock up and let a standby take over. */
  stepDown(): Promise<void>;
}

/** Vault's error for a request that reached an unsealed node that is not active (consts.ErrStandby). */
export const STANDBY_MESSAGE = 'Vault is in standby mode';
/** Answer when the shared storage cannot be reached (no quorum): a 503 the client may retry, never a stale answer. */
export const STORAGE_UNAVAILABLE_MESSAGE = 'storage backend unavailable: no quorum or unreachable; retry later';

/** What {@link StoreApi.handle} returns: the result and, for logging, the API path (without query). */
export interface HandledRequest {
  result: ApiResult;
  /** The path after `/v1/`, or undefined when the target was not an API path. */
  path: string | undefined;
}

/** An authenticated caller. */
interface Authenticated {
  token: string;
  entry: TokenView;
  acl: AclPort;
}

const UI_MOUNTS_PREFIX = 'sys/internal/ui/mounts/';

/** Vault's HTTP API over a seal state machine and (while unsealed) a logical layer. */
export class StoreApi {
  private readonly options: StoreApiOptions;
  private readonly sys: SysServices;

  constructor(options: StoreApiOptions) {
    this.options = options;
    const ha = options.ha;
    this.sys = {
      seal: options.seal,
      ...(ha === undefined ? {} : { refreshSeal: () => ha.refreshSeal(), leader: () => ha.leader(), isStandby: () => ha.isStandby() }),
      createRootToken: options.createRootToken,
      mintRootToken: () => {
        const logical = options.logical();
        if (logical === undefined) return Promise.reject(sealedError());
        return logical.mintRootToken();
      },
    };
  }

  /** Handles one request; never throws (errors become Vault-shaped responses). */
  async handle(req: ApiRequest): Promise<HandledRequest> {
    let path: string | undefined;
    try {
      const target = parseTarget(req.target);
      path = target.path;
      // The seal endpoints' small limit holds here too, whatever the listener read (it enforces `--max-body`). Decided
      // before anything parses the body; a body within the small limit (nearly all) needs no further look.
      if (req.body.length > SEAL_BODY_LIMIT && req.body.length > bodyLimitForPath(req.method, path, Number.POSITIVE_INFINITY)) {
        return { result: tooLarge(path), path };
      }
      if (path === undefined) return { result: errorResult(404, []), path };
      const pending = this.dispatch(req, path, target.query);
      return { result: pending instanceof Promise ? await pending : pending, path };
    } catch (err) {
      const mapped = clusterError(err);
      if (mapped !== undefined) return { result: renderError(mapped), path };
      if (!(err instanceof StoreApiError)) this.options.onInternalError?.(err);
      return { result: renderError(err), path };
    }
  }

  private dispatch(req: ApiRequest, path: string, query: Record<string, string>): ApiResult | Promise<ApiResult> {
    const sysHandler = SYS_HANDLERS.get(path);
    if (sysHandler !== undefined) {
      let parsed: JsonObject | undefined;
      const body = (): JsonObject => (parsed ??= parseJsonBody(req.body));
      return sysHandler({ method: req.method, query, body }, this.sys);
    }
    if (path === 'sys/seal') return this.handleSeal(req);
    if (path === 'sys/step-down' && this.options.ha !== undefined) return this.handleStepDown(req, this.options.ha);
    return this.handleLogical(req, path, query);
  }

  /** The logical layer, or Vault's 503 while sealed or uninitialized (or, HA, while not the active node). */
  private unsealedLogical(): LogicalPort {
    const logical = this.options.logical();
    if (this.options.seal.sealed) throw sealedError();
    if (logical === undefined) throw this.options.ha === undefined ? sealedError() : new StoreApiError(503, STANDBY_MESSAGE);
    return logical;
  }

  /**
   * Token authentication: missing → 403; unknown, expired or revoked → 403 with Vault's `invalid token`; used from
   * outside its bound CIDRs, or its entity disabled → 403. The ACL covers the token's policies and its entity's. A
   * known token with a compiled ACL (nearly every request) is answered from memory, with no promise to wait on.
   */
  private authenticate(req: ApiRequest, logical: LogicalPort): Authenticated | Promise<Authenticated> {
    const token = requestToken(req.headers);
    if (token === undefined) throw permissionDenied();
    const entry = logical.resolveTokenCached?.(token);
    if (entry === undefined) return this.resolveCaller(token, logical, req);
    const policies = this.grantedPolicies(entry, logical, req);
    const acl = logical.aclCached?.(policies);
    if (acl !== undefined) return { token, entry, acl };
    return this.resolveCaller(token, logical, req);
  }

  /** The slow path of {@link authenticate}: token entry and ACL from the stores (which may read storage). */
  private async resolveCaller(token: string, logical: LogicalPort, req: ApiRequest): Promise<Authenticated> {
    const entry = await logical.resolveToken(token);
    if (entry === undefined) throw new StoreApiError(403, ['permission denied', 'invalid token']);
    return { token, entry, acl: await logical.acl(this.grantedPolicies(entry, logical, req)) };
  }

  /** The policies the ACL grants `entry` from this request's address (see {@link authenticate}). */
  private grantedPolicies(entry: TokenView, logical: LogicalPort, req: ApiRequest): readonly string[] {
    if (entry.bound_cidrs !== undefined && entry.bound_cidrs.length > 0 && !addressInCidrs(req.remoteAddress, entry.bound_cidrs)) {
      throw permissionDenied();
    }
    if (logical.effectivePolicies === undefined) return entry.policies;
    const policies = logical.effectivePolicies(entry);
    if (policies === undefined) throw permissionDenied();
    return policies;
  }

  /** `sys/seal`: needs update + sudo; when already sealed Vault answers 204 without looking at the token. */
  private async handleSeal(req: ApiRequest): Promise<ApiResult> {
    if (req.method !== 'PUT' && req.method !== 'POST') return errorResult(405, []);
    // Vault refuses this on a standby: it cannot check the token (only the active node can).
    if (this.options.ha?.isStandby() === true) return errorResult(500, ['vault cannot seal when in standby mode; please restart instead']);
    const logical = this.options.logical();
    if (this.options.seal.sealed || logical === undefined) return noContent();
    const auth = await this.authenticate(req, logical);
    if (!auth.acl.allows('sys/seal', 'update') || !auth.acl.hasSudo('sys/seal')) throw permissionDenied();
    await this.consumeUse(logical, auth);
    await this.options.seal.seal();
    return noContent();
  }

  /** `sys/step-down` (HA, active node; a standby forwarded it): update + sudo, then the lock is given up. */
  private async handleStepDown(req: ApiRequest, ha: HaApiHooks): Promise<ApiResult> {
    if (req.method !== 'PUT' && req.method !== 'POST') return errorResult(405, []);
    const logical = this.unsealedLogical();
    const auth = await this.authenticate(req, logical);
    this.authorize(auth, logical, 'sys/step-down', 'update');
    await this.consumeUse(logical, auth);
    await ha.stepDown();
    return noContent();
  }

  private async handleLogical(req: ApiRequest, path: string, query: Record<string, string>): Promise<ApiResult> {
    const logical = this.unsealedLogical();
    let operation: Operation | undefined = operationFor(req.method, query);
    if (operation === undefined) return errorResult(405, []);
    if (operation === 'patch') checkPatchContentType(req.headers['content-type']);
    const data = operation === 'update' || operation === 'patch' ? parseJsonBody(req.body) : queryAsData(query);
    // Vault appends a trailing slash to list paths (ACL rules and backends see `dir/`).
    const fullPath = operation === 'list' && !path.endsWith('/') ? path + '/' : path;
    const target = fullPath === 'sys/capabilities-self' ? undefined : logical.route(fullPath);
    if (target?.backend.isUnauthenticated?.(target.rest) === true) {
      // Login and discovery paths: no token needed, and one that is sent is ignored.
      return this.handleUnauthenticated(logical, target, { operation, path: target.rest, data, query, remoteAddress: req.remoteAddress });
    }
    const pending = this.authenticate(req, logical);
    // Only wait when there is something to wait for: a resolved value costs an event-loop microtask otherwise.
    const auth = pending instanceof Promise ? await pending : pending;
    let authorized = false;
    try {
      if (fullPath === 'sys/capabilities-self') {
        this.authorize(auth, logical, fullPath, operation);
        authorized = true;
        return capabilitiesSelf(auth, operation, data);
      }
      if (operation === 'update' && target?.backend.exists !== undefined) {
        // Vault's existence check: writing an absent item is `create` for the ACL.
        if ((await target.backend.exists(target.rest)) === false) operation = 'create';
      }
      if (fullPath.startsWith(UI_MOUNTS_PREFIX)) {
        // Vault serves this unauthenticated-with-token path to anyone holding some capability on the mount path.
        const caps = auth.acl.capabilities(fullPath.slice(UI_MOUNTS_PREFIX.length));
        if (caps.length === 0 || caps.every((c) => c === 'deny')) throw permissionDenied();
      } else {
        this.authorize(auth, logical, fullPath, operation);
      }
      authorized = true;
      if (target === undefined) throw noHandler(fullPath);
      const caller: CallerContext = {
        clientToken: auth.token,
        policies: auth.entry.policies,
        sudo: auth.acl.hasSudo(fullPath, operation),
        root: auth.entry.policies.includes('root'),
        entityId: auth.entry.entity_id ?? '',
      };
      const request: LogicalRequest = { operation, path: target.rest, data, query, remoteAddress: req.remoteAddress };
      const resp = await target.backend.handle(request, caller);
      if (resp.login !== undefined) throw new StoreApiError(500, 'internal error');
      return renderLogical(resp, target.mountType);
    } finally {
      if (authorized && auth.entry.num_uses > 0) await this.consumeUse(logical, auth);
    }
  }

  /** A path its backend serves without a token; a login's plan becomes a token here (never in the backend). */
  private async handleUnauthenticated(logical: LogicalPort, target: RouteTarget, request: LogicalRequest): Promise<ApiResult> {
    const resp = await target.backend.handle(request, ANONYMOUS_CALLER);
    if (resp.login === undefined) return renderLogical(resp, target.mountType);
    if (logical.completeLogin === undefined) throw noHandler(request.path);
    return renderLogical(await logical.completeLogin(resp.login, target), target.mountType);
  }

  /** The central ACL check: the capability for `operation`, plus `sudo` on root-protected paths. */
  private authorize(auth: Authenticated, logical: LogicalPort, path: string, operation: Operation): void {
    if (!auth.acl.allows(path, operation)) throw permissionDenied();
    if (logical.isSudoProtected(path, operation) && !auth.acl.hasSudo(path, operation)) throw permissionDenied();
  }

  /** num_uses accounting; a failure here (e.g. sealed meanwhile) must not change the request's answer. */
  private async consumeUse(logical: LogicalPort, auth: Authenticated): Promise<void> {
    // Unlimited tokens (the common case) need no accounting: skip the extra lookup, decrypt and lock per request.
    if (auth.entry.num_uses <= 0) return;
    try {
      await logical.consumeTokenUse(auth.token);
    } catch (err) {
      if (!(err instanceof StoreApiError)) this.options.onInternalError?.(err);
    }
  }
}

/**
 * The shared storage's refusals as Vault-shaped 503s: a write fenced off because this node lost the HA lock while
 * the request ran (`STORE_STANDBY`), or an engine without quorum (`STORE_UNAVAILABLE`). Neither is a bug to log.
 */
function clusterError(err: unknown): StoreApiError | undefined {
  if (!(err instanceof SecretStoreError)) return undefined;
  if (err.code === 'STORE_STANDBY') return new StoreApiError(503, STANDBY_MESSAGE);
  if (err.code === 'STORE_UNAVAILABLE') return new StoreApiError(503, STORAGE_UNAVAILABLE_MESSAGE);
  return undefined;
}

/**
 * Vault's 413 for a body over the limit: the seal endpoints' handlers decode with `parseJSONRequest`, which words it
 * `failed to parse JSON input: http: request body too large`; every other path answers `error parsing JSON`.
 */
function tooLarge(path: string | undefined): ApiResult {
  if (path !== undefined && SYS_HANDLERS.has(path)) return errorResult(413, ['failed to parse JSON input: http: request body too large']);
  return errorResult(413, ['error parsing JSON']);
}

/**
 * What the listener answers when a body exceeds {@link bodyLimitFor}'s limit for `target` (it stops reading then):
 * 413 with Vault's message for that endpoint. Never throws.
 */
export function bodyTooLargeResult(target: string): ApiResult {
  let path: string | undefined;
  try {
    path = parseTarget(target).path;
  } catch {
    path = undefined;
  }
  return tooLarge(path);
}

/** `sys/capabilities-self`: the caller's capabilities on `path` or each of `paths` (Vault's response shape). */
function capabilitiesSelf(auth: Authenticated, operation: Operation, data: JsonObject): ApiResult {
  if (operation !== 'update' && operation !== 'create') throw new StoreApiError(405, 'unsupported operation');
  const paths: string[] = [];
  const one: unknown = data.path;
  const many: unknown = data.paths;
  if (typeof one === 'string' && one !== '') paths.push(one);
  if (Array.isArray(many)) for (const p of many) if (typeof p === 'string' && p !== '') paths.push(p);
  if (paths.length === 0) throw new StoreApiError(400, "'paths' must be specified");
  const isRoot = auth.entry.policies.includes('root');
  const out: JsonObject = {};
  let union = new Set<string>();
  for (const p of paths) {
    const clean = p.replace(/^\/+/, '');
    const caps = isRoot ? ['root'] : auth.acl.capabilities(clean);
    const shown = caps.length === 0 ? ['deny'] : [...caps].sort();
    out[p] = shown;
    union = new Set([...union, ...shown]);
  }
  out.capabilities = [...union].sort();
  return renderLogical({ data: out, topLevelData: true }, 'system');
}
