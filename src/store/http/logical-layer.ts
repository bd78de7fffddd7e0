/**
 * The logical layer the HTTP API talks to while the store is unsealed, assembled from the real token store, policy
 * store and mount table over the barrier: token resolution, ACLs, the sudo list and the routing table from a path to
 * the backend that serves it.
 */
import type { Operation } from '../logical.js';
import { isSudoProtected } from '../policy/acl.js';
import { PolicyStore } from '../policy/policy-store.js';
import type { Storage } from '../storage/storage.js';
import { TokenStore } from '../tokens/token-store.js';
import { MountTable } from '../mounts/mount-table.js';
import type { AclPort, LogicalPort, RouteTarget, TokenView } from './ports.js';

const TOKEN_PREFIX = 'auth/token/';

/** The token store, policy store and mount table of an unsealed store, behind {@link LogicalPort}. */
export class LogicalLayer implements LogicalPort {
  readonly tokens: TokenStore;
  readonly policies: PolicyStore;
  readonly mounts: MountTable;

  private constructor(tokens: TokenStore, policies: PolicyStore, mounts: MountTable) {
    this.tokens = tokens;
    this.policies = policies;
    this.mounts = mounts;
  }

  /** Builds the layer over the barrier: loads the policies (writing `default` on first start) and the mount table. */
  static async open(barrier: Storage): Promise<LogicalLayer> {
    const policies = new PolicyStore(barrier);
    await policies.init();
    const mounts = new MountTable(barrier);
    await mounts.load();
    return new LogicalLayer(new TokenStore(barrier), policies, mounts);
  }

  resolveToken(token: string): Promise<TokenView | undefined> {
    return this.tokens.resolve(token);
  }

  resolveTokenCached(token: string): TokenView | undefined {
    return this.tokens.resolveCached(token);
  }

  aclCached(policies: readonly string[]): AclPort | undefined {
    return this.policies.getAclCached(policies);
  }

  consumeTokenUse(token: string): Promise<void> {
    return this.tokens.consumeUse(token);
  }

  acl(policies: readonly string[]): Promise<AclPort> {
    return this.policies.getAcl(policies);
  }

  isSudoProtected(path: string, operation: Operation): boolean {
    return isSudoProtected(path, operation);
  }

  mintRootToken(): Promise<string> {
    return this.tokens.createRoot();
  }

  route(path: string): RouteTarget | undefined {
    if (path.startsWith(TOKEN_PREFIX)) return { backend: this.tokens, rest: path.slice(TOKEN_PREFIX.length), mountType: 'token' };
    if (isUnder(path, 'sys/policies/acl') || isUnder(path, 'sys/policy')) {
      return { backend: this.policies, rest: path, mountType: 'system' };
    }
    if (isUnder(path, 'sys/mounts') || isUnder(path, 'sys/internal/ui/mounts') || isUnder(path, 'sys/auth')) {
      return { backend: this.mounts, rest: path, mountType: 'system' };
    }
    if (path.startsWith('sys/')) return undefined;
    const hit = this.mounts.resolve(path);
    if (hit === undefined) return undefined;
    return { backend: hit.backend, rest: hit.rest, mountType: hit.entry.type };
  }
}

/** `path` is `base` itself, `base/` or below it (no string is built: this runs several times per request). */
function isUnder(path: string, base: string): boolean {
  return path.startsWith(base) && (path.length === base.length || path.charCodeAt(base.length) === 0x2f);
}
