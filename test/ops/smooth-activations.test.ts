// hardSigmoid, swish, gelu and logSumExp: plain-JS references, gradient checks, bad inputs, both devices.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, product, on, uniform, unravel, useDevices } from '../helpers.js';
import { hardSigmoidRef, geluRef, logSumExpRef } from './references.js';

const devices = await useDevices(test);

const sig = (v: number) => 1 / (1 + Math.exp(-v));

for (const shape of [[], [7], [2, 3, 2]]) {
  test(`hardSigmoid, gelu: forward matches the definition, shape (${shape})`, (t) => {
    const x = uniform(shape, 1, -4, 4), xs = Array.from(x.toFlat());
    allclose(t, F.hardSigmoid(x).data, xs.map(hardSigmoidRef), { atol: 1e-12, rtol: 1e-10 });
    allclose(t, F.gelu(x).data, xs.map(geluRef), { atol: 1e-12, rtol: 1e-10 });
  });
}

test('hardSigmoid: gradient 0.2 inside (-2.5, 2.5) and 0 at and past the corners, as in Chainer', (t) => {
  const v = new Variable(array([-3, -2.5, 0, 2.4, 2.5, 3], [6], 'float64'));
  F.sum(F.hardSigmoid(v)).backward();
  t.deepEqual(Array.from(v.grad!.toFlat()), [0, 0, 0.2, 0.2, 0, 0]);
  checkOpBackward('hardSigmoid', (hardSigmoid) => (a) => hardSigmoid(a), [uniform([3, 4], 2, -2.4, 2.4)]);
});

test('gelu: checkBackward, and the erf form it approximates is within 1e-3', (t) => {
  checkOpBackward('gelu', (gelu) => (a) => gelu(a), [uniform([3, 4], 3, -3, 3)]);
  // Abramowitz-Stegun 7.1.26 erf (|error| < 1.5e-7), an independent check of the approximation's claim
  const erf = (z: number) => {
    const s = Math.sign(z), a = Math.abs(z), k = 1 / (1 + 0.3275911 * a);
    return s * (1 - (((((1.061405429 * k - 1.453152027) * k) + 1.421413741) * k - 0.284496736) * k + 0.254829592) * k * Math.exp(-a * a));
  };
  const x = uniform([50], 4, -5, 5);
  allclose(t, F.gelu(x).data, Array.from(x.toFlat(), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))), { atol: 1e-3, rtol: 0 });
});

test('swish: forward with a scalar beta and with a per-channel beta, checkBackward for x and beta', (t) => {
  const x = uniform([2, 3, 2], 5, -3, 3), xs = Array.from(x.toFlat());
  allclose(t, F.swish(x, 1.5).data, xs.map((v) => v * sig(1.5 * v)), { atol: 1e-12, rtol: 1e-10 });
  const beta = uniform([3], 6, 0.5, 2), bs = Array.from(beta.toFlat());
  allclose(t, F.swish(x, beta).data, xs.map((v, i) => v * sig(bs[unravel(i, [2, 3, 2])[1]] * v)), { atol: 1e-12, rtol: 1e-10 });
  checkOpBackward('swish', (swish) => (a, b) => swish(a, b), [x, beta]);
  checkOpBackward('swish', (swish) => (a) => swish(a, 0.7), [uniform([4], 7)]);
});

for (const { shape, axis } of product({ shape: [[5], [3, 4], [2, 3, 4]], axis: [undefined, 0, -1] as (number | undefined)[] })) {
  test(`logSumExp: forward matches the definition, shape (${shape}), axis ${axis}`, (t) => {
    const x = uniform(shape, 8, -3, 3);
    const axes = axis === undefined ? shape.map((_, d) => d) : [axis < 0 ? axis + shape.length : axis];
    const ref = logSumExpRef(x, axes);
    const y = F.logSumExp(x, axis);
    t.deepEqual(y.shape, ref.shape);
    allclose(t, y.data, ref.data, { atol: 1e-12, rtol: 1e-10 });
  });
}

