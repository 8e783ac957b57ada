// batchNormalization and fixedBatchNormalization: plain-JS references, running statistics, gradient checks, bad inputs, both devices.

import test from 'ava';
import { NDArray, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, on, uniform, useDevices } from '../helpers.js';
import { channelOf, refBatchNorm, refFixed } from './references.js';

const devices = await useDevices(test);

const CASES: { x: number[]; gamma: number[]; axes: number[]; axis?: number | number[] }[] = [
  { x: [5, 3], gamma: [3], axes: [0] },
  { x: [4, 3, 2, 2], gamma: [3], axes: [0, 2, 3] },  // NCHW, per channel: Chainer's default rule
  { x: [4, 3, 2], gamma: [3, 2], axes: [0] },
  { x: [3, 4, 2], gamma: [4], axes: [0, 2], axis: [0, 2] },
  { x: [2, 3, 4], gamma: [2, 3], axes: [2], axis: 2 },
];

for (const { x: xShape, gamma: gShape, axes, axis } of CASES) {
  test(`batchNormalization: forward and running statistics match the definition, x (${xShape}), gamma (${gShape}), axis ${axis}`, (t) => {
    const x = uniform(xShape, 1, -2, 3), gamma = uniform(gShape, 2, 0.5, 1.5), beta = uniform(gShape, 3);
    const ref = refBatchNorm(x, gamma, beta, axes, 1e-3);
    const runningMean = uniform(gShape, 4), runningVar = uniform(gShape, 5, 0.5, 1.5);
    const [rm0, rv0] = [Array.from(runningMean.toFlat()), Array.from(runningVar.toFlat())];
    const y = F.batchNormalization(x, gamma, beta, { eps: 1e-3, runningMean, runningVar, decay: 0.8, axis });
    t.deepEqual(y.shape, xShape);
    allclose(t, y.data, ref.y, { atol: 1e-12, rtol: 1e-10 });
    allclose(t, runningMean, rm0.map((r, c) => 0.8 * r + 0.2 * ref.mean[c]), { atol: 1e-12, rtol: 1e-10 });
    allclose(t, runningVar, rv0.map((r, c) => 0.8 * r + 0.2 * ref.vari[c] * ref.m / (ref.m - 1)), { atol: 1e-12, rtol: 1e-10 });
  });

  test(`fixedBatchNormalization: forward matches the definition, x (${xShape}), gamma (${gShape}), axis ${axis}`, (t) => {
    const x = uniform(xShape, 6), gamma = uniform(gShape, 7), beta = uniform(gShape, 8), mean = uniform(gShape, 9), vari = uniform(gShape, 10, 0.5, 2);
    const y = F.fixedBatchNormalization(x, gamma, beta, mean, vari, { axis });
    allclose(t, y.data, refFixed(x, gamma, beta, mean, vari, axes, 2e-5), { atol: 1e-12, rtol: 1e-10 });
  });
}

test('batchNormalization: default eps is 2e-5 and decay 0.9, as in Chainer', (t) => {
  const x = uniform([6, 2], 11), gamma = array([1, 2], [2], 'float64'), beta = array([0, 1], [2], 'float64');
  const rm = array([0, 0], [2], 'float64'), rv = array([1, 1], [2], 'float64');
  const ref = refBatchNorm(x, gamma, beta, [0], 2e-5);
  allclose(t, F.batchNormalization(x, gamma, beta, { runningMean: rm, runningVar: rv }).data, ref.y, { atol: 1e-12, rtol: 1e-10 });
  allclose(t, rm, ref.mean.map((m) => 0.1 * m), { atol: 1e-12, rtol: 1e-10 });
});

test('batchNormalization, fixedBatchNormalization: checkBackward for every input', (t) => {
  const x = uniform([4, 3, 2], 12), gamma = uniform([3], 13, 0.5, 1.5), beta = uniform([3], 14);
  checkOpBackward('batchNormalization', (bn) => (a, g, b) => bn(a, g, b), [x, gamma, beta]);
  checkOpBackward('batchNormalization', (bn) => (a, g, b) => bn(a, g, b, { axis: [0, 2] }), [x, gamma, beta]);
  const mean = uniform([3], 15), vari = uniform([3], 16, 0.5, 2);
  checkOpBackward('fixedBatchNormalization', (fbn) => (a, g, b, m, v) => fbn(a, g, b, m, v), [x, gamma, beta, mean, vari]);
  t.pass();
});

test('batchNormalization, fixedBatchNormalization: double backward', (t) => {
  const x = uniform([4, 3], 17), gamma = uniform([3], 18, 0.5, 1.5), beta = uniform([3], 19);
  checkOpDoubleBackward('batchNormalization', (bn) => (a, g, b) => bn(a, g, b), [x, gamma, beta], [uniform([4, 3], 20)]);
  checkOpDoubleBackward('fixedBatchNormalization', (fbn) => (a, g, b, m, v) => fbn(a, g, b, m, v), [x, gamma, beta, uniform([3], 21), uniform([3], 22, 0.5, 2)], [uniform([4, 3], 23)]);
  t.pass();
});

