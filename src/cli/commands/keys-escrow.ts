/**
 * `secretstore-setup keys escrow --dir DIR --recipient AGE1... [--recipient ...] [--out FILE]`: writes a recovery
 * copy of the unseal key shares (plus threshold, and the root token if the key file keeps one) encrypted to offline
 * X25519 age recipients — the answer to "the TPM died / the board was replaced". The copy is a standard age file
 * (decrypt it with `age -d -i key.txt` or `keys recover`), written atomically, mode 0600.
 */
import { basename, isAbsolute, resolve } from 'node:path';
import type { CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';
import { wipe } from '../../crypto.js';
import { type InitSecrets, keyFilePaths, readKeyFile, wipeInitSecrets } from '../../keyfile/keyfile.js';
import { writeFileAtomic } from '../../keyfile/atomic-write.js';
import { locationFrom, parseKeysArgs, requireHook, requireKeyFile, withIkm } from './keys-common.js';
import { checkRecipient, encryptToRecipients } from '../../recovery/age.js';
import { serializeEscrow } from '../../recovery/escrow-format.js';

/** Help text of `keys escrow`. */
export const ESCROW_USAGE = `Usage: secretstore-setup keys escrow --dir DIR --recipient AGE_RECIPIENT [--recipient ...] [--out FILE]

Writes a recovery copy of the unseal key shares (+ threshold, + root token if the key file keeps one), encrypted
with age to offline X25519 recipients (age-keygen's public keys, age1...). Decrypts the key file with the hook named
by EDGEX_IKM_HOOK (one release of the IKM). Copy the result off the device; keep the identity offline.

Options:
  --dir DIR              folder of the key file (EdgeX TokenFolderPath), required
  --file NAME            key file name (default resp-init.json); --salt-file NAME (edgex format)
  --recipient AGE1...    X25519 age recipient; repeat for several (each can recover alone)
  --out FILE             where to write (default <DIR>/<key file>.escrow.age), atomically, mode 0600

Exit status: 0 success, 1 failure (nothing written), 2 usage error.`;

/** Runs `keys escrow` with the arguments after the subcommand name. */
export async function runEscrow(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values } = parseKeysArgs(argv, { recipient: { type: 'string', multiple: true }, out: { type: 'string' } });
  if (values.help === true) {
    ctx.out(ESCROW_USAGE + '\n');
    return 0;
  }
  const recipients = values.recipient ?? [];
  if (recipients.length === 0) throw new SecretStoreError('USAGE', '--recipient AGE_RECIPIENT is required (an age1... public key); see --help');
  for (const r of recipients) checkRecipient(r); // before any IKM release
  const loc = locationFrom(ctx, values);
  const paths = keyFilePaths(loc);
  const out = values.out === undefined || values.out === '' ? `${paths.keyFile}.escrow.age` : isAbsolute(values.out) ? values.out : resolve(ctx.cwd, values.out);
  if (resolve(out) === resolve(paths.keyFile) || resolve(out) === resolve(paths.saltFile)) {
    throw new SecretStoreError('USAGE', '--out must not be the key file or its salt file');
  }
  const summary = await requireKeyFile(loc);
  let secrets: InitSecrets | undefined;
  let payload: Buffer | undefined;
  try {
    if (summary.encrypted) {
      const source = requireHook(ctx, 'escrowing the shares');
      secrets = await withIkm(source, async (ikm) => (await readKeyFile(loc, ikm)).secrets);
    } else {
      ctx.log.warn('the key file is NOT encrypted; escrowing its plaintext shares', { file: basename(paths.keyFile) });
      secrets = (await readKeyFile(loc, undefined)).secrets;
    }
    payload = serializeEscrow(secrets, new Date());
    const encrypted = await encryptToRecipients(payload, recipients);
    writeFileAtomic(out, encrypted, 0o600);
    const extras = [secrets.threshold === undefined ? undefined : `threshold ${secrets.threshold}`, secrets.rootToken === undefined ? undefined : 'root token'];
    const what = [`${secrets.shares.length} share${secrets.shares.length === 1 ? '' : 's'}`, ...extras.filter((x) => x !== undefined)].join(', ');
    ctx.out(`escrowed ${what} to ${out} for ${recipients.length} recipient${recipients.length === 1 ? '' : 's'}; copy it off the device, keep the identity offline\n`);
    return 0;
  } finally {
    wipe(payload);
    wipeInitSecrets(secrets);
  }
}
