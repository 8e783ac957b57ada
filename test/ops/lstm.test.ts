// lstm: Chainer's gate layout against a plain-JS step, gradient checks, bad inputs, both devices.

import test from 'ava';
import { NDArray, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, uniform, useDevices } from '../helpers.js';
import { refLstm } from './references.js';

const devices = await useDevices(test);

for (const { cShape, xShape } of [
  { cShape: [3, 2], xShape: [3, 8] },
  { cShape: [2, 3, 2], xShape: [2, 12, 2] },
  { cShape: [4, 2], xShape: [2, 8] },  // the last two sequences have ended: their cells pass through
]) {
  test(`lstm: forward matches the definition, cPrev (${cShape}), x (${xShape})`, (t) => {
    const c0 = uniform(cShape, 1), x = uniform(xShape, 2, -2, 2);
    const [c, h] = F.lstm(c0, x);
    const ref = refLstm(c0, x);
    t.deepEqual(c.shape, cShape);
    t.deepEqual(h.shape, [xShape[0], ...cShape.slice(1)]);
    allclose(t, c.data, ref.c, { atol: 1e-12, rtol: 1e-10 });
    allclose(t, h.data, ref.h, { atol: 1e-12, rtol: 1e-10 });
  });
}

test('lstm: checkBackward through c and h, equal and shorter batches', (t) => {
  checkOpBackward('lstm', (lstm) => (a, b) => lstm(a, b), [uniform([2, 3], 3), uniform([2, 12], 4, -2, 2)]);
  checkOpBackward('lstm', (lstm) => (a, b) => lstm(a, b), [uniform([3, 2], 5), uniform([2, 8], 6, -2, 2)]);
  t.pass();
});

test("lstm: double backward (composed of differentiable ops, as Chainer's has it)", (t) => {
  checkOpDoubleBackward('lstm', (lstm) => (a, b) => lstm(a, b), [uniform([2, 3], 11), uniform([2, 12], 12, -2, 2)], [uniform([2, 3], 13), uniform([2, 3], 14)]);
  t.pass();
});

test('lstm: bad inputs name the op, the argument and the shapes', (t) => {
  t.throws(() => F.lstm(uniform([2, 3], 1), uniform([2, 10], 2)), { message: 'lstm: x must be (B, 4H, ...) with axis 1 a multiple of 4, got x (2, 10)' });
  t.throws(() => F.lstm(uniform([2, 2], 1), uniform([2, 12], 2)), { message: "lstm: cPrev (2, 2) does not match x (2, 12): expected cPrev (B', 3) with B' >= 2" });
  t.throws(() => F.lstm(uniform([1, 3], 1), uniform([2, 12], 2)), { message: "lstm: cPrev (1, 3) does not match x (2, 12): expected cPrev (B', 3) with B' >= 2" });
});

devices.each('lstm: c and h and their gradients against the float64 CPU run and the definition', async (t, device) => {
  const c0 = uniform([3, 5], 7), x = uniform([3, 20], 8, -2, 2);
  const ref = refLstm(c0, x);
  await checkOnDevices('lstm', (lstm) => (a, b) => lstm(a, b), [c0, x], { device, expected: [ref.c, ref.h] });
  const c1 = uniform([4, 5], 9), x1 = uniform([2, 20], 10, -2, 2);
  const ref1 = refLstm(c1, x1);
  await checkOnDevices('lstm', (lstm) => (a, b) => lstm(a, b), [c1, x1], { device, expected: [ref1.c, ref1.h] });
  t.pass();
});
