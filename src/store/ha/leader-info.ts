/**
 * `GET sys/leader` for a node of an HA cluster, field for field as Vault's `LeaderResponse` (http/sys_leader.go,
 * vault/core.go GetLeaderStatus) for a non-raft storage: `last_wal` and the `raft_*` indexes are `omitempty` there
 * and zero here, so they are absent. A sealed node answers 503 `Vault is sealed`, as Vault's Leader() does.
 */
import { sealedError } from '../api-error.js';
import type { JsonObject } from '../logical.js';
import type { HaNode } from './ha-node.js';

/** Go's zero `time.Time`, which Vault reports as `active_time` on a standby. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The `sys/leader` body of `node`. */
export async function leaderStatus(node: HaNode): Promise<JsonObject> {
  if (node.role === 'sealed') throw sealedError();
  const self = node.role === 'active';
  const since = node.activeTime;
  // A linearizable read: who holds the lock now (a node that just lost it shows the new holder, or none).
  const leader = self ? node.identity : await node.activeNode(true);
  const address = leader?.apiAddr ?? '';
  return {
    ha_enabled: true,
    is_self: self,
    active_time: self && since !== undefined ? since.toISOString() : ZERO_TIME,
    leader_address: address,
    // Vault's cluster address is where standbys forward to; here that is the active node's API address.
    leader_cluster_address: address,
    performance_standby: false,
    performance_standby_last_remote_wal: 0,
  };
}
