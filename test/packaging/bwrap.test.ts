/**
 * The container image's runtime contract (packaging/container/Dockerfile), proven without Docker: the single
 * executable runs in a minimal root made with bubblewrap (`bwrap`, no daemon) that holds ONLY
 *
 * - the executable at /usr/local/bin/secretstore-setup,
 * - /bin/sh, bash and `env` (the sample hooks start with `#!/usr/bin/env bash`) and the coreutils that the hooks,
 *   ikm-dev's shell library and the EdgeX entrypoint use ({@link RUNTIME_PROGRAMS}), each bound read-only from this
 *   machine with exactly the shared libraries `ldd` lists for it (and for the executable: libc, libstdc++, libgcc_s,
 *   libm, the loader),
 * - /proc, /dev/null and /dev/urandom, and tmpfs or bound folders for data —
 *
 * no Node, no node_modules, no source tree, an empty environment but PATH and the hook's variables.
 *
 * Test 1 (the image's plain contract, as a NON-ROOT user, uid 10001 in a user namespace, no capabilities):
 * `hooks install /tmp/hooks`; `serve` in the background on a tmpfs data folder; `bootstrap` (first boot: init,
 * shares encrypted with the installed ikm-dev hook and a known IKM file, unseal, KV at secret/, the token-issuing
 * token) with the built-in defaults, i.e. EdgeX's paths (key file in /openbao/config/assets, token in
 * /run/edgex/secrets/tokenprovider/), both bound from host folders as compose volumes would be; the test writes a
 * secret from outside over the network; `serve` stopped and started again (sealed, as after a reboot), `bootstrap`
 * again (unseal); the secret read back. The key file is decrypted on the host with the known IKM, and every output
 * of the sandbox is scanned for the IKM, the shares and the tokens.
 *
 * Test 2 (the EdgeX image: its compose service read from packaging/container/docker-compose.secretstore-setup.yml and
 * checked against the Dockerfile's `edgex` stage): entrypoint-edgex.sh and the program as ROOT with only the
 * capabilities the compose service grants (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER), a read-only root, compose's
 * tmpfs and volume paths and environment: EdgeX 4's 18 services with `file_permissions` (2002:2001, rules-engine
 * 1001:1001, written by packaging/container/edgex-token-config.sh), the token folders chowned by the entrypoint
 * before the program starts; when the stage gate opens every token folder and file belongs to its service, the key
 * file is encrypted in EdgeX's format, --longRun answers; SIGTERM exits 0. Then the same start without each one of
 * the three capabilities must fail. Needs real root (chown to other users).
 *
 * The executable: `SECRETSTORE_SETUP_EXE=/path` reuses one (e.g. build/linux-x64/secretstore-setup from `npm run
 * package`); otherwise scripts/package.mjs builds one into a temp folder first (~6 s with npm's cache warm).
 * Time: ~6 s build + ~2 s (test 1) + ~6-11 s (test 2: 18 EdgeX services, then three short failing starts).
 *
 * Skips (loudly) when bwrap is missing or cannot create namespaces, test 2 when not root, or both when the Node 24
 * binary cannot be obtained for the build — except under CI=true, where each of these FAILS (.ci/run must install
 * `bubblewrap`).
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { sourceFile } from '../helpers/paths.js';
import { assertNoSecrets } from '../helpers/secret-scan.js';
import { freePortPair } from '../helpers/swtpm.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { NO_NODE_24, lastLine, runPackageScript } from './run.js';

const UNDER_CI = process.env.CI === 'true';

/**
 * The programs of the runtime root besides the executable — what the Dockerfile's runtime stage (debian:12-slim)
 * must provide: the shells, `env` for the hooks' shebang, and the coreutils used by hooks/ikm-dev,
 * hooks/lib/ikm-common.sh, packaging/container/entrypoint-edgex.sh and the test's own driver script.
 */
export const RUNTIME_PROGRAMS = [
  'sh',
  'bash',
  'env',
  'cat',
  'chmod',
  'chown',
  'dirname',
  'head',
  'id',
  'ln',
  'mkdir',
  'mktemp',
  'mv',
  'od',
  'readlink',
  'rm',
  'sleep',
  'stat',
  'sync',
  'tr',
] as const;

/** Where the executable lives in the image (and in the sandbox). */
const EXE_IN_ROOT = '/usr/local/bin/secretstore-setup';

// ------------------------------------------------------------------------------------------------------------------
// Preconditions: bwrap usable, the executable built (once per file).

/** Under CI: throw (the test fails). Elsewhere: a loud skip. Returns false so the caller can `return`. */
function skipOrFail(t: TestContext, reason: string): false {
  if (UNDER_CI) throw new Error(`required under CI=true: ${reason}`);
  process.stderr.write(`\n!!!!! SKIPPED ${t.name}: ${reason}\n!!!!! (under CI=true this fails)\n\n`);
  t.skip(`SKIPPED: ${reason}; under CI=true this test fails`);
  return false;
}

