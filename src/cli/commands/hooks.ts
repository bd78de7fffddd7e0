/**
 * `secretstore-setup hooks <install|list>`: the sample IKM hooks shipped inside the program (SEA assets in the single
 * executable, `hooks/` of the package otherwise). Hooks run as files: `install` writes them out.
 */
import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { SecretStoreError } from '../../errors.js';
import { ASSET_FILES, SAMPLE_HOOKS, installHooks, isSampleHook, type SampleHook } from '../../assets.js';

const USAGE = `Usage: secretstore-setup hooks install DIR [--force] [--hook NAME]...
       secretstore-setup hooks list

The sample IKM hooks (${SAMPLE_HOOKS.join(', ')}) ship inside the program. Hooks run as files, so
"install" writes them out: DIR/<hook> (mode 0755) and the shell library they source, DIR/lib/ikm-common.sh
(0644). DIR is created when missing. Then point EDGEX_IKM_HOOK at the absolute path of the one for your hardware,
e.g. EDGEX_IKM_HOOK=/usr/local/lib/secretstore-setup/hooks/ikm-tpm2 (see docs/hooks.md).

Options:
  --force       replace files that exist (without it, nothing is written when any exists)
  --hook NAME   install only this hook (repeatable; default: all)

Exit status: 0 success, 1 failure (e.g. a file exists), 2 usage error.`;

/** The `hooks` command. */
export const hooksCommand: Command = {
  name: 'hooks',
  summary: 'write the sample IKM hooks out to a folder (hooks install DIR), or list them',
  usage: USAGE,
  async run(ctx) {
    const [sub, ...rest] = ctx.argv;
    if (sub === 'list') {
      parseCommandArgs(rest, {});
      for (const a of ASSET_FILES) ctx.out(`${a.key}\t${a.mode.toString(8).padStart(4, '0')}\n`);
      return 0;
    }
    if (sub !== 'install') throw new SecretStoreError('USAGE', 'hooks needs a subcommand: install DIR, or list; see --help');
    const { values, positionals } = parseCommandArgs(rest, { force: { type: 'boolean' }, hook: { type: 'string', multiple: true } }, true);
    if (positionals.length !== 1 || positionals[0] === undefined || positionals[0] === '') {
      throw new SecretStoreError('USAGE', 'hooks install needs exactly one folder: hooks install DIR; see --help');
    }
    const hooks: SampleHook[] = [];
    for (const name of values.hook ?? []) {
      if (!isSampleHook(name)) throw new SecretStoreError('USAGE', `--hook must be one of ${SAMPLE_HOOKS.join(', ')}, got "${name}"`);
      hooks.push(name);
    }
    const dir = resolve(ctx.cwd, positionals[0]);
    const written = await installHooks(dir, { force: values.force === true, ...(hooks.length > 0 ? { hooks } : {}) });
    for (const f of written) ctx.out(`${f.replaced ? 'replaced' : 'wrote'} ${f.path} (${f.mode.toString(8).padStart(4, '0')})\n`);
    return 0;
  },
};
