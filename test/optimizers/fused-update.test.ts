// Every optimizer's update is one kernel per parameter (parameter and state written together) and bumps their versions, on both devices.

import test, { type ExecutionContext } from 'ava';
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
    // SGD: one kernel for all four float32 parameters (tests below)
    t.is(launches() - before, name === 'SGD' ? 1 : params.length, 'one kernel per parameter');
    params.forEach((p, k) => t.true(p.data.version > versions[k], `parameter ${k}'s version went up`));
    // the update wrote numbers, not NaN, from finite gradients
    for (const p of params) t.true(Array.from(await p.data.data()).every(Number.isFinite));
  });
}

const onDevice = (x: NDArray, device: string) => (device === 'cpu' ? x : x.toGpu());
/** f32(W - f32(f32(lr) g)), what one kernel per parameter computes; WebGPU may contract it to one rounding (a fused multiply-add). */
function sgdRef(lr: number, w: ArrayLike<number>, g: ArrayLike<number>, device: string): { want: number[]; tol: number[] } {
  const want = Array.from(w, (v, i) => Math.fround(v - Math.fround(Math.fround(lr) * g[i])));
  return { want, tol: want.map((v) => (device === 'cpu' ? 0 : Math.abs(v) * 2 ** -23 + 2 ** -40)) };
}
async function checkSgd(t: ExecutionContext, got: NDArray, ref: { want: number[]; tol: number[] }, what: string): Promise<void> {
  const values = Array.from(await got.data());
  const bad = values.findIndex((v, i) => !(Math.abs(v - ref.want[i]) <= ref.tol[i]));
  t.is(bad, -1, `${what}: element ${bad} is ${values[bad]}, expected ${ref.want[bad]}`);
}

devices.each('SGD: float32 parameters update in ONE kernel, each f32(W - f32(f32(lr) g)) (exactly on the CPU, within an ulp on WebGPU); a strided gradient and a gradient that is a parameter take one kernel each', async (t, device) => {
  const lr = 0.0123;
  const launches = counter(device);
  const model = new Two();
  if (device === 'webgpu') model.toGpu();
  const params = [...model.params()];
  // sizes 30, 5, 15, 3: none a multiple of 4, so the CPU's loop runs over padding between them
  params.forEach((p, k) => { p.grad = onDevice(f32(uniform(p.data.shape, 40 + k)), device); });
  const refs = await Promise.all(params.map(async (p) => sgdRef(lr, await p.data.data(), await p.grad!.data(), device)));
  const opt = new optimizers.SGD(lr).setup(model);
  const before = launches();
  opt.update();
  t.is(launches() - before, 1, 'one kernel for all four');
  for (const [k, p] of params.entries()) await checkSgd(t, p.data, refs[k], `parameter ${k}`);

  // a strided gradient and one that is the parameter's own array: one kernel each, the rest together
  const odd = new Two();
  if (device === 'webgpu') odd.toGpu();
  const [W1, b1, W2, b2] = [...odd.params()];
  W1.grad = onDevice(f32(uniform(W1.data.shape, 50)), device);
  b1.grad = onDevice(f32(uniform([10], 51)), device).view([5], [2], 0); // every other element: not contiguous
  W2.grad = onDevice(f32(uniform(W2.data.shape, 52)), device);
  b2.grad = b2.data; // the gradient is the parameter's own array
  const odds = await Promise.all([W1, b1, W2, b2].map(async (p) => sgdRef(lr, await p.data.data(), await p.grad!.data(), device)));
  const o2 = new optimizers.SGD(lr).setup(odd);
  const l2 = launches();
  o2.update();
  t.is(launches() - l2, 3, 'W1 and W2 together, b1 and b2 one kernel each');
  for (const [k, p] of [W1, b1, W2, b2].entries()) {
    if (k % 2 === 0) await checkSgd(t, p.data, odds[k], `W${k / 2 + 1}`);
    else (await p.data.data()).forEach((v, i) => t.true(Math.abs(v - odds[k].want[i]) < 1e-6, `b${(k + 1) / 2}[${i}]`));
  }
});

devices.gpu('SGD on WebGPU: 11 parameters of 11 sizes update in two kernels (groups of 8 and 3), each within an ulp of f32(W - f32(f32(lr) g))', async (t) => {
  const lr = 0.05;
  const sizes = [1, 2, 3, 4, 5, 7, 64, 100, 257, 1000, 70000];
  const cpu = sizes.map((n, k) => ({ w: f32(uniform([n], 60 + k)), g: f32(uniform([n], 80 + k)) }));
  const model = new L.Chain();
  const ps = cpu.map(({ w }, k): L.Parameter => {
    const p = new L.Parameter(w.toGpu());
    (model as unknown as Record<string, L.Parameter>)[`p${k}`] = p;
    return p;
  });
  ps.forEach((p, k) => { p.grad = cpu[k].g.toGpu(); });
  const refs = cpu.map(({ w, g }) => sgdRef(lr, w.toFlat(), g.toFlat(), 'webgpu'));
  const opt = new optimizers.SGD(lr).setup(model);
  const before = queueStats.dispatches;
  opt.update();
  t.is(queueStats.dispatches - before, 2, 'a kernel per group of 8');
  for (const [k, p] of ps.entries()) await checkSgd(t, p.data, refs[k], `parameter of size ${sizes[k]}`);
});
