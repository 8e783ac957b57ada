// Convolution2D and Deconvolution2D links: parameter shapes and defaults, lazy channels, forward equal to the functions, gradients, bad arguments.

import test from 'ava';
import { NDArray, Variable, seed, F, L } from '../../runtime/index.js';
import { allclose, uniform as uniform64 } from '../helpers.js';

const uniform = (shape: number[], s: number): NDArray => new NDArray(new Float32Array(uniform64(shape, s).toFlat()), shape);

test('Convolution2D: W (out, in / groups, kh, kw) LeCun normal, b zero; forward is F.convolution2d with the options', (t) => {
  seed(0);
  const conv = new L.Convolution2D(4, 6, [3, 2], { stride: 2, pad: 1, groups: 2 });
  t.deepEqual(conv.W.shape, [6, 2, 3, 2]);
  t.deepEqual(Array.from(conv.b!.data.toFlat()), new Array(6).fill(0));
  const big = new L.Convolution2D(50, 64, 3);
  const w = Array.from(big.W.data.toFlat()), std = Math.sqrt(w.reduce((a, b) => a + b * b, 0) / w.length);
  t.true(Math.abs(std / Math.sqrt(1 / (50 * 9)) - 1) < 0.03, `std ${std}`);
  const x = uniform([2, 4, 5, 5], 1);
  const y = conv.forward(x);
  allclose(t, y.data, F.convolution2d(x, conv.W, conv.b!, { stride: 2, pad: 1, groups: 2 }).data, { atol: 0 });
  t.deepEqual(y.shape, [2, 6, 3, 3]);
});

test('Convolution2D: inChannels null takes the channels from the first input; nobias; gradients reach W, b and x', (t) => {
  const conv = new L.Convolution2D(null, 3, 2);
  t.false(conv.W.isInitialized);
  const x = new Variable(uniform([1, 5, 4, 4], 2));
  F.sum(conv.forward(x)).backward();
  t.deepEqual(conv.W.shape, [3, 5, 2, 2]);
  for (const g of [conv.W.grad, conv.b!.grad, x.grad]) t.true(g !== null && Array.from(g.toFlat()).some((v) => v !== 0));
  t.is(new L.Convolution2D(2, 3, 1, { nobias: true }).b, null);
  t.deepEqual([...new L.Convolution2D(2, 3, 1, { nobias: true }).namedParams()].map(([n]) => n), ['/W']);
});

test('Deconvolution2D: W (in, out / groups, kh, kw); forward is F.deconvolution2d, outsize honoured', (t) => {
  const deconv = new L.Deconvolution2D(4, 3, 4, { stride: 2, pad: 1, initialBias: L.initializers.constant(0.5) });
  t.deepEqual(deconv.W.shape, [4, 3, 4, 4]);
  const x = uniform([2, 4, 5, 5], 3);
  const y = deconv.forward(x);
  t.deepEqual(y.shape, [2, 3, 10, 10]);
  allclose(t, y.data, F.deconvolution2d(x, deconv.W, deconv.b!, { stride: 2, pad: 1 }).data, { atol: 0 });
  const odd = new L.Deconvolution2D(null, 2, 3, { stride: 2, outsize: [12, 12] });  // 11 by default; 12 maps back to 5 too
  t.deepEqual(odd.forward(x).shape, [2, 2, 12, 12]);
  t.deepEqual(odd.W.shape, [4, 2, 3, 3]);
});

test('Convolution2D, Deconvolution2D: bad arguments name the link and the setting', (t) => {
  t.throws(() => new L.Convolution2D(3, 0, 3), { message: 'Convolution2D: outChannels must be a positive integer, got 0' });
  t.throws(() => new L.Convolution2D(3, 4, 3, { groups: 2 }), { message: 'Convolution2D: inChannels (3) must be divisible by groups (2)' });
  t.throws(() => new L.Convolution2D(3, 4, [3, 0]), { message: 'Convolution2D: ksize must be a positive integer or a pair of them, got [3,0]' });
  t.throws(() => new L.Convolution2D(null, 4, 3).forward(uniform([2, 3], 1)), { message: 'Convolution2D: x must be 4-D (N, C, H, W), got x (2, 3)' });
  t.throws(() => new L.Deconvolution2D(2.5, 4, 3), { message: 'Deconvolution2D: inChannels must be a positive integer or null, got 2.5' });
  t.throws(() => new L.Convolution2D(3, 4, 3).forward(uniform([1, 2, 5, 5], 1)), { message: /^convolution2d: / });
});