test('batchNormalization, fixedBatchNormalization: bad inputs name the op, the argument and the shapes', (t) => {
  const x = uniform([4, 3, 2], 1), g = uniform([3], 2);
  t.throws(() => F.batchNormalization(x, uniform([2], 2), uniform([2], 3)), { message: 'batchNormalization: gamma (2,) does not match x (4, 3, 2) reduced over axes (0, 2): expected gamma (3,)' });
  t.throws(() => F.batchNormalization(x, g, uniform([3, 1], 3)), { message: 'batchNormalization: beta (3, 1) does not match x (4, 3, 2) reduced over axes (0, 2): expected beta (3,)' });
  t.throws(() => F.batchNormalization(x, g, g, { runningMean: uniform([2], 4) }), { message: "batchNormalization: runningMean (2,) must have gamma's shape (3,)" });
  t.throws(() => F.batchNormalization(x, g, g, { eps: 0 }), { message: 'batchNormalization: eps must be a positive finite number, got 0' });
  t.throws(() => F.batchNormalization(x, g, g, { decay: 1.5 }), { message: 'batchNormalization: decay must be in [0, 1], got 1.5' });
  t.throws(() => F.fixedBatchNormalization(x, g, g, g, uniform([4], 5)), { message: 'fixedBatchNormalization: var (4,) does not match x (4, 3, 2) reduced over axes (0, 2): expected var (3,)' });
});

devices.each('batchNormalization, fixedBatchNormalization: forward, running statistics and gradients against the float64 CPU run and the definition', async (t, device) => {
  const x = uniform([4, 3, 2, 2], 21, -2, 3), gamma = uniform([3], 22, 0.5, 1.5), beta = uniform([3], 23);
  const ref = refBatchNorm(x, gamma, beta, [0, 2, 3], 2e-5);
  await checkOnDevices('batchNormalization', (bn) => (a, g, b) => bn(a, g, b), [x, gamma, beta], { device, expected: [ref.y], atol: 1e-4 });
  const rm = new NDArray(new Float32Array(3), [3]).to(device), rv = new NDArray(new Float32Array([1, 1, 1]), [3]).to(device);
  const xd = new NDArray(new Float32Array(x.toFlat()), x.shape).to(device);
  F.batchNormalization(xd, new NDArray(new Float32Array(gamma.toFlat()), [3]).to(device), new NDArray(new Float32Array(beta.toFlat()), [3]).to(device), { runningMean: rm, runningVar: rv });
  t.is(rm.device, device);
  allclose(t, await rm.data(), ref.mean.map((m) => 0.1 * m), { atol: 1e-5, rtol: 1e-5 });
  allclose(t, await rv.data(), ref.vari.map((v) => 0.9 + 0.1 * v * ref.m / (ref.m - 1)), { atol: 1e-5, rtol: 1e-5 });
  const mean = uniform([3], 24), vari = uniform([3], 25, 0.5, 2);
  await checkOnDevices('fixedBatchNormalization', (fbn) => (a, g, b, m, v) => fbn(a, g, b, m, v), [x, gamma, beta, mean, vari],
    { device, expected: [refFixed(x, gamma, beta, mean, vari, [0, 2, 3], 2e-5)] });
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('batchNormalization, fixedBatchNormalization: a 0-d x, no values to normalize over, a string decay and unknown options name the op', (t, device) => {
  const s = on(device, array([0.5], [])), g2 = on(device, uniform([2], 1));
  t.throws(() => F.batchNormalization(s, s, s), { message: 'batchNormalization: axis 0 out of range for 0-d input' });
  t.throws(() => F.fixedBatchNormalization(s, s, s, s, s), { message: 'fixedBatchNormalization: axis 0 out of range for 0-d input' });
  t.throws(() => F.batchNormalization(on(device, uniform([1, 2, 0], 2)), g2, g2), { message: 'batchNormalization: x (1, 2, 0) has no values along the normalized axes (0, 2) to take the batch mean and variance of' });
  const x = on(device, uniform([3, 2], 3));
  t.throws(() => F.batchNormalization(x, g2, g2, { decay: '1' } as never), { message: 'batchNormalization: decay must be in [0, 1], got "1"' });
  t.throws(() => F.batchNormalization(x, g2, g2, { runningMeans: 1 } as never), { message: "batchNormalization: unknown option 'runningMeans'; the options are eps, runningMean, runningVar, decay, axis" });
  t.throws(() => F.batchNormalization(x, g2, g2, { runningMean: [0, 0] } as never), { message: 'batchNormalization: option runningMean must be an NDArray, got Array' });
  t.throws(() => F.fixedBatchNormalization(x, g2, g2, g2, g2, { decay: 0.9 } as never), { message: "fixedBatchNormalization: unknown option 'decay'; the options are eps, axis" });
});
