// sigmoidCrossEntropy: plain-JS reference, gradient checks, bad inputs, both devices.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, sample, on, uniform, useDevices } from '../helpers.js';
import { refLosses } from './references.js';

const devices = await useDevices(test);

/** Labels 0/1 with about a fifth of them -1 (ignored). */
const labels = (shape: number[], seed: number) =>
  new NDArray(Int32Array.from(sample(shape, seed, (r) => { const u = r.uniform(); return u < 0.2 ? -1 : u < 0.6 ? 0 : 1; }).toFlat()), shape);

test('sigmoidCrossEntropy: mean over non-ignored labels, per-element with reduce no, batch-size normalization', (t) => {
  const x = uniform([4, 3], 1, -4, 4), lab = labels([4, 3], 2);
  const ref = refLosses(x, lab), valid = Array.from(lab.toFlat()).filter((l) => l !== -1).length;
  const sum = ref.reduce((a, b) => a + b, 0);
  allclose(t, F.sigmoidCrossEntropy(x, lab).data, sum / valid, { atol: 1e-12, rtol: 1e-10 });
  allclose(t, F.sigmoidCrossEntropy(x, lab, { normalize: false }).data, sum / 4, { atol: 1e-12, rtol: 1e-10 });
  const no = F.sigmoidCrossEntropy(x, lab, { reduce: 'no' });
  t.deepEqual(no.shape, [4, 3]);
  allclose(t, no.data, ref, { atol: 1e-12, rtol: 1e-10 });
});

test('sigmoidCrossEntropy: finite in both tails; gradient sigmoid(x) - t, also at exactly 0', (t) => {
  const x = new Variable(array([-800, 800, 0, 0, 30], [5], 'float64'));
  const lab = array([1, 0, 1, 0, -1], [5], 'int32');
  allclose(t, F.sigmoidCrossEntropy(x, lab, { reduce: 'no' }).data, [800, 800, Math.log(2), Math.log(2), 0], { rtol: 1e-12 });
  F.sum(F.sigmoidCrossEntropy(x, lab, { reduce: 'no' })).backward();
  allclose(t, x.grad!, [-1, 1, -0.5, 0.5, 0], { atol: 1e-12 });
});

test('sigmoidCrossEntropy: checkBackward (mean, unnormalized and per-element)', (t) => {
  const x = uniform([3, 4], 3, -3, 3), lab = labels([3, 4], 4);
  checkOpBackward('sigmoidCrossEntropy', (sce) => (a) => sce(a, lab), [x]);
  checkOpBackward('sigmoidCrossEntropy', (sce) => (a) => sce(a, lab, { normalize: false }), [x]);
  checkOpBackward('sigmoidCrossEntropy', (sce) => (a) => sce(a, lab, { reduce: 'no' }), [x]);
  t.pass();
});

test('sigmoidCrossEntropy: bad inputs name the op, the argument and the shapes', (t) => {
  const x = uniform([2, 3], 1);
  t.throws(() => F.sigmoidCrossEntropy(x, array([0, 1], [2], 'int32')), { message: 'sigmoidCrossEntropy: t (2,) must have the shape of x (2, 3)' });
  t.throws(() => F.sigmoidCrossEntropy(x, uniform([2, 3], 2)), { message: 'sigmoidCrossEntropy: t must be an int32 array of labels (0, 1 or -1), got float64 t (2, 3)' });
  t.throws(() => F.sigmoidCrossEntropy(x, labels([2, 3], 1), { reduce: 'sum' as never }), { message: "sigmoidCrossEntropy: option reduce must be 'mean' or 'no', got 'sum'" });
});

devices.each('sigmoidCrossEntropy: forward and gradient against the float64 CPU run and the definition', async (t, device) => {
  const x = uniform([5, 4], 5, -4, 4), lab = labels([5, 4], 6);
  const ref = refLosses(x, lab), valid = Array.from(lab.toFlat()).filter((l) => l !== -1).length;
  await checkOnDevices('sigmoidCrossEntropy', (sce) => (a, b) => sce(a, b), [x, lab], { device, expected: [[ref.reduce((p, q) => p + q) / valid]] });
  await checkOnDevices('sigmoidCrossEntropy', (sce) => (a, b) => sce(a, b, { reduce: 'no' }), [x, lab], { device, expected: [ref] });
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('sigmoidCrossEntropy: an unknown option or a non-boolean normalize is named, not ignored', (t, device) => {
  const x = on(device, uniform([2], 1)), tl = array([0, 1], [2], 'int32').to(device);
  t.throws(() => F.sigmoidCrossEntropy(x, tl, { strides: 1 } as never), { message: "sigmoidCrossEntropy: unknown option 'strides'; the options are normalize, reduce" });
  t.throws(() => F.sigmoidCrossEntropy(x, tl, { normalize: 1 } as never), { message: 'sigmoidCrossEntropy: option normalize must be a boolean, got 1' });
});
