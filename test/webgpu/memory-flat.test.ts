// GPU memory stays flat in loops with no await: optimizer.update(lossFn) gives each step's memory back; other loops get a warning.

import test from 'ava';
import { F, L, array, collect, memory, optimizers, randomNormal, seed, type NDArray, type Variable, type VariableLike } from '../../runtime/index.js';
import { OUTRUN_WARNING } from '../../runtime/array/webgpu/memory.js';
import { memcheck, report, type MemcheckResult } from '../../scripts/memcheck.js';
import { useDevices } from '../helpers.js';

// serial: the memory counters are per process
const devices = await useDevices(test.serial);

function checkFlat(t: import('ava').ExecutionContext, r: MemcheckResult, label: string): void {
  t.log(report(r, label));
  t.is(r.samples.length, 3);
  t.true(r.growth < 0.05, `bytes in use after collection grew ${(100 * r.growth).toFixed(2)}%`);
  // what the pool holds besides live arrays stays within one step's worth, collection or not
  for (const s of r.samples) t.true(s.peak < 3 * s.bytes, `step ${s.step}: up to ${s.peak} bytes in use + pooled against ${s.bytes} live`);
  t.true(r.lastLoss < r.firstLoss, `the loss fell (${r.firstLoss} -> ${r.lastLoss})`);
}

devices.gpu('memcheck: the README MLP, 3,000 steps of optimizer.update(lossFn) with no await: bytes in use grow < 5%, the pool stays small', async (t) => {
  checkFlat(t, await memcheck({ device: 'webgpu', steps: 3000, every: 1000, awaitLoss: false }), 'webgpu, no await');
});

devices.gpu('memcheck: the README MLP, 3,000 steps with await loss.item() per step: bytes in use grow < 5%, the pool stays small', async (t) => {
  checkFlat(t, await memcheck({ device: 'webgpu', steps: 3000, every: 1000, awaitLoss: true }), 'webgpu, await loss.item()');
});

class Net extends L.Chain {
  l1 = new L.Linear(null, 8); // initialised inside the first step: must survive it
  l2 = new L.Linear(8, 3);
  forward(x: VariableLike): Variable { return this.l2.forward(F.relu(this.l1.forward(x))); }
}

devices.gpu('update(lossFn): the loss and the model stay usable after the step; an intermediate kept from inside lossFn, or last step\'s gradient, throws a clear error', async (t) => {
  seed(1);
  const model = new Net().toGpu();
  const optimizer = new optimizers.Adam().setup(model);
  const x = randomNormal([4, 5]).toGpu();
  const labels = array([0, 1, 2, 0], [4], 'int32').toGpu();
  let loss: Variable | null = null, hidden: NDArray | null = null;
  const step = () => optimizer.update(() => {
    const h = F.relu(model.l1.forward(x));
    hidden = h.data;
    return (loss = F.softmaxCrossEntropy(model.l2.forward(h), labels));
  });
  step();
  const first = await loss!.item();
  t.true(Number.isFinite(first));
  t.is((await model.l1.W.grad!.array() as number[][]).length, 8);
  await t.throwsAsync(() => hidden!.data(), {
    message: 'webgpu: this array was released by optimizer.update(lossFn) and can no longer be used; return it as the loss or store it on the model to keep it; copy a gradient to keep it past the next update',
  });
  const oldGrad = model.l2.W.grad!;
  await collect(); // each step's loss waits for the collector, like any array the user may hold
  const inUse = memory().inUse;
  for (let i = 0; i < 20; i++) step();
  t.true((await loss!.item()) < first, 'the loss fell');
  await collect();
  t.is(memory().inUse, inUse, 'no step holds more than the one before');
  await t.throwsAsync(() => oldGrad.data(), { message: /^webgpu: this array was released by optimizer\.update\(lossFn\)/ });
});

devices.gpu('a loop that outruns the collector (no await, no scope) gets one warning naming scope()', async (t) => {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { warnings.push(args.join(' ')); };
  try {
    const x = randomNormal([4, 1024, 1024]).toGpu(); // 16 MiB
    // every result is garbage at once, but its buffer can only come back between tasks
    for (let i = 0; i < 24; i++) F.exp(x);
  } finally {
    console.warn = warn;
  }
  t.is(warnings.length, 1, warnings.join('\n'));
  t.true(warnings[0].startsWith(OUTRUN_WARNING), warnings[0]);
  t.regex(OUTRUN_WARNING, /scope\(\(\) => \{ \.\.\. \}\)/);
  await collect();
  t.true(memory().inUse < 40 * 2 ** 20, `after an await, ${memory().inUse} bytes in use`);
});
