/**
 * Chaos part `leaks`: a dedicated run of every command that touches a secret, with /proc sampled under this
 * process every 4 ms, and one scan at the end. (The other parts scan what they produced too: their own outputs,
 * logs, work folders and, for crash-boot and concurrency, /proc.)
 *
 * The run (CHAOS_LEAKS_REPEAT times, 1):
 *   device A (v2): first boot and reboot at --log-level debug (text and json), status --json, keys inspect/verify,
 *     a wrong IKM, a failing hook that prints hex on stderr, protect/unprotect, keys escrow to an age recipient and
 *     keys recover onto a new hook, keys rewrap to a third hook, bootstrap with it, `watch` unsealing a restarted
 *     store, userpass login, an OIDC token, token creates; then the store stopped with SIGTERM
 *   device B (RevokeRootTokens=false): the root token kept encrypted; reboot
 *   device C (edgex format): first boot, reboot, keys convert --to v2
 *   device D: plaintext key file (no hook), migrated to encrypted by a bootstrap with the hook
 * Secrets: every IKM, every share, the kept root token, every token-issuing token (each boot's), tokens made by the
 * harness, the userpass password, the OIDC JWT, the age identity, the protected file's content. Looked for in every
 * output and log, every file left in the device folders (except the files that hold a secret by design: the
 * software hook's IKM files, the token-issuing token file, the age identity, the unprotected copy) and every sampled
 * argv and environment. Figure: hits (must be 0).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { Device, errorLine, maskMessage, writeFakeKey } from './lib/device.js';
import { LeakScan } from './lib/leaks.js';
import { dataOf } from './lib/http.js';
import { runCliTo, spawnCli, type CliOutcome } from './lib/procs.js';
import { healthStatus, must } from './lib/store.js';
import { Report, envInt, excerpt, runAsMain, sleep, type PartResult } from './lib/util.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

export interface LeaksOptions {
  repeat: number;
  procSampler: boolean;
}

export function optionsFromEnv(): LeaksOptions {
  return { repeat: Math.max(1, envInt('CHAOS_LEAKS_REPEAT', 1)), procSampler: envInt('CHAOS_PROC_SAMPLER', 1) === 1 };
}

/** Runs the CLI in a device, keeps its output, and checks the exit status. */
class Steps {
  readonly outputs: string[] = [];
  count = 0;
  private readonly report: Report;
  constructor(report: Report) {
    this.report = report;
  }

  async run(dev: Device, what: string, args: string[], env: NodeJS.ProcessEnv, expect: 0 | 1 = 0): Promise<CliOutcome> {
    const r = await runCliTo(args, { cwd: dev.be.dir, env });
    this.outputs.push(r.stdout, r.stderr);
    this.count++;
    if ((expect === 0) !== (r.code === 0)) this.report.fail('the leak scenario runs as planned', `${what}: exit ${String(r.code)} (expected ${expect}): ${errorLine(r.stderr)}`);
    return r;
  }
}

/** Collects the token-issuing token after each boot (it is rotated every time). */
async function keepAdmin(dev: Device, scan: LeakScan): Promise<void> {
  const t = await dev.adminToken();
  if (t !== undefined) scan.addSecret('token-issuing token', t);
}

