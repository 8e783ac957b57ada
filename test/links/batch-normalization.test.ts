// BatchNormalization link: parameters and persistents, train vs test mode, Chainer's decay and eps, toGpu.

import test from 'ava';
import { NDArray, Variable, testMode, F, L } from '../../runtime/index.js';
import { allclose, uniform as uniform64, useDevices } from '../helpers.js';

const devices = await useDevices(test);

/** Per-column mean and biased variance of a (N, C) array, from the definition. */
function colStats(x: NDArray): { mean: number[]; vari: number[] } {
  const [n, c] = x.shape, xs = Array.from(x.toFlat());
  const mean = Array.from({ length: c }, (_, j) => xs.filter((_, i) => i % c === j).reduce((a, b) => a + b, 0) / n);
  const vari = mean.map((m, j) => xs.filter((_, i) => i % c === j).reduce((a, b) => a + (b - m) ** 2, 0) / n);
  return { mean, vari };
}

/** Seeded uniform values as float32, the links' dtype. */
const uniform = (shape: number[], seed: number, lo = -1, hi = 1): NDArray => new NDArray(new Float32Array(uniform64(shape, seed, lo, hi).toFlat()), shape);

test('BatchNormalization: gamma 1 and beta 0 are parameters; avgMean 0, avgVar 1 and N are persistents', (t) => {
  const bn = new L.BatchNormalization(3);
  t.deepEqual([...bn.namedParams()].map(([n]) => n), ['/gamma', '/beta']);
  t.deepEqual([...bn.persistents].sort(), ['N', 'avgMean', 'avgVar']);
  t.deepEqual(Array.from(bn.avgMean.toFlat()), [0, 0, 0]);
  t.deepEqual(Array.from(bn.avgVar.toFlat()), [1, 1, 1]);
  t.is(bn.decay, 0.9);
  t.is(bn.eps, 2e-5);
  t.deepEqual([...new L.BatchNormalization(2, { useGamma: false, useBeta: false }).params()], []);
});

test('BatchNormalization: training normalizes with batch statistics and folds them in with decay; test mode uses the running ones', (t) => {
  const bn = new L.BatchNormalization(2, { decay: 0.5, eps: 1e-3 });
  const x = uniform([6, 2], 1, -1, 3), { mean, vari } = colStats(x), xs = Array.from(x.toFlat());
  const y = bn.forward(x);
  allclose(t, y.data, xs.map((v, i) => (v - mean[i % 2]) / Math.sqrt(vari[i % 2] + 1e-3)), { atol: 1e-5, rtol: 1e-5 });
  allclose(t, bn.avgMean, mean.map((m) => 0.5 * m), { atol: 1e-6 });
  allclose(t, bn.avgVar, vari.map((v) => 0.5 + 0.5 * v * 6 / 5), { atol: 1e-6 });
  t.is(bn.N, 1);
  const rm = Array.from(bn.avgMean.toFlat()), rv = Array.from(bn.avgVar.toFlat());
  const x2 = uniform([3, 2], 2);
  const yt = testMode(() => bn.forward(x2));
  allclose(t, yt.data, Array.from(x2.toFlat(), (v, i) => (v - rm[i % 2]) / Math.sqrt(rv[i % 2] + 1e-3)), { atol: 1e-5, rtol: 1e-5 });
  t.deepEqual(Array.from(bn.avgMean.toFlat()), rm, 'test mode leaves the statistics alone');
  t.is(bn.N, 1);
});

test('BatchNormalization: gradients reach gamma, beta and x; NCHW input normalizes per channel', (t) => {
  const bn = new L.BatchNormalization(3);
  const x = new Variable(uniform([2, 3, 2, 2], 3));
  F.sum(F.mul(bn.forward(x), uniform([2, 3, 2, 2], 4))).backward();
  for (const g of [bn.gamma!.grad, bn.beta!.grad, x.grad]) t.true(g !== null && Array.from(g.toFlat()).some((v) => v !== 0));
  t.deepEqual(bn.gamma!.grad!.shape, [3]);
});

test('BatchNormalization: bad settings and inputs are refused with the link and setting named', (t) => {
  t.throws(() => new L.BatchNormalization(0), { message: 'BatchNormalization: size must be a positive integer or a list of them, got 0' });
  t.throws(() => new L.BatchNormalization(3, { decay: 2 }), { message: 'BatchNormalization: decay must be in [0, 1], got 2' });
  t.throws(() => new L.BatchNormalization(3, { eps: -1 }), { message: 'BatchNormalization: eps must be a positive finite number, got -1' });
  t.throws(() => new L.BatchNormalization(3).forward(uniform([4, 2], 1)), { message: 'batchNormalization: gamma (3,) does not match x (4, 2) reduced over axes (0,): expected gamma (2,)' });
});

devices.gpu('BatchNormalization: toGpu moves gamma, beta and the running statistics; training updates them on the GPU', async (t) => {
  const x = uniform([5, 2], 5);
  const cpu = new L.BatchNormalization(2);
  const gpu = new L.BatchNormalization(2).toGpu();
  t.is(gpu.avgMean.device, 'webgpu');
  t.is(gpu.gamma!.data.device, 'webgpu');
  const yc = cpu.forward(x), yg = gpu.forward(new NDArray(new Float32Array(x.toFlat()), x.shape).toGpu());
  t.is(yg.data.device, 'webgpu');
  allclose(t, await yg.data.data(), yc.data, { atol: 1e-5 });
  allclose(t, await gpu.avgVar.data(), cpu.avgVar, { atol: 1e-6 });
  const back = await gpu.toCpu();
  t.is(back.avgMean.device, 'cpu');
  allclose(t, back.avgMean, cpu.avgMean, { atol: 1e-6 });
});
