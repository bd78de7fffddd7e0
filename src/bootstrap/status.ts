/**
 * `status`: what an operator needs at a glance — per node (its role: active / standby / sealed / uninitialized /
 * down, with initialized, sealed, unseal progress, version) and the key file's state (format, encrypted, share count, threshold, salt present, hook configured). It never
 * runs the hook and never reads a secret: the key file is only inspected.
 */
import { isSecretStoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SecretStoreConfig } from '../config/config.js';
import { inspectKeyFile, type KeyFileSummary } from '../keyfile/keyfile.js';
import { makeClients } from './nodes.js';
import { roleOf, type NodeRole } from './cluster.js';
import type { HealthResponse } from '../vault/types.js';
import { keyFileLocation } from './flow.js';

/** One node's state. */
export interface NodeStatus {
  address: string;
  /**
   * What the node is doing: `active` / `standby` (unsealed; from `sys/health`'s `standby`; a node without HA is
   * active), `sealed`, `uninitialized`, or `down` (no answer).
   */
  role: NodeRole;
  reachable: boolean;
  initialized?: boolean;
  sealed?: boolean;
  threshold?: number;
  shares?: number;
  progress?: number;
  version?: string;
  error?: string;
}

/** The whole report. */
export interface StatusReport {
  nodes: NodeStatus[];
  keyFile: {
    path: string;
    present: boolean;
    summary?: KeyFileSummary;
    error?: string;
  };
  hook: { configured: boolean; path?: string };
}

/** Gathers the report; unreachable nodes and unreadable key files are reported, not thrown. */
export async function gatherStatus(config: SecretStoreConfig, env: NodeJS.ProcessEnv, log: Logger): Promise<StatusReport> {
  const clients = makeClients({ ...config, requestTimeoutSeconds: Math.min(config.requestTimeoutSeconds, 5) }, log);
  const nodes = await Promise.all(
    clients.map(async (client): Promise<NodeStatus> => {
      // The seal status has the unseal progress, the health the HA role; both are unauthenticated GETs. Health is
      // answered by the node itself; an unsealed standby may forward seal-status to the active node and fail it
      // while there is none — the node is then still reported with its role.
      const [sealed, health] = await Promise.all([
        client.sealStatus().then(
          (s) => ({ s }),
          (err: unknown) => ({ error: isSecretStoreError(err) ? err.message : 'unexpected error' }),
        ),
        client.health().catch((): HealthResponse | undefined => undefined),
      ]);
      const known = health !== undefined && [200, 429, 501, 503].includes(health.status) ? health : undefined;
      if ('error' in sealed) {
        if (known === undefined) return { address: client.address, role: 'down', reachable: false, error: sealed.error };
        return { address: client.address, role: roleOf(known), reachable: true, initialized: known.initialized, sealed: known.sealed, version: known.version, error: sealed.error };
      }
      const s = sealed.s;
      // Without a health answer an unsealed node is not claimed to be active.
      const role: NodeRole = known !== undefined ? roleOf(known) : !s.initialized ? 'uninitialized' : s.sealed ? 'sealed' : 'standby';
      return {
        address: client.address,
        role,
        reachable: true,
        initialized: s.initialized,
        sealed: s.sealed,
        threshold: s.t,
        shares: s.n,
        progress: s.progress,
        version: s.version,
      };
    }),
  );
  const loc = keyFileLocation(config);
  const path = `${loc.dir}/${loc.file ?? ''}`;
  let keyFile: StatusReport['keyFile'];
  try {
    const summary = await inspectKeyFile(loc);
    keyFile = summary === undefined ? { path, present: false } : { path, present: true, summary };
  } catch (err) {
    keyFile = { path, present: true, error: isSecretStoreError(err) ? `${err.code}: ${err.message}` : 'unexpected error' };
  }
  const hookPath = env.EDGEX_IKM_HOOK;
  const hook = hookPath !== undefined && hookPath !== '' ? { configured: true, path: hookPath } : { configured: false };
  return { nodes, keyFile, hook };
}

/** Human-readable rendering of {@link StatusReport}. */
export function renderStatus(report: StatusReport): string {
  const lines: string[] = [];
  for (const n of report.nodes) {
    if (!n.reachable) {
      lines.push(`node ${n.address}: unreachable (${n.error ?? 'no answer'}); role down`);
      continue;
    }
    const state =
      n.role === 'uninitialized' || n.initialized !== true
        ? 'uninitialized'
        : n.role === 'sealed' || n.sealed === true
          ? `sealed (unseal progress ${n.progress ?? 0}/${n.threshold ?? 0})`
          : n.role === 'active'
            ? 'active (unsealed)'
            : 'standby (unsealed; forwards requests to the active node)';
    lines.push(`node ${n.address}: ${state}; threshold ${n.threshold ?? 0} of ${n.shares ?? 0} shares; version ${n.version || 'unknown'}`);
  }
  const k = report.keyFile;
  if (!k.present) lines.push(`key file ${k.path}: absent`);
  else if (k.summary === undefined) lines.push(`key file ${k.path}: unreadable (${k.error ?? 'unknown error'})`);
  else {
    const s = k.summary;
    lines.push(
      `key file ${s.path}: format ${s.format}${s.edgexLabel === undefined ? '' : ` (${s.edgexLabel} labels)`}, ` +
        `${s.encrypted ? 'encrypted' : 'PLAINTEXT'}, ${s.shareCount} shares, threshold ${s.threshold ?? 'not recorded'}, ` +
        `salt ${s.saltPresent ? 'present' : 'absent'}, root token ${s.hasRootToken ? (s.rootTokenEncrypted ? 'stored encrypted' : 'stored in PLAINTEXT') : 'not stored'}`,
    );
  }
  lines.push(report.hook.configured ? `IKM hook: ${report.hook.path ?? ''}` : 'IKM hook: not configured (EDGEX_IKM_HOOK unset; no encryption)');
  return lines.join('\n') + '\n';
}
