/**
 * The logical layer the HTTP API talks to while the store is unsealed, assembled from the real token store, policy
 * store, mount table (secrets engines and auth methods) and identity store over the barrier: token resolution, the
 * policies a token is granted (its own plus its entity's), ACLs, the sudo list, logins, and the routing table from
 * a path to the backend that serves it.
 */
import { credentialFactories } from '../auth/credential-types.js';
import { completeLogin } from '../auth/login.js';
import { EntityStore } from '../identity/entity-store.js';
import { IdentityBackend } from '../identity/identity-backend.js';
import type { AuthMountInfo } from '../identity/identity-types.js';
import { OidcBackend } from '../identity/oidc/oidc-backend.js';
import type { LoginPlan, LogicalResponse, Operation } from '../logical.js';
import { isSudoProtected } from '../policy/acl.js';
import { PolicyStore } from '../policy/policy-store.js';
import { PrefixedStorage, type Storage } from '../storage/storage.js';
import { sanitizePolicies } from '../tokens/token-entry.js';
import { TokenStore } from '../tokens/token-store.js';
import { MountTable, type MountEntry } from '../mounts/mount-table.js';
import type { AclPort, LogicalPort, RouteTarget, TokenView } from './ports.js';

const TOKEN_PREFIX = 'auth/token/';
const IDENTITY_PREFIX = 'identity/';

/** Options of {@link LogicalLayer.open}. */
export interface LogicalLayerOptions {
  /** Clock in epoch milliseconds for every component (tests inject one). */
  now?: () => number;
}

/** A token's granted policies, remembered with the entity's policy array they were computed from. */
interface GrantedPolicies {
  identity: readonly string[];
  union: readonly string[];
}

/** The token store, policy store and mount table of an unsealed store, behind {@link LogicalPort}. */
export class LogicalLayer implements LogicalPort {
  readonly tokens: TokenStore;
  readonly policies: PolicyStore;
  readonly mounts: MountTable;
  readonly entities: EntityStore;
  private readonly identity: IdentityBackend;
  /** Per token view (frozen, shared by its requests): its own ∪ its entity's policies, while the entity is unchanged. */
  private readonly granted = new WeakMap<TokenView, GrantedPolicies>();

  private constructor(tokens: TokenStore, policies: PolicyStore, mounts: MountTable, entities: EntityStore, identity: IdentityBackend) {
    this.tokens = tokens;
    this.policies = policies;
    this.mounts = mounts;
    this.entities = entities;
    this.identity = identity;
  }

  /**
   * Builds the layer over the barrier: loads the policies (writing `default` on first start), the mount table, the
   * entities; connects the token store to the identity store, and the disabling of an auth method to the revocation
   * of its tokens and the removal of its aliases.
   */
  static async open(barrier: Storage, options: LogicalLayerOptions = {}): Promise<LogicalLayer> {
    const clock = options.now === undefined ? {} : { now: options.now };
    const policies = new PolicyStore(barrier);
    await policies.init();
    const tokens = new TokenStore(barrier, clock);
    // The mount table and the entity store refer to each other (aliases name auth mounts; disabling a mount removes
    // its aliases): the hook is bound once both exist.
    const onDisabled: { run?: (entry: Readonly<MountEntry>) => Promise<void> } = {};
    const mounts = new MountTable(barrier, {
      ...clock,
      credentials: credentialFactories(clock),
      onAuthDisabled: (entry) => onDisabled.run?.(entry) ?? Promise.resolve(),
    });
    await mounts.load();
    const resolveMount = (accessor: string): AuthMountInfo | undefined => {
      const e = mounts.authByAccessor(accessor);
      return e === undefined ? undefined : { accessor: e.accessor, type: e.type, path: 'auth/' + e.path };
    };
    const entities = await EntityStore.open(new PrefixedStorage(barrier, 'sys/identity/'), resolveMount, clock);
    onDisabled.run = async (entry) => {
      await tokens.revokeByPathPrefix('auth/' + entry.path);
      await entities.removeAliasesForMount(entry.accessor);
    };
    const tokenMount = mounts.authEntries().find((e) => e.path === 'token/');
    if (tokenMount !== undefined) tokens.attachIdentity(entities, tokenMount.accessor);
    const oidc = new OidcBackend(new PrefixedStorage(barrier, 'sys/identity-oidc/'), entities, clock);
    return new LogicalLayer(tokens, policies, mounts, entities, new IdentityBackend(entities, oidc));
  }

  effectivePolicies(token: TokenView): readonly string[] | undefined {
    const entityId = token.entity_id;
    if (entityId === undefined || entityId === '') return token.policies;
    const entity = this.entities.entityById(entityId);
    // Vault denies every request of a token whose entity is disabled; a deleted entity just grants nothing more.
    if (entity?.disabled === true) return undefined;
    const identity = this.entities.entityPolicies(entityId);
    if (identity.length === 0) return token.policies;
    const hit = this.granted.get(token);
    if (hit?.identity === identity) return hit.union;
    const union = Object.freeze(sanitizePolicies([...token.policies, ...identity], false));
    this.granted.set(token, { identity, union });
    return union;
  }

  completeLogin(plan: LoginPlan, target: RouteTarget): Promise<LogicalResponse> {
    const mount = target.authMount;
    if (mount === undefined) return Promise.reject(new Error('login from a backend that is not an auth method'));
    return completeLogin(this.entities, this.tokens, plan, mount);
  }

  /** Drops what the backends keep decoded (call on seal). */
  forgetCaches(): void {
    this.mounts.forgetCaches();
    this.identity.forget();
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
    if (path.startsWith('auth/')) {
      const hit = this.mounts.resolveAuth(path);
      if (hit === undefined) return undefined;
      const { entry } = hit;
      return {
        backend: hit.backend,
        rest: hit.rest,
        mountType: entry.type,
        authMount: { accessor: entry.accessor, defaultLeaseTtl: entry.config.default_lease_ttl, maxLeaseTtl: entry.config.max_lease_ttl },
      };
    }
    if (path.startsWith(IDENTITY_PREFIX)) return { backend: this.identity, rest: path.slice(IDENTITY_PREFIX.length), mountType: 'identity' };
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
