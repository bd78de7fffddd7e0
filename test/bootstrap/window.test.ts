/**
 * The first-boot window — from the store's init answer to the key file's fsync, while the shares exist only in the
 * process — holds nothing but the write: everything else (hook, folder, stale temp files, edgex salt, the temp file
 * itself, the init marker) is done before `sys/init` is sent, and no log line falls inside it. Structure only; the
 * window's length is measured (never asserted) in window.e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readKeyFile } from '../../src/keyfile/keyfile.js';
import { INIT_MARKER } from '../../src/bootstrap/init-marker.js';
import { flowFixture } from './flow-fixtures.js';

for (const [name, settings, hook] of [
  ['v2, encrypted', {}, true],
  ['edgex, encrypted', { KeyFileFormat: 'edgex' }, true],
  ['no hook (plaintext, as EdgeX)', {}, false],
] as const) {
  test(`first-boot window (${name}): prepared before sys/init, nothing but the write after its answer`, async () => {
    const fx = await flowFixture(settings);
    try {
      let atInit: string[] | undefined;
      fx.fake.hook = (_req, _res, path) => {
        if (path === 'sys/init') atInit = readdirSync(fx.keysDir);
        return false;
      };
      const r = await fx.run(hook ? {} : { ikmSource: undefined });
      assert.equal(r.initialized, true);
      assert.ok(atInit !== undefined);
      // When the init request reached the store: the key file's temp file was open, the marker durable, and (edgex)
      // the salt written; the key file itself did not exist yet.
      assert.ok(atInit.some((n) => n.startsWith('.resp-init.json.tmp-')), `temp file prepared before init: ${atInit.join(',')}`);
      assert.ok(atInit.includes(INIT_MARKER));
      assert.ok(!atInit.includes('resp-init.json'));
      if (name.startsWith('edgex')) assert.ok(atInit.includes('kdf-salt.dat'), 'the edgex salt was written before init');
      // No log line between the init answer (the transport's debug line, logged when the body has arrived) and the
      // line saying the key file is saved.
      const answered = fx.lines.findIndex((l) => l.includes('store request') && l.includes('path=sys/init'));
      const saved = fx.lines.findIndex((l) => l.includes('key file saved'));
      assert.ok(answered >= 0 && saved > answered);
      assert.deepEqual(fx.lines.slice(answered + 1, saved), [], 'no log line inside the window');
      assert.match(fx.lines[saved] ?? '', /windowMs=\d/);
      if (hook) {
        const { secrets } = await readKeyFile({ dir: fx.keysDir }, fx.ikm);
        assert.deepEqual(secrets.shares, fx.fake.shares);
      }
      assert.deepEqual(readdirSync(fx.keysDir).filter((n) => n.includes('.tmp-')), [], 'no temp file left');
    } finally {
      await fx.close();
    }
  });
}
