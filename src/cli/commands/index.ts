/**
 * The command table. Modules load lazily so that, say, `serve` never loads the boot flow and starts fast.
 * Add one line per command.
 */
import type { Command } from '../command.js';

/** An entry of the command table. */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'version', summary: 'print the version', load: async () => (await import('./version.js')).versionCommand },
  { name: 'serve', summary: 'run the embedded Vault-compatible secret store', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'keys', summary: 'inspect, verify, encrypt, decrypt, convert, rewrap, escrow or recover the key file', load: async () => (await import('./keys.js')).keysCommand },
  { name: 'bootstrap', summary: 'initialize and unseal the secret store, issue the token-issuing token (default)', load: async () => (await import('./bootstrap.js')).bootstrapCommand },
  { name: 'watch', summary: 'keep the nodes unsealed; /healthz and /metrics on loopback', load: async () => (await import('./watch.js')).watchCommand },
  { name: 'status', summary: 'show node and key-file state (never a secret)', load: async () => (await import('./status.js')).statusCommand },
  { name: 'protect', summary: 'encrypt a secret file at rest with the IKM hook', load: async () => (await import('./protect.js')).protectCommand },
  { name: 'unprotect', summary: 'decrypt a file protected with protect', load: async () => (await import('./unprotect.js')).unprotectCommand },
  { name: 'demo', summary: 'run the whole boot flow on a throw-away store', load: async () => (await import('./demo.js')).demoCommand },
  { name: 'hooks', summary: 'write the sample IKM hooks out to a folder (hooks install DIR), or list them', load: async () => (await import('./hooks.js')).hooksCommand },
];
