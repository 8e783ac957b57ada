// The hand-written WGSL kernels (matmul, argmax/argmin, selectItem/scatterItem, randomUniform) against the CPU backend.

import test from 'ava';
import type { NDArray } from '../../runtime/array/ndarray.js';
import { RandomState } from '../../runtime/array/random.js';
import { initWebGpu, releaseWebGpu } from '../../runtime/array/webgpu/index.js';
import { randomUniform } from '../../runtime/array/random-uniform.js';
import { array } from '../../runtime/array/xp.js';
import { scatterItemArray as scatterItem, selectItemArray as selectItem } from '../../runtime/ops/indexing/select-item.js';
import { matmulArray as matmul } from '../../runtime/ops/matmul/kernels.js';
import { argmaxArray as argmax, argminArray as argmin } from '../../runtime/ops/reduction/arg-reduce.js';
import { both, close, data, gpuTestGate, matmulTests } from './webgpu-cases.js';

// The device is made once for the file (and released at the end, or Dawn keeps Node alive).
let reason: string | null = null;
try {
  await initWebGpu();
} catch (e) {
  reason = `no WebGPU adapter: ${(e as Error).message}`;
}
test.after.always(() => releaseWebGpu());
const gpuTest = gpuTestGate(reason);

// ---- matmul -----------------------------------------------------------------------------

// the kernels matmul chooses on CPU and GPU adapters without subgroups, and a copy into
// workgroup memory whose last round leaves invocations idle (48 of them copy 64 vec4s of B)
matmulTests(gpuTest, '[webgpu]', () => ({
  cpu8x8: { rows: 'own', tm: 8, tn4: 2, wx: 8, wy: 4 },
  gpu64x64: { rows: 'shared', tm: 4, tn4: 1, wx: 16, wy: 16, tkg: 4 },
  shared24x32: { rows: 'shared', tm: 4, tn4: 1, wx: 8, wy: 6, tkg: 2 },
}));

gpuTest('[webgpu] a batch past 65,535 workgroups is split over several dispatches', async (t) => {
  const [a, ga] = both(data([70000, 1, 3], 46)), [b, gb] = both(data([70000, 3, 2], 47));
  await close(t, matmul(ga, gb), matmul(a, b), 1e-5, 1e-4);
});

gpuTest('[webgpu] matmul refuses int32 operands with an error naming the op and dtypes', (t) => {
  const a = data([2, 2], 22, 0, 5, 'int32', true).toGpu();
  t.throws(() => matmul(a, a), { message: /matmul: .*int32/ });
});

// ---- argmax / argmin --------------------------------------------------------------------

gpuTest('[webgpu] argmax and argmin equal the CPU on every axis, ties going to the first index', async (t) => {
  // few distinct values, so ties are everywhere
  for (const dtype of ['float32', 'int32'] as const) {
    const x = data([5, 6, 7], 23, -3, 3, dtype, true);
    const views: [string, (v: NDArray) => NDArray][] = [
      ['plain', (v) => v], ['transposed', (v) => v.transpose([2, 0, 1])], ['offset', (v) => v.view([4, 6, 5], [42, 7, 1], 44)],
    ];
    for (const [name, view] of views) {
      const [c, g] = both(x, view);
      for (let axis = 0; axis < c.ndim; axis++) {
        await close(t, argmax(g, axis), argmax(c, axis), 0, 0, `argmax ${dtype} ${name} axis ${axis}`);
        await close(t, argmin(g, axis), argmin(c, axis), 0, 0, `argmin ${dtype} ${name} axis ${axis}`);
      }
    }
  }
  // continuous data over a long axis
  const [c, g] = both(data([3, 1000], 24));
  await close(t, argmax(g, 1), argmax(c, 1), 0, 0);
  t.is((await argmax(g, 1).data()).constructor, Int32Array);
});

gpuTest('[webgpu] argmax of a 1-d array and of an axis of length 1', async (t) => {
  const [c, g] = both(data([10], 25));
  await close(t, argmax(g, 0), argmax(c, 0), 0, 0);
  const [c1, g1] = both(data([4, 1], 26));
  await close(t, argmin(g1, 1), argmin(c1, 1), 0, 0);
});

// ---- selectItem / scatterItem ----------------------------------------------------------

const labels = (values: number[]): NDArray => array(values, [values.length], 'int32');

gpuTest('[webgpu] selectItem picks x[i, t[i]]; labels outside [0, C) give 0', async (t) => {
  const t0 = labels([0, 4, -1, 2, 5, 3, 100, 1]);
  const [x, gx] = both(data([8, 5], 27));
  await close(t, selectItem(gx, t0.toGpu()), selectItem(x, t0), 0, 0);
  const y = await selectItem(gx, t0.toGpu()).data();
  t.is(y[2], 0);
  t.is(y[4], 0);
  // a transposed x and a strided t
  const [xt, gxt] = both(data([5, 8], 28), (v) => v.transpose());
  const [ts, gts] = both(labels([0, 9, 4, 9, -1, 9, 2, 9, 3, 9, 1, 9, 0, 9, 4, 9]), (v) => v.view([8], [2], 0));
  await close(t, selectItem(gxt, gts), selectItem(xt, ts), 0, 0);
  // int32 x
  const [xi, gxi] = both(data([8, 5], 29, -50, 50, 'int32', true));
  await close(t, selectItem(gxi, t0.toGpu()), selectItem(xi, t0), 0, 0);
});