async function deviceA(steps: Steps, scan: LeakScan, report: Report): Promise<void> {
  const dev = await Device.create();
  try {
    const hook = dev.envWith(undefined);
    const boot = [...dev.bootstrapArgs(), '--log-level', 'debug'];
    await steps.run(dev, 'first boot', boot, hook);
    await keepAdmin(dev, scan);
    await dev.provisionSecret();
    await steps.run(dev, 'status', ['status', '--addr', dev.url, '--json'], hook);
    await steps.run(dev, 'keys inspect', ['keys', 'inspect', '--dir', dev.be.keysDir, '--json'], hook);
    await steps.run(dev, 'keys verify', ['keys', 'verify', '--dir', dev.be.keysDir], hook);
    await dev.serve.restart();
    await steps.run(dev, 'reboot (json logs)', [...boot, '--log-format', 'json'], hook);
    await keepAdmin(dev, scan);

    // Failure paths: a wrong IKM, and a hook that fails after printing hex (its IKM) on stderr.
    await dev.serve.restart();
    const wrong = await dev.addHook();
    await steps.run(dev, 'bootstrap with a wrong IKM', dev.bootstrapArgs(), dev.envWith(wrong.hook), 1);
    const noisy = join(dev.be.dir, 'ikm-noisy');
    await writeFile(noisy, `#!/bin/sh\necho "debug: ikm=${dev.be.ikmHex}" >&2\necho "${dev.be.ikmHex}"\nexit 3\n`);
    await chmod(noisy, 0o700);
    await steps.run(dev, 'bootstrap with a failing hook that prints the IKM on stderr', dev.bootstrapArgs(), dev.envWith(noisy), 1);
    await steps.run(dev, 'reboot', boot, hook);
    await keepAdmin(dev, scan);

    // protect / unprotect.
    const tls = join(dev.be.dir, 'tls', 'tls.key');
    const plain = await writeFakeKey(tls);
    scan.addSecret('TLS key content', plain.subarray(28, 28 + 96));
    await steps.run(dev, 'protect', ['protect', tls, '--purpose', 'tls-key'], hook);
    await steps.run(dev, 'unprotect', ['unprotect', tls, '--purpose', 'tls-key', '--out', join(dev.be.dir, 'tls', 'tls.key.plain')], hook);

    // Escrow and recovery onto a new hook, then rewrap to a third one.
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    scan.addSecret('age identity', identity);
    const idFile = join(dev.be.dir, 'escrow-identity.txt');
    await writeFile(idFile, `${identity}\n`, { mode: 0o600 });
    const escrowFile = join(dev.be.dir, 'escrow.age');
    await steps.run(dev, 'keys escrow', ['keys', 'escrow', '--dir', dev.be.keysDir, '--recipient', recipient, '--out', escrowFile], hook);
    const h2 = await dev.addHook();
    await steps.run(dev, 'keys recover', ['keys', 'recover', '--dir', dev.be.keysDir, '--identity', idFile, '--in', escrowFile, '--new-hook', h2.hook, '--replace'], hook);
    const h3 = await dev.addHook();
    await steps.run(dev, 'keys rewrap', ['keys', 'rewrap', '--dir', dev.be.keysDir, '--new-hook', h3.hook], dev.envWith(h2.hook));
    await dev.serve.restart();
    await steps.run(dev, 'bootstrap with the rewrapped file', boot, dev.envWith(h3.hook));
    await keepAdmin(dev, scan);

    // watch: the store restarts, watch unseals it.
    const watch = spawnCli(['watch', '--addr', dev.url, '--interval', '1', '--metrics-listen', '127.0.0.1:0', '--log-level', 'debug'], { cwd: dev.be.dir, env: dev.envWith(h3.hook), timeoutMs: 60_000 });
    await sleep(1500);
    await dev.serve.restart();
    let unsealed = false;
    for (let i = 0; i < 40 && !unsealed; i++) {
      await sleep(250);
      unsealed = (await healthStatus(dev.client)) === 200;
    }
    if (!unsealed) report.fail('the leak scenario runs as planned', 'watch did not unseal the restarted store within 10 s');
    watch.child.kill('SIGTERM');
    const w = await watch.done;
    steps.outputs.push(w.stdout, w.stderr);

    // The kept secret reads back (the harness's own token).
    if (!(await dev.secretReadsBack()).ok) report.fail('the leak scenario runs as planned', 'the secret written after the first boot does not read back');
    const ikms = dev.ikms();
    for (const [i, ikm] of ikms.entries()) scan.addSecret(`IKM ${i}`, ikm);
    // Shares of every key file this device had: the recovered and rewrapped files hold the same shares.
    const { secrets } = await readKeyFile({ dir: dev.be.keysDir }, Buffer.from(h3.ikmHex, 'hex'));
    secrets.shares.forEach((s, i) => {
      scan.addSecret(`share ${i}`, s);
    });
    await dev.serve.stop();
    await dev.collectLeaks(scan, [], (p) => p === idFile || p.endsWith('tls.key.plain') || p.endsWith('/ikm-noisy'));
  } finally {
    await dev.close();
  }
}

