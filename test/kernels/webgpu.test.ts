// The same user kernels on WebGPU: equal to the CPU run and to plain JS, Variables included.

import test, { type ExecutionContext } from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import { array } from '../../runtime/array/xp.js';
import { Variable } from '../../runtime/graph/variable.js';
import { ElementwiseKernel, ReductionKernel } from '../../runtime/kernels/index.js';
import { sum } from '../../runtime/ops/shape.js';
import { allclose, plain, refBroadcast, sample, useDevices } from '../helpers.js';

// serial: a shader error surfaces at the next read, which must not be another test's
const devices = await useDevices(test.serial);
const gpuTest = (title: string, impl: (t: ExecutionContext) => Promise<void>) => devices.gpu(title, impl);

/** float32 samples in [lo, hi) on the CPU (the GPU computes in f32). */
const f32 = (shape: number[], seed: number, lo = -1, hi = 1): NDArray =>
  array(sample(shape, seed, (r) => lo + (hi - lo) * r.uniform()).toFlat(), shape, 'float32');

/** Run `fn` on the CPU arrays and on their GPU copies; check both against each other and `ref`. */
async function bothDevices(t: ExecutionContext, xs: NDArray[], fn: (...xs: NDArray[]) => NDArray, ref: number[], tol = { rtol: 1e-5, atol: 1e-6 }): Promise<void> {
  const cpu = fn(...xs);
  const gpu = fn(...xs.map((x) => x.toGpu()));
  t.is(gpu.device, 'webgpu');
  t.deepEqual(gpu.shape, cpu.shape);
  t.is(gpu.dtype, cpu.dtype);
  const back = await gpu.toCpu();
  allclose(t, back, cpu, tol);
  allclose(t, back, ref, tol);
}

const squaredDiff = new ElementwiseKernel('T x, T y', 'T z', 'z = (x - y) * (x - y)', 'squared_diff');
const l2norm = new ReductionKernel('T x', 'T y', 'x * x', 'a + b', 'y = sqrt(a)', '0', 'l2norm');

gpuTest('squared difference, broadcasting, is the same on WebGPU, the CPU and in plain JS', async (t) => {
  const x = f32([2, 3, 4], 1), y = f32([3, 1], 2);
  await bothDevices(t, [x, y], (a, b) => squaredDiff.call(a, b), refBroadcast((a, b) => (a - b) ** 2, plain(x), plain(y)).data);
  const xt = f32([4, 3], 3).transpose(); // a strided view
  await bothDevices(t, [xt, f32([4], 4)], (a, b) => squaredDiff.call(a, b), refBroadcast((a, b) => (a - b) ** 2, plain(xt), plain(f32([4], 4))).data);
});

gpuTest('a number argument is a runtime scalar on WebGPU too', async (t) => {
  const x = f32([7], 5);
  for (const c of [0.5, -1.25]) {
    await bothDevices(t, [x], (a) => squaredDiff.call(a, c), Array.from(x.toFlat(), (v) => (v - c) ** 2));
  }
});

gpuTest('int32 inputs and outputs, beside a float32 output, on WebGPU', async (t) => {
  const a = array([7, -7, 9, 1, 100], [5], 'int32'), b = array([2, 2, 4, 3, 7], [5], 'int32');
  const idiv = new ElementwiseKernel('int32 a, int32 b', 'int32 q, float32 r', 'q = a / b; r = a / b', 'idiv');
  const [q, r] = idiv.apply(a.toGpu(), b.toGpu());
  t.is(q.dtype, 'int32');
  t.is(r.dtype, 'float32');
  t.deepEqual(await q.array(), [3, -3, 2, 0, 14]);
  allclose(t, await r.data(), [3.5, -3.5, 2.25, 1 / 3, 100 / 7]);
  await bothDevices(t, [a, b], (x, y) => squaredDiff.call(x, y), [25, 81, 25, 4, 8649]);
});

