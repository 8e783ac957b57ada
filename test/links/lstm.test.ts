// LSTM link: Chainer's initial biases, stateful steps equal to F.lstm by hand, resetState, shrinking batches, truncation.

import test from 'ava';
import { NDArray, Variable, array, F, L } from '../../runtime/index.js';
import { allclose, uniform as uniform64 } from '../helpers.js';

/** Seeded uniform values as float32, the links' dtype. */
const uniform = (shape: number[], seed: number, lo = -1, hi = 1): NDArray => new NDArray(new Float32Array(uniform64(shape, seed, lo, hi).toFlat()), shape);

test('LSTM: upward (with bias) and lateral (without); the forget-gate bias starts at 1, the rest at 0', (t) => {
  const l = new L.LSTM(3, 2);
  t.deepEqual([...l.namedParams()].map(([n]) => n).sort(), ['/lateral/W', '/upward/W', '/upward/b']);
  t.deepEqual(l.upward.W.shape, [8, 3]);
  t.deepEqual(l.lateral.W.shape, [8, 2]);
  t.deepEqual(Array.from(l.upward.b!.data.toFlat()), [0, 0, 1, 0, 0, 0, 1, 0]);
  t.deepEqual(Array.from(new L.LSTM(3, 2, { forgetBiasInit: 0.5, biasInit: -1 }).upward.b!.data.toFlat()), [-1, -1, 0.5, -1, -1, -1, 0.5, -1]);
});

test('LSTM: two steps equal F.lstm driven by hand; resetState starts over', (t) => {
  const l = new L.LSTM(3, 2);
  const x1 = uniform([4, 3], 1), x2 = uniform([4, 3], 2);
  const h1 = l.forward(x1), h2 = l.forward(x2);
  const c0 = array(new Array(8).fill(0), [4, 2]);
  const [c1, r1] = F.lstm(c0, l.upward.forward(x1));
  const [, r2] = F.lstm(c1, F.add(l.upward.forward(x2), l.lateral.forward(r1)));
  allclose(t, h1.data, r1.data, { atol: 1e-6 });
  allclose(t, h2.data, r2.data, { atol: 1e-6 });
  l.resetState();
  t.is(l.h, null);
  allclose(t, l.forward(x1).data, r1.data, { atol: 1e-6 });
});

test('LSTM: a smaller batch continues the first rows and keeps the others; a larger one is refused', (t) => {
  const l = new L.LSTM(3, 2);
  l.forward(uniform([3, 3], 1));
  const hPrev = Array.from(l.h!.data.toFlat()), cPrev = Array.from(l.c!.data.toFlat());
  const y = l.forward(uniform([2, 3], 2));
  t.deepEqual(y.shape, [2, 2]);
  t.deepEqual(l.h!.shape, [3, 2]);
  allclose(t, Array.from(l.h!.data.toFlat()).slice(4), hPrev.slice(4), { atol: 0 });
  allclose(t, Array.from(l.c!.data.toFlat()).slice(4), cPrev.slice(4), { atol: 0 });
  t.throws(() => l.forward(uniform([4, 3], 3)), { message: 'LSTM: x has batch 4, more than the 3 rows of the state; call resetState() first' });
  t.throws(() => new L.LSTM(3, 0), { message: 'LSTM: outSize must be a positive integer, got 0' });
});

test('LSTM: gradients flow back through time until unchainBackward cuts the state', (t) => {
  const l = new L.LSTM(2, 3);
  const x1 = new Variable(uniform([1, 2], 1)), x2 = new Variable(uniform([1, 2], 2));
  l.forward(x1);
  const loss = F.sum(l.forward(x2));
  loss.backward();
  t.true(x1.grad !== null && Array.from(x1.grad.toFlat()).some((v) => v !== 0), 'the first step receives a gradient through h and c');
  // truncated BPTT: after unchainBackward the next step's loss stops at the cut
  l.h!.unchainBackward();
  l.c!.unchainBackward();
  const x3 = new Variable(uniform([1, 2], 3));
  x2.cleargrad();
  F.sum(l.forward(x3)).backward();
  t.is(x2.grad, null);
  t.not(x3.grad, null);
});
