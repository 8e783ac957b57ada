// unpooling2d: forward against scatter loops written from the definition, gradients, outsize and coverAll, bad inputs, both devices.

import test from 'ava';
import { NDArray, RandomState, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, on, uniform, useDevices } from '../helpers.js';
import { defaultLen, refUnpool } from './references.js';

const devices = await useDevices(test);

interface Unpool { ksize: [number, number]; stride: [number, number]; pad: [number, number]; coverAll: boolean; outsize?: [number, number] }
/** The options object: ksize is an argument of its own (an unknown option is refused). */
const optsOf = ({ ksize: _, ...rest }: Unpool) => rest;

const outLen = (size: number, k: number, s: number, p: number, coverAll: boolean) =>
  (coverAll ? Math.ceil((size + 2 * p - k) / s) : Math.floor((size + 2 * p - k) / s)) + 1;

function randomCases(count: number, seed: number): { xs: number[]; unpool: Unpool }[] {
  const rng = new RandomState(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.uniform() * (hi - lo + 1));
  const cases = [];
  while (cases.length < count) {
    const ksize: [number, number] = [int(1, 3), int(1, 3)];
    const unpool: Unpool = { ksize, stride: [int(1, 3), int(1, 3)], pad: [int(0, 1), int(0, 1)], coverAll: rng.uniform() < 0.5 };
    const xs = [int(1, 2), int(1, 3), int(1, 4), int(1, 4)];
    const H = defaultLen(xs[2], ksize[0], unpool.stride[0], unpool.pad[0], unpool.coverAll);
    const W = defaultLen(xs[3], ksize[1], unpool.stride[1], unpool.pad[1], unpool.coverAll);
    if (H < 1 || W < 1 || outLen(H, ksize[0], unpool.stride[0], unpool.pad[0], unpool.coverAll) !== xs[2] || outLen(W, ksize[1], unpool.stride[1], unpool.pad[1], unpool.coverAll) !== xs[3]) continue;
    cases.push({ xs, unpool });
  }
  return cases;
}

const CASES = randomCases(12, 9);

test('unpooling2d: forward equals the definition over random ksize, stride, pad and coverAll (float64)', (t) => {
  CASES.forEach(({ xs, unpool }, k) => {
    const x = uniform(xs, 10 + k);
    const y = F.unpooling2d(x, unpool.ksize, optsOf(unpool));
    const ref = refUnpool(x, unpool);
    t.deepEqual(y.shape, ref.shape, `case ${k} ${JSON.stringify(unpool)}`);
    allclose(t, y.data, ref.data, { atol: 1e-12, rtol: 1e-5 });
  });
});

test('unpooling2d: 2x2 copies each cell over its window; outsize picks among the sizes a stride allows', (t) => {
  const x = array([[[[1, 2], [3, 4]]]], undefined, 'float64');
  t.deepEqual(F.unpooling2d(x, 2, { coverAll: false }).data.toArray(), [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
  // coverAll (the default): the 3 x 3 maxPooling2d(., 2) would also have pooled to 2 x 2
  t.deepEqual(F.unpooling2d(x, 2).shape, [1, 1, 3, 3]);
  const y = F.unpooling2d(x, 2, { outsize: [4, 3] });
  allclose(t, y.data, refUnpool(x, { ksize: [2, 2], stride: [2, 2], pad: [0, 0], coverAll: true, outsize: [4, 3] }).data);
});

test('unpooling2d: gradients and double backward match numerical ones (float64)', (t) => {
  CASES.slice(0, 8).forEach(({ xs, unpool }, k) => {
    checkOpBackward('unpooling2d', (unpooling2d) => (x) => unpooling2d(x, unpool.ksize, optsOf(unpool)), [uniform(xs, 100 + k)]);
  });
  const { xs, unpool } = CASES[0];
  const x = uniform(xs, 200);
  checkOpDoubleBackward('unpooling2d', (unpooling2d) => (a) => F.mul(unpooling2d(a, unpool.ksize, optsOf(unpool)), unpooling2d(a, unpool.ksize, optsOf(unpool))), [x], [uniform(refUnpool(x, unpool).shape, 201)]);
  t.pass();
});

test('unpooling2d: bad inputs name the op, the argument, and expected vs seen', (t) => {
  const x = uniform([1, 2, 3, 3], 1);
  t.throws(() => F.unpooling2d(uniform([2, 3, 3], 1), 2), { message: 'unpooling2d: x must be 4-D (N, C, h, w), got x (2, 3, 3)' });
  t.throws(() => F.unpooling2d(x, 0), { message: 'unpooling2d: ksize must be an integer >= 1 or a pair of them, got 0' });
  t.throws(() => F.unpooling2d(x, 2, { outsize: [8, 6] }), {
    message: 'unpooling2d: outsize (8, 6) does not fit x (1, 2, 3, 3) with ksize (2, 2), stride (2, 2), pad (0, 0), coverAll true: pooling would map it to (4, 3), not (3, 3)',
  });
  t.throws(() => F.unpooling2d(array([1], [1, 1, 1, 1], 'int32'), 1), { message: 'unpooling2d: expected a float array, got x int32' });
});

devices.each('unpooling2d: forward and gradient equal the CPU over random geometries', async (t, device) => {
  for (const [k, { xs, unpool }] of CASES.entries()) {
    const x = uniform(xs, 300 + k);
    await checkOnDevices('unpooling2d', (unpooling2d) => (p) => unpooling2d(p, unpool.ksize, optsOf(unpool)), [x], { device, expected: [refUnpool(x, unpool).data] });
  }
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('unpooling2d: an unknown option or a coverAll that is not a boolean is named, not ignored', (t, device) => {
  const x = on(device, uniform([1, 1, 1, 1], 1));
  t.throws(() => F.unpooling2d(x, 1, { strides: 1 } as never), { message: "unpooling2d: unknown option 'strides'; the options are stride, pad, outsize, coverAll" });
  t.throws(() => F.unpooling2d(x, 1, { coverAll: 'yes' } as never), { message: "unpooling2d: option coverAll must be a boolean, got 'yes'" });
});
