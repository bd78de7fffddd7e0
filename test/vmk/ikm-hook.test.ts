import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HookIkmSource, hookOptionsFromEnv, runIkmHook } from '../../src/vmk/ikm-hook.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { TEST_IKM_HEX, writeHook, writeIkmHook } from './hook-scripts.js';

let dir = '';
before(async () => {
  dir = await makeTempDir('sss-hook-');
});
after(async () => {
  await removeTempDir(dir);
});

const ikm32 = TEST_IKM_HEX;

test('a good hook: hex + newline decodes to the IKM', async () => {
  const path = await writeIkmHook(dir, 'good.sh');
  const ikm = await runIkmHook({ path });
  assert.equal(ikm.toString('hex'), ikm32);
});

test('uppercase hex and a missing final newline are accepted (as EdgeX)', async () => {
  const path = await writeHook(dir, 'upper.sh', `printf '%s' '${ikm32.toUpperCase()}'`);
  assert.equal((await runIkmHook({ path })).toString('hex'), ikm32);
});

test('the hook gets no arguments, stdin at EOF, and the given environment', async () => {
  const path = await writeHook(
    dir,
    'env.sh',
    `[ $# -eq 0 ] || exit 4\nif read -r line; then exit 5; fi\nprintf '%s\\n' "$SSS_TEST_IKM"`,
  );
  const ikm = await runIkmHook({ path, env: { ...process.env, SSS_TEST_IKM: ikm32 } });
  assert.equal(ikm.toString('hex'), ikm32);
});

test('a hook that writes a lot to stderr does not deadlock', async () => {
  const path = await writeHook(dir, 'noisy.sh', `i=0\nwhile [ $i -lt 3000 ]; do echo "diagnostic line $i ......................................" >&2; i=$((i+1)); done\nprintf '%s\\n' '${ikm32}'`);
  assert.equal((await runIkmHook({ path })).toString('hex'), ikm32);
});

const badOutputs: [string, string, RegExp][] = [
  ['no output', `exit 0`, /printed nothing/],
  ['an empty line', `printf '\\n'`, /printed nothing/],
  ['an odd number of digits', `printf '%s\\n' '${ikm32}a'`, /odd number of hex digits/],
  ['non-hex', `printf '%s\\n' '${ikm32.slice(0, 62)}zz'`, /something other than hex digits/],
  ['CRLF', `printf '%s\\r\\n' '${ikm32}'`, /carriage return/],
  ['spaces', `printf ' %s\\n' '${ikm32}'`, /whitespace/],
  ['two lines', `printf '%s\\n%s\\n' '${ikm32}' '${ikm32}'`, /whitespace or more than one line/],
  ['a 0x prefix', `printf '0x%s\\n' '${ikm32}'`, /0x prefix/],
  ['too short', `printf '%s\\n' '${ikm32.slice(0, 62)}'`, /printed 31 bytes of IKM, fewer than the required 32/],
  ['too long', `i=0; while [ $i -lt 33 ]; do printf '%s' '${ikm32}'; i=$((i+1)); done; echo`, /printed 1056 bytes of IKM, more than the 1024 allowed/],
];
for (const [what, body, message] of badOutputs) {
  test(`bad output: ${what} → HOOK_BAD_OUTPUT`, async () => {
    const path = await writeHook(dir, `bad-${what.replace(/\W+/g, '-')}.sh`, body);
    await assert.rejects(runIkmHook({ path }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal((err as { code?: string }).code, 'HOOK_BAD_OUTPUT');
      assert.match(err.message, message);
      assert.ok(!err.message.includes(ikm32.slice(0, 16)), 'the message must not echo the output');
      return true;
    });
  });
}

test('minIkmBytes can be lowered to 16 but never below', async () => {
  const path = await writeHook(dir, 'short16.sh', `printf '%s\\n' '${ikm32.slice(0, 32)}'`);
  assert.equal((await runIkmHook({ path, minIkmBytes: 16 })).length, 16);
  await assert.rejects(runIkmHook({ path }), { code: 'HOOK_BAD_OUTPUT' });
  await assert.rejects(runIkmHook({ path, minIkmBytes: 15 }), { code: 'CONFIG', message: /between 16 and 1024/ });
});

