// maxPooling2d: forward against loops written from the definition, gradients (ties avoided), coverAll, bad inputs, both devices.

import test from 'ava';
import { NDArray, RandomState, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, distinct, on, uniform, useDevices } from '../helpers.js';
import { outLen, refMaxPool } from './references.js';

const devices = await useDevices(test);

interface Pool { ksize: [number, number]; stride: [number, number]; pad: [number, number]; coverAll: boolean }
/** The options object: ksize is an argument of its own (an unknown option is refused). */
const optsOf = ({ ksize: _, ...rest }: Pool) => rest;

function randomCases(count: number, seed: number): { xs: number[]; pool: Pool }[] {
  const rng = new RandomState(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.uniform() * (hi - lo + 1));
  const cases = [];
  while (cases.length < count) {
    const ksize: [number, number] = [int(1, 3), int(1, 3)];
    const pool: Pool = { ksize, stride: [int(1, 3), int(1, 3)], pad: [int(0, ksize[0] - 1), int(0, ksize[1] - 1)], coverAll: rng.uniform() < 0.5 };
    const xs = [int(1, 2), int(1, 3), int(2, 7), int(2, 7)];
    const ho = outLen(xs[2], ksize[0], pool.stride[0], pool.pad[0], pool.coverAll), wo = outLen(xs[3], ksize[1], pool.stride[1], pool.pad[1], pool.coverAll);
    // skip geometries with a window of padding alone (the op refuses them, tested below)
    if (ho < 1 || wo < 1 || (ho - 1) * pool.stride[0] - pool.pad[0] >= xs[2] || (wo - 1) * pool.stride[1] - pool.pad[1] >= xs[3]) continue;
    cases.push({ xs, pool });
  }
  return cases;
}

const CASES = randomCases(14, 3);

test('maxPooling2d: forward equals the definition over random ksize, stride, pad and coverAll (float64)', (t) => {
  CASES.forEach(({ xs, pool }, k) => {
    const x = uniform(xs, 10 + k);
    const y = F.maxPooling2d(x, pool.ksize, optsOf(pool));
    const ref = refMaxPool(x, pool);
    t.deepEqual(y.shape, ref.shape, `case ${k} ${JSON.stringify(pool)}`);
    allclose(t, y.data, ref.data, { atol: 0, rtol: 0 });
  });
});

test('maxPooling2d: stride defaults to ksize, coverAll to true (Caffe rounding); coverAll false floors', (t) => {
  const x = uniform([1, 2, 5, 5], 1);
  t.deepEqual(F.maxPooling2d(x, 2).shape, [1, 2, 3, 3]);
  t.deepEqual(F.maxPooling2d(x, 2, { coverAll: false }).shape, [1, 2, 2, 2]);
  t.deepEqual(F.maxPooling2d(x, 3, { stride: 2 }).shape, [1, 2, 2, 2]);
  allclose(t, F.maxPooling2d(x, 2).data, refMaxPool(x, { ksize: [2, 2], stride: [2, 2], pad: [0, 0], coverAll: true }).data);
  // ties: the gradient goes to the first cell of the window only
  const flat = new Variable(array([[[[1, 1], [1, 1]]]], undefined, 'float64'));
  F.sum(F.maxPooling2d(flat, 2)).backward();
  t.deepEqual(Array.from(flat.grad!.toFlat()), [1, 0, 0, 0]);
});

test('maxPooling2d: gradients and double backward match numerical ones (distinct values, float64)', (t) => {
  CASES.slice(0, 8).forEach(({ xs, pool }, k) => {
    checkOpBackward('maxPooling2d', (maxPooling2d) => (x) => maxPooling2d(x, pool.ksize, optsOf(pool)), [distinct(xs, 100 + k)]);
  });
  for (const { xs, pool } of CASES.slice(0, 3)) {
    const x = distinct(xs, 200);
    checkOpDoubleBackward('maxPooling2d', (maxPooling2d) => (a) => F.mul(maxPooling2d(a, pool.ksize, optsOf(pool)), maxPooling2d(a, pool.ksize, optsOf(pool))), [x], [uniform(refMaxPool(x, pool).shape, 201)]);
  }
  t.pass();
});

