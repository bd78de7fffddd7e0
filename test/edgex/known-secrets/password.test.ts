/**
 * Passwords: the built-in generator (base64 of 33 random bytes), Go's LookPath rules, and a password provider script
 * (one trailing newline removed; failures fatal; not found → built-in with a warning).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { isSecretStoreError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import {
  PASSWORD_RANDOM_BYTES,
  base64Bytes,
  builtinPasswordGenerator,
  lookPath,
  passwordGenerator,
  randomPassword,
  runPasswordProvider,
} from '../../../src/edgex/known-secrets/password.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

async function script(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('sss-pw-');
  try {
    await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', sink: (l) => lines.push(l) }), lines };
}

test('built-in: standard base64 of 33 random bytes, 44 characters, new each time', async () => {
  const a = randomPassword();
  const b = await builtinPasswordGenerator.generate();
  for (const p of [a, b]) {
    assert.equal(p.length, 44);
    assert.match(p.toString('latin1'), /^[A-Za-z0-9+/]{44}$/);
    assert.equal(Buffer.from(p.toString('latin1'), 'base64').length, PASSWORD_RANDOM_BYTES);
  }
  assert.notDeepEqual(a, b);
});

test('property: base64Bytes is Buffer.toString("base64")', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      assert.equal(base64Bytes(bytes).toString('latin1'), Buffer.from(bytes).toString('base64'));
    }),
  );
});

test('a provider script: its stdout less exactly one trailing newline, run with PasswordProviderArgs', async () => {
  await withDir(async (dir) => {
    const path = await script(dir, 'pw', 'printf "%s-%s\\n" "$1" "$2"');
    const { log, lines } = capture();
    const gen = await passwordGenerator({ provider: path, args: ['from', 'provider'] }, log);
    assert.equal(gen.description, `password provider ${path}`);
    assert.equal((await gen.generate()).toString(), 'from-provider');
    assert.ok(lines.some((l) => l.includes('running the password provider') && l.includes('args=2')));

    const two = await script(dir, 'two', 'printf "value\\n\\n"');
    assert.equal((await runPasswordProvider(two, [])).toString(), 'value\n');
    const none = await script(dir, 'none', 'printf "value"');
    assert.equal((await runPasswordProvider(none, [])).toString(), 'value');
    const crlf = await script(dir, 'crlf', 'printf "value\\r\\n"');
    assert.equal((await runPasswordProvider(crlf, [])).toString(), 'value\r', 'only \\n is removed, as in EdgeX');
  });
});

test('a provider found on PATH by name; runs once per password', async () => {
  await withDir(async (dir) => {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const counter = join(dir, 'count');
    await script(bin, 'my-pw', `echo x >> ${counter}; echo "pw-$(wc -l < ${counter} | tr -d ' ')"`);
    const env = { ...process.env, PATH: `/nonexistent:${bin}:${process.env.PATH ?? ''}` };
    const gen = await passwordGenerator({ provider: 'my-pw', args: [], env }, capture().log);
    assert.equal((await gen.generate()).toString(), 'pw-1');
    assert.equal((await gen.generate()).toString(), 'pw-2');
  });
});

test('provider not found (or not executable): a warning and the built-in generator, as in EdgeX', async () => {
  await withDir(async (dir) => {
    const { log, lines } = capture();
    const gen = await passwordGenerator({ provider: 'no-such-provider-here', env: { PATH: dir } }, log);
    assert.equal(gen, builtinPasswordGenerator);
    assert.ok(lines.some((l) => l.includes('WARN') && l.includes('password provider not found') && l.includes('provider=no-such-provider-here')));
    const plain = join(dir, 'plain');
    await writeFile(plain, 'echo x\n', { mode: 0o644 });
    assert.equal(await passwordGenerator({ provider: plain }, log), builtinPasswordGenerator);
    assert.equal(await passwordGenerator({ provider: '' }, log), builtinPasswordGenerator);
  });
});

test("lookPath follows Go's exec.LookPath: '/' names used directly, PATH in order, '' means '.', relative matches refused", async () => {
  await withDir(async (dir) => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await mkdir(a);
    await mkdir(b);
    await script(a, 'tool', 'echo a');
    await script(b, 'tool', 'echo b');
    await mkdir(join(b, 'adir'));
    assert.equal(await lookPath('tool', { PATH: `${b}:${a}` }), join(b, 'tool'));
    assert.equal(await lookPath('adir', { PATH: b }), undefined, 'folders are not executables');
    assert.equal(await lookPath(join(a, 'tool'), {}), join(a, 'tool'));
    const rel = relative(process.cwd(), join(a, 'tool'));
    assert.equal(await lookPath(rel, {}), join(a, 'tool'), 'a name with / is resolved against the working folder');
    assert.equal(await lookPath('tool', { PATH: relative(process.cwd(), a) }), undefined, "Go's ErrDot: a relative PATH entry match is not used");
    assert.equal(await lookPath('tool', {}), undefined);
    assert.equal(await lookPath('', { PATH: a }), undefined);
  });
});

test('provider failures are fatal CONFIG errors: non-zero exit, empty output, not UTF-8, too much output, timeout', async () => {
  await withDir(async (dir) => {
    const cases: [string, string, RegExp, { timeoutMs?: number; maxOutputBytes?: number }?][] = [
      ['fails', 'echo partial; exit 3', /exited with status 3; no password was made/],
      ['empty', 'printf "\\n"', /printed an empty password/],
      ['binary', 'printf "\\377\\376\\n"', /not UTF-8 text/],
      ['big', 'head -c 5000 /dev/zero | tr "\\0" a', /printed more than 100 bytes and was killed/, { maxOutputBytes: 100 }],
      ['slow', 'sleep 5; echo late', /did not finish within 200 ms and was killed/, { timeoutMs: 200 }],
      ['killed', 'kill -9 $$', /was killed by SIGKILL/],
    ];
    for (const [name, body, pattern, options] of cases) {
      const path = await script(dir, name, body);
      await assert.rejects(runPasswordProvider(path, [], options), (err: unknown) => {
        assert.ok(isSecretStoreError(err, 'CONFIG'), name);
        assert.match(err.message, pattern);
        assert.ok(err.message.includes(path));
        return true;
      });
    }
    await assert.rejects(runPasswordProvider(join(dir, 'missing'), []), (err: unknown) => isSecretStoreError(err, 'CONFIG') && /could not be started \(ENOENT\)/.test(err.message));
  });
});
