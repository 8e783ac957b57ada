// deconvolution2d: forward against scatter loops written from the definition, gradients, outsize, bad inputs, both devices.

import test from 'ava';
import { NDArray, RandomState, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, on, uniform, useDevices } from '../helpers.js';
import { refDeconv } from './references.js';

const devices = await useDevices(test);

interface Deconv { stride: [number, number]; pad: [number, number]; dilate: [number, number]; groups: number; outsize?: [number, number] }

function randomCases(count: number, seed: number): { xs: number[]; ws: number[]; deconv: Deconv }[] {
  const rng = new RandomState(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.uniform() * (hi - lo + 1));
  const cases = [];
  while (cases.length < count) {
    const groups = int(1, 3), cg = int(1, 2), og = int(1, 2), kh = int(1, 3), kw = int(1, 3);
    const deconv: Deconv = { stride: [int(1, 3), int(1, 3)], pad: [int(0, 1), int(0, 1)], dilate: [int(1, 2), int(1, 2)], groups };
    const h = int(1, 4), w = int(1, 4);
    const H = deconv.stride[0] * (h - 1) + (kh - 1) * deconv.dilate[0] + 1 - 2 * deconv.pad[0];
    const W = deconv.stride[1] * (w - 1) + (kw - 1) * deconv.dilate[1] + 1 - 2 * deconv.pad[1];
    if (H < 1 || W < 1) continue;
    // sometimes the larger outsizes a stride allows (up to s - 1 more)
    if (rng.uniform() < 0.4) deconv.outsize = [H + int(0, deconv.stride[0] - 1), W + int(0, deconv.stride[1] - 1)];
    cases.push({ xs: [int(1, 2), groups * cg, h, w], ws: [groups * cg, og, kh, kw], deconv });
  }
  return cases;
}

const CASES = randomCases(12, 11);

test('deconvolution2d: forward equals the definition over random stride, pad, dilation, groups and outsize (float64)', (t) => {
  CASES.forEach(({ xs, ws, deconv }, k) => {
    const x = uniform(xs, 10 + k), W = uniform(ws, 40 + k), b = uniform([ws[1] * deconv.groups], 70 + k);
    const y = F.deconvolution2d(x, W, b, deconv);
    const ref = refDeconv(x, W, b, deconv);
    t.deepEqual(y.shape, ref.shape, `case ${k} ${JSON.stringify(deconv)}`);
    allclose(t, y.data, ref.data, { atol: 1e-12, rtol: 1e-5 });
  });
});

test('deconvolution2d: is the gradient of convolution2d with respect to x', (t) => {
  const x = uniform([2, 4, 7, 6], 1), W = uniform([6, 2, 3, 3], 2), gy = uniform([2, 6, 4, 3], 3);
  const opts = { stride: 2, pad: 1, groups: 2 } as const;
  const xv = new Variable(x);
  F.sum(F.mul(F.convolution2d(xv, W, undefined, opts), gy)).backward();
  allclose(t, xv.grad!, F.deconvolution2d(gy, W, undefined, { ...opts, outsize: [7, 6] }).data, { atol: 1e-12, rtol: 1e-10 });
});

test('deconvolution2d: gradients of x, W and b match numerical ones, and double backward (float64)', (t) => {
  CASES.slice(0, 8).forEach(({ xs, ws, deconv }, k) => {
    checkOpBackward('deconvolution2d', (deconvolution2d) => (x, W, b) => deconvolution2d(x, W, b, deconv),
      [uniform(xs, 100 + k), uniform(ws, 130 + k), uniform([ws[1] * deconv.groups], 160 + k)]);
  });
  for (const { xs, ws, deconv } of CASES.slice(0, 3)) {
    const x = uniform(xs, 200), W = uniform(ws, 201);
    checkOpDoubleBackward('deconvolution2d', (deconvolution2d) => (a, b) => deconvolution2d(a, b, undefined, deconv), [x, W], [uniform(refDeconv(x, W, null, deconv).shape, 202)]);
  }
  t.pass();
});

test('deconvolution2d: bad inputs name the op, the argument, and expected vs seen', (t) => {
  const x = uniform([2, 4, 3, 3], 1), W = uniform([4, 3, 2, 2], 2);
  t.throws(() => F.deconvolution2d(uniform([4, 3, 3], 1), W), { message: 'deconvolution2d: x must be 4-D (N, C, h, w), got x (4, 3, 3)' });
  t.throws(() => F.deconvolution2d(x, uniform([4, 3, 2], 2)), { message: 'deconvolution2d: W must be 4-D (in, out / groups, kh, kw), got W (4, 3, 2)' });
  t.throws(() => F.deconvolution2d(x, uniform([5, 3, 2, 2], 2)), { message: 'deconvolution2d: x (2, 4, 3, 3) has 4 channels but W (5, 3, 2, 2) takes 5' });
  t.throws(() => F.deconvolution2d(x, W, undefined, { groups: 3 }), { message: "deconvolution2d: groups must be a positive integer dividing x's 4 channels, got 3" });
  t.throws(() => F.deconvolution2d(x, W, uniform([3], 3), { groups: 2 }), { message: 'deconvolution2d: b (3,) does not match W (4, 3, 2, 2) with groups 2: expected b (6,)' });
  t.deepEqual(F.deconvolution2d(x, W, undefined, { stride: 2 }).shape, [2, 3, 6, 6]);
  t.deepEqual(F.deconvolution2d(x, W, undefined, { stride: 2, outsize: [7, 6] }).shape, [2, 3, 7, 6]);
  t.throws(() => F.deconvolution2d(x, W, undefined, { stride: 2, outsize: [8, 6] }), {
    message: 'deconvolution2d: outsize (8, 6) does not fit x (2, 4, 3, 3) with W (4, 3, 2, 2), stride (2, 2), pad (0, 0), dilate (1, 1): a convolution would map it to (4, 3), not (3, 3)',
  });
  t.throws(() => F.deconvolution2d(x, W, undefined, { stride: [2, 0] }), { message: 'deconvolution2d: stride must be an integer >= 1 or a pair of them, got [2,0]' });
  t.throws(() => F.deconvolution2d(array([1], [1, 1, 1, 1], 'int32'), array([1], [1, 1, 1, 1], 'int32')), { message: 'deconvolution2d: expected float arrays, got x int32, W int32' });
});

devices.each('deconvolution2d: forward and every gradient equal the CPU over random geometries', async (t, device) => {
  for (const [k, { xs, ws, deconv }] of CASES.entries()) {
    const x = uniform(xs, 300 + k), W = uniform(ws, 330 + k), b = uniform([ws[1] * deconv.groups], 360 + k);
    await checkOnDevices('deconvolution2d', (deconvolution2d) => (p, q, r) => deconvolution2d(p, q, r, deconv), [x, W, b], { device, expected: [refDeconv(x, W, b, deconv).data] });
  }
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('deconvolution2d: an unknown option is named, not ignored', (t, device) => {
  const x = on(device, uniform([1, 1, 1, 1], 1)), W = on(device, uniform([1, 1, 3, 1], 2));
  t.throws(() => F.deconvolution2d(x, W, undefined, { strides: 1 } as never), { message: "deconvolution2d: unknown option 'strides'; the options are stride, pad, outsize, dilate, groups" });
});
