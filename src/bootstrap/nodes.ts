/**
 * The nodes the flow talks to. Internally always a list (`nodes: URL[]`): one node, or the nodes of one cluster
 * (init once, every node unsealed, the work after the unseal on the active node: ./cluster.ts, ./flow.ts).
 */
import { readFileSync } from 'node:fs';
import { SecretStoreError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { SecretStoreConfig } from '../config/config.js';
import { VaultClient } from '../vault/client.js';

/** One client per configured node, sharing the CA bundle, timeouts and abort signal. */
export function makeClients(config: SecretStoreConfig, log: Logger, signal?: AbortSignal): VaultClient[] {
  let ca: Buffer | undefined;
  if (config.caFilePath !== '') {
    try {
      ca = readFileSync(config.caFilePath);
    } catch (err) {
      throw new SecretStoreError('CONFIG', `cannot read CaFilePath ${config.caFilePath} (${describeCause(err)})`);
    }
  }
  return config.nodes.map(
    (address) =>
      new VaultClient({
        address,
        ...(ca === undefined ? {} : { ca }),
        timeoutMs: config.requestTimeoutSeconds * 1000,
        log,
        ...(signal === undefined ? {} : { signal }),
      }),
  );
}
