// convolution2d: forward against loops written from the definition, gradients (first and second order), bad inputs, both devices.

import test from 'ava';
import { NDArray, RandomState, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOnDevices, checkOpBackward, checkOpDoubleBackward, on, uniform, useDevices } from '../helpers.js';
import { refConv } from './references.js';

const devices = await useDevices(test);
const f32 = (x: NDArray): NDArray => new NDArray(new Float32Array(x.toFlat()), x.shape.slice());

interface Conv { stride: [number, number]; pad: [number, number]; dilate: [number, number]; groups: number }

/** Random geometries that still give an output of at least 1 x 1. */
function randomCases(count: number, seed: number): { xs: number[]; ws: number[]; conv: Conv }[] {
  const rng = new RandomState(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.uniform() * (hi - lo + 1));
  const cases = [];
  while (cases.length < count) {
    const groups = int(1, 3), cg = int(1, 2), og = int(1, 2);
    const kh = int(1, 3), kw = int(1, 3);
    const conv: Conv = { stride: [int(1, 3), int(1, 3)], pad: [int(0, 2), int(0, 2)], dilate: [int(1, 2), int(1, 2)], groups };
    const H = int(3, 7), W = int(3, 7);
    if (H + 2 * conv.pad[0] < (kh - 1) * conv.dilate[0] + 1 || W + 2 * conv.pad[1] < (kw - 1) * conv.dilate[1] + 1) continue;
    cases.push({ xs: [int(1, 2), groups * cg, H, W], ws: [groups * og, cg, kh, kw], conv });
  }
  return cases;
}

const CASES = randomCases(12, 7);

test('convolution2d: forward equals the definition over random stride, pad, dilation and groups (float64)', (t) => {
  CASES.forEach(({ xs, ws, conv }, k) => {
    const x = uniform(xs, 10 + k), W = uniform(ws, 40 + k), b = uniform([ws[0]], 70 + k);
    for (const bias of [b, null]) {
      const y = bias ? F.convolution2d(x, W, bias, conv) : F.convolution2d(x, W, undefined, conv);
      const ref = refConv(x, W, bias, conv);
      t.deepEqual(y.shape, ref.shape, `case ${k} ${JSON.stringify(conv)}`);
      allclose(t, y.data, ref.data, { atol: 1e-12, rtol: 1e-5 });
    }
  });
});

test('convolution2d: float32 forward on the CPU (the WebAssembly GEMM) within 1e-5 relative of the definition', (t) => {
  for (const { xs, ws, conv } of CASES.slice(0, 6)) {
    const x = uniform(xs, 1), W = uniform(ws, 2), b = uniform([ws[0]], 3);
    const y = F.convolution2d(f32(x), f32(W), f32(b), conv);
    t.is(y.dtype, 'float32');
    allclose(t, y.data, refConv(x, W, b, conv).data, { atol: 1e-5, rtol: 1e-5 });
  }
});

test('convolution2d: ints mean the same on both axes; a LeNet-sized layer', (t) => {
  const x = uniform([2, 3, 9, 8], 5), W = uniform([4, 3, 3, 3], 6);
  const a = F.convolution2d(x, W, undefined, { stride: 2, pad: 1, dilate: 2 });
  const ref = refConv(x, W, null, { stride: [2, 2], pad: [1, 1], dilate: [2, 2], groups: 1 });
  allclose(t, a.data, ref.data, { atol: 1e-12, rtol: 1e-5 });
  const big = F.convolution2d(uniform([3, 1, 28, 28], 8), uniform([20, 1, 5, 5], 9));
  t.deepEqual(big.shape, [3, 20, 24, 24]);
  allclose(t, big.data, refConv(uniform([3, 1, 28, 28], 8), uniform([20, 1, 5, 5], 9), null, { stride: [1, 1], pad: [0, 0], dilate: [1, 1], groups: 1 }).data, { atol: 1e-12, rtol: 1e-5 });
});

test('convolution2d: gradients of x, W and b match numerical ones over random geometries (float64)', (t) => {
  CASES.slice(0, 8).forEach(({ xs, ws, conv }, k) => {
    checkOpBackward('convolution2d', (convolution2d) => (x, W, b) => convolution2d(x, W, b, conv),
      [uniform(xs, 100 + k), uniform(ws, 130 + k), uniform([ws[0]], 160 + k)]);
  });
  t.pass();
});

test('convolution2d: double backward (the transposed conv and the weight gradient are differentiable too)', (t) => {
  for (const { xs, ws, conv } of CASES.slice(0, 3)) {
    const x = uniform(xs, 200), W = uniform(ws, 201);
    const gy = uniform(refConv(x, W, null, conv).shape, 202);
    checkOpDoubleBackward('convolution2d', (convolution2d) => (a, b) => convolution2d(a, b, undefined, conv), [x, W], [gy]);
  }
  t.pass();
});

test('convolution2d: double backward with a bias (the weight gradient node also gives gb, and its backward carries ggb)', (t) => {
  for (const { xs, ws, conv } of CASES.slice(3, 6)) {
    const x = uniform(xs, 210), W = uniform(ws, 211), b = uniform([ws[0]], 212);
    const gy = uniform(refConv(x, W, b, conv).shape, 213);
    checkOpDoubleBackward('convolution2d', (convolution2d) => (p, q, r) => convolution2d(p, q, r, conv), [x, W, b], [gy]);
  }
  t.pass();
});

