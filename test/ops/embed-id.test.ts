// embedId: rows of W by id against plain-JS indexing, scatter-add gradient, ignoreLabel, bad inputs, both devices.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, on, uniform, useDevices } from '../helpers.js';
import { refEmbed } from './references.js';

const devices = await useDevices(test);
const int32 = (v: number[], shape?: number[]) => array(v, shape ?? [v.length], 'int32');

test('embedId: forward picks rows of W for ids of any shape', (t) => {
  const W = uniform([5, 3], 1), ids = [4, 0, 2, 2, 1, 4];
  for (const shape of [[6], [2, 3], [3, 1, 2]]) {
    const y = F.embedId(int32(ids, shape), W);
    t.deepEqual(y.shape, [...shape, 3]);
    allclose(t, y.data, refEmbed(ids, W), { atol: 0, rtol: 0 });
  }
});

test('embedId: the gradient of W adds gy into the rows of repeated ids; ignoreLabel gives a zero row and no gradient', (t) => {
  const W = new Variable(uniform([4, 2], 2));
  const ids = [3, 1, 3, 0, 3];
  const gy = uniform([5, 2], 3), g = Array.from(gy.toFlat());
  F.sum(F.mul(F.embedId(int32(ids), W, { ignoreLabel: 0 }), gy)).backward();
  const want = new Array<number>(8).fill(0);
  ids.forEach((id, n) => { if (id !== 0) for (let d = 0; d < 2; d++) want[id * 2 + d] += g[n * 2 + d]; });
  allclose(t, W.grad!, want, { atol: 1e-12 });
  allclose(t, F.embedId(int32(ids), W.data, { ignoreLabel: 0 }).data, refEmbed(ids, W.data, 0), { atol: 0, rtol: 0 });
  allclose(t, F.embedId(int32([-1, 2]), W.data, { ignoreLabel: -1 }).data, refEmbed([-1, 2], W.data, -1), { atol: 0, rtol: 0 });
});

test('embedId: checkBackward for W, with and without an ignore label', (t) => {
  checkOpBackward('embedId', (embedId) => (w) => embedId(int32([1, 0, 2, 1], [2, 2]), w), [uniform([3, 4], 4)]);
  checkOpBackward('embedId', (embedId) => (w) => embedId(int32([1, -1, 2]), w, { ignoreLabel: -1 }), [uniform([3, 4], 5)]);
  t.pass();
});

test('embedId: bad inputs name the op, the argument and the shapes', (t) => {
  const W = uniform([3, 2], 1);
  t.throws(() => F.embedId(int32([0, 3]), W), { message: 'embedId: id 3 in x is outside [0, 3) for W (3, 2)' });
  t.throws(() => F.embedId(int32([-1]), W, { ignoreLabel: 0 }), { message: 'embedId: id -1 in x is outside [0, 3) for W (3, 2) and is not the ignore label 0' });
  t.throws(() => F.embedId(uniform([2], 1), W), { message: 'embedId: x must be an int32 array of ids, got float64 x (2,)' });
  t.throws(() => F.embedId(int32([0]), uniform([3, 2, 1], 2)), { message: 'embedId: W must be 2-D (V, D), got W (3, 2, 1)' });
});

devices.each('embedId: forward and the gradient of W against the float64 CPU run and plain indexing', async (t, device) => {
  const W = uniform([6, 5], 6), ids = [5, 0, 3, 3, 1, 5, 2, 0];
  await checkOnDevices('embedId', (embedId) => (x, w) => embedId(x, w), [int32(ids, [2, 4]), W], { device, expected: [refEmbed(ids, W)] });
  const withIgnored = [5, -1, 3, -1];
  await checkOnDevices('embedId', (embedId) => (x, w) => embedId(x, w, { ignoreLabel: -1 }), [int32(withIgnored), W], { device, expected: [refEmbed(withIgnored, W, -1)] });
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('embedId: a fractional ignoreLabel and null options are named, not a TypeError', (t, device) => {
  const W = on(device, uniform([2, 3], 1)), ids = int32([0, 1]).to(device);
  t.throws(() => F.embedId(ids, W, { ignoreLabel: 1.5 }), { message: 'embedId: option ignoreLabel must be an integer, got 1.5' });
  t.throws(() => F.embedId(ids, W, null as never), { message: 'embedId: options must be an object, got null' });
});
