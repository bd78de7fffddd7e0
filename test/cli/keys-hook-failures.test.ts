/**
 * Every IKM hook failure mode of issue 2 §6, driven through the `keys` commands in process (the CLI's own code path
 * minus process start-up): the error has its code and its one-line message, never the hook's output, and every
 * file in the folder is byte for byte what it was — for a first encryption (`keys encrypt`, the hook is the only
 * IKM) and for a rotation whose NEW hook fails after the old one decrypted the file (`keys rewrap`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { keysCommand } from '../../src/cli/commands/keys.js';
import type { CommandContext } from '../../src/cli/command.js';
import { isSecretStoreError } from '../../src/errors.js';
import { Logger } from '../../src/log.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { TEST_IKM_HEX, writeHook, writeIkmHook } from '../vmk/hook-scripts.js';
import { plaintextDir, snapshot } from './keys-fixtures.js';

let root = '';
let goodHook = '';
before(async () => {
  root = await makeTempDir('sss-keys-hooks-');
  goodHook = await writeIkmHook(root, 'good.sh');
});
after(async () => {
  await removeTempDir(root);
});

/** Runs `secretstore-setup keys ...args` in process with EDGEX_IKM_HOOK = `hook`; resolves to the thrown error. */
async function keysError(args: string[], hook: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Error> {
  const lines: string[] = [];
  const ctx: CommandContext = {
    argv: args,
    env: { PATH: process.env.PATH, EDGEX_IKM_HOOK: hook, ...extraEnv },
    cwd: root,
    out: (text) => lines.push(text),
    log: new Logger({ sink: (line) => lines.push(line) }),
    signal: new AbortController().signal,
  };
  try {
    await keysCommand.run(ctx);
  } catch (err) {
    assert.ok(err instanceof Error);
    assert.deepEqual(lines, [], 'a failed command prints nothing but its error');
    return err;
  }
  assert.fail(`keys ${args.join(' ')} succeeded with a broken hook`);
}

const ikm = TEST_IKM_HEX;
/** [what, script body (or a special path), code, message]. */
const modes: [string, string, string, RegExp][] = [
  ['no output', 'exit 0', 'HOOK_BAD_OUTPUT', /printed nothing \(an empty IKM\); fix the hook, nothing was changed$/],
  ['an empty line', `printf '\\n'`, 'HOOK_BAD_OUTPUT', /printed nothing/],
  ['an odd length', `printf '%s\\n' '${ikm}0'`, 'HOOK_BAD_OUTPUT', /printed an odd number of hex digits/],
  ['non-hex', `printf '%s\\n' '${ikm.slice(0, 60)}wxyz'`, 'HOOK_BAD_OUTPUT', /printed something other than hex digits/],
  ['CRLF', `printf '%s\\r\\n' '${ikm}'`, 'HOOK_BAD_OUTPUT', /printed a carriage return \(CRLF line ending\)/],
  ['spaces', `printf '%s %s\\n' '${ikm.slice(0, 32)}' '${ikm.slice(32)}'`, 'HOOK_BAD_OUTPUT', /printed whitespace or more than one line/],
  ['a 0x prefix', `printf '0x%s\\n' '${ikm}'`, 'HOOK_BAD_OUTPUT', /printed a 0x prefix; print bare hex digits/],
  ['too short', `printf '%s\\n' '${ikm.slice(0, 48)}'`, 'HOOK_BAD_OUTPUT', /printed 24 bytes of IKM, fewer than the required 32; the hook must print at least 64 hex digits/],
  ['too long', `i=0; while [ $i -lt 40 ]; do printf '%s' '${ikm}'; i=$((i+1)); done; echo`, 'HOOK_BAD_OUTPUT', /printed 1280 bytes of IKM, more than the 1024 allowed/],
  ['more output than the cap', `while :; do printf '%s' '${ikm}'; done`, 'HOOK_OUTPUT_TOO_LARGE', /printed more than 65536 bytes and was killed; it must print one line of hex/],
  ['a non-zero exit after good output', `printf '%s\\n' '${ikm}'\necho 'tpm2_unseal: policy check failed' >&2\nexit 2`, 'HOOK_FAILED', /exited with status 2; hook stderr: "tpm2_unseal: policy check failed"; its output was not used/],
  ['death by a signal', `printf '%s\\n' '${ikm}'\nkill -TERM $$`, 'HOOK_FAILED', /was killed by SIGTERM/],
  ['a timeout', `printf '%s\\n' '${ikm}'\nsleep 30`, 'HOOK_TIMEOUT', /did not finish within 1000 ms and was killed; check the hook or raise EDGEX_IKM_HOOK_TIMEOUT/],
  ['a missing file', '@missing', 'HOOK_INVALID_PATH', /cannot be found \(ENOENT\); check EDGEX_IKM_HOOK/],
  ['a file that is not executable', '@noexec', 'HOOK_INVALID_PATH', /is not executable; chmod \+x it/],
  ['a folder', '@folder', 'HOOK_INVALID_PATH', /is not a regular file/],
  ['a relative path', '@relative', 'HOOK_INVALID_PATH', /must be absolute \(it is never looked up on PATH\)/],
];

async function hookFor(what: string, body: string): Promise<string> {
  const name = `hook-${what.replace(/\W+/g, '-')}.sh`;
  switch (body) {
    case '@missing':
      return join(root, 'no-such-hook');
    case '@noexec': {
      const path = await writeIkmHook(root, name);
      await chmod(path, 0o644);
      return path;
    }
    case '@folder': {
      const path = join(root, name);
      await mkdir(path, { recursive: true });
      return path;
    }
    case '@relative':
      return 'hooks/ikm-dev';
    default:
      return writeHook(root, name, body);
  }
}

function assertHookError(err: Error, code: string, message: RegExp, what: string): void {
  assert.ok(isSecretStoreError(err), `${what}: ${err.name}`);
  assert.equal(err.code, code, `${what}: ${err.message}`);
  assert.match(err.message, message, what);
  assert.ok(!err.message.includes('\n'), `${what}: one line`);
  const everything = inspect(err, { depth: 5 });
  assert.ok(!everything.toLowerCase().includes(ikm.slice(0, 16)), `${what}: the hook's output is never echoed`);
}

for (const [what, body, code, message] of modes) {
  test(`hook failure, ${what}: ${code}, and every file unchanged (encrypt and rewrap)`, async () => {
    const hook = await hookFor(what, body);
    const env = { EDGEX_IKM_HOOK_TIMEOUT: '1' };
    // First encryption: the broken hook is the only IKM source.
    const plainDir = await plaintextDir(root);
    const beforePlain = await snapshot(plainDir);
    assertHookError(await keysError(['encrypt', '--dir', plainDir], hook, env), code, message, `encrypt, ${what}`);
    assert.deepEqual(await snapshot(plainDir), beforePlain, `encrypt, ${what}: the folder is unchanged`);
    // Rotation: the old hook decrypts, the broken new one fails; nothing may change.
    const encDir = await plaintextDir(root);
    await keysCommand.run({
      argv: ['encrypt', '--dir', encDir, '--format', 'edgex', '--drop-root-token'],
      env: { PATH: process.env.PATH, EDGEX_IKM_HOOK: goodHook },
      cwd: root,
      out: () => undefined,
      log: new Logger({ sink: () => undefined }),
      signal: new AbortController().signal,
    });
    const beforeEnc = await snapshot(encDir);
    assert.deepEqual(Object.keys(beforeEnc), ['kdf-salt.dat', 'resp-init.json']);
    assertHookError(await keysError(['rewrap', '--dir', encDir, '--new-hook', hook], goodHook, env), code, message, `rewrap, ${what}`);
    assert.deepEqual(await snapshot(encDir), beforeEnc, `rewrap, ${what}: the folder is unchanged`);
  });
}
