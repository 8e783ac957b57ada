// linear's fused epilogue: the bias add rides in the matmul kernel on both devices; values and gradients against plain JS.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { dispatchStats } from '../../runtime/array/cpu/kernels.js';
import { queueStats } from '../../runtime/array/webgpu/queue.js';
import type { Tiling } from '../../runtime/ops/matmul/webgpu.js';
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

devices.each("linear { activation: 'relu' }: one kernel forward, equal to relu(F.linear) in values and gradients (NaN kept, zero at the kink)", async (t, device) => {
  const on = (a: NDArray) => (device === 'cpu' ? a : a.toGpu());
  for (const [m, k, n] of [[6, 8, 12], [5, 4, 7]]) {
    const xs = f32(uniform([m, k], 31)), Ws = f32(uniform([n, k], 32)), bs = f32(uniform([n], 33)), gys = f32(uniform([m, n], 34));
    // a NaN input row: relu keeps NaN, as F.relu does
    const xData = Array.from(xs.toFlat());
    xData[0] = NaN;
    const xn = array(Float32Array.from(xData), [m, k]);
    const runs: ArrayLike<number>[][] = [];
    for (const fused of [true, false]) {
      const x = new Variable(on(xn)), W = new Variable(on(Ws)), b = new Variable(on(bs));
      const launches = counter(device);
      const before = launches();
      const y = fused ? F.linear(x, W, b, { activation: 'relu' }) : F.relu(F.linear(x, W, b));
      if (fused) t.is(launches() - before, 1, `(${m}, ${k}) x (${n}, ${k}): forward kernels`);
      y.grad = on(gys);
      y.backward();
      runs.push(await Promise.all([y.data.data(), x.grad!.data(), W.grad!.data(), b.grad!.data()]));
    }
    runs[0].forEach((a, i) => allclose(t, a, runs[1][i], { atol: 1e-6, rtol: 1e-6 }));
    t.true(Number.isNaN(runs[0][0][0]), 'relu(NaN) is NaN');
  }
});

test("linear { activation: 'relu' }: checkBackward and checkDoubleBackward in float64; a bad activation names linear", async (t) => {
  const { checkBackward, checkDoubleBackward } = await import('../../runtime/index.js');
  // inputs away from the kink at zero so that finite differences hold
  const fn = (x: Variable, W: Variable, b: Variable) => F.linear(x, W, b, { activation: 'relu' });
  checkBackward(fn as never, [uniform([3, 5], 40), uniform([4, 5], 41), uniform([4], 42)], [uniform([3, 4], 43)]);
  checkDoubleBackward(fn as never, [uniform([3, 5], 40), uniform([4, 5], 41), uniform([4], 42)], [uniform([3, 4], 43)], null);
  t.throws(() => F.linear(uniform([2, 3], 1), uniform([4, 3], 2), uniform([4], 3), { activation: 'tanh' as never }), { message: "linear: option activation must be 'relu', got 'tanh'" });
});

devices.gpu('matmul epilogue on WebGPU: every tiling (own, shared, subgroup where usable) adds the bias, then relu, as it stores', async (t) => {
  const { matmulWith, subgroupsUsable } = await import('../../runtime/ops/matmul/webgpu.js');
  const tilings: Tiling[] = [
    { rows: 'own', tm: 8, tn4: 2, wx: 8, wy: 4 },
    { rows: 'shared', tm: 4, tn4: 1, wx: 16, wy: 16, tkg: 4 },
    ...(subgroupsUsable() ? [{ rows: 'subgroup' as const, tm: 8, tn4: 2, wx: 32, wy: 1 }] : []),
  ];
  for (const tiling of tilings) {
    for (const [m, k, n] of [[9, 8, 12], [5, 12, 10]]) {
      const xs = f32(uniform([m, k], 51)), Ws = f32(uniform([n, k], 52)), bs = f32(uniform([n], 53));
      const ref = reference(...([xs, Ws, bs].map((a) => Array.from(a.toFlat())) as [number[], number[], number[]]), new Array<number>(m * n).fill(0), m, k, n);
      for (const relu of [false, true]) {
        const y = matmulWith(xs.toGpu(), Ws.toGpu().transpose([1, 0]), tiling, bs.toGpu(), relu);
        allclose(t, await y.data(), relu ? ref.y.map((v) => (v <= 0 ? 0 : v)) : ref.y, { atol: 1e-5, rtol: 1e-5 });
      }
    }
  }
});

