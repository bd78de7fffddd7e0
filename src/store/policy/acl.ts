/**
 * The access-control list built from a token's policies, with Vault's matching (vault/acl.go):
 * 1. an exact rule for the path; 2. for `list`, an exact rule for the path without its trailing `/`;
 * 3. otherwise the best non-exact rule among the longest `*` prefix rule and every matching `+` rule, ranked by
 *    (later first wildcard/glob) > (not a prefix) > (fewer `+` segments) > (longer) > (lexically greater).
 * Rules for the same path from several policies are merged: capabilities OR-ed, and `deny` replaces everything.
 * Only the chosen rule counts — a more specific allow beats a less specific deny, as in Vault.
 */
import type { Operation } from '../logical.js';
import type { Capability, Policy } from './policy.js';

/** Capabilities in Vault's `sys/capabilities` order. */
const DISPLAY_ORDER: readonly Capability[] = ['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch'];

type CapSet = Set<Capability>;

interface SegmentRule {
  /** The rule path including a trailing `*` when it is a prefix rule (Vault's map key). */
  fullPath: string;
  parts: string[];
  prefix: boolean;
  firstWildcard: number;
  wildcards: number;
  /** The path without the trailing `*`, for length and lexical ranking. */
  wcPath: string;
  caps: CapSet;
}

interface Candidate {
  firstWildcard: number;
  prefix: boolean;
  wildcards: number;
  wcPath: string;
  caps: CapSet;
}

function merge(into: Map<string, CapSet>, key: string, caps: readonly Capability[]): CapSet {
  const existing = into.get(key);
  if (existing === undefined) {
    const fresh: CapSet = new Set(caps.includes('deny') ? ['deny'] : caps);
    into.set(key, fresh);
    return fresh;
  }
  if (existing.has('deny')) return existing;
  if (caps.includes('deny')) {
    existing.clear();
    existing.add('deny');
    return existing;
  }
  for (const c of caps) existing.add(c);
  return existing;
}

/** True when candidate `a` ranks below `b` (Vault's `less`). */
function lowerPriority(a: Candidate, b: Candidate): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard < b.firstWildcard;
  if (a.prefix !== b.prefix) return a.prefix;
  if (a.wildcards !== b.wildcards) return a.wildcards > b.wildcards;
  if (a.wcPath.length !== b.wcPath.length) return a.wcPath.length < b.wcPath.length;
  return a.wcPath < b.wcPath;
}

function stripLeadingSlashes(path: string): string {
  let i = 0;
  while (path.charAt(i) === '/') i++;
  return path.slice(i);
}

const OPERATION_CAPABILITY: Readonly<Record<Operation, Capability>> = {
  create: 'create',
  read: 'read',
  update: 'update',
  patch: 'patch',
  delete: 'delete',
  list: 'list',
};

/** An immutable ACL: what a set of policies allows. */
export class Acl {
  /** True when the `root` policy is among the policies: everything is allowed. */
  readonly isRoot: boolean;
  private readonly exact = new Map<string, CapSet>();
  private readonly prefixes = new Map<string, CapSet>();
  private readonly segments: SegmentRule[] = [];
  /**
   * Rules found per path (`list` lookups keyed apart, they also try the path without its trailing slash): an ACL
   * never changes once built (a policy change builds a new one), so a decision can be remembered. Bounded: when
   * full it starts over.
   */
  private readonly memo = new Map<string, CapSet | undefined>();

  private constructor(isRoot: boolean) {
    this.isRoot = isRoot;
  }

  /** Builds the ACL of a token holding `policies`; the `root` policy grants everything. */
  static fromPolicies(policies: readonly Policy[]): Acl {
    const acl = new Acl(policies.some((p) => p.name === 'root'));
    if (acl.isRoot) return acl;
    const segmentCaps = new Map<string, CapSet>();
    for (const policy of policies) {
      for (const rule of policy.rules) {
        if (rule.segmentWildcards) {
          const fullPath = rule.path + (rule.prefix ? '*' : '');
          const known = segmentCaps.has(fullPath);
          const caps = merge(segmentCaps, fullPath, rule.capabilities);
          if (known) continue;
          const parts = rule.path.split('/');
          acl.segments.push({
            fullPath,
            parts,
            prefix: rule.prefix,
            firstWildcard: fullPath.indexOf('+'),
            wildcards: 0,
            wcPath: rule.path,
            caps,
          });
        } else if (rule.prefix) merge(acl.prefixes, rule.path, rule.capabilities);
        else merge(acl.exact, rule.path, rule.capabilities);
      }
    }
    return acl;
  }

  /** The merged capabilities of the rule that governs `path` for `operation`, or undefined when none matches. */
  private lookup(rawPath: string, operation: Operation | undefined): CapSet | undefined {
    if (rawPath.length > ACL_MEMO_MAX_PATH) return this.find(rawPath, operation);
    const memoKey = operation === 'list' ? '\n' + rawPath : rawPath;
    const known = this.memo.get(memoKey);
    if (known !== undefined || this.memo.has(memoKey)) return known;
    const found = this.find(rawPath, operation);
    if (this.memo.size >= ACL_MEMO_ENTRIES) this.memo.clear();
    this.memo.set(memoKey, found);
    return found;
  }

  private find(rawPath: string, operation: Operation | undefined): CapSet | undefined {
    const path = stripLeadingSlashes(rawPath);
    const exact = this.exact.get(path);
    if (exact !== undefined) return exact;
    if (operation === 'list') {
      const trimmed = this.exact.get(path.endsWith('/') ? path.slice(0, -1) : path);
      if (trimmed !== undefined) return trimmed;
    }
    return this.nonExact(path);
  }