test('output past maxOutputBytes kills the hook: HOOK_OUTPUT_TOO_LARGE', async () => {
  const path = await writeHook(dir, 'flood.sh', `while :; do printf '%s' '${ikm32}${ikm32}'; done`);
  await assert.rejects(runIkmHook({ path, maxOutputBytes: 4096 }), {
    code: 'HOOK_OUTPUT_TOO_LARGE',
    message: /printed more than 4096 bytes and was killed/,
  });
});

test('a non-zero exit is an error even with good output; stderr is quoted, bounded and cleaned', async () => {
  const path = await writeHook(dir, 'exit3.sh', `printf '%s\\n' '${ikm32}'\nprintf '\\033[31mTPM2_Unseal failed\\n\\tpolicy check\\a' >&2\nexit 3`);
  await assert.rejects(runIkmHook({ path }), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: string }).code, 'HOOK_FAILED');
    assert.match(err.message, /exited with status 3; hook stderr: "\[31mTPM2_Unseal failed policy check"/);
    const codes = Array.from({ length: err.message.length }, (_, i) => err.message.charCodeAt(i));
    assert.ok(!codes.some((c) => c < 0x20 || c === 0x7f), 'no control characters in the message');
    assert.ok(!err.message.includes(ikm32.slice(0, 16)));
    return true;
  });
});

test('a long stderr is cut to its tail', async () => {
  const path = await writeHook(dir, 'longerr.sh', `i=0\nwhile [ $i -lt 200 ]; do printf 'x%03d ' $i >&2; i=$((i+1)); done\nexit 1`);
  await assert.rejects(runIkmHook({ path }), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, /hook stderr: "….*x199"/);
    assert.ok(err.message.length < 400);
    return true;
  });
});

test('a hook killed by a signal is an error', async () => {
  const path = await writeHook(dir, 'killed.sh', `printf '%s\\n' '${ikm32}'\nkill -9 $$`);
  await assert.rejects(runIkmHook({ path }), { code: 'HOOK_FAILED', message: /was killed by SIGKILL/ });
});

test('a timeout kills the whole process group: HOOK_TIMEOUT', async () => {
  const pidFile = join(dir, 'grandchild.pid');
  const path = await writeHook(dir, 'slow.sh', `sleep 30 &\necho $! > '${pidFile}'\nsleep 30`);
  await assert.rejects(runIkmHook({ path, timeoutMs: 300 }), {
    code: 'HOOK_TIMEOUT',
    message: /did not finish within 300 ms and was killed/,
  });
  const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
  // The group was SIGKILLed; give the kernel a moment. A killed orphan may stay a zombie until init reaps it
  // (containers often have no reaping init), so "gone" means no /proc entry or state Z.
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    const stat = await readFile(`/proc/${grandchild}/stat`, 'utf8').catch(() => undefined);
    alive = stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    if (alive) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(alive, false, 'the hook\'s background child must be killed with the group');
});