/** The absolute path of a program in /usr/bin or /bin, or undefined. */
function findProgram(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next folder
    }
  }
  return undefined;
}

/** bwrap is installed and can make the namespaces this test uses; else the reason it cannot. */
function bwrapProblem(): string | undefined {
  if (findProgram('bwrap') === undefined) return 'bwrap is not installed (Debian package: bubblewrap)';
  const r = spawnSync('bwrap', ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--unshare-all', '--unshare-user', '--uid', '10001', '--die-with-parent', '/bin/true'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.status !== 0) return `bwrap cannot create namespaces here (run as root, or enable user namespaces): ${(r.stderr || String(r.error)).trim()}`;
  return undefined;
}

interface Built {
  exe?: string;
  /** Why there is no executable (the Node 24 binary could not be obtained). */
  skip?: string;
  ms: number;
}

let buildDir: string | undefined;
let building: Promise<Built> | undefined;

/** The executable: SECRETSTORE_SETUP_EXE, or built once for this file by scripts/package.mjs. */
function executable(): Promise<Built> {
  building ??= (async (): Promise<Built> => {
    const given = process.env.SECRETSTORE_SETUP_EXE;
    if (given !== undefined && given !== '') {
      accessSync(given, constants.X_OK);
      return { exe: given, ms: 0 };
    }
    buildDir = await makeTempDir('sss-bwrap-exe-');
    const built = await runPackageScript(['--out', buildDir], 540_000);
    if (built.code === NO_NODE_24) return { skip: `no Node 24 binary to build the executable (${lastLine(built.stderr)}); set SEA_NODE or go online`, ms: built.ms };
    assert.equal(built.code, 0, `npm run package failed:\n${built.stdout}${built.stderr}`);
    return { exe: lastLine(built.stdout), ms: built.ms };
  })();
  return building;
}

after(async () => {
  if (buildDir !== undefined) await removeTempDir(buildDir);
});

/** Preconditions of both tests: bwrap usable and the executable at hand; undefined when skipped. */
async function prepare(t: TestContext): Promise<string | undefined> {
  const problem = bwrapProblem();
  if (problem !== undefined) {
    skipOrFail(t, problem);
    return undefined;
  }
  const built = await executable();
  if (built.exe === undefined) {
    skipOrFail(t, built.skip ?? 'no executable');
    return undefined;
  }
  if (built.ms > 0) t.diagnostic(`executable built in ${built.ms} ms`);
  return built.exe;
}

// ------------------------------------------------------------------------------------------------------------------
// The minimal root.

/**
 * bwrap arguments that reproduce, read-only, `files` and everything they need from this machine: each path's
 * symbolic links (recreated as links) down to the real file, and for each program the libraries `ldd` lists. The
 * top-level links of a merged-/usr system (/bin → usr/bin, /lib → usr/lib, …) come first.
 */
export function minimalRootArgs(programs: readonly string[], libsOf: readonly string[]): { args: string[]; sources: string[] } {
  const args: string[] = [];
  const sources: string[] = [];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      if (lstatSync(top).isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    } catch {
      // not on this machine
    }
  }
  const seen = new Set<string>();
  const addPath = (path: string): void => {
    const canonical = join(realpathSync(dirname(path)), basename(path));
    if (seen.has(canonical)) return;
    seen.add(canonical);
    if (lstatSync(canonical).isSymbolicLink()) {
      const target = readlinkSync(canonical);
      args.push('--symlink', target, canonical);
      addPath(isAbsolute(target) ? target : join(dirname(canonical), target));
    } else {
      args.push('--ro-bind', canonical, canonical);
      sources.push(canonical);
    }
  };
  const addLibs = (file: string): void => {
    let out: string;
    try {
      out = execFileSync('ldd', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return; // static, or a script
    }
    for (const m of out.matchAll(/(?:=>\s+|^\s+)(\/\S+)/gm)) if (m[1] !== undefined) addPath(m[1]);
  };
  for (const name of programs) {
    const p = findProgram(name);
    assert.ok(p !== undefined, `program ${name} not found on this machine (coreutils/dash/bash are essential packages)`);
    addPath(p);
    addLibs(realpathSync(p));
  }
  for (const file of libsOf) addLibs(file);
  return { args, sources };
}

// ------------------------------------------------------------------------------------------------------------------
// Running the sandbox.

/** A running sandbox whose stdout is read line by line and whose stdin answers its `wait_host` calls. */
class Sandbox {
  stdout = '';
  stderr = '';
  exited = false;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(args: string[]) {
    this.child = spawn('bwrap', args, { env: { PATH: '/usr/bin:/bin' }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exit = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exited = true;
        resolve({ code, signal });
      });
    });
  }

  /** The `@@ ` lines the driver printed. */
  marks(): string[] {
    return [...this.stdout.matchAll(/^@@ (.*)$/gm)].map((m) => m[1] ?? '');
  }

  /** Waits for a `@@ ` line matching `re`; fails on timeout or when the sandbox exits first. */
  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exited = this.exited; // read before the marks: output that came with the exit is seen below
      for (const line of this.marks()) {
        const m = re.exec(line);
        if (m !== null) return m;
      }
      if (exited) assert.fail(`the sandbox exited before printing ${String(re)}:\n${this.transcript()}`);
      if (Date.now() > deadline) assert.fail(`timeout waiting for ${String(re)}:\n${this.transcript()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Lets the driver go on past its next `wait_host`. */
  go(): void {
    this.child.stdin.write('go\n');
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  transcript(): string {
    return `--- stdout ---\n${this.stdout}--- stderr ---\n${this.stderr}`;
  }
}

/** Shell functions of the driver scripts (POSIX sh: dash in the root). */
const DRIVER_LIB = String.raw`
set -eu
say() { printf '@@ %s\n' "$*"; }
wait_host() { read -r answer || exit 70; [ "$answer" = go ] || exit 71; }
n=0
start_serve() {
  n=$((n + 1))
  secretstore-setup serve --data /var/lib/secretstore --listen 127.0.0.1:0 </dev/null >"/report/serve-$n.out" 2>"/report/serve-$n.err" &
  serve_pid=$!
  i=0
  while :; do
    line=
    if [ -s "/report/serve-$n.out" ]; then read -r line <"/report/serve-$n.out" || true; fi
    case $line in 'listening on '*) break ;; esac
    if ! kill -0 "$serve_pid" 2>/dev/null; then say "serve-died $n"; exit 72; fi
    i=$((i + 1)); if [ "$i" -ge 400 ]; then say "serve-timeout $n"; exit 73; fi
    sleep 0.05
  done
  addr=${'$'}{line#listening on }
  say "serve $n $addr"
}
stop_serve() {
  kill -TERM "$serve_pid"
  rc=0; wait "$serve_pid" || rc=$?
  say "serve-exit $n $rc"
}
status_json() {
  rc=0; secretstore-setup status --addr "$addr" --json </dev/null >"/report/status-$1.json" 2>>/report/status.err || rc=$?
  say "status $1 $rc"
}
whoami_caps() {
  caps=unknown
  while IFS=':' read -r key value; do
    if [ "$key" = CapEff ]; then caps=$value; fi
  done </proc/self/status
  say "identity uid=$(id -u) gid=$(id -g) capeff=$(printf '%s' "$caps" | tr -d ' \t')"
  if command -v node >/dev/null 2>&1 || [ -e /usr/lib/node_modules ] || [ -e /usr/local/lib/node_modules ]; then say node-present; exit 74; fi
  say no-node
}
`;

/** The plain contract's driver: two boots around a restart of the store, waiting for the host in between. */
const PLAIN_DRIVER = `${DRIVER_LIB}
whoami_caps
secretstore-setup hooks install /tmp/hooks >/report/hooks.out 2>&1
say "hooks-installed"
start_serve
status_json 0
rc=0; secretstore-setup bootstrap --addr "$addr" --wait-timeout 20 </dev/null >/report/boot-1.out 2>/report/boot-1.err || rc=$?
say "bootstrap 1 $rc"
status_json 1
say "booted 1"
wait_host
stop_serve
start_serve
status_json 2
rc=0; secretstore-setup bootstrap --addr "$addr" --wait-timeout 20 </dev/null >/report/boot-2.out 2>/report/boot-2.err || rc=$?
say "bootstrap 2 $rc"
status_json 3
say "booted 2"
wait_host
stop_serve
say done
`;

/** Who runs in the sandbox. */
type Identity = { kind: 'non-root' } | { kind: 'root'; caps: readonly string[] };

/** What a sandbox is made of besides the root's programs. */
interface SandboxSpec {
  exe: string;
  root: { args: string[] };
  env: Record<string, string>;
  identity: Identity;
  /** A tmpfs on /tmp (the plain contract) or none (a read-only root, as compose's read_only: true). */
  tmp: boolean;
  /** Mounts after the standard ones (binds of volumes, tmpfs of compose, image files). */
  mounts: string[];
  readOnlyRoot: boolean;
  command: string[];
}

/**
 * bwrap arguments: namespaces (the network is shared: the test talks to the store over loopback, as other
 * containers would over their network), the identity, the root, /proc, /dev/null and /dev/urandom, tmpfs on the
 * store's data folder, the spec's mounts, and an empty environment but `env`.
 */
function sandboxArgs(spec: SandboxSpec): string[] {
  const identity =
    spec.identity.kind === 'non-root'
      ? ['--unshare-all', '--share-net', '--unshare-user', '--uid', '10001', '--gid', '10001', '--cap-drop', 'ALL']
      : // Real root without a user namespace (so chown to 2002 works), with only the listed capabilities.
        ['--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try', '--cap-drop', 'ALL', ...spec.identity.caps.flatMap((c) => ['--cap-add', c])];
  return [
    ...identity,
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    ...Object.entries(spec.env).flatMap(([k, v]) => ['--setenv', k, v]),
    ...spec.root.args,
    '--ro-bind', spec.exe, EXE_IN_ROOT,
    '--proc', '/proc',
    '--dev-bind', '/dev/null', '/dev/null',
    '--dev-bind', '/dev/urandom', '/dev/urandom',
    ...(spec.tmp ? ['--tmpfs', '/tmp'] : []),
    '--perms', '0700', '--tmpfs', '/var/lib/secretstore',
    ...spec.mounts,
    ...(spec.readOnlyRoot ? ['--remount-ro', '/'] : []),
    '--chdir', '/',
    ...spec.command,
  ];
}

/** A Vault API call from the host; returns status and parsed body. */
async function api(addr: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${addr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** The client token of a token file (`{"auth":{"client_token":…}}`). */
async function clientToken(path: string): Promise<string> {
  const doc = JSON.parse(await readFile(path, 'utf8')) as { auth?: { client_token?: unknown } };
  const token = doc.auth?.client_token;
  assert.equal(typeof token, 'string', `${path} holds no auth.client_token`);
  return token as string;
}

/** Everything the sandbox wrote in /report, as text (for the secret scan and for failure messages). */
async function reportTexts(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
}

// ------------------------------------------------------------------------------------------------------------------

test('bwrap: the executable alone in a minimal root, non-root: hooks install, serve, first boot, restart, unseal, secret read back', { timeout: 600_000 }, async (t) => {
  const exe = await prepare(t);
  if (exe === undefined) return;
  const started = performance.now();
  const dir = await makeTempDir('sss-bwrap-');
  let box: Sandbox | undefined;
  try {
    const root = minimalRootArgs(RUNTIME_PROGRAMS, [exe]);
    assert.ok(!root.sources.some((s) => /(^|\/)node(js)?($|\/)|node_modules/.test(s)), `no Node in the root: ${root.sources.join(' ')}`);
    const config = join(dir, 'openbao-config'); // the compose volume secret-store-config
    const runSecrets = join(dir, 'run-edgex-secrets'); // /run/edgex/secrets
    const report = join(dir, 'report');
    for (const d of [config, runSecrets, report]) await mkdir(d, { mode: 0o700 });
    const ikm = randomBytes(32);
    const ikmFile = join(dir, 'ikm.hex');
    await writeFile(ikmFile, ikm.toString('hex') + '\n', { mode: 0o600 });
    await chmod(ikmFile, 0o600);

    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      EDGEX_IKM_HOOK: '/tmp/hooks/ikm-dev',
      IKM_DEV_FILE: '/run/secrets/ikm.hex',
      IKM_DEV_ALLOW_INSECURE: '1',
    };
    box = new Sandbox(
      sandboxArgs({
        exe,
        root,
        env,
        identity: { kind: 'non-root' },
        tmp: true,
        mounts: ['--bind', config, '/openbao/config', '--bind', runSecrets, '/run/edgex/secrets', '--ro-bind', ikmFile, '/run/secrets/ikm.hex', '--bind', report, '/report'],
        readOnlyRoot: false,
        command: ['/bin/sh', '-c', PLAIN_DRIVER],
      }),
    );

    const id = await box.waitFor(/^identity (.*)$/, 30_000);
    assert.equal(id[1], 'uid=10001 gid=10001 capeff=0000000000000000', 'a non-root user without capabilities');
    await box.waitFor(/^no-node$/, 10_000);
    await box.waitFor(/^hooks-installed$/, 30_000);
    assert.match(await readFile(join(report, 'hooks.out'), 'utf8'), /wrote \/tmp\/hooks\/ikm-dev \(0755\)/);
    const addr1 = (await box.waitFor(/^serve 1 (http:\/\/127\.0\.0\.1:\d+)$/, 30_000))[1] ?? '';
    assert.equal((await box.waitFor(/^status 0 (\d+)$/, 30_000))[1], '1', 'status: uninitialized before the first boot');

    const boot1 = await box.waitFor(/^bootstrap 1 (\d+)$/, 60_000);
    assert.equal(boot1[1], '0', `first boot:\n${await readFile(join(report, 'boot-1.err'), 'utf8')}`);
    assert.match(await readFile(join(report, 'boot-1.out'), 'utf8'), /ready/);
    assert.equal((await box.waitFor(/^status 1 (\d+)$/, 30_000))[1], '0', 'status: unsealed after the first boot');
    await box.waitFor(/^booted 1$/, 10_000);

    // The key file, on the "volume": encrypted under the known IKM (decrypted here with it), v2, 5 shares, threshold 3.
    const { secrets: keys, summary } = await readKeyFile({ dir: join(config, 'assets') }, ikm);
    assert.equal(summary.encrypted, true);
    assert.equal(summary.format, 'v2');
    assert.equal(summary.shareCount, 5);
    assert.equal(summary.threshold, 3);
    assert.equal(summary.hasRootToken, false);
    const keyFileText = await readFile(join(config, 'assets', 'resp-init.json'), 'utf8');
    const status1 = JSON.parse(await readFile(join(report, 'status-1.json'), 'utf8')) as { keyFile?: { summary?: { encrypted?: boolean } } };
    assert.equal(status1.keyFile?.summary?.encrypted, true, 'status sees an encrypted key file');

    // From outside: a policy and a token made with the token-issuing token, a secret written.
    const adminPath = join(runSecrets, 'tokenprovider', 'secrets-token.json');
    assert.equal((await stat(adminPath)).mode & 0o777, 0o600);
    const admin1 = await clientToken(adminPath);
    const policy = 'path "secret/bwrap/*" {\n  capabilities = ["create", "read", "update", "list"]\n}\n';
    assert.equal((await api(addr1, 'PUT', 'sys/policies/acl/edgex-service-bwrap', admin1, { policy })).status, 204);
    const made1 = await api(addr1, 'POST', 'auth/token/create', admin1, { policies: ['edgex-service-bwrap'], ttl: '10m' });
    assert.equal(made1.status, 200);
    const user1 = (made1.body as { auth: { client_token: string } }).auth.client_token;
    const value = randomBytes(12).toString('hex');
    assert.equal((await api(addr1, 'PUT', 'secret/bwrap/greeting', user1, { value })).status, 204);

    box.go(); // restart the store: it comes back sealed, as after a reboot
    assert.equal((await box.waitFor(/^serve-exit 1 (\d+)$/, 30_000))[1], '0', 'serve exits 0 on SIGTERM');
    const addr2 = (await box.waitFor(/^serve 2 (http:\/\/127\.0\.0\.1:\d+)$/, 30_000))[1] ?? '';
    assert.equal((await box.waitFor(/^status 2 (\d+)$/, 30_000))[1], '1', 'status: sealed after the restart');
    const status2 = JSON.parse(await readFile(join(report, 'status-2.json'), 'utf8')) as { nodes?: { sealed?: boolean; initialized?: boolean }[] };
    const node2 = status2.nodes?.[0];
    assert.deepEqual([node2?.initialized, node2?.sealed], [true, true], 'initialized and sealed');
    const boot2 = await box.waitFor(/^bootstrap 2 (\d+)$/, 60_000);
    assert.equal(boot2[1], '0', `second boot:\n${await readFile(join(report, 'boot-2.err'), 'utf8')}`);
    assert.equal((await box.waitFor(/^status 3 (\d+)$/, 30_000))[1], '0', 'status: unsealed after the second boot');
    await box.waitFor(/^booted 2$/, 10_000);
    assert.equal(await readFile(join(config, 'assets', 'resp-init.json'), 'utf8'), keyFileText, 'the key file is not rewritten at a reboot');

    // The secret survived; the first boot's tokens did not (the token-issuing token was replaced and revoked).
    const admin2 = await clientToken(adminPath);
    assert.notEqual(admin2, admin1);
    assert.equal((await api(addr2, 'GET', 'secret/bwrap/greeting', user1)).status, 403, 'a token of the previous boot is dead');
    const made2 = await api(addr2, 'POST', 'auth/token/create', admin2, { policies: ['edgex-service-bwrap'], ttl: '10m' });
    assert.equal(made2.status, 200);
    const user2 = (made2.body as { auth: { client_token: string } }).auth.client_token;
    const read = await api(addr2, 'GET', 'secret/bwrap/greeting', user2);
    assert.equal(read.status, 200);
    assert.deepEqual((read.body as { data: unknown }).data, { value }, 'the secret written before the reboot is read back');

    box.go();
    assert.equal((await box.waitFor(/^serve-exit 2 (\d+)$/, 30_000))[1], '0');
    await box.waitFor(/^done$/, 10_000);
    const end = await box.exit;
    assert.equal(end.code, 0, box.transcript());

    // Nothing secret in any output of the sandbox (serve, bootstrap, status, hooks install, the driver).
    assertNoSecrets(
      [box.stdout, box.stderr, ...(await reportTexts(report))],
      [
        { label: 'IKM', value: ikm },
        ...keys.shares.map((s, i) => ({ label: `share ${String(i)}`, value: s })),
        { label: 'token-issuing token 1', value: Buffer.from(admin1) },
        { label: 'token-issuing token 2', value: Buffer.from(admin2) },
      ],
    );
    t.diagnostic(`sandbox run: ${Math.round(performance.now() - started)} ms (${root.sources.length} files bound from the host)`);
  } catch (err) {
    if (box !== undefined) t.diagnostic(box.transcript());
    throw err;
  } finally {
    box?.kill();
    await box?.exit;
    await removeTempDir(dir);
  }
});


// ------------------------------------------------------------------------------------------------------------------
// The EdgeX image: entrypoint-edgex.sh as compose runs it.

/** The keys of the compose service this test reproduces. */
interface ComposeService {
  entrypoint: string[];
  command: string[];
  environment: Record<string, string | number | boolean | null>;
  user: string;
  cap_drop: string[];
  cap_add: string[];
  read_only: boolean;
  tmpfs: string[];
  volumes: { type: string; source: string; target: string; read_only?: boolean }[];
}

/** packaging/container/docker-compose.secretstore-setup.yml's service. */
async function composeService(): Promise<ComposeService> {
  const doc = parseYaml(await readFile(sourceFile('packaging/container/docker-compose.secretstore-setup.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const svc = doc.services['security-secretstore-setup'];
  assert.ok(svc !== undefined, 'the compose file defines security-secretstore-setup');
  return svc;
}

/** The instructions of each stage of packaging/container/Dockerfile (`FROM … AS name` starts a stage). */
async function dockerfileStages(): Promise<{ args: Map<string, string>; stages: Map<string, { from: string; lines: string[] }> }> {
  const text = (await readFile(sourceFile('packaging/container/Dockerfile'), 'utf8')).replace(/\\\n\s*/g, ' ');
  const args = new Map<string, string>();
  const stages = new Map<string, { from: string; lines: string[] }>();
  let current: { from: string; lines: string[] } | undefined;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)\s+AS\s+(\S+)$/i.exec(line);
    if (from !== null) {
      current = { from: from[1] ?? '', lines: [] };
      stages.set(from[2] ?? '', current);
    } else if (current === undefined) {
      const arg = /^ARG\s+(\w+)=(\S+)$/.exec(line);
      if (arg !== null) args.set(arg[1] ?? '', arg[2] ?? '');
    } else current.lines.push(line);
  }
  return { args, stages };
}

/** The JSON-array form of an instruction (`ENTRYPOINT [...]`, `CMD [...]`) in a stage, the last one. */
function execForm(lines: readonly string[], instruction: string): unknown {
  const line = lines.filter((l) => l.startsWith(`${instruction} `)).at(-1);
  assert.ok(line !== undefined, `no ${instruction}`);
  return JSON.parse(line.slice(instruction.length + 1)) as unknown;
}

/** An EdgeX 4 configuration as EdgeX's image holds it (/res, /res-file-token-provider), with the owners added. */
async function edgexImageFiles(dir: string): Promise<{ res: string; provider: string; services: string[] }> {
  const res = join(dir, 'image-res');
  const provider = join(dir, 'image-res-file-token-provider');
  await mkdir(res);
  await mkdir(provider);
  // EdgeX's res/configuration.yaml as far as the setup reads it (its other keys take EdgeX 4's defaults).
  await writeFile(
    join(res, 'configuration.yaml'),
    [
      'SecretStore:',
      '  Type: openbao',
      '  TokenFolderPath: /openbao/config/assets',
      '  TokenFile: resp-init.json',
      '  TokenProvider: /security-file-token-provider',
      '  TokenProviderArgs: ["-configDir", "res-file-token-provider"]',
      '  TokenProviderType: oneshot',
      '  TokenProviderAdminTokenPath: /run/edgex/secrets/tokenprovider/secrets-token.json',
      '  WaitTimeout: 20',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(provider, 'configuration.yaml'),
    'TokenFileProvider:\n  PrivilegedTokenPath: /run/edgex/secrets/tokenprovider/secrets-token.json\n  ConfigFile: res-file-token-provider/token-config.json\n  OutputDir: /tmp/edgex/secrets\n  OutputFilename: secrets-token.json\n',
  );
  // The image build step itself, on EdgeX 4's token-config.json (18 services).
  const made = spawnSync('sh', [sourceFile('packaging/container/edgex-token-config.sh'), sourceFile('test/edgex/services/fixtures/token-config-4.json'), provider], {
    encoding: 'utf8',
    env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` },
  });
  assert.equal(made.status, 0, made.stderr);
  const services = (await readFile(join(provider, 'token-config.services'), 'utf8')).split('\n').filter((l) => l !== '');
  assert.equal(services.length, 18);
  return { res, provider, services };
}

