/**
 * EdgeX's flag spellings, turned into ours before strict parsing: Go's `flag` package accepts `-name` and `--name`
 * alike, booleans as `--longRun=true`, and EdgeX's bootstrap adds short aliases (`-cd`, `-cf`, `-p`, …) that are
 * longer than one letter. An EdgeX compose file or systemd unit can then call this program with the arguments it
 * gives `security-secretstore-setup`.
 */
import { SecretStoreError } from '../errors.js';

/** EdgeX names (without dashes) → ours (long option names). */
const RENAMES: Readonly<Record<string, string>> = {
  cd: 'configDir',
  configDir: 'configDir',
  cf: 'configFile',
  configFile: 'configFile',
  p: 'profile',
  profile: 'profile',
  secretStoreInterval: 'secretStoreInterval',
  // EdgeX 3.1's name of the same setting.
  vaultInterval: 'secretStoreInterval',
  longRun: 'longRun',
  insecureSkipVerify: 'insecureSkipVerify',
};

/** Boolean flags (Go accepts `--flag=true|false`). */
const BOOLEANS = new Set(['longRun', 'insecureSkipVerify', 'o', 'overwrite', 'd', 'dev']);

/**
 * Generic EdgeX bootstrap flags that make no sense here (configuration provider, registry, remote hosts): refused
 * with a clear message rather than silently ignored, since the setup they ask for would not happen.
 */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  cp: 'a configuration provider (-cp/--configProvider)',
  configProvider: 'a configuration provider (-cp/--configProvider)',
  cc: 'a common configuration (-cc/--commonConfig)',
  commonConfig: 'a common configuration (-cc/--commonConfig)',
  r: 'a registry (-r/--registry)',
  registry: 'a registry (-r/--registry)',
  rsh: 'remote service hosts (-rsh/--remoteServiceHosts)',
  remoteServiceHosts: 'remote service hosts (-rsh/--remoteServiceHosts)',
};

/** Flags accepted and ignored: `-o/--overwrite` and `-d/--dev` only affect a configuration provider. */
const IGNORED = new Set(['o', 'overwrite', 'd', 'dev']);

/** Go's boolean spellings (strconv.ParseBool). */
function goBool(value: string, flag: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new SecretStoreError('USAGE', `--${flag} takes true or false, got "${value}"`);
}

/** Rewrites EdgeX spellings in `argv` to ours; other arguments pass through unchanged. */
export function normalizeEdgexArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const m = /^--?([A-Za-z][A-Za-z0-9]*)(?:=(.*))?$/s.exec(arg);
    if (m === null) {
      out.push(arg);
      continue;
    }
    const name = m[1] ?? '';
    const value = m[2];
    const unsupported = UNSUPPORTED[name];
    if (unsupported !== undefined) throw new SecretStoreError('USAGE', `${unsupported} is not supported: this program reads its configuration from a file and the environment`);
    if (IGNORED.has(name)) {
      if (value !== undefined) goBool(value, name);
      continue;
    }
    const ours = RENAMES[name];
    if (ours === undefined) {
      out.push(arg);
      continue;
    }
    if (BOOLEANS.has(ours)) {
      if (value === undefined || goBool(value, ours)) out.push(`--${ours}`);
      continue;
    }
    out.push(value === undefined ? `--${ours}` : `--${ours}=${value}`);
  }
  return out;
}
