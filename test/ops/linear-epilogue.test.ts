// linear's fused epilogue: the bias add rides in the matmul kernel on both devices; values and gradients against plain JS.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { dispatchStats } from '../../runtime/array/cpu/kernels.js';
import { queueStats } from '../../runtime/array/webgpu/queue.js';
import { allclose, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const counter = (device: string) => () => (device === 'cpu' ? dispatchStats.count : queueStats.dispatches);
const f32 = (x: NDArray) => array(Float32Array.from(x.toFlat()), x.shape);

/** y[i][o] = sum_k x[i][k] W[o][k] + b[o], and the gradients for dL/dy = gy, in float64 plain JS. */
function reference(x: number[], W: number[], b: number[], gy: number[], m: number, k: number, n: number) {
  const y: number[] = [], gx = new Array<number>(m * k).fill(0), gW = new Array<number>(n * k).fill(0), gb = new Array<number>(n).fill(0);
  for (let i = 0; i < m; i++) {
    for (let o = 0; o < n; o++) {
      let s = b[o];
      for (let p = 0; p < k; p++) s += x[i * k + p] * W[o * k + p];
      y.push(s);
      const g = gy[i * n + o];
      gb[o] += g;
      for (let p = 0; p < k; p++) { gx[i * k + p] += g * W[o * k + p]; gW[o * k + p] += g * x[i * k + p]; }
    }
  }
  return { y, gx, gW, gb };
}

// n a multiple of 4 (stored as vec4s on WebGPU) and not; k a multiple of 4 so no operand is packed
for (const [m, k, n] of [[5, 8, 12], [7, 12, 10], [1, 4, 3]] as const) {
  devices.each(`linear: x (${m}, ${k}) W (${n}, ${k}) b: forward is ONE kernel (bias added as the matmul stores) and equals plain JS, gradients too`, async (t, device) => {
    const on = (a: NDArray) => (device === 'cpu' ? a : a.toGpu());
    const xs = f32(uniform([m, k], 1)), Ws = f32(uniform([n, k], 2)), bs = f32(uniform([n], 3)), gys = f32(uniform([m, n], 4));
    const x = new Variable(on(xs)), W = new Variable(on(Ws)), b = new Variable(on(bs));
    const launches = counter(device);
    const before = launches();
    const y = F.linear(x, W, b);
    t.is(launches() - before, 1, 'forward kernels');
    const ref = reference(...([xs, Ws, bs, gys].map((a) => Array.from(a.toFlat())) as [number[], number[], number[], number[]]), m, k, n);
    allclose(t, await y.data.data(), ref.y, { atol: 1e-5, rtol: 1e-5 });
    y.grad = on(gys);
    y.backward();
    allclose(t, await x.grad!.data(), ref.gx, { atol: 1e-5, rtol: 1e-5 });
    allclose(t, await W.grad!.data(), ref.gW, { atol: 1e-5, rtol: 1e-5 });
    allclose(t, await b.grad!.data(), ref.gb, { atol: 1e-5, rtol: 1e-5 });
  });
}

devices.each('linear: a strided bias view (every other element) gives the same values, fused where the kernel can read it', async (t, device) => {
  const on = (a: NDArray) => (device === 'cpu' ? a : a.toGpu());
  for (const n of [8, 6]) {
    const xs = f32(uniform([3, 4], 5)), Ws = f32(uniform([n, 4], 6)), long = f32(uniform([2 * n], 7));
    const bView = on(long).view([n], [2], 0);
    const bs = Array.from(long.toFlat()).filter((_, i) => i % 2 === 0);
    const ref = reference(Array.from(xs.toFlat()), Array.from(Ws.toFlat()), bs, new Array<number>(3 * n).fill(0), 3, 4, n);
    allclose(t, await F.linear(on(xs), on(Ws), bView).data.data(), ref.y, { atol: 1e-5, rtol: 1e-5 });
  }
});

test('linear: float64 takes the fused node on the CPU too, and checkBackward holds', async (t) => {
  const { checkBackward } = await import('../../runtime/index.js');
  checkBackward((x, W, b) => F.linear(x, W, b), [uniform([3, 5], 8), uniform([4, 5], 9), uniform([4], 10)], [uniform([3, 4], 11)]);
  t.is(F.linear(new Variable(uniform([3, 5], 8)), new Variable(uniform([4, 5], 9)), new Variable(uniform([4], 10))).creator?.label, 'linear');
});
