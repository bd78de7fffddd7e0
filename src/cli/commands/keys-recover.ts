/**
 * `secretstore-setup keys recover --dir DIR --identity FILE --in FILE --new-hook PATH`: rebuilds the key file on
 * new hardware from an escrow copy: decrypts it with the offline age identity, takes a NEW IKM from the new hook,
 * and writes the key file with a fresh salt — atomically, verified by decrypting it back before it lands.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { CommandContext } from '../command.js';
import { SecretStoreError, describeCause } from '../../errors.js';
import { wipe } from '../../crypto.js';
import { HookIkmSource } from '../../vmk/ikm-hook.js';
import { type InitSecrets, inspectKeyFile, wipeInitSecrets, writeKeyFile } from '../../keyfile/keyfile.js';
import { describeSummary, locationFrom, otherHookOptions, parseEncryptedFormat, parseKeysArgs, withIkm } from './keys-common.js';
import { decryptWithIdentities, parseIdentityFile } from '../../recovery/age.js';
import { parseEscrow } from '../../recovery/escrow-format.js';

/** Help text of `keys recover`. */
export const RECOVER_USAGE = `Usage: secretstore-setup keys recover --dir DIR --identity FILE --in FILE --new-hook PATH [--format v2|edgex] [--replace]

Rebuilds the key file from an escrow copy (keys escrow) for new hardware: decrypts the copy with the offline age
identity, gets a NEW IKM from the new hook (absolute path), and writes <DIR>/resp-init.json encrypted under it with a
fresh salt; the new file is decrypted back before it replaces anything. Then set EDGEX_IKM_HOOK to the new hook.

Options:
  --dir DIR          folder of the key file (EdgeX TokenFolderPath), required
  --file NAME        key file name (default resp-init.json); --salt-file NAME (edgex format)
  --identity FILE    age identity file (AGE-SECRET-KEY-1..., as age-keygen writes it), owner-only permissions
  --in FILE          the escrow copy
  --new-hook PATH    the IKM hook of the new hardware (provisioned already)
  --format v2|edgex  key-file format to write (default v2; edgex cannot hold a root token)
  --replace          replace an existing key file (which the old hardware's IKM can no longer open)

Exit status: 0 success, 1 failure (nothing changed), 2 usage error.`;

/** Largest escrow copy read (a few kilobytes in practice). */
const MAX_ESCROW_BYTES = 1024 * 1024;

async function readSmall(path: string, what: string, max: number): Promise<Buffer> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot read ${what} ${path} (${describeCause(err)})`, { cause: err });
  }
  if (!info.isFile()) throw new SecretStoreError('IO', `${what} ${path} is not a regular file`);
  if (info.size > max) throw new SecretStoreError('ESCROW_MALFORMED', `${what} ${path} is larger than ${max} bytes`);
  try {
    return await readFile(path);
  } catch (err) {
    throw new SecretStoreError('IO', `cannot read ${what} ${path} (${describeCause(err)})`, { cause: err });
  }
}

/** Runs `keys recover` with the arguments after the subcommand name. */
export async function runRecover(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseKeysArgs(argv, {
    identity: { type: 'string' },
    in: { type: 'string' },
    'new-hook': { type: 'string' },
    format: { type: 'string' },
    replace: { type: 'boolean' },
  });
  if (values.help === true) {
    ctx.out(RECOVER_USAGE + '\n');
    return 0;
  }
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(ctx.cwd, p));
  const need = (name: 'identity' | 'in' | 'new-hook', what: string): string => {
    const v = values[name];
    if (v === undefined || v === '') throw new SecretStoreError('USAGE', `--${name} ${what} is required; see --help`);
    return v;
  };
  const identityPath = abs(need('identity', 'FILE'));
  const inPath = abs(need('in', 'FILE'));
  const newHook = need('new-hook', 'PATH');
  const format = parseEncryptedFormat('format', values.format, 'v2');
  const loc = locationFrom(ctx, values);
  const existing = await inspectKeyFile(loc);
  if (existing !== undefined && values.replace !== true) {
    throw new SecretStoreError('USAGE', `${existing.path} exists; pass --replace to rebuild it from the escrow copy (nothing was changed)`);
  }

  const idInfo = await stat(identityPath).catch((err: unknown) => {
    throw new SecretStoreError('IO', `cannot read identity file ${identityPath} (${describeCause(err)})`, { cause: err });
  });
  if ((idInfo.mode & 0o077) !== 0) {
    throw new SecretStoreError('UNSAFE_PERMISSIONS', `identity file ${identityPath} is readable by others (mode ${(idInfo.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const idBytes = await readSmall(identityPath, 'identity file', 64 * 1024);
  let plain: Buffer | undefined;
  let secrets: InitSecrets | undefined;
  try {
    const identities = parseIdentityFile(idBytes.toString('utf8'), identityPath);
    const file = await readSmall(inPath, 'escrow copy', MAX_ESCROW_BYTES);
    plain = await decryptWithIdentities(file, identities, inPath);
    const parsed = parseEscrow(plain, inPath);
    secrets = parsed.secrets;
    const recovered = secrets;
    const source = new HookIkmSource(otherHookOptions(ctx, newHook));
    const summary = await withIkm(source, (ikm) => writeKeyFile(loc, recovered, { format, ikm, newSalt: true }));
    ctx.out(`recovered: ${summary.path}: ${describeSummary(summary)} (escrowed ${parsed.info.created}); set EDGEX_IKM_HOOK=${newHook} from now on\n`);
    return 0;
  } finally {
    wipe(idBytes, plain);
    wipeInitSecrets(secrets);
  }
}