  private nonExact(path: string): CapSet | undefined {
    let best: Candidate | undefined;
    let longest = -1;
    for (const [prefix, caps] of this.prefixes) {
      if (prefix.length > longest && path.startsWith(prefix)) {
        longest = prefix.length;
        best = { firstWildcard: prefix.length, prefix: true, wildcards: 0, wcPath: prefix, caps };
      }
    }
    if (this.segments.length === 0) return best?.caps;
    const pathParts = path.split('/');
    for (const rule of this.segments) {
      if (pathParts.length < rule.parts.length) continue;
      if (!rule.prefix && pathParts.length !== rule.parts.length) continue;
      let wildcards = 0;
      let matched = true;
      for (let i = 0; i < rule.parts.length; i++) {
        const aclPart = rule.parts[i] as string;
        const pathPart = pathParts[i] as string;
        if (aclPart === '+') wildcards++;
        else if (aclPart === pathPart) continue;
        else if (rule.prefix && i === rule.parts.length - 1 && pathPart.startsWith(aclPart)) continue;
        else {
          matched = false;
          break;
        }
      }
      if (!matched) continue;
      const cand: Candidate = { firstWildcard: rule.firstWildcard, prefix: rule.prefix, wildcards, wcPath: rule.wcPath, caps: rule.caps };
      if (best === undefined || lowerPriority(best, cand)) best = cand;
    }
    return best?.caps;
  }

  /**
   * The capabilities on `path` as `sys/capabilities` reports them: Vault's order, `['deny']` when nothing is
   * granted or the rule denies; a root ACL reports every capability except `deny`.
   */
  capabilities(path: string): Capability[] {
    if (this.isRoot) return [...DISPLAY_ORDER];
    const caps = this.lookup(path, undefined);
    if (caps === undefined || caps.has('deny')) return ['deny'];
    const out = DISPLAY_ORDER.filter((c) => caps.has(c));
    return out.length === 0 ? ['deny'] : out;
  }

  /** Whether `operation` on `path` is allowed (before any sudo requirement, see {@link hasSudo}). */
  allows(path: string, operation: Operation): boolean {
    if (this.isRoot) return true;
    const caps = this.lookup(path, operation);
    if (caps === undefined || caps.has('deny')) return false;
    return caps.has(OPERATION_CAPABILITY[operation]);
  }

  /** Whether the rule governing `path` (for `operation`, default read) grants `sudo`; always true for root. */
  hasSudo(path: string, operation?: Operation): boolean {
    if (this.isRoot) return true;
    const caps = this.lookup(path, operation);
    return caps !== undefined && !caps.has('deny') && caps.has('sudo');
  }
}

/** Most path decisions one ACL remembers. */
export const ACL_MEMO_ENTRIES = 1024;
/** Longer paths are decided afresh each time (client-chosen paths must not make the memo large). */
export const ACL_MEMO_MAX_PATH = 256;

/**
 * Root-protected paths (Vault's `PathsSpecial.Root` of the system and token backends, plus `sys/seal` and
 * `sys/step-down`, which Vault's HTTP layer guards the same way): a request to them needs `sudo` besides the
 * operation's capability. Entries ending in `*` are prefixes.
 */
export const SUDO_PATHS: readonly string[] = [
  'sys/seal',
  'sys/step-down',
  'sys/auth/*',
  'sys/remount',
  'sys/audit',
  'sys/audit/*',
  'sys/raw',
  'sys/raw/*',
  'sys/rotate',
  'sys/rotate/*',
  'sys/config/cors',
  'sys/config/auditing/*',
  'sys/config/ui/headers/*',
  'sys/plugins/catalog/*',
  'sys/revoke-prefix/*',
  'sys/revoke-force/*',
  'sys/leases',
  'sys/leases/revoke-prefix/*',
  'sys/leases/revoke-force/*',
  'sys/leases/lookup/*',
  'sys/storage/raft/snapshot-auto/config/*',
  'sys/internal/inspect/*',
  'sys/replication/reindex',
  'sys/replication/dr/reindex',
  'sys/replication/performance/reindex',
  'sys/replication/primary/secondary-token',
  'sys/replication/performance/primary/secondary-token',
  'sys/replication/dr/primary/secondary-token',
  'auth/token/accessors*',
  'auth/token/revoke-orphan*',
];

/** Root paths whose only operation is `list`: a request with another operation is not sudo-gated (it is a 405). */
const LIST_ONLY: readonly string[] = ['sys/leases/lookup/*', 'auth/token/accessors*'];

/** The first path segments of every root-protected path: any other path is answered at once (nearly all requests). */
const SUDO_FIRST_SEGMENTS = new Set(SUDO_PATHS.map((e) => e.slice(0, e.indexOf('/'))));

/**
 * Whether a request needs `sudo` on `path` (the full path, e.g. `sys/seal`, `auth/token/accessors/`). The operation
 * only matters for list-only paths (their other operations are unsupported anyway). Token creation with `id`, `no_parent`
 * or `period` also needs sudo: the token store checks that itself from the caller's context.
 */
export function isSudoProtected(path: string, operation: Operation): boolean {
  const p = stripLeadingSlashes(path);
  const slash = p.indexOf('/');
  if (!SUDO_FIRST_SEGMENTS.has(slash === -1 ? p : p.slice(0, slash))) return false;
  for (const entry of SUDO_PATHS) {
    if (operation !== 'list' && LIST_ONLY.includes(entry)) continue;
    if (entry.endsWith('*') ? p.startsWith(entry.slice(0, -1)) : p === entry || p === entry + '/') return true;
  }
  return false;
}
