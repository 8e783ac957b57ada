// Swapping the device (releaseWebGpu, then initWebGpu): the old device's buffers never reach the new pool or its counters.
// Its own file: releasing the device would break any test running beside it.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import {
  F, L, array, collect, initWebGpu, memory, optimizers, randomNormal, releaseWebGpu, seed, type Variable, type VariableLike,
} from '../../runtime/index.js';
import { currentDevice } from '../../runtime/array/webgpu/device.js';
import { pooledBuffers } from '../../runtime/array/webgpu/memory.js';
import { flush } from '../../runtime/array/webgpu/queue.js';
import { useDevices } from '../helpers.js';

const devices = await useDevices(test);

class Net extends L.Chain {
  l1 = new L.Linear(20, 32);
  l2 = new L.Linear(32, 10);
  forward(x: VariableLike): Variable { return this.l2.forward(F.relu(this.l1.forward(x))); }
}

function trainer() {
  const model = new Net().toGpu();
  const optimizer = new optimizers.Adam().setup(model);
  const x = randomNormal([16, 20]).toGpu();
  const t = array(Int32Array.from({ length: 16 }, (_, i) => i % 10), [16], 'int32').toGpu();
  let loss: Variable | null = null;
  return () => {
    optimizer.update(() => (loss = F.softmaxCrossEntropy(model.forward(x), t)));
    return loss!;
  };
}

/**
 * Every pooled buffer belongs to the device in use and is alive: writing to it raises no
 * validation error (a destroyed buffer, or one of another device, would).
 */
async function checkPool(t: ExecutionContext): Promise<number> {
  const { context, buffers } = pooledBuffers();
  const { device } = currentDevice();
  t.is(context, currentDevice(), 'the pool belongs to the device in use');
  flush(); // commands recorded with these buffers run before the writes below
  device.pushErrorScope('validation');
  for (const b of buffers) device.queue.writeBuffer(b, 0, new Uint32Array(1));
  const error = await device.popErrorScope();
  t.is(error, null, `a pooled buffer is unusable: ${error?.message}`);
  return buffers.length;
}

devices.gpu('device swap: stale finalizers never reach the new pool, bytes in use never go negative over 1,000 steps, and an old array names its released device', async (t) => {
  seed(0);
  const firstDevice = currentDevice();
  const old = array([1, 2, 3]).toGpu();
  const oldStep = trainer();
  for (let i = 0; i < 5; i++) oldStep();
  // garbage of the first device whose finalizers are still to run when it goes away
  for (let i = 0; i < 300; i++) F.exp(randomNormal([64, 64]).toGpu());
  t.true(memory().inUse > 300 * 64 * 64 * 4, 'the garbage is still counted');

  releaseWebGpu();
  await initWebGpu();
  t.not(currentDevice(), firstDevice);
  t.deepEqual(memory(), { inUse: 0, pooled: 0, buffersCreated: memory().buffersCreated });

  const step = trainer();
  let lowest = Infinity, pooled = 0, first = NaN, last = NaN;
  for (let i = 1; i <= 1000; i++) {
    const loss = step();
    lowest = Math.min(lowest, memory().inUse, memory().pooled);
    if (i === 1) first = await loss.item();
    if (i % 100 === 0) {
      await collect(); // the old device's garbage is finalized here (and maybe earlier)
      lowest = Math.min(lowest, memory().inUse, memory().pooled);
      pooled += await checkPool(t);
      last = await loss.item();
    }
  }
  t.true(lowest >= 0, `bytes in use or pooled went down to ${lowest}`);
  t.true(pooled > 0, 'the pool was checked with buffers in it');
  t.true(last < first, `the loss fell (${first} -> ${last})`);

  const message = `webgpu: this array lives on the device '${firstDevice.adapterName}', which releaseWebGpu() released; arrays do not move to a new device: copy it to the CPU (await x.toCpu()) before releasing, and upload it again after initWebGpu()`;
  await t.throwsAsync(() => old.data(), { message });
  t.throws(() => F.exp(old), { message });
  t.throws(() => oldStep(), { message });
});