gpuTest('[webgpu] scatterItem writes gy[i] at [i, t[i]] into zeros; labels outside [0, C) write nothing', async (t) => {
  const t0 = labels([0, 4, -1, 2, 5, 3, 100, 1]);
  const [gy, ggy] = both(data([8], 30));
  const got = scatterItem(ggy, t0.toGpu(), [8, 5]);
  await close(t, got, scatterItem(gy, t0, [8, 5]), 0, 0);
  const flat = await got.data();
  t.deepEqual(Array.from(flat.slice(10, 15)), [0, 0, 0, 0, 0]);
  // strided gy, int32 gy
  const [gs, ggs] = both(data([16], 31), (v) => v.view([8], [2], 1));
  await close(t, scatterItem(ggs, t0.toGpu(), [8, 5]), scatterItem(gs, t0, [8, 5]), 0, 0);
  const [gi, ggi] = both(data([8], 32, -9, 9, 'int32', true));
  await close(t, scatterItem(ggi, t0.toGpu(), [8, 5]), scatterItem(gi, t0, [8, 5]), 0, 0);
});

gpuTest('[webgpu] selectItem and scatterItem refuse labels that are not int32', (t) => {
  const x = data([2, 3], 33).toGpu(), tf = array([0, 1]).toGpu();
  t.throws(() => selectItem(x, tf), { message: /selectItem: t must be an int32/ });
  t.throws(() => scatterItem(array([1, 2]).toGpu(), tf, [2, 3]), { message: /scatterItem: t must be an int32/ });
});

// ---- randomUniform ------------------------------------------------------------------------

gpuTest('[webgpu] randomUniform: in [low, high), mean and variance of U[low, high), flat histogram', async (t) => {
  const n = 1 << 20;
  const low = -2, high = 3;
  const x = await randomUniform([1024, 1024], low, high, { device: 'webgpu', rng: new RandomState(7) }).data();
  t.is(x.length, n);
  let sum = 0, sq = 0, lo = Infinity, hi = -Infinity;
  const bins = new Array<number>(100).fill(0);
  for (const v of x) {
    sum += v;
    sq += v * v;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
    bins[Math.floor(((v - low) / (high - low)) * 100)]++;
  }
  const mean = sum / n, variance = sq / n - mean * mean;
  const w = high - low;
  // 6 standard errors: var(mean) = w^2 / 12n; var of the sample variance ~ w^4 / 180n
  t.true(Math.abs(mean - (low + high) / 2) < 6 * Math.sqrt((w * w) / 12 / n), `mean ${mean}`);
  t.true(Math.abs(variance - (w * w) / 12) < 6 * Math.sqrt((w ** 4) / 180 / n), `variance ${variance}`);
  t.true(lo >= low && hi < high, `range [${lo}, ${hi}]`);
  // chi-square over 100 bins: 99 degrees of freedom, mean 99, sd 14; 99 + 6 * 14 = 183
  const expected = n / 100;
  const chi2 = bins.reduce((s, c) => s + ((c - expected) ** 2) / expected, 0);
  t.true(chi2 < 183, `chi-square ${chi2}`);
  // neighbours are not correlated
  let lag = 0;
  const c = (low + high) / 2;
  for (let i = 1; i < n; i++) lag += (x[i] - c) * (x[i - 1] - c);
  t.true(Math.abs(lag / (n - 1) / ((w * w) / 12)) < 6 / Math.sqrt(n), `lag-1 correlation ${lag / (n - 1) / ((w * w) / 12)}`);
});

gpuTest('[webgpu] randomUniform draws its seed from the stream: same seed, same numbers; next call, new numbers', async (t) => {
  const draw = (rng: RandomState) => randomUniform([1000], 0, 1, { device: 'webgpu', rng }).data();
  const r1 = new RandomState(42), r2 = new RandomState(42);
  const a = await draw(r1), b = await draw(r2), c = await draw(r1);
  t.deepEqual(Array.from(a), Array.from(b));
  t.notDeepEqual(Array.from(a), Array.from(c));
  const d = await draw(new RandomState(43));
  t.notDeepEqual(Array.from(a), Array.from(d));
});

gpuTest('[webgpu] randomUniform never returns high, even where low + (high - low) u rounds up to it', async (t) => {
  // in float32, 1 + (1 - 2^-24) rounds to 2
  const x = await randomUniform([1 << 16], 1, 2, { device: 'webgpu', rng: new RandomState(1) }).data();
  t.true(x.every((v) => v >= 1 && v < 2));
  const ints = randomUniform([1000], 0, 10, { device: 'webgpu', dtype: 'int32', rng: new RandomState(2) });
  t.is(ints.dtype, 'int32');
  const iv = await ints.data();
  t.true(iv.every((v) => Number.isInteger(v) && v >= 0 && v < 10));
  t.is(new Set(iv).size, 10);
  t.is(randomUniform([0, 3], 0, 1, { device: 'webgpu' }).size, 0);
});
