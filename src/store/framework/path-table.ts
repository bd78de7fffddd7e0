/**
 * A declarative path table for logical backends, after Vault's `framework.Path`: each entry is a pattern over the
 * path relative to the backend, the operations it serves (each a plain handler), whether it is served without a
 * token, and an optional existence check (create vs update for the ACL). One dispatcher turns a request into the
 * handler call and gives Vault's answers for what no entry serves: 404 `no handler for route` for an unknown path,
 * 405 for an operation the path does not have. Backends declare their table once; routing is not re-written per
 * handler.
 */
import { noHandler, unsupportedOperation } from '../api-error.js';
import type { CallerContext } from '../backend.js';
import type { LogicalRequest, LogicalResponse, Operation } from '../logical.js';

/** What a path handler receives. */
export interface PathContext {
  req: LogicalRequest;
  caller: CallerContext;
  /** The pattern's capture groups, in order (named segments such as a user or role name). */
  params: string[];
}

/** One handler: a plain async function of the request. */
export type PathHandler = (ctx: PathContext) => Promise<LogicalResponse>;

/** One entry of a backend's path table. */
export interface PathSpec {
  /** Anchored pattern over the path relative to the backend (list requests end with `/`). */
  pattern: RegExp;
  /**
   * The operations served. `create` falls back to `update` when absent (the HTTP layer turns an update of an
   * absent item into `create` only where {@link exists} says so, as Vault's existence check does).
   */
  operations: Partial<Record<Operation, PathHandler>>;
  /** Served without a token (Vault's `PathsSpecial.Unauthenticated`). */
  unauthenticated?: boolean;
  /** Existence check for create-vs-update; absent = POST/PUT are always `update`. */
  exists?: (params: string[]) => Promise<boolean>;
}

/** A matched entry and its captures. */
interface Match {
  spec: PathSpec;
  params: string[];
}

/** The compiled table of one backend. */
export class PathTable {
  private readonly specs: readonly PathSpec[];
  /** The route prefix shown in 404 messages (e.g. `auth/userpass/`). */
  private readonly routePrefix: string;

  /** `routePrefix` is how the backend's mount path appears in Vault's `no handler for route` message. */
  constructor(specs: readonly PathSpec[], routePrefix: string) {
    this.specs = specs;
    this.routePrefix = routePrefix;
  }

  private match(path: string): Match | undefined {
    const clean = path.replace(/^\/+/, '');
    for (const spec of this.specs) {
      const m = spec.pattern.exec(clean);
      // An optional group that did not take part is undefined at run time (the type says string).
      if (m !== null) return { spec, params: m.slice(1).map((g: string | undefined) => g ?? '') };
    }
    return undefined;
  }

  /** Dispatches one request to its handler; 404 for an unknown path, 405 for an unsupported operation. */
  async dispatch(req: LogicalRequest, caller: CallerContext): Promise<LogicalResponse> {
    const hit = this.match(req.path);
    if (hit === undefined) throw noHandler(this.routePrefix + req.path.replace(/^\/+/, ''));
    const ops = hit.spec.operations;
    const handler = req.operation === 'create' ? (ops.create ?? ops.update) : ops[req.operation];
    if (handler === undefined) throw unsupportedOperation();
    return handler({ req, caller, params: hit.params });
  }

  /** Whether `path` is served without a token. */
  isUnauthenticated(path: string): boolean {
    return this.match(path)?.spec.unauthenticated === true;
  }

  /** The existence check of the entry serving `path`; undefined when it has none (POST/PUT = update). */
  async exists(path: string): Promise<boolean | undefined> {
    const hit = this.match(path);
    if (hit?.spec.exists === undefined) return undefined;
    return hit.spec.exists(hit.params);
  }
}
