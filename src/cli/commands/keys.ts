/**
 * `secretstore-setup keys <inspect|verify|encrypt|decrypt|convert|rewrap|escrow|recover>`: maintenance of the key file. Each
 * subcommand lives in its own small module; every one leaves the files exactly as they were when it fails.
 */
import type { Command, CommandContext } from '../command.js';
import { SecretStoreError } from '../../errors.js';

const USAGE = `Usage: secretstore-setup keys <subcommand> --dir DIR [--file NAME] [--salt-file NAME] [options]

Maintains the key file (<DIR>/resp-init.json; kdf-salt.dat for the edgex format). The IKM comes from the
hook named by EDGEX_IKM_HOOK (absolute path; EDGEX_IKM_HOOK_TIMEOUT seconds, EDGEX_IKM_MIN_BYTES).

Subcommands:
  inspect [--json]                 describe the file without the hook (nothing is decrypted)
  verify                           with the hook, check that every share decrypts
  encrypt [--format v2|edgex]      plaintext Vault init response -> encrypted (default v2)
  decrypt                          encrypted -> plaintext Vault init response (warns loudly)
  convert --to v2|edgex            re-encrypt in the other format under the same IKM
  rewrap --new-hook PATH [--to v2|edgex]
                                   re-encrypt under a new hook's IKM with a fresh salt
  escrow --recipient AGE1... [--out FILE]
                                   write an offline recovery copy of the shares, encrypted to an age
                                   X25519 recipient (the standard age CLI can decrypt it)
  recover --identity FILE --in FILE --new-hook PATH [--format v2|edgex] [--replace]
                                   rebuild the key file for new hardware from a recovery copy

Options:
  --dir DIR            folder of the key file (EdgeX TokenFolderPath), required
  --file NAME          key file name (default resp-init.json)
  --salt-file NAME     salt file name for the edgex format (default kdf-salt.dat)
  --drop-root-token    (encrypt, convert, rewrap to edgex) drop a kept root token, which edgex cannot encrypt

Exit status: 0 success, 1 failure (files unchanged), 2 usage error.`;

type Sub = (ctx: CommandContext) => Promise<number>;

const SUBCOMMANDS: Record<string, () => Promise<Sub>> = {
  inspect: async () => (await import('./keys-inspect.js')).keysInspect,
  verify: async () => (await import('./keys-verify.js')).keysVerify,
  encrypt: async () => (await import('./keys-encrypt.js')).keysEncrypt,
  decrypt: async () => (await import('./keys-decrypt.js')).keysDecrypt,
  convert: async () => (await import('./keys-convert.js')).keysConvert,
  rewrap: async () => (await import('./keys-rewrap.js')).keysRewrap,
  escrow: async () => {
    const m = await import('./keys-escrow.js');
    return (c) => m.runEscrow(c, c.argv);
  },
  recover: async () => {
    const m = await import('./keys-recover.js');
    return (c) => m.runRecover(c, c.argv);
  },
};

/** The `keys` command. */
export const keysCommand: Command = {
  name: 'keys',
  summary: 'inspect, verify, encrypt, decrypt, convert, rewrap, escrow or recover the key file',
  usage: USAGE,
  async run(ctx) {
    const [name, ...rest] = ctx.argv;
    const load = name === undefined ? undefined : SUBCOMMANDS[name];
    if (load === undefined) {
      throw new SecretStoreError('USAGE', `keys needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}; see --help`);
    }
    const sub = await load();
    return sub({ ...ctx, argv: rest });
  },
};