test('logSumExp: large inputs do not overflow; several axes; checkBackward', (t) => {
  allclose(t, F.logSumExp(array([1000, 1000], [2], 'float64')).data, 1000 + Math.log(2), { atol: 1e-9 });
  const x = uniform([2, 3, 4], 9, -2, 2);
  allclose(t, F.logSumExp(x, [0, 2]).data, logSumExpRef(x, [0, 2]).data, { atol: 1e-12, rtol: 1e-10 });
  checkOpBackward('logSumExp', (logSumExp) => (a) => logSumExp(a, 1), [x]);
  checkOpBackward('logSumExp', (logSumExp) => (a) => logSumExp(a), [uniform([3, 2], 10)]);
});

test('gelu, swish, logSumExp: double backward', (t) => {
  checkOpDoubleBackward('gelu', (gelu) => (a) => gelu(a), [uniform([5], 30, -3, 3)], [uniform([5], 31)]);
  checkOpDoubleBackward('swish', (swish) => (a, b) => swish(a, b), [uniform([2, 3], 32), uniform([3], 33, 0.5, 2)], [uniform([2, 3], 34)]);
  checkOpDoubleBackward('logSumExp', (logSumExp) => (a) => logSumExp(a, 1), [uniform([2, 4], 35)], [uniform([2], 36)]);
  t.pass();
});

test('hardSigmoid, gelu, swish, logSumExp: bad inputs name the op, the argument and the shapes', (t) => {
  t.throws(() => F.hardSigmoid([1, 2] as never), { message: /^hardSigmoid: argument x must be a Variable, NDArray or number, got a JS array/ });
  t.throws(() => F.gelu('x' as never), { message: /^gelu: argument x must be a Variable, NDArray or number/ });
  t.throws(() => F.swish(uniform([2, 3], 1), uniform([2], 2)), { message: 'swish: beta (2,) must match x (2, 3) from axis 1: expected beta (3,)' });
  t.throws(() => F.logSumExp(uniform([2, 3], 1), 2), { message: /^logSumExp: axis 2 out of range/ });
  t.throws(() => F.logSumExp(uniform([0, 3], 1), 1), { message: 'logSumExp: x (0, 3) is empty; the log-sum-exp of no elements is -Infinity' });
});

devices.each('hardSigmoid, gelu, swish, logSumExp: forward and gradients against the float64 CPU run and the definition', async (t, device) => {
  const x = uniform([3, 4, 2], 11, -2.4, 2.4), xs = Array.from(x.toFlat());
  await checkOnDevices('hardSigmoid', (hardSigmoid) => (a) => hardSigmoid(a), [x], { device, expected: [xs.map(hardSigmoidRef)] });
  await checkOnDevices('gelu', (gelu) => (a) => gelu(a), [x], { device, expected: [xs.map(geluRef)] });
  const beta = uniform([4], 12, 0.5, 2), bs = Array.from(beta.toFlat());
  await checkOnDevices('swish', (swish) => (a, b) => swish(a, b), [x, beta], { device, expected: [xs.map((v, i) => v * sig(bs[unravel(i, [3, 4, 2])[1]] * v))] });
  await checkOnDevices('logSumExp', (logSumExp) => (a) => logSumExp(a, 1), [x], { device, expected: [logSumExpRef(x, [1]).data] });
  await checkOnDevices('logSumExp', (logSumExp) => (a) => logSumExp(a), [x], { device, expected: [logSumExpRef(x, [0, 1, 2]).data] });
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('swish: a number beta that is not finite is named, not a silent NaN', (t, device) => {
  const x = on(device, uniform([2], 1));
  t.throws(() => F.swish(x, NaN), { message: 'swish: beta must be a finite number, got NaN' });
  t.throws(() => F.swish(x, Infinity), { message: 'swish: beta must be a finite number, got Infinity' });
});
