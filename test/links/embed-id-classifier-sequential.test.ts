// EmbedID, Classifier and Sequential links.

import test from 'ava';
import { NDArray, Variable, array, F, L } from '../../runtime/index.js';
import { allclose, uniform as uniform64 } from '../helpers.js';

const int32 = (v: number[], shape?: number[]) => array(v, shape ?? [v.length], 'int32');

/** Seeded uniform values as float32, the links' dtype. */
const uniform = (shape: number[], seed: number, lo = -1, hi = 1): NDArray => new NDArray(new Float32Array(uniform64(shape, seed, lo, hi).toFlat()), shape);

test('EmbedID: W (in, out) drawn N(0, 1); forward picks rows; ignoreLabel gives zeros; the gradient reaches W', (t) => {
  const e = new L.EmbedID(50, 40);
  t.deepEqual(e.W.shape, [50, 40]);
  const w = Array.from(e.W.data.toFlat());
  const std = Math.sqrt(w.reduce((a, b) => a + b * b, 0) / w.length);
  t.true(Math.abs(std - 1) < 0.05, `std ${std}`);
  const y = e.forward(int32([3, 7, 3], [1, 3]));
  t.deepEqual(y.shape, [1, 3, 40]);
  allclose(t, Array.from(y.data.toFlat()).slice(0, 40), w.slice(120, 160), { atol: 0 });
  const ig = new L.EmbedID(5, 2, { ignoreLabel: -1, initialW: L.initializers.constant(2) });
  t.deepEqual(Array.from(ig.forward(int32([-1, 4])).data.toFlat()), [0, 0, 2, 2]);
  F.sum(ig.forward(int32([4, 4, 0]))).backward();
  t.deepEqual(Array.from(ig.W.grad!.toFlat()), [1, 1, 0, 0, 0, 0, 0, 0, 2, 2]);
  t.throws(() => new L.EmbedID(0, 3), { message: 'EmbedID: inSize must be a positive integer, got 0' });
});

test('Classifier: loss is softmaxCrossEntropy of the predictor, accuracy and y kept as fields', (t) => {
  const model = new L.Classifier(new L.Linear(3, 4));
  const x = uniform([5, 3], 1), lab = int32([0, 3, 1, 1, 2]);
  const loss = model.forward(x, lab);
  const y = model.predictor.forward(x);
  allclose(t, loss.data, F.softmaxCrossEntropy(y, lab).data, { atol: 1e-6 });
  allclose(t, model.accuracy!.data, F.accuracy(y, lab).data, { atol: 0 });
  t.is(model.loss, loss);
  t.deepEqual([...model.namedParams()].map(([n]) => n).sort(), ['/predictor/W', '/predictor/b']);
  model.computeAccuracy = false;
  model.forward(x, lab);
  t.is(model.accuracy, null);
  const mse = new L.Classifier(new L.Linear(3, 2), { lossfun: (p, q) => F.meanSquaredError(p, q) });
  mse.computeAccuracy = false;
  const target = uniform([5, 2], 2);
  allclose(t, mse.forward(x, target).data, F.meanSquaredError(mse.predictor.forward(x), target).data, { atol: 1e-6 });
  t.throws(() => model.forward(x), { message: 'Classifier: forward needs the inputs and then the labels t, got 1 argument(s)' });
});

test('Sequential: links and functions in order; links are children named by position', (t) => {
  const l1 = new L.Linear(3, 4), l2 = new L.Linear(4, 2);
  const seq = new L.Sequential(l1, F.relu, l2);
  t.is(seq.length, 3);
  t.deepEqual([...seq.namedParams()].map(([n]) => n), ['/0/W', '/0/b', '/2/W', '/2/b']);
  const x = uniform([2, 3], 1);
  allclose(t, seq.forward(x).data, l2.forward(F.relu(l1.forward(x))).data, { atol: 0 });
  const v = new Variable(uniform([2, 3], 2));
  F.sum(seq.forward(v)).backward();
  t.not(l1.W.grad, null);
  t.not(v.grad, null);
  t.throws(() => new L.Sequential().forward(x), { message: 'Sequential: no layers to apply' });
  t.throws(() => new L.Sequential(42 as never), { message: 'Sequential: layer 0 must be a Link or a function, got number' });
});
