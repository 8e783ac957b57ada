// GPU memory stays flat over a long training run with no dispose call anywhere.

import test from 'ava';
import {
  F, L, array, collect, memory, optimizers, randomNormal, seed, type Variable, type VariableLike,
} from '../../runtime/index.js';
import { GC_SLACK } from '../../runtime/array/webgpu/memory.js';
import { useDevices } from '../helpers.js';

class MLP extends L.Chain {
  l1 = new L.Linear(784, 100);
  l2 = new L.Linear(100, 100);
  l3 = new L.Linear(100, 10);
  forward(x: VariableLike): Variable {
    return this.l3.forward(F.relu(this.l2.forward(F.relu(this.l1.forward(x)))));
  }
}

const devices = await useDevices(test);

devices.gpu('memory: 2,000 MLP training steps without dispose: bytes in use after step 100 and step 2,000 differ by < 5%; the pool stays within its collection bound', async (t) => {
  seed(0);
  const model = new MLP().toGpu();
  const optimizer = new optimizers.SGD(0.1).setup(model);
  const x = randomNormal([100, 784]).toGpu();
  const labels = array(Int32Array.from({ length: 100 }, (_, i) => i % 10), [100], 'int32').toGpu();
  const seen: Record<number, ReturnType<typeof memory>> = {};
  let first = NaN, last = NaN;
  for (let step = 1; step <= 2000; step++) {
    const loss = F.softmaxCrossEntropy(model.forward(x), labels);
    model.cleargrads();
    loss.backward();
    optimizer.update();
    // a user reads the loss each step (the mnist example does); awaiting is also what lets
    // finalizers return the buffers of arrays that became garbage
    const value = await loss.item();
    if (step === 1) first = value;
    last = value;
    if (step === 1000) seen[step] = memory();
    if (step === 100 || step === 2000) {
      await collect(); // measure what is reachable, not what the collector has yet to visit
      seen[step] = memory();
    }
  }
  const [a, m, b] = [seen[100], seen[1000], seen[2000]];
  t.log(`after step 100: ${JSON.stringify(a)}; 1000: ${JSON.stringify(m)}; 2000: ${JSON.stringify(b)}`);
  t.true(Math.abs(b.inUse - a.inUse) / a.inUse < 0.05, `in use ${a.inUse} -> ${b.inUse}`);
  // Without forced collections the pool is bounded by the collection policy, however many
  // steps run: a collection is asked for once bytes in use pass twice the live bytes plus
  // GC_SLACK, and its finalizers run at the next await, so the pool never holds more than
  // that plus about one step's allocations.
  const total = (s: typeof a) => s.inUse + s.pooled;
  const bound = 2 * b.inUse + GC_SLACK + 16 * 1024 * 1024;
  t.true(total(m) <= bound && total(b) <= bound, `pool ${total(m)} bytes at step 1000, ${total(b)} at step 2000, bound ${bound}`);
  t.true(last < first, `the loss fell (${first} -> ${last})`);
});
