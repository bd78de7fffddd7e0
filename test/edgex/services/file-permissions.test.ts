import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyFilePermissions, isOwnerId, parseModeOctal } from '../../../src/edgex/services/file-permissions.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

let dir = '';
let file = '';
before(async () => {
  dir = await makeTempDir('sss-file-perms-');
  file = join(dir, 'secrets-token.json');
  await writeFile(file, '{}\n', { mode: 0o600 });
});
after(async () => {
  await removeTempDir(dir);
});

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}

test('parseModeOctal: octal digits only, up to 0777', () => {
  assert.equal(parseModeOctal('0600'), 0o600);
  assert.equal(parseModeOctal('600'), 0o600);
  assert.equal(parseModeOctal('0'), 0);
  assert.equal(parseModeOctal('0000000777'), 0o777);
  for (const bad of ['', '0o600', '1000', '0800', '-1', '+600', '6 00', '0x1ff', '1e3']) assert.equal(parseModeOctal(bad), undefined, bad);
});

test('isOwnerId: integers from 0 to 2^32 - 2', () => {
  assert.ok(isOwnerId(0) && isOwnerId(2002) && isOwnerId(0xfffffffe));
  assert.ok(!isOwnerId(-1) && !isOwnerId(1.5) && !isOwnerId(0xffffffff) && !isOwnerId(Number.NaN));
});

test('mode_octal is applied with chmod', async () => {
  await applyFilePermissions(file, { mode_octal: '0640' });
  assert.equal(await mode(file), 0o640);
  await applyFilePermissions(file, { mode_octal: '400' });
  assert.equal(await mode(file), 0o400);
});

test('uid and gid together: chown to them (here: our own uid and gid), after the mode', async () => {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  await applyFilePermissions(file, { uid, gid, mode_octal: '0600' });
  const st = await stat(file);
  assert.equal(st.uid, uid);
  assert.equal(st.gid, gid);
  assert.equal(st.mode & 0o7777, 0o600);
});

test('uid or gid alone is ignored, as in EdgeX (even one that could not be applied)', async () => {
  const before = await stat(file);
  await applyFilePermissions(file, { uid: 0xfffffffe });
  await applyFilePermissions(file, { gid: 0xfffffffe });
  const after = await stat(file);
  assert.equal(after.uid, before.uid);
  assert.equal(after.gid, before.gid);
});

test('nothing set: nothing changes', async () => {
  await applyFilePermissions(file, { mode_octal: '0600' });
  await applyFilePermissions(file, {});
  assert.equal(await mode(file), 0o600);
});

test('an invalid mode or id is a CONFIG error naming the file; nothing is changed', async () => {
  await assert.rejects(applyFilePermissions(file, { mode_octal: '4755' }), {
    code: 'CONFIG',
    message: `file_permissions for ${file}: mode_octal "4755" is not an octal mode from 0000 to 0777; write it like "0600"`,
  });
  await assert.rejects(applyFilePermissions(file, { uid: -1, gid: 0 }), {
    code: 'CONFIG',
    message: `file_permissions for ${file}: uid -1 is not an integer from 0 to 4294967294; fix it`,
  });
  await assert.rejects(applyFilePermissions(file, { uid: 0, gid: 2.5 }), {
    code: 'CONFIG',
    message: `file_permissions for ${file}: gid 2.5 is not an integer from 0 to 4294967294; fix it`,
  });
  assert.equal(await mode(file), 0o600);
});

test('a file that is not there: IO errors naming it, for chmod and for chown', async () => {
  const missing = join(dir, 'missing', 'secrets-token.json');
  await assert.rejects(applyFilePermissions(missing, { mode_octal: '0600' }), {
    code: 'IO',
    message: `cannot set the mode of ${missing} to 0600 (ENOENT); check that the file exists and is ours`,
  });
  await assert.rejects(applyFilePermissions(missing, { uid: 1, gid: 2 }), {
    code: 'IO',
    message: `cannot change the owner of ${missing} to 1:2 (ENOENT); run as root or remove uid and gid from file_permissions`,
  });
});
