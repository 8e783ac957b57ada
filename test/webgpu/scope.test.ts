// scope(): a tight loop gives its GPU memory back as each step ends, deterministically.

import test from 'ava';
import {
  F, L, array, memory, optimizers, randomNormal, scope, seed, type NDArray, type Variable, type VariableLike,
} from '../../runtime/index.js';
import { useDevices } from '../helpers.js';

const devices = await useDevices(test);

class Net extends L.Chain {
  l1 = new L.Linear(null, 32); // initialised inside the first scope: must survive it
  l2 = new L.Linear(32, 10);
  forward(x: VariableLike): Variable { return this.l2.forward(F.relu(this.l1.forward(x))); }
}

devices.gpu('scope: over 200 steps in a scope, bytes in use grow only by what the steps returned; no collector involved', async (t) => {
  seed(0);
  const model = new Net().toGpu();
  const optimizer = new optimizers.Adam().setup(model); // its moments are created inside the first scope too
  const x = randomNormal([16, 20]).toGpu();
  const labels = array(Int32Array.from({ length: 16 }, (_, i) => i % 10), [16], 'int32').toGpu();
  const step = () => scope(() => {
    const loss = F.softmaxCrossEntropy(model.forward(x), labels);
    model.cleargrads();
    loss.backward();
    optimizer.update();
    return loss;
  });
  const first = await step().item();
  const after1 = memory().inUse;
  let last = first;
  for (let i = 0; i < 200; i++) last = await step().item();
  // Each step hands back its loss and the loss's gradient (the smallest bucket, 256 bytes
  // each); they wait for the collector like any array. Everything else went back at once.
  const growth = memory().inUse - after1;
  t.true(growth <= 200 * 2 * 256, `bytes in use grew by ${growth} over 200 steps`);
  t.true(last < first, `the loss fell (${first} -> ${last})`);
});

devices.gpu('scope: what is returned stays usable; what is not throws a clear error when used', async (t) => {
  let inside: NDArray | null = null;
  const kept = scope(() => {
    const a = array([1, 2, 3]).toGpu();
    inside = F.exp(a).data;
    return { sum: F.sum(a), list: [F.mul(a, 2).data] };
  });
  t.is(await kept.sum.item(), 6);
  t.deepEqual(Array.from(await kept.list[0].data()), [2, 4, 6]);
  await t.throwsAsync(() => inside!.data(), { message: /released by scope\(\)/ });
});

devices.gpu('scope: an async function is refused, since GPU work is recorded synchronously', (t) => {
  t.throws(() => scope(async () => 1), { message: /scope: fn must be synchronous/ });
});

test('scope [cpu]: runs fn and returns its result', (t) => {
  t.deepEqual(scope(() => F.add(array([1]), 1).data.toArray()), [2]);
});