test('convolution2d: bad inputs name the op, the argument, and expected vs seen', (t) => {
  const x = uniform([2, 4, 5, 5], 1), W = uniform([6, 2, 3, 3], 2);
  t.throws(() => F.convolution2d(uniform([4, 5, 5], 1), W), { message: 'convolution2d: x must be 4-D (N, C, H, W), got x (4, 5, 5)' });
  t.throws(() => F.convolution2d(x, uniform([6, 4, 3], 2)), { message: 'convolution2d: W must be 4-D (out, in / groups, kh, kw), got W (6, 4, 3)' });
  t.throws(() => F.convolution2d(x, W), { message: 'convolution2d: x (2, 4, 5, 5) has 4 channels, so W needs 4 input channels per group (groups 1), got W (6, 2, 3, 3)' });
  t.throws(() => F.convolution2d(x, W, undefined, { groups: 3 }), { message: "convolution2d: groups must be a positive integer dividing x's 4 channels and W's 6 output channels, got 3" });
  t.notThrows(() => F.convolution2d(x, W, undefined, { groups: 2 }));
  t.throws(() => F.convolution2d(x, W, uniform([5], 3), { groups: 2 }), { message: 'convolution2d: b (5,) does not match W (6, 2, 3, 3): expected b (6,)' });
  t.throws(() => F.convolution2d(x, W, undefined, { groups: 2, stride: 0 }), { message: 'convolution2d: stride must be an integer >= 1 or a pair of them, got 0' });
  t.throws(() => F.convolution2d(x, W, undefined, { groups: 2, pad: [1, -1] }), { message: 'convolution2d: pad must be an integer >= 0 or a pair of them, got [1,-1]' });
  t.throws(() => F.convolution2d(x, W, undefined, { groups: 2, dilate: 3 }), {
    message: 'convolution2d: x (2, 4, 5, 5) with W (6, 2, 3, 3), stride (1, 1), pad (0, 0), dilate (3, 3) gives an empty output (2, 6, 0, 0)',
  });
  t.throws(() => F.convolution2d(x, f32(W), undefined, { groups: 2 }), { message: 'convolution2d: dtypes differ: x float64, W float32' });
  t.throws(() => F.convolution2d(array([1, 2, 3, 4], [1, 1, 2, 2], 'int32'), array([1], [1, 1, 1, 1], 'int32')), { message: 'convolution2d: expected float arrays, got x int32, W int32' });
  t.true(new Variable(x).requiresGrad);
});

devices.each('convolution2d: forward and every gradient equal the CPU over random stride, pad, dilation and groups', async (t, device) => {
  for (const [k, { xs, ws, conv }] of CASES.entries()) {
    const x = uniform(xs, 300 + k), W = uniform(ws, 330 + k), b = uniform([ws[0]], 360 + k);
    await checkOnDevices('convolution2d', (convolution2d) => (p, q, r) => convolution2d(p, q, r, conv), [x, W, b], { device, expected: [refConv(x, W, b, conv).data] });
  }
  t.pass();
});

devices.each('convolution2d: a strided (transposed) x view, and a LeNet-sized layer', async (t, device) => {
  const x = uniform([2, 3, 6, 7], 1), W = uniform([5, 3, 3, 2], 2);
  await checkOnDevices('convolution2d', (convolution2d) => (p, q) => convolution2d(F.transpose(p, [0, 1, 3, 2]), q, undefined, { pad: [1, 0] }), [x, W], { device });
  await checkOnDevices('convolution2d', (convolution2d) => (p, q, r) => convolution2d(p, q, r), [uniform([4, 1, 28, 28], 3), uniform([20, 1, 5, 5], 4), uniform([20], 5)], { device, atol: 1e-4 });
  t.pass();
});

// WebGPU's per-image GEMMs read rows of ho wo cells as vec4s; LeNet's second layer (8 x 8 out),
// an output whose rows are not a multiple of 4 (5 x 3), groups with a bias, and rows of 4k cells each take another path.
devices.each('convolution2d: the second LeNet layer, rows of ho wo not a multiple of 4, groups with a bias', async (t, device) => {
  const cases: { xs: number[]; ws: number[]; conv: Conv }[] = [
    { xs: [3, 20, 12, 12], ws: [50, 20, 5, 5], conv: { stride: [1, 1], pad: [0, 0], dilate: [1, 1], groups: 1 } },
    { xs: [2, 4, 7, 5], ws: [6, 4, 3, 3], conv: { stride: [1, 1], pad: [0, 0], dilate: [1, 1], groups: 1 } },
    { xs: [2, 6, 9, 8], ws: [4, 3, 3, 2], conv: { stride: [2, 1], pad: [1, 1], dilate: [1, 2], groups: 2 } },
    // output rows a multiple of 4 wide (filled 4 cells at a time on WebGPU), with padding, dilation, strides, groups
    { xs: [2, 4, 9, 7], ws: [6, 2, 3, 2], conv: { stride: [2, 1], pad: [1, 1], dilate: [2, 1], groups: 2 } },
    { xs: [1, 3, 5, 7], ws: [2, 3, 2, 1], conv: { stride: [1, 2], pad: [0, 0], dilate: [1, 1], groups: 1 } },
  ];
  for (const [k, { xs, ws, conv }] of cases.entries()) {
    const x = uniform(xs, 400 + k), W = uniform(ws, 410 + k), b = uniform([ws[0]], 420 + k);
    await checkOnDevices('convolution2d', (convolution2d) => (p, q, r) => convolution2d(p, q, r, conv), [x, W, b], { device, atol: 1e-4, expected: [refConv(x, W, b, conv).data] });
  }
  t.pass();
});

// Found by the property test (test/properties): options are checked by name before any work, on both devices.
devices.each('convolution2d: an unknown option is named, not ignored', (t, device) => {
  const x = on(device, uniform([1, 1, 2, 2], 1)), W = on(device, uniform([1, 1, 1, 1], 2));
  t.throws(() => F.convolution2d(x, W, undefined, { strides: 2 } as never), { message: "convolution2d: unknown option 'strides'; the options are stride, pad, dilate, groups" });
});
