/** The per-endpoint body limit as the listening server applies it (before the body is read), against `serve`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServe } from '../../helpers/serve.js';

test('serve: a 1 MiB unseal body is refused with 413 before it is parsed, and nothing is executed', async () => {
  const serve = await startServe();
  try {
    const big = JSON.stringify({ key: 'a'.repeat(1024 * 1024) });
    const unseal = await fetch(`${serve.url}/v1/sys/unseal`, { method: 'PUT', body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(unseal.status, 413);
    assert.deepEqual(await unseal.json(), { errors: ['failed to parse JSON input: http: request body too large'] });
    // The store still answers (and is still uninitialized: nothing was executed).
    const init = await fetch(`${serve.url}/v1/sys/init`);
    assert.deepEqual(await init.json(), { initialized: false });
  } finally {
    await serve.close();
  }
});
