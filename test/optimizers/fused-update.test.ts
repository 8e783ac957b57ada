// Every optimizer's update is one kernel per parameter (parameter and state written together) and bumps their versions, on both devices.

import test from 'ava';
import { L, array, optimizers, type NDArray } from '../../runtime/index.js';

type Optimizer = optimizers.Optimizer;
import { dispatchStats } from '../../runtime/array/cpu/kernels.js';
import { queueStats } from '../../runtime/array/webgpu/queue.js';
import { uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const counter = (device: string) => () => (device === 'cpu' ? dispatchStats.count : queueStats.dispatches);
const f32 = (x: NDArray) => array(Float32Array.from(x.toFlat()), x.shape);

class Two extends L.Chain {
  l1 = new L.Linear(6, 5);
  l2 = new L.Linear(5, 3);
}

const MAKERS: Record<string, () => Optimizer> = {
  SGD: () => new optimizers.SGD(0.1),
  MomentumSGD: () => new optimizers.MomentumSGD(0.1, 0.9),
  Adam: () => new optimizers.Adam(),
  AdaGrad: () => new optimizers.AdaGrad(),
  RMSprop: () => new optimizers.RMSprop(),
  AdaDelta: () => new optimizers.AdaDelta(),
  NesterovAG: () => new optimizers.NesterovAG(),
};

for (const [name, make] of Object.entries(MAKERS)) {
  devices.each(`${name}: update() is one kernel per parameter (after the first step's state zeros), and bumps the parameter's version`, async (t, device) => {
    const model = new Two();
    if (device === 'webgpu') model.toGpu();
    const params = [...model.params()];
    params.forEach((p, k) => { p.grad = device === 'cpu' ? f32(uniform(p.data.shape, 20 + k)) : f32(uniform(p.data.shape, 20 + k)).toGpu(); });
    const opt = make().setup(model);
    opt.update(); // the first step also creates the state arrays (zero fills)
    const launches = counter(device);
    const versions = params.map((p) => p.data.version);
    const before = launches();
    opt.update();
    // SGD on the CPU: one wasm loop over every float32 parameter (test below)
    t.is(launches() - before, name === 'SGD' && device === 'cpu' ? 1 : params.length, 'one kernel per parameter');
    params.forEach((p, k) => t.true(p.data.version > versions[k], `parameter ${k}'s version went up`));
    // the update wrote numbers, not NaN, from finite gradients
    for (const p of params) t.true(Array.from(await p.data.data()).every(Number.isFinite));
  });
}

test('SGD on the CPU: float32 parameters update in ONE kernel, each exactly f32(W - f32(f32(lr) g)); float64, a strided gradient and a gradient that is a parameter take one kernel each', (t) => {
  const lr = 0.0123;
  const ref = (w: ArrayLike<number>, g: ArrayLike<number>) => Array.from(w, (v, i) => Math.fround(v - Math.fround(Math.fround(lr) * g[i])));
  const model = new Two();
  const params = [...model.params()];
  // sizes 30, 5, 15, 3: none a multiple of 4, so the loop runs over padding between them
  params.forEach((p, k) => { p.grad = f32(uniform(p.data.shape, 40 + k)); });
  const before = params.map((p) => Array.from(p.data.toFlat()));
  const grads = params.map((p) => Array.from(p.grad!.toFlat()));
  const opt = new optimizers.SGD(lr).setup(model);
  const launches = dispatchStats.count;
  opt.update();
  t.is(dispatchStats.count - launches, 1, 'one kernel for all four');
  params.forEach((p, k) => t.deepEqual(Array.from(p.data.toFlat()), ref(before[k], grads[k]), `parameter ${k}`));

  // a strided gradient and one that is the parameter's own array: one kernel each, the rest together
  const odd = new Two();
  const [W1, b1, W2, b2] = [...odd.params()];
  W1.grad = f32(uniform(W1.data.shape, 50));
  b1.grad = f32(uniform([10], 51)).view([5], [2], 0); // every other element: not contiguous
  W2.grad = f32(uniform(W2.data.shape, 52));
  b2.grad = b2.data; // the gradient is the parameter's own array
  const w0 = [W1, b1, W2, b2].map((p) => Array.from(p.data.toFlat()));
  const g0 = [W1, b1, W2, b2].map((p) => Array.from(p.grad!.toFlat()));
  const o2 = new optimizers.SGD(lr).setup(odd);
  const l2 = dispatchStats.count;
  o2.update();
  t.is(dispatchStats.count - l2, 3, 'W1 and W2 together, b1 and b2 one kernel each');
  [W1, W2].forEach((p, k) => t.deepEqual(Array.from(p.data.toFlat()), ref(w0[2 * k], g0[2 * k])));
  [b1, b2].forEach((p, k) => Array.from(p.data.toFlat()).forEach((v, i) => t.true(Math.abs(v - (w0[2 * k + 1][i] - lr * g0[2 * k + 1][i])) < 1e-6)));
});
