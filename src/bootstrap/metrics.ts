/**
 * The `watch` daemon's state per node and its Prometheus text exposition (format 0.0.4). Label values are escaped
 * as the format requires; nothing secret is ever a label or a value.
 */
import type { NodeRole } from './cluster.js';

/** What the daemon knows about one node. */
export interface NodeState {
  address: string;
  /** true sealed, false unsealed, undefined not known yet (or unreachable). */
  sealed: boolean | undefined;
  /** The node's role at the last check (clusters: active or standby once unsealed); undefined = not known yet. */
  role: NodeRole | undefined;
  reachable: boolean;
  unsealAttempts: number;
  unsealFailures: number;
  checkErrors: number;
  /** Unix seconds of the last successful unseal (0 = never). */
  lastUnsealSuccess: number;
  /** Unix seconds of the last check that reached the node (0 = never). */
  lastCheck: number;
}

function freshState(address: string): NodeState {
  return { address, sealed: undefined, role: undefined, reachable: false, unsealAttempts: 0, unsealFailures: 0, checkErrors: 0, lastUnsealSuccess: 0, lastCheck: 0 };
}

/** All nodes' states, shared by the loop (writer) and the HTTP endpoint (reader). */
export class WatchMetrics {
  readonly nodes: Map<string, NodeState>;

  constructor(addresses: readonly string[]) {
    this.nodes = new Map(addresses.map((address) => [address, freshState(address)]));
  }

  /** The state of `address` (created on first use). */
  node(address: string): NodeState {
    let state = this.nodes.get(address);
    if (state === undefined) {
      state = freshState(address);
      this.nodes.set(address, state);
    }
    return state;
  }

  /** True when every node was reachable and unsealed at its last check. */
  healthy(): boolean {
    return [...this.nodes.values()].every((n) => n.reachable && n.sealed === false);
  }

  /** The Prometheus text exposition. */
  render(): string {
    const lines: string[] = [];
    const family = (name: string, type: 'gauge' | 'counter', help: string, value: (n: NodeState) => number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const n of this.nodes.values()) lines.push(`${name}{node="${escapeLabel(n.address)}"} ${value(n)}`);
    };
    family('secretstore_setup_node_sealed', 'gauge', '1 if the node was sealed at the last check, 0 if unsealed, -1 if unknown.', (n) =>
      n.sealed === undefined ? -1 : n.sealed ? 1 : 0,
    );
    family('secretstore_setup_node_up', 'gauge', '1 if the node answered the last check.', (n) => (n.reachable ? 1 : 0));
    family('secretstore_setup_node_active', 'gauge', '1 if the node was the active node at the last check, 0 if not (standby, sealed, down), -1 if unknown.', (n) =>
      n.role === undefined ? -1 : n.role === 'active' ? 1 : 0,
    );
    family('secretstore_setup_unseal_attempts_total', 'counter', 'Unseals attempted by this daemon.', (n) => n.unsealAttempts);
    family('secretstore_setup_unseal_failures_total', 'counter', 'Unseal attempts that failed.', (n) => n.unsealFailures);
    family('secretstore_setup_check_errors_total', 'counter', 'Checks that could not reach the node or failed.', (n) => n.checkErrors);
    family(
      'secretstore_setup_last_unseal_success_timestamp_seconds',
      'gauge',
      'Unix time of the last successful unseal (0 = never).',
      (n) => n.lastUnsealSuccess,
    );
    family('secretstore_setup_last_check_timestamp_seconds', 'gauge', 'Unix time of the last check that reached the node.', (n) => n.lastCheck);
    return lines.join('\n') + '\n';
  }
}

/** Escapes a Prometheus label value: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
