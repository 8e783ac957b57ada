// optimizer.update(lossFn)'s step scope and input leaves: a gradient handed to a Variable the user holds survives the step.

import test from 'ava';
import { F, L, Variable, collect, memory, optimizers, randomNormal, seed, type Device, type NDArray } from '../../runtime/index.js';
import { allclose, useDevices } from '../helpers.js';

// serial: the GPU memory counters are per process
const devices = await useDevices(test.serial);

/** d sum(W x + b) / dx: every row of x gets W's column sums (from the definition, on the host). */
async function inputGradOfSum(W: NDArray, rows: number): Promise<number[]> {
  const w = Array.from(await W.data());
  const [out, inp] = W.shape;
  const colSums = Array.from({ length: inp }, (_, j) => {
    let s = 0;
    for (let i = 0; i < out; i++) s += w[i * inp + j];
    return s;
  });
  return Array.from({ length: rows }, () => colSums).flat();
}

devices.each('update(lossFn): an input Variable that requires a gradient, reused across steps, accumulates its gradient over them', async (t, device: Device) => {
  seed(3);
  const model = new L.Linear(5, 3);
  if (device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.SGD(0.1).setup(model);
  const x = new Variable(randomNormal([4, 5], 0, 1, { device })); // requires a gradient (float data)
  let expected = new Array<number>(20).fill(0);
  for (let step = 1; step <= 3; step++) {
    // the gradient reaching x is computed with the weights as they are before this step's update
    const g = await inputGradOfSum(model.W.data, 4);
    expected = expected.map((e, i) => e + g[i]);
    optimizer.update(() => F.sum(model.forward(x)));
    t.not(x.grad, null);
    allclose(t, await x.grad!.data(), expected, { atol: 1e-5 });
  }
});

devices.each('update(lossFn): an input leaf\'s gradient is readable after its step, also when the leaf was created inside lossFn', async (t, device: Device) => {
  seed(4);
  const model = new L.Linear(5, 3);
  if (device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.SGD(0.1).setup(model);
  const data = randomNormal([2, 5], 0, 1, { device });
  let inner: Variable | null = null;
  const expected = await inputGradOfSum(model.W.data, 2);
  optimizer.update(() => F.sum(model.forward((inner = new Variable(data)))));
  allclose(t, await inner!.grad!.data(), expected, { atol: 1e-5 });
});

devices.gpu('update(lossFn): with a reused input leaf, and with a fresh one each step, GPU bytes in use stay flat with no await', async (t) => {
  seed(5);
  const model = new L.Linear(100, 10).toGpu();
  const optimizer = new optimizers.SGD(0.01).setup(model);
  const batch = randomNormal([64, 100], 0, 1, { device: 'webgpu' }); // 25 KiB: a gradient of it leaking per step would show at once
  const reused = new Variable(batch);
  const loops: [string, () => void][] = [
    ['reused leaf', () => optimizer.update(() => F.sum(model.forward(reused)))],
    ['fresh leaf made outside lossFn', () => { const x = new Variable(batch); optimizer.update(() => F.sum(model.forward(x))); }],
    ['fresh leaf made inside lossFn', () => optimizer.update(() => F.sum(model.forward(new Variable(batch))))],
  ];
  for (const [label, step] of loops) {
    for (let i = 0; i < 3; i++) step();
    await collect();
    const before = memory().inUse;
    for (let i = 0; i < 50; i++) step();
    // each step hands back its loss and the loss's gradient (256 bytes each, the smallest
    // bucket), which wait for the collector like any array the user may hold; nothing else
    const growth = memory().inUse - before;
    t.true(growth <= 50 * 2 * 256, `${label}: bytes in use grew by ${growth} over 50 steps`);
  }
});

devices.gpu('update(lossFn): a leaf\'s gradient from an earlier step that the next step did not use is released by it, with a clear error', async (t) => {
  seed(6);
  const model = new L.Linear(5, 3).toGpu();
  const optimizer = new optimizers.SGD(0.1).setup(model);
  const x = new Variable(randomNormal([4, 5], 0, 1, { device: 'webgpu' }));
  const y = new Variable(randomNormal([4, 5], 0, 1, { device: 'webgpu' }));
  optimizer.update(() => F.sum(model.forward(x)));
  const kept = x.grad!;
  optimizer.update(() => F.sum(model.forward(y)));
  await t.throwsAsync(() => kept.data(), {
    message: 'webgpu: this array was released by optimizer.update(lossFn) and can no longer be used; return it as the loss or store it on the model to keep it; copy a gradient to keep it past the next update',
  });
  t.true(Array.from(await y.grad!.data()).every(Number.isFinite));
});

devices.each('update(lossFn): inputs used in turn (x, y, x, x, y): a step clears the gradient of an input it did not use, and the input starts afresh when used again', async (t, device: Device) => {
  seed(7);
  const model = new L.Linear(5, 3);
  if (device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.SGD(0.1).setup(model);
  const x = new Variable(randomNormal([4, 5], 0, 1, { device }));
  const y = new Variable(randomNormal([4, 5], 0, 1, { device }));
  let previous: Variable | null = null, accumulated: number[] = [];
  for (const input of [x, y, x, x, y]) {
    const g = await inputGradOfSum(model.W.data, 4);
    // an input used by the step before accumulates (x in the 4th step); one that was not starts afresh
    const expected = input === previous ? g.map((v, i) => v + accumulated[i]) : g;
    optimizer.update(() => F.sum(model.forward(input)));
    accumulated = Array.from(await input.grad!.data());
    allclose(t, accumulated, expected, { atol: 1e-5 });
    t.is((input === x ? y : x).grad, null, 'the input this step did not use has no gradient');
    previous = input;
  }
});