async function oidcToken(dev: Device, scan: LeakScan, report: Report): Promise<void> {
  // With the kept root token (device B): an entity token, an OIDC key and role, a signed JWT.
  const { secrets } = await readKeyFile({ dir: dev.be.keysDir }, Buffer.from(dev.be.ikmHex, 'hex'));
  const root = secrets.rootToken?.toString('utf8');
  if (root === undefined) {
    report.fail('the leak scenario runs as planned', 'RevokeRootTokens=false kept no root token');
    return;
  }
  scan.addSecret('kept root token', root);
  const T = { token: root };
  await must(dev.client, 'POST', 'sys/auth/userpass', { ...T, body: { type: 'userpass' } });
  const password = `pw-${randomBytes(12).toString('hex')}`;
  scan.addSecret('userpass password', password);

  await must(dev.client, 'POST', 'identity/oidc/key/leak-key', { ...T, body: { algorithm: 'ES256', allowed_client_ids: ['*'] } });
  await must(dev.client, 'POST', 'identity/oidc/role/leak-role', { ...T, body: { key: 'leak-key' } });
  await must(dev.client, 'PUT', 'sys/policies/acl/oidc-read', { ...T, body: { policy: 'path "identity/oidc/token/*" { capabilities = ["read"] }' } });
  await must(dev.client, 'POST', 'auth/userpass/users/leak-user', { ...T, body: { password, token_policies: ['default', 'oidc-read'] } });
  const login2 = await dev.client.api('POST', 'auth/userpass/login/leak-user', { body: { password } });
  const tok = (login2.body as { auth?: { client_token?: string } } | undefined)?.auth?.client_token;
  if (tok !== undefined) {
    scan.addSecret('userpass login token', tok);
    const jwt = await dev.client.api('GET', 'identity/oidc/token/leak-role', { token: tok });
    const t = dataOf(jwt)?.token;
    if (typeof t === 'string') scan.addSecret('OIDC JWT', t);
    else report.fail('the leak scenario runs as planned', `OIDC token: HTTP ${jwt.status} ${excerpt(jwt.text, 120)}`);
  }
}

async function deviceB(steps: Steps, scan: LeakScan, report: Report): Promise<void> {
  const dev = await Device.create({ RevokeRootTokens: false });
  try {
    const hook = dev.envWith(undefined);
    await steps.run(dev, 'first boot, root token kept', [...dev.bootstrapArgs(), '--log-level', 'debug'], hook);
    await keepAdmin(dev, scan);
    await oidcToken(dev, scan, report);
    await dev.serve.restart();
    await steps.run(dev, 'reboot, root token kept', [...dev.bootstrapArgs(), '--log-level', 'debug'], hook);
    await keepAdmin(dev, scan);
    await dev.collectLeaks(scan, []);
  } finally {
    await dev.close();
  }
}

async function deviceC(steps: Steps, scan: LeakScan): Promise<void> {
  const dev = await Device.create({ KeyFileFormat: 'edgex' });
  try {
    const hook = dev.envWith(undefined);
    await steps.run(dev, 'first boot (edgex)', [...dev.bootstrapArgs(), '--log-level', 'debug'], hook);
    await keepAdmin(dev, scan);
    await dev.collectLeaks(scan, []); // shares while still edgex
    await dev.serve.restart();
    await steps.run(dev, 'reboot (edgex)', [...dev.bootstrapArgs(), '--log-level', 'debug'], hook);
    await keepAdmin(dev, scan);
    await steps.run(dev, 'keys convert --to v2', ['keys', 'convert', '--dir', dev.be.keysDir, '--to', 'v2'], hook);
    await dev.collectLeaks(scan, []);
  } finally {
    await dev.close();
  }
}

async function deviceD(steps: Steps, scan: LeakScan, report: Report): Promise<void> {
  const dev = await Device.create();
  try {
    await steps.run(dev, 'first boot without hook (plaintext file)', [...dev.bootstrapArgs(), '--log-level', 'debug'], dev.envWith(null));
    await keepAdmin(dev, scan);
    // The plaintext file holds the shares by design: take them as secrets now, scan the folder after migration.
    const { secrets } = await readKeyFile({ dir: dev.be.keysDir }, undefined);
    secrets.shares.forEach((s, i) => {
      scan.addSecret(`share ${i} (migrated)`, s);
    });
    await dev.serve.restart();
    await steps.run(dev, 'migration to encrypted', [...dev.bootstrapArgs(), '--log-level', 'debug'], dev.envWith(undefined));
    await keepAdmin(dev, scan);
    const raw = await readFile(dev.be.keyFile, 'utf8');
    if (!raw.startsWith('{"format":"secretstore-setup/keyfile"')) report.fail('the leak scenario runs as planned', 'the key file was not migrated to v2');
    await dev.collectLeaks(scan, []);
  } finally {
    await dev.close();
  }
}

