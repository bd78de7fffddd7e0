/**
 * Several nodes of one cluster (`--addr` repeated), the way Vault and OpenBao run them (integrated raft storage, or
 * etcd/Consul/PostgreSQL storage with `ha_enabled`): every node is initialized together (init happens once, through
 * one node), each node is sealed on its own and must be unsealed with the same shares, one unsealed node is ACTIVE
 * (it serves; `sys/health` says `standby: false`) and the others are standbys (`standby: true`; 429, or 200 with
 * `standbyok=true`) that forward requests to the active node.
 *
 * This module only reads the cluster's state through Vault's HTTP API (`sys/health`, `sys/leader`); the flow
 * (./flow.ts), `watch` and `status` decide what to do with it. Nothing here depends on which store answers.
 */
import { isSecretStoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/client.js';
import type { HealthResponse } from '../vault/types.js';
import { KNOWN_HEALTH } from './wait.js';

/**
 * A node's role: `active` (unsealed, serving), `standby` (unsealed, forwarding to the active node), `sealed`,
 * `uninitialized`, or `down` (no answer, or an answer that is none of Vault's health states).
 */
export type NodeRole = 'active' | 'standby' | 'sealed' | 'uninitialized' | 'down';

/** One node's `sys/health` at one moment. */
export interface NodeProbe {
  client: VaultClient;
  role: NodeRole;
  /** The answer, when the node gave one of Vault's health states. */
  health?: HealthResponse;
  /** Why the node counts as down (the transport error or the unexpected status), never a secret. */
  error?: string;
  /** The node answered over HTTP (false: refused, reset, timed out). */
  answered: boolean;
}

/** The role a `sys/health` answer (with `standbyok=true`) says. */
export function roleOf(health: HealthResponse): NodeRole {
  if (health.status === 501 || !health.initialized) return 'uninitialized';
  if (health.status === 503 || health.sealed) return 'sealed';
  return health.standby ? 'standby' : 'active';
}

/** True for a role whose node is unsealed. */
export function isUnsealedRole(role: NodeRole): boolean {
  return role === 'active' || role === 'standby';
}

/**
 * Reads `sys/health` of one node, without retries (probes are repeated by their callers: a node that is down costs
 * one refused connection); a node that does not answer (or answers off Vault's states) is `down`.
 */
export async function probeNode(client: VaultClient): Promise<NodeProbe> {
  try {
    const health = await client.health({ retries: 0 });
    if (!KNOWN_HEALTH.has(health.status)) return { client, role: 'down', error: `HTTP ${health.status} to sys/health`, answered: true };
    return { client, role: roleOf(health), health, answered: true };
  } catch (err) {
    if (isSecretStoreError(err, 'ABORTED')) throw err;
    if (!isSecretStoreError(err)) throw err;
    return { client, role: 'down', error: err.message, answered: err.code !== 'STORE_UNREACHABLE' && err.code !== 'STORE_TIMEOUT' };
  }
}

/** Reads every node's `sys/health` at once; results in the configured order. */
export async function probeNodes(clients: readonly VaultClient[]): Promise<NodeProbe[]> {
  return Promise.all(clients.map((c) => probeNode(c)));
}

/**
 * Whether two store addresses name the same node: scheme, host (case-insensitive, default port dropped) and path,
 * compared exactly otherwise — `localhost` is not `127.0.0.1`, because a token must only ever go to an address the
 * operator configured.
 */
export function sameAddress(a: string, b: string): boolean {
  const norm = (text: string): string | undefined => {
    try {
      const u = new URL(text);
      return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '')}`;
    } catch {
      return undefined;
    }
  };
  const x = norm(a);
  return x !== undefined && x === norm(b);
}

/** What {@link findActive} saw: the active node's client, or why there is none yet. */
export type ActiveSearch = { found: VaultClient; probes: NodeProbe[] } | { last: string; probes: NodeProbe[] };

/**
 * One look for the active node among the configured ones: the node whose health says active (the first, in the
 * configured order, should two say so during a hand-over); else the node an unsealed standby's `sys/leader` names —
 * only when that address is one of the configured nodes (compared with {@link sameAddress}) and its own health did
 * not answer (an answer saying standby or sealed beats a leader address that may be stale). A leader address that
 * is not configured is logged once (`warned`) and never used: the root token goes to configured nodes only.
 */
export async function findActive(clients: readonly VaultClient[], log: Logger, warned: Set<string>): Promise<ActiveSearch> {
  const probes = await probeNodes(clients);
  const active = probes.find((p) => p.role === 'active');
  if (active !== undefined) return { found: active.client, probes };
  const foreign: string[] = [];
  for (const p of probes) {
    if (p.role !== 'standby') continue;
    let leaderAddress: string;
    try {
      const leader = await p.client.leader();
      if (!leader.haEnabled || leader.leaderAddress === '') continue;
      leaderAddress = leader.leaderAddress;
    } catch (err) {
      if (isSecretStoreError(err, 'ABORTED')) throw err;
      continue;
    }
    const named = probes.find((q) => sameAddress(q.client.address, leaderAddress));
    if (named === undefined) {
      foreign.push(leaderAddress);
      if (!warned.has(leaderAddress)) {
        warned.add(leaderAddress);
        log.warn('sys/leader names an active node that is not a configured address; it is never sent a token (add it with --addr if it belongs to this cluster)', {
          node: p.client.address,
          leader: leaderAddress,
        });
      }
      continue;
    }
    if (named.role === 'down') return { found: named.client, probes };
  }
  const roles = probes.map((p) => `${p.client.address} ${p.role}`).join(', ');
  return { last: foreign.length > 0 ? `${roles}; sys/leader names ${foreign[0] ?? ''}, not a configured node` : roles, probes };
}

/**
 * The node to send work to now, for a long-lived user of the store (the `--longRun` re-issue service), whose
 * boot-time active node may have failed over since: one node alone is that node; of several, the active one when a
 * probe finds it answering, else an unsealed standby (it forwards to the active node), else `fallback` (the request
 * then fails with that node's own error).
 */
export async function currentNode(clients: readonly VaultClient[], fallback: VaultClient, log: Logger, warned: Set<string>): Promise<VaultClient> {
  if (clients.length <= 1) return fallback;
  const search = await findActive(clients, log, warned);
  const answered = (c: VaultClient): boolean => search.probes.some((p) => p.client === c && isUnsealedRole(p.role));
  if ('found' in search && answered(search.found)) return search.found;
  return search.probes.find((p) => p.role === 'standby')?.client ?? fallback;
}