/** The driver of the EdgeX runs: serve (scaffolding: in compose the store is another container), then the entrypoint. */
function edgexDriver(entrypoint: string, expectFailure: boolean): string {
  const run = `"${entrypoint}" "$@" --addr "$addr" </dev/null >/report/setup.out 2>/report/setup.err`;
  const body = expectFailure
    ? `rc=0; ${run} || rc=$?\nsay "setup-exit $rc"\n`
    : `${run} &
setup_pid=$!
say "setup-started"
(
  while :; do
    st=
    read -r st <"/proc/$setup_pid/stat" 2>/dev/null || true
    st=\${st##*) }
    case $st in '' | Z*) say setup-gone; exit 0 ;; esac
    sleep 0.1
  done
) &
wait_host
kill -TERM "$setup_pid"
rc=0; wait "$setup_pid" || rc=$?
say "setup-exit $rc"
`;
  return `${DRIVER_LIB}
whoami_caps
start_serve
${body}stop_serve
say done
`;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

test('bwrap: the EdgeX entrypoint as the compose snippet runs it (root, CHOWN+DAC_OVERRIDE+FOWNER only, read-only root): token files owned by the services, stage gate, --longRun; each capability needed', { timeout: 600_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    skipOrFail(t, 'running as root with a chosen set of capabilities (and chown to other users) needs root');
    return;
  }
  const exe = await prepare(t);
  if (exe === undefined) return;
  const compose = await composeService();
  assert.equal(compose.user, 'root:root');
  assert.deepEqual(compose.cap_drop, ['ALL']);
  assert.equal(compose.read_only, true);
  const entrypoint = compose.entrypoint[0] ?? '';
  assert.equal(compose.entrypoint.length, 1);
  const caps = compose.cap_add.map((c) => `CAP_${c}`);
  assert.deepEqual([...caps].sort(), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER']);
  // The image the compose file names is the Dockerfile's `edgex` target: same entrypoint (copied from
  // entrypoint-edgex.sh, which this test runs), same default command; the runtime base is debian:12-slim, the
  // store's image runs as 10001; everything the build COPYs from the context passes Dockerfile.dockerignore.
  const { args, stages } = await dockerfileStages();
  const edgexStage = stages.get('edgex');
  const runtimeStage = stages.get('runtime');
  assert.ok(edgexStage !== undefined && runtimeStage !== undefined, 'Dockerfile stages runtime and edgex');
  assert.equal(edgexStage.from, 'runtime');
  assert.deepEqual(execForm(edgexStage.lines, 'ENTRYPOINT'), compose.entrypoint);
  assert.deepEqual(execForm(edgexStage.lines, 'CMD'), compose.command);
  assert.ok(edgexStage.lines.includes(`COPY --chmod=0755 packaging/container/entrypoint-edgex.sh ${entrypoint}`), 'the entrypoint is entrypoint-edgex.sh');
  assert.equal(runtimeStage.from, '${RUNTIME_IMAGE}');
  assert.equal(args.get('RUNTIME_IMAGE'), 'debian:12-slim');
  assert.ok(runtimeStage.lines.includes('USER 10001:10001'));
  assert.deepEqual(execForm(runtimeStage.lines, 'ENTRYPOINT'), [EXE_IN_ROOT]);
  const allowed = (await readFile(sourceFile('packaging/container/Dockerfile.dockerignore'), 'utf8')).split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  for (const stage of stages.values()) {
    for (const line of stage.lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const sources = line.split(/\s+/).slice(1).filter((w) => !w.startsWith('--')).slice(0, -1);
      for (const src of sources) assert.ok(allowed.some((a) => src === a || src.startsWith(`${a}/`) || a.startsWith(`${src}/`)), `${src} is in the build context`);
    }
  }

  const dir = await makeTempDir('sss-bwrap-edgex-');
  const boxes: Sandbox[] = [];
  try {
    const root = minimalRootArgs(RUNTIME_PROGRAMS, [exe]);
    const image = await edgexImageFiles(dir);
    // The Dockerfile's `hooks install /opt/secretstore-setup/hooks`, done here with the same executable.
    const hooks = join(dir, 'image-hooks');
    const installed = spawnSync(exe, ['hooks', 'install', hooks], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(installed.status, 0, installed.stderr);
    const ikm = randomBytes(32);
    const ikmFile = join(dir, 'ikm.hex');
    await writeFile(ikmFile, ikm.toString('hex') + '\n', { mode: 0o600 });

    /** One run: fresh volumes, the compose service's environment with local hosts and free ports. */
    const start = async (name: string, runCaps: readonly string[], expectFailure: boolean) => {
      const base = join(dir, name);
      await mkdir(base);
      const report = join(base, 'report');
      await mkdir(report);
      const mounts: string[] = [];
      for (const tmpfs of compose.tmpfs) mounts.push('--tmpfs', tmpfs);
      const volumes: Record<string, string> = {};
      for (const [i, v] of compose.volumes.entries()) {
        if (v.target === '/etc/localtime') continue; // the host's clock zone: nothing to do with the contract
        const host = join(base, `volume-${String(i)}`);
        await mkdir(host);
        volumes[v.target] = host;
        mounts.push(v.read_only === true ? '--ro-bind' : '--bind', host, v.target);
      }
      mounts.push(
        '--ro-bind', image.res, '/res',
        '--ro-bind', image.provider, '/res-file-token-provider',
        '--ro-bind', hooks, '/opt/secretstore-setup/hooks',
        '--ro-bind', sourceFile('packaging/container/entrypoint-edgex.sh'), entrypoint,
        '--ro-bind', ikmFile, '/run/secrets/ikm.hex',
        '--bind', report, '/report',
      );
      const gatePort = await freePortPair();
      const env: Record<string, string> = {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        ...Object.fromEntries(Object.entries(compose.environment).map(([k, v]) => [k, v === null ? '' : String(v)])),
        // compose's host names resolve on edgex-network only; here everything is on loopback, on free ports
        STAGEGATE_SECRETSTORESETUP_HOST: '127.0.0.1',
        STAGEGATE_SECRETSTORESETUP_TOKENS_READYPORT: String(gatePort),
        SERVICE_HOST: '127.0.0.1',
        SERVICE_PORT: String(gatePort + 1),
        // the optional hook of the compose file, with the software hook and a known IKM (a docker secret's path)
        EDGEX_IKM_HOOK: '/opt/secretstore-setup/hooks/ikm-dev',
        IKM_DEV_FILE: '/run/secrets/ikm.hex',
        IKM_DEV_ALLOW_INSECURE: '1',
      };
      const box = new Sandbox(
        sandboxArgs({
          exe,
          root,
          env,
          identity: { kind: 'root', caps: runCaps },
          tmp: false,
          mounts,
          readOnlyRoot: true,
          command: ['/bin/sh', '-c', edgexDriver(entrypoint, expectFailure), 'driver', ...compose.command],
        }),
      );
      boxes.push(box);
      return { box, volumes, report, gatePort };
    };

    // 1. The compose snippet's capabilities: the whole EdgeX first boot.
    const started = performance.now();
    const run = await start('full', caps, false);
    const id = await run.box.waitFor(/^identity (.*)$/, 30_000);
    assert.equal(id[1], 'uid=0 gid=0 capeff=000000000000000b', 'root with CHOWN (bit 0), DAC_OVERRIDE (1), FOWNER (3) only');
    await run.box.waitFor(/^no-node$/, 10_000);
    await run.box.waitFor(/^setup-started$/, 30_000);
    const deadline = Date.now() + 120_000;
    while (!(await canConnect(run.gatePort))) {
      if (run.box.marks().includes('setup-gone') || Date.now() > deadline) {
        assert.fail(`the stage gate never opened:\n${await readFile(join(run.report, 'setup.err'), 'utf8')}\n${run.box.transcript()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const gateMs = Math.round(performance.now() - started);
    assert.match(await readFile(join(run.report, 'setup.out'), 'utf8'), /EdgeX setup done: 18 service token files/);

    // Every token folder and file belongs to its service, before the gate opened (the gate opens after the files).
    const secretsRoot = run.volumes['/tmp/edgex/secrets'] ?? '';
    const tokens: { label: string; value: Buffer }[] = [];
    for (const svc of image.services) {
      const [uid, gid] = svc === 'rules-engine' ? [1001, 1001] : [2002, 2001];
      const folder = await stat(join(secretsRoot, svc));
      assert.deepEqual([folder.uid, folder.gid, folder.mode & 0o777], [uid, gid, 0o700], `folder of ${svc}`);
      const file = join(secretsRoot, svc, 'secrets-token.json');
      const st = await stat(file);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [uid, gid, 0o600], `token file of ${svc}`);
      tokens.push({ label: `token of ${svc}`, value: Buffer.from(await clientToken(file)) });
    }
    // The key file on the secret-store-config volume: EdgeX's format, encrypted under the known IKM.
    const { secrets: keys, summary } = await readKeyFile({ dir: join(run.volumes['/openbao/config'] ?? '', 'assets') }, ikm);
    assert.deepEqual([summary.format, summary.encrypted, summary.shareCount], ['edgex', true, 5]);
    // --longRun serves the re-issue endpoint (a malformed entity id is refused before anything happens).
    const reissue = await fetch(`http://127.0.0.1:${String(run.gatePort + 1)}/api/v3/token/entityId/not-a-uuid`, { method: 'PUT', body: 'null' });
    assert.equal(reissue.status, 400);
    run.box.go(); // SIGTERM: gate and re-issue server closed, exit 0
    assert.equal((await run.box.waitFor(/^setup-exit (\d+)$/, 60_000))[1], '0', await readFile(join(run.report, 'setup.err'), 'utf8'));
    await run.box.waitFor(/^done$/, 30_000);
    assert.equal((await run.box.exit).code, 0, run.box.transcript());
    assertNoSecrets(
      [run.box.stdout, run.box.stderr, ...(await reportTexts(run.report))],
      [{ label: 'IKM', value: ikm }, ...keys.shares.map((s, i) => ({ label: `share ${String(i)}`, value: s })), ...tokens],
    );
    t.diagnostic(`EdgeX first boot in the sandbox: stage gate open after ${gateMs} ms`);

    // 2. Without any one of the three capabilities the same start fails (exit status not 0), and says why.
    for (const missing of caps) {
      const run2 = await start(`without-${missing}`, caps.filter((c) => c !== missing), true);
      const rc = (await run2.box.waitFor(/^setup-exit (\d+)$/, 60_000))[1];
      const why = lastLine(await readFile(join(run2.report, 'setup.err'), 'utf8'));
      assert.notEqual(rc, '0', `without ${missing} the setup must fail`);
      t.diagnostic(`without ${missing}: exit ${rc ?? '?'}: ${why}`);
      await run2.box.waitFor(/^done$/, 30_000);
    }
  } catch (err) {
    for (const box of boxes) t.diagnostic(box.transcript());
    throw err;
  } finally {
    for (const box of boxes) {
      box.kill();
      await box.exit;
    }
    await removeTempDir(dir);
  }
});