/**
 * The scanner finds what is planted: a secret in a child's environment, another in its argv (base64url), one in a
 * file (upper-case hex), a 15-character run of one in an output (base64) and one as raw bytes in a binary file.
 */
async function selfCheck(report: Report): Promise<void> {
  const scan = new LeakScan();
  const planted = Array.from({ length: 5 }, () => randomBytes(32));
  planted.forEach((p, i) => {
    scan.addSecret(`planted ${i}`, p);
  });
  scan.addSecret('never planted', randomBytes(32));
  scan.startProcSampler(4);
  // A child that lives for a second, not the few ms of a `version` run: on a loaded machine the sampler thread may
  // not run within a short child's life, and the self-check must test the scanner, not the scheduler.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1000)', planted[1]?.toString('base64url') ?? ''], {
    env: { ...process.env, LEAK_PLANTED: planted[0]?.toString('hex') ?? '' },
    stdio: 'ignore',
  });
  await once(child, 'exit');
  await scan.stopProcSampler();
  const dir = await makeTempDir('sss-chaos-leakcheck-');
  try {
    await writeFile(join(dir, 'a.txt'), `x ${planted[2]?.toString('hex').toUpperCase() ?? ''} y`);
    await writeFile(join(dir, 'b.bin'), Buffer.concat([randomBytes(100), planted[4]?.subarray(5, 25) ?? Buffer.alloc(0), randomBytes(100)]));
    await scan.addFolder(dir);
  } finally {
    await removeTempDir(dir);
  }
  scan.addText('output', `token=${planted[3]?.toString('base64').slice(10, 25) ?? ''}!`);
  const found = new Set(scan.scan().hits.map((h) => h.label));
  const missed = planted.map((_, i) => `planted ${i}`).filter((l) => !found.has(l));
  report.check('scanner self-check: planted secrets found (env, argv, file hex, output run of 15, raw bytes)', `${5 - missed.length} of 5${found.has('never planted') ? ', plus a false hit' : ''}`, '5 of 5', missed.length === 0 && !found.has('never planted'), `missed: ${missed.join(', ')}`);
}

export async function run(options: Partial<LeaksOptions> = {}): Promise<PartResult> {
  const o: LeaksOptions = { ...optionsFromEnv(), ...options };
  const report = new Report('leaks');
  const scan = new LeakScan();
  const steps = new Steps(report);
  await selfCheck(report);
  if (o.procSampler) scan.startProcSampler(4);
  try {
    for (let i = 0; i < o.repeat; i++) {
      await deviceA(steps, scan, report);
      await deviceB(steps, scan, report);
      await deviceC(steps, scan);
      await deviceD(steps, scan, report);
    }
  } finally {
    await scan.stopProcSampler();
  }
  for (const [i, out] of steps.outputs.entries()) scan.addText(`cli output ${i}`, out);
  const r = scan.scan();
  const byLabel = new Map<string, number>();
  for (const h of r.hits) byLabel.set(`${h.label} in ${maskMessage(h.source)} (${h.form})`, (byLabel.get(`${h.label} in ${maskMessage(h.source)} (${h.form})`) ?? 0) + 1);
  if (byLabel.size > 0) report.table({ title: 'leak hits', header: ['secret, where, form', 'count'], rows: [...byLabel].map(([k, n]) => [k, n]) });
  for (const k of byLabel.keys()) report.fail('no secret in any output, log, file, argv or environment', k);
  report.check('leak hits', r.hits.length, '= 0', r.hits.length === 0);
  report.info('commands run', steps.count);
  report.info('secrets looked for', r.secrets);
  report.info('sources scanned (outputs, logs, files, argv/environ samples)', `${r.sources} (${(r.bytes / 2 ** 20).toFixed(1)} MiB)`);
  report.info('/proc samples / distinct processes seen', `${r.procSamples} / ${r.processes}`);
  return report.result();
}

runAsMain(import.meta.url, () => run());