test('a process that escaped the group and holds stdout open cannot hang the runner', { timeout: 10_000 }, async () => {
  const pidFile = join(dir, 'escaped.pid');
  const path = await writeHook(dir, 'escape.sh', `printf '%s\\n' '${ikm32}'\nsetsid sh -c 'echo $$ > "${pidFile}"; exec sleep 20' &\nsleep 0.2\nexit 0`);
  try {
    await assert.rejects(runIkmHook({ path, timeoutMs: 500 }), { code: 'HOOK_TIMEOUT' });
  } finally {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

test('path problems → HOOK_INVALID_PATH with what to do', async () => {
  await assert.rejects(runIkmHook({ path: join(dir, 'missing.sh') }), { code: 'HOOK_INVALID_PATH', message: /cannot be found \(ENOENT\)/ });
  const notExec = await writeIkmHook(dir, 'noexec.sh');
  const { chmod } = await import('node:fs/promises');
  await chmod(notExec, 0o644);
  await assert.rejects(runIkmHook({ path: notExec }), { code: 'HOOK_INVALID_PATH', message: /is not executable; chmod \+x it/ });
  await assert.rejects(runIkmHook({ path: 'hooks/ikm-dev' }), { code: 'HOOK_INVALID_PATH', message: /must be absolute \(it is never looked up on PATH\)/ });
  await assert.rejects(runIkmHook({ path: 'sh' }), { code: 'HOOK_INVALID_PATH', message: /must be absolute/ });
  const sub = join(dir, 'a-directory');
  await mkdir(sub);
  await assert.rejects(runIkmHook({ path: sub }), { code: 'HOOK_INVALID_PATH', message: /is not a regular file/ });
});

test('hookOptionsFromEnv: unset means no hook; timeout and minimum are validated', () => {
  assert.equal(hookOptionsFromEnv({}), undefined);
  assert.equal(hookOptionsFromEnv({ EDGEX_IKM_HOOK: '' }), undefined);
  const env = { EDGEX_IKM_HOOK: '/opt/hook', EDGEX_IKM_HOOK_TIMEOUT: '5', EDGEX_IKM_MIN_BYTES: '16' };
  const o = hookOptionsFromEnv(env);
  assert.ok(o !== undefined);
  assert.equal(o.path, '/opt/hook');
  assert.equal(o.timeoutMs, 5000);
  assert.equal(o.minIkmBytes, 16);
  assert.equal(o.env, env);
  assert.throws(() => hookOptionsFromEnv({ EDGEX_IKM_HOOK: '/h', EDGEX_IKM_HOOK_TIMEOUT: '2s' }), { code: 'CONFIG', message: /EDGEX_IKM_HOOK_TIMEOUT/ });
  assert.throws(() => hookOptionsFromEnv({ EDGEX_IKM_HOOK: '/h', EDGEX_IKM_HOOK_TIMEOUT: '0' }), { code: 'CONFIG' });
  assert.throws(() => hookOptionsFromEnv({ EDGEX_IKM_HOOK: '/h', EDGEX_IKM_MIN_BYTES: '8' }), { code: 'CONFIG', message: /between 16 and 1024/ });
});

test('HookIkmSource runs the hook at most once, hands out copies, and refuses after wipe()', async () => {
  const counter = join(dir, 'runs.txt');
  const path = await writeHook(dir, 'counted.sh', `echo run >> '${counter}'\nprintf '%s\\n' '${ikm32}'`);
  const source = new HookIkmSource({ path });
  assert.match(source.description, /counted\.sh/);
  const [a, b] = await Promise.all([source.getIkm(), source.getIkm()]);
  a.fill(0); // the caller wipes its copy; the next copy is intact
  const c = await source.getIkm();
  assert.equal(b.toString('hex'), ikm32);
  assert.equal(c.toString('hex'), ikm32);
  assert.equal((await readFile(counter, 'utf8')).trim().split('\n').length, 1);
  source.wipe();
  await assert.rejects(source.getIkm(), { code: 'HOOK_ALREADY_USED' });
});

test('HookIkmSource caches a failure instead of re-running the hook', async () => {
  const counter = join(dir, 'fails.txt');
  const path = await writeHook(dir, 'failing.sh', `echo run >> '${counter}'\nexit 1`);
  const source = new HookIkmSource({ path });
  await assert.rejects(source.getIkm(), { code: 'HOOK_FAILED' });
  await assert.rejects(source.getIkm(), { code: 'HOOK_FAILED' });
  assert.equal((await readFile(counter, 'utf8')).trim().split('\n').length, 1);
});

test('a hook that echoes its IKM on stderr does not get it into our message: long hex runs are redacted', async () => {
  const path = await writeHook(dir, 'echo-ikm.sh', `echo "debug: unsealed ${ikm32} from handle 0x81000001" >&2\nexit 7`);
  await assert.rejects(runIkmHook({ path }), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: string }).code, 'HOOK_FAILED');
    assert.equal(err.message, `the IKM hook ${path} exited with status 7; hook stderr: "debug: unsealed [hex redacted] from handle 0x81000001"; its output was not used`);
    return true;
  });
  // A run cut by the 512-byte tail keeps no 16-digit piece of the secret either.
  const cut = await writeHook(dir, 'echo-ikm-cut.sh', `printf '%s' '${ikm32}${ikm32}' >&2\ni=0; while [ $i -lt 110 ]; do printf 'wxyz' >&2; i=$((i+1)); done\nexit 1`);
  await assert.rejects(runIkmHook({ path: cut }), (err: unknown) => {
    assert.ok(err instanceof Error);
    for (let i = 0; i + 16 <= ikm32.length; i++) assert.ok(!err.message.includes(ikm32.slice(i, i + 16)), 'no 64-bit piece of the IKM');
    return true;
  });
});