gpuTest('several outputs and temporaries in one WebGPU launch', async (t) => {
  const polar = new ElementwiseKernel('T x, T y', 'T r, T s', 'r2 = x * x + y * y; r = sqrt(r2); s = r2 > 1 ? 1 : 0', 'polar');
  const x = f32([3, 2], 6, -2, 2), y = f32([2], 7, -2, 2);
  const [r, s] = polar.apply(x.toGpu(), y.toGpu());
  allclose(t, await r.data(), refBroadcast((a, b) => Math.hypot(a, b), plain(x), plain(y)).data, { rtol: 1e-5, atol: 1e-6 });
  allclose(t, await s.data(), refBroadcast((a, b) => (a * a + b * b > 1 ? 1 : 0), plain(x), plain(y)).data);
});

gpuTest('L2 norm over every axis choice is the same on WebGPU, the CPU and in plain JS', async (t) => {
  const x = f32([3, 4, 5], 8);
  const v = Array.from(x.toFlat());
  const at = (i: number, j: number, k: number) => v[i * 20 + j * 5 + k];
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  await bothDevices(t, [x], (a) => l2norm.call(a), [Math.sqrt(v.reduce((s, e) => s + e * e, 0))]);
  await bothDevices(t, [x], (a) => l2norm.call(a, { axis: 1 }),
    range(3).flatMap((i) => range(5).map((k) => Math.sqrt(range(4).reduce((s, j) => s + at(i, j, k) ** 2, 0)))));
  await bothDevices(t, [x], (a) => l2norm.call(a, { axis: [0, 2], keepdims: true }),
    range(4).map((j) => Math.sqrt(range(3).reduce((s, i) => s + range(5).reduce((u, k) => u + at(i, j, k) ** 2, 0), 0))));
});

gpuTest('max, a scalar p-norm and a folded identity on WebGPU', async (t) => {
  const x = f32([4, 6], 9);
  const rows = (f: (row: number[]) => number) => [0, 1, 2, 3].map((i) => f(Array.from(x.toFlat().subarray(i * 6, i * 6 + 6))));
  const rmax = new ReductionKernel('T x', 'T y', 'x', 'a > b ? a : b', '', '-inf', 'rmax');
  await bothDevices(t, [x], (a) => rmax.call(a, { axis: 1 }), rows((r) => Math.max(...r)));
  const pnorm = new ReductionKernel('T x, float32 p', 'T y', 'abs(x) ** p', 'a + b', 'y = a ** (1 / p)', '0', 'pnorm');
  await bothDevices(t, [x], (a) => pnorm.call(a, 3, { axis: 1 }), rows((r) => r.reduce((s, e) => s + Math.abs(e) ** 3, 0) ** (1 / 3)), { rtol: 1e-4, atol: 1e-6 });
  const max0 = new ReductionKernel('T x', 'T y', 'x - 2', 'max(a, b)', '', '0', 'max0');
  await bothDevices(t, [x], (a) => max0.call(a, { axis: 1 }), [0, 0, 0, 0]);
});


gpuTest('Variables on WebGPU: forward and backward equal the CPU run', async (t) => {
  const x = f32([3, 4], 10), y = f32([4], 11);
  const grads = async (device: 'cpu' | 'webgpu') => {
    const xv = new Variable(x.to(device)), yv = new Variable(y.to(device));
    const loss = sum(l2norm.call(squaredDiff.call(xv, yv), { axis: 1 }));
    loss.backward();
    return [await loss.data.data(), await xv.grad!.data(), await yv.grad!.data()];
  };
  const [cpu, gpu] = [await grads('cpu'), await grads('webgpu')];
  cpu.forEach((c, i) => allclose(t, gpu[i], c, { rtol: 1e-4, atol: 1e-6 }));
});

// renderReduce must convert i32 operands to f32 on load, as renderElementwise does.
gpuTest('an int32 input to a reduction on WebGPU', async (t) => {
  const ints = array([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
  const isum = new ReductionKernel('T x', 'T y', 'x * x', 'a + b', '', '0', 'isum');
  await bothDevices(t, [ints], (a) => isum.call(a, { axis: 0 }), [17, 29, 45]);
  const rms = new ReductionKernel('int32 x', 'float32 y', 'x * x', 'a + b', 'y = sqrt(a / 2)', '0', 'rms');
  await bothDevices(t, [ints], (a) => rms.call(a, { axis: 0 }), [17, 29, 45].map((v) => Math.sqrt(v / 2)));
});