devices.each('linear backward: the relu mask, gx, gW and gb are ONE kernel on the CPU; gx and gW equal the plain matmuls bit for bit, gb the float64 column sums', async (t, device) => {
  const { matmulArray } = await import('../../runtime/ops/matmul/kernels.js');
  const on = (a: NDArray) => (device === 'cpu' ? a : a.toGpu());
  // out a multiple of 4 and not, one row, an MLP-like layer with k split into several blocks
  // (lavapipe is slow to read back: fewer cases there, where this is the composed path anyway)
  const shapes = [[7, 12, 10, 1], [1, 5, 3, 2], [6, 9, 8, 3], [20, 300, 13, 4]] as const;
  for (const [m, k, n, seed] of device === 'cpu' ? shapes : shapes.slice(0, 1)) {
    for (const relu of [false, true]) {
      for (const xGrad of device === 'cpu' ? [true, false] : [true]) {
        const xs = f32(uniform([m, k], seed)), Ws = f32(uniform([n, k], seed + 10)), bs = f32(uniform([n], seed + 20)), gys = f32(uniform([m, n], seed + 30));
        const x = new Variable(on(xs), { requiresGrad: xGrad }), W = new Variable(on(Ws)), b = new Variable(on(bs));
        const y = F.linear(x, W, b, relu ? { activation: 'relu' } : {});
        y.grad = on(gys);
        const before = dispatchStats.count;
        y.backward();
        if (device === 'cpu') t.is(dispatchStats.count - before, 1, `(${m}, ${k}) x (${n}, ${k}) relu ${relu}: backward kernels`);
        // the reference: g masked in JS where y <= 0, then the matmul kernel on its own, and float64 sums
        const yv = Array.from(await y.data.data()), gv = Array.from(gys.toFlat());
        const g = f32(array(gv.map((v, i) => (relu && yv[i] <= 0 ? 0 : v)), [m, n]));
        // bit for bit on the CPU, where both run the same wasm kernel; within rounding on a GPU
        const same = (a: ArrayLike<number>, r: NDArray, what: string) => (device === 'cpu' ? t.deepEqual(Array.from(a), Array.from(r.toFlat()), what) : allclose(t, a, r.toFlat(), { atol: 1e-5, rtol: 1e-5 }));
        same(await W.grad!.data(), matmulArray(g, xs, true, false), 'gW');
        if (xGrad) same(await x.grad!.data(), matmulArray(g, Ws), 'gx');
        else t.is(x.grad, null);
        const gb = Array.from({ length: n }, (_, o) => {
          let s = 0;
          for (let i = 0; i < m; i++) s += g.toFlat()[i * n + o];
          return Math.fround(s);
        });
        if (device === 'cpu') t.deepEqual(Array.from(await b.grad!.data()), gb, 'gb');
        else allclose(t, await b.grad!.data(), gb, { atol: 1e-6, rtol: 1e-6 });
      }
    }
  }
});

test('linear backward on the CPU: a broadcast gy (the gradient of a sum) and a transposed one give the composed gradients', async (t) => {
  const xs = f32(uniform([5, 6], 61)), Ws = f32(uniform([7, 6], 62)), bs = f32(uniform([7], 63));
  const grads = async (make: (y: Variable) => Variable) => {
    const x = new Variable(xs), W = new Variable(Ws), b = new Variable(bs);
    make(F.linear(x, W, b, { activation: 'relu' })).backward();
    return Promise.all([x.grad!.data(), W.grad!.data(), b.grad!.data()]);
  };
  const ref = (gy: number[]) => {
    const y = reference(Array.from(xs.toFlat()), Array.from(Ws.toFlat()), Array.from(bs.toFlat()), new Array<number>(35).fill(0), 5, 6, 7).y;
    return reference(Array.from(xs.toFlat()), Array.from(Ws.toFlat()), Array.from(bs.toFlat()), gy.map((v, i) => (y[i] <= 0 ? 0 : v)), 5, 6, 7);
  };
  // sum: gy is a 0-d gradient broadcast to (5, 7), all strides 0
  const fromSum = await grads((y) => F.sum(y));
  const r1 = ref(new Array<number>(35).fill(1));
  [r1.gx, r1.gW, r1.gb].forEach((r, i) => allclose(t, fromSum[i], r, { atol: 1e-5, rtol: 1e-5 }));
  // a transposed product downstream: gy arrives as a (5, 7) view of a (7, 5) array
  const c = f32(uniform([5, 7], 64)), cT = array(Float32Array.from({ length: 35 }, (_, q) => c.toFlat()[(q % 5) * 7 + Math.floor(q / 5)]), [7, 5]);
  const fromT = await grads((y) => F.sum(F.mul(F.transpose(y), cT)));
  const r2 = ref(Array.from(c.toFlat()));
  [r2.gx, r2.gW, r2.gb].forEach((r, i) => allclose(t, fromT[i], r, { atol: 1e-5, rtol: 1e-5 }));
});