test('maxPooling2d: bad inputs name the op, the argument, and expected vs seen', (t) => {
  const x = uniform([2, 3, 4, 4], 1);
  t.throws(() => F.maxPooling2d(uniform([3, 4, 4], 1), 2), { message: 'maxPooling2d: x must be 4-D (N, C, H, W), got x (3, 4, 4)' });
  t.throws(() => F.maxPooling2d(x, 0), { message: 'maxPooling2d: ksize must be an integer >= 1 or a pair of them, got 0' });
  t.throws(() => F.maxPooling2d(x, [2, 2], { stride: [1, 1.5] }), { message: 'maxPooling2d: stride must be an integer >= 1 or a pair of them, got [1,1.5]' });
  t.throws(() => F.maxPooling2d(x, 5, { coverAll: false }), { message: 'maxPooling2d: x (2, 3, 4, 4) with ksize (5, 5), stride (5, 5), pad (0, 0), coverAll false gives an empty output (0, 0)' });
  t.throws(() => F.maxPooling2d(x, 2, { pad: 2 }), { message: 'maxPooling2d: x (2, 3, 4, 4) with ksize (2, 2), stride (2, 2), pad (2, 2), coverAll true has windows that lie entirely in the padding; use a pad smaller than ksize' });
  t.throws(() => F.maxPooling2d(array([1], [1, 1, 1, 1], 'int32'), 1), { message: 'maxPooling2d: expected a float array, got x int32' });
});

devices.each('maxPooling2d: forward and gradient equal the CPU over random geometries, and on a strided view', async (t, device) => {
  for (const [k, { xs, pool }] of CASES.entries()) {
    const x = distinct(xs, 300 + k);
    await checkOnDevices('maxPooling2d', (maxPooling2d) => (p) => maxPooling2d(p, pool.ksize, optsOf(pool)), [x], { device, expected: [refMaxPool(x, pool).data] });
  }
  await checkOnDevices('maxPooling2d', (maxPooling2d) => (p) => maxPooling2d(F.transpose(p, [0, 1, 3, 2]), 2), [distinct([2, 3, 6, 5], 9)], { device });
  await checkOnDevices('maxPooling2d', (maxPooling2d) => (p) => maxPooling2d(p, 2), [distinct([5, 20, 24, 24], 10, 0.01)], { device });
  t.pass();
});

// WebGPU's backward for windows that do not overlap (stride >= ksize) writes each cell from the
// window that owns it: gaps between windows, padding, and rows left over by coverAll false must come out zero.
devices.each('maxPooling2d: gradients of windows that do not overlap, with gaps, padding and leftover rows', async (t, device) => {
  const pools: Pool[] = [
    { ksize: [2, 2], stride: [2, 2], pad: [0, 0], coverAll: false },
    { ksize: [2, 2], stride: [3, 3], pad: [0, 0], coverAll: false },
    { ksize: [2, 3], stride: [3, 4], pad: [1, 2], coverAll: true },
    { ksize: [3, 2], stride: [3, 2], pad: [2, 1], coverAll: false },
    { ksize: [1, 1], stride: [2, 3], pad: [0, 0], coverAll: false },
  ];
  for (const [k, pool] of pools.entries()) {
    const x = distinct([2, 3, 9, 11], 500 + k);
    await checkOnDevices('maxPooling2d', (maxPooling2d) => (p) => maxPooling2d(p, pool.ksize, optsOf(pool)), [x], { device, expected: [refMaxPool(x, pool).data] });
  }
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('maxPooling2d: an unknown option or a coverAll that is not a boolean is named, not ignored', (t, device) => {
  const x = on(device, uniform([1, 1, 2, 2], 1));
  t.throws(() => F.maxPooling2d(x, [1, 1], { strides: 1 } as never), { message: "maxPooling2d: unknown option 'strides'; the options are stride, pad, coverAll" });
  t.throws(() => F.maxPooling2d(x, 1, { coverAll: 1 } as never), { message: 'maxPooling2d: option coverAll must be a boolean, got 1' });
});
