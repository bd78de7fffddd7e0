/** The boot flow's run-scoped IKM holder: lazy, at most one hook run, prefetch off the critical path, wiped at the end. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LazyIkm } from '../../src/bootstrap/ikm.js';
import { SecretStoreError, isSecretStoreError } from '../../src/errors.js';
import type { IkmSource } from '../../src/vmk/ikm-hook.js';

/** A source whose answer the test releases, counting its calls and keeping what it handed out. */
class GatedIkm implements IkmSource {
  readonly description = 'gated test IKM';
  calls = 0;
  handedOut: Buffer[] = [];
  private release: (() => void) | undefined;
  private fail: SecretStoreError | undefined;
  constructor(fail?: SecretStoreError) {
    this.fail = fail;
  }
  getIkm(): Promise<Buffer> {
    this.calls++;
    return new Promise((resolve, reject) => {
      this.release = () => {
        if (this.fail !== undefined) {
          reject(this.fail);
          return;
        }
        const ikm = Buffer.alloc(32, 7);
        this.handedOut.push(ikm);
        resolve(ikm);
      };
    });
  }
  open(): void {
    this.release?.();
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('prefetch starts the hook once; the later get waits for that run, not a second one', async () => {
  const source = new GatedIkm();
  const ikm = new LazyIkm(source);
  ikm.prefetch();
  ikm.prefetch();
  assert.equal(source.calls, 1);
  const got = ikm.get();
  source.open();
  assert.deepEqual(await got, Buffer.alloc(32, 7));
  assert.deepEqual(await ikm.get(), Buffer.alloc(32, 7));
  assert.equal(source.calls, 1);
  assert.equal(typeof ikm.hookMs, 'number');
  ikm.wipe();
  assert.ok(source.handedOut.every((b) => b.every((x) => x === 0)), 'wiped');
});

test('a run that ends while the prefetched hook is still running: its IKM is wiped when it arrives, and never handed out', async () => {
  const source = new GatedIkm();
  const ikm = new LazyIkm(source);
  ikm.prefetch();
  ikm.wipe();
  source.open();
  await tick();
  assert.equal(source.handedOut.length, 1);
  assert.ok(source.handedOut[0]?.every((x) => x === 0), 'the late IKM was wiped');
  await assert.rejects(ikm.get(), (err: unknown) => isSecretStoreError(err, 'HOOK_ALREADY_USED'));
  assert.equal(source.calls, 1, 'never a second run');
});

test('a failing prefetched hook: no unhandled rejection; the get that follows reports its error', async () => {
  const source = new GatedIkm(new SecretStoreError('HOOK_FAILED', 'the hook exited with status 1'));
  const ikm = new LazyIkm(source);
  ikm.prefetch();
  source.open();
  await tick(); // an unhandled rejection would fail the test run here
  await assert.rejects(ikm.get(), (err: unknown) => isSecretStoreError(err, 'HOOK_FAILED'));
  assert.equal(source.calls, 1, 'a failure is not retried');
  ikm.wipe();
});

test('no hook configured: prefetch does nothing, get is undefined', async () => {
  const ikm = new LazyIkm(undefined);
  ikm.prefetch();
  assert.equal(await ikm.get(), undefined);
  assert.equal(ikm.hookMs, undefined);
});
