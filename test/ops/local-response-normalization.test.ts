// localResponseNormalization: forward against loops written from the definition, gradients, bad inputs, both devices.

import test from 'ava';
import { NDArray, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, on, uniform, useDevices } from '../helpers.js';
import { refLrn } from './references.js';

const devices = await useDevices(test);

interface Lrn { n: number; k: number; alpha: number; beta: number }

const CASES: { xs: number[]; lrn: Lrn }[] = [
  { xs: [2, 7, 3, 2], lrn: { n: 5, k: 2, alpha: 1e-4, beta: 0.75 } },
  { xs: [1, 4, 2, 3], lrn: { n: 3, k: 1, alpha: 0.5, beta: 0.75 } },
  { xs: [2, 6], lrn: { n: 4, k: 1.5, alpha: 0.3, beta: 1.2 } },
  { xs: [1, 3, 5], lrn: { n: 1, k: 0.5, alpha: 2, beta: 0.5 } },
  { xs: [2, 9, 2, 2], lrn: { n: 9, k: 1, alpha: 0.2, beta: 0.6 } },
];

test('localResponseNormalization: forward equals the definition for several n, k, alpha, beta and ranks (float64)', (t) => {
  for (const [i, { xs, lrn }] of CASES.entries()) {
    const x = uniform(xs, 10 + i, -2, 2);
    const y = F.localResponseNormalization(x, lrn);
    t.deepEqual(y.shape, xs);
    allclose(t, y.data, refLrn(x, lrn), { atol: 1e-12, rtol: 1e-5 });
  }
  const x = uniform([1, 6, 2, 2], 1);
  allclose(t, F.localResponseNormalization(x).data, refLrn(x, { n: 5, k: 2, alpha: 1e-4, beta: 0.75 }), { atol: 1e-12, rtol: 1e-5 });
});

test('localResponseNormalization: gradients and double backward match numerical ones (float64)', (t) => {
  for (const [i, { xs, lrn }] of CASES.entries()) {
    checkOpBackward('localResponseNormalization', (localResponseNormalization) => (x) => localResponseNormalization(x, lrn), [uniform(xs, 100 + i, -2, 2)]);
  }
  const { xs, lrn } = CASES[1];
  checkOpDoubleBackward('localResponseNormalization', (localResponseNormalization) => (x) => localResponseNormalization(x, lrn), [uniform(xs, 200, -2, 2)], [uniform(xs, 201)]);
  t.pass();
});

test('localResponseNormalization: bad inputs name the op, the argument, and expected vs seen', (t) => {
  t.throws(() => F.localResponseNormalization(uniform([5], 1)), { message: 'localResponseNormalization: x must have a channel axis (N, C, ...), got x (5,)' });
  t.throws(() => F.localResponseNormalization(uniform([2, 5], 1), { n: 0 }), { message: 'localResponseNormalization: n must be a positive integer, got 0' });
  t.throws(() => F.localResponseNormalization(uniform([2, 5], 1), { beta: NaN }), { message: 'localResponseNormalization: beta must be a finite number, got NaN' });
  t.throws(() => F.localResponseNormalization(array([1, 2], [1, 2], 'int32')), { message: 'localResponseNormalization: expected a float array, got x int32' });
});

devices.each('localResponseNormalization: forward and gradient equal the CPU', async (t, device) => {
  for (const [i, { xs, lrn }] of CASES.entries()) {
    const x = uniform(xs, 300 + i, -2, 2);
    await checkOnDevices('localResponseNormalization', (localResponseNormalization) => (p) => localResponseNormalization(p, lrn), [x], { device, expected: [refLrn(x, lrn)] });
  }
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('localResponseNormalization: an unknown option is named, not ignored', (t, device) => {
  const x = on(device, uniform([1, 3], 1));
  t.throws(() => F.localResponseNormalization(x, { size: 3 } as never), { message: "localResponseNormalization: unknown option 'size'; the options are n, k, alpha, beta" });
});
