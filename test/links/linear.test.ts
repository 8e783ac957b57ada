// Linear: defaults (LeCun normal W, zero b, nobias), lazy input size, forward, bad arguments.

import test from 'ava';
import { Variable, array, seed, F, L } from '../../runtime/index.js';
import { allclose, uniform } from '../helpers.js';

test('Linear: W is LeCun normal, N(0, 1/in): mean ~ 0, std ~ sqrt(1/in), on a large layer', (t) => {
  seed(0);
  const inSize = 400, out = 500;
  const l = new L.Linear(inSize, out);
  t.deepEqual(l.W.shape, [out, inSize]);
  t.is(l.W.dtype, 'float32');
  const w = Array.from(l.W.data.toFlat()), n = w.length;
  const mean = w.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  const sigma = Math.sqrt(1 / inSize);
  t.true(Math.abs(mean) < (5 * sigma) / Math.sqrt(n), `mean ${mean}`);
  // the sample std of n normals has relative sd 1/sqrt(2n) ~ 0.16%: allow 1%
  t.true(Math.abs(std / sigma - 1) < 0.01, `std ${std}, expected ${sigma}`);
  // and it is normal-shaped: ~68.3% within one sigma
  const within = w.filter((v) => Math.abs(v) < sigma).length / n;
  t.true(Math.abs(within - 0.6827) < 0.01, `fraction within 1 sigma: ${within}`);
  t.deepEqual(Array.from(l.b!.data.toFlat()), new Array(out).fill(0));
  t.deepEqual(l.b!.shape, [out]);
});

test('Linear: nobias leaves b null and out of the parameters; initializers can be given', (t) => {
  const l = new L.Linear(3, 2, { nobias: true, initialW: L.initializers.constant(0.5) });
  t.is(l.b, null);
  t.deepEqual([...l.namedParams()].map(([n]) => n), ['/W']);
  t.deepEqual(l.W.data.toArray(), [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]);
  const y = l.forward(array([[1, 2, 3]]));
  t.deepEqual(y.data.toArray(), [[3, 3]]);
  const lb = new L.Linear(3, 2, { initialBias: L.initializers.constant(-1) });
  t.deepEqual(lb.b!.data.toArray(), [-1, -1]);
});

test('Linear: forward is x W^T + b (plain-JS reference), gradients reach W and b', (t) => {
  const l = new L.Linear(4, 3);
  const x = new Variable(array(Array.from(uniform([2, 4], 1).toFlat()), [2, 4]));
  const y = l.forward(x);
  const X = Array.from(x.data.toFlat()), W = Array.from(l.W.data.toFlat()), b = Array.from(l.b!.data.toFlat());
  const expected = [0, 1].flatMap((i) => [0, 1, 2].map((o) => b[o] + [0, 1, 2, 3].reduce((s, p) => s + X[i * 4 + p] * W[o * 4 + p], 0)));
  allclose(t, y.data, expected, { atol: 1e-6 });
  F.sum(y).backward();
  // dL/dW[o, p] = sum_i x[i, p]; dL/db = batch size
  allclose(t, l.W.grad!, [0, 1, 2].flatMap(() => [0, 1, 2, 3].map((p) => X[p] + X[4 + p])), { atol: 1e-6 });
  allclose(t, l.b!.grad!, [2, 2, 2]);
});

test('Linear: the input size is inferred on the first call (N-d x flattened)', (t) => {
  for (const l of [new L.Linear(3), new L.Linear(null, 3)]) {
    t.false(l.W.isInitialized);
    t.is(l.W.size, 0);
    t.deepEqual(l.b!.shape, [3]);
    const y = l.forward(array(new Float32Array(20).fill(1), [2, 2, 5]));
    t.true(l.W.isInitialized);
    t.deepEqual(l.W.shape, [3, 10]);
    t.deepEqual(y.shape, [2, 3]);
    // x is all ones: each output is the row sum of W (b is zero)
    const W = Array.from(l.W.data.toFlat());
    const rowSums = [0, 1, 2].map((o) => W.slice(o * 10, o * 10 + 10).reduce((a, b) => a + b, 0));
    allclose(t, y.data, [...rowSums, ...rowSums], { atol: 1e-5 });
    // the next call must match the inferred size
    t.throws(() => l.forward(array(new Float32Array(8), [2, 4])), { message: /^linear: x \(2, 4\) has 4 features per sample but W \(3, 10\) expects 10$/ });
  }
});

test('Linear: bad constructor arguments and a lazy first call without a batch axis', (t) => {
  t.throws(() => new L.Linear(0), { message: 'Linear: outSize must be a positive integer, got 0' });
  t.throws(() => new L.Linear(3, -2), { message: 'Linear: outSize must be a positive integer, got -2' });
  t.throws(() => new L.Linear(3, 1.5), { message: 'Linear: outSize must be a positive integer, got 1.5' });
  t.throws(() => new L.Linear(0, 4), { message: 'Linear: inSize must be a positive integer or null, got 0' });
  t.throws(() => new L.Linear(2.5, 4), { message: 'Linear: inSize must be a positive integer or null, got 2.5' });
  t.throws(() => new L.Linear(null, 0), { message: 'Linear: outSize must be a positive integer, got 0' });
  t.throws(() => new L.Linear(4).forward(array([1, 2, 3])), { message: 'Linear: x must be (batch, features...), got x (3,)' });
  t.throws(() => new L.Linear(4).forward([1, 2] as never), { message: /^Linear: argument x must be a Variable, NDArray or number, got a JS array/ });
});

test('initializers: fans, heNormal and glorotUniform scales, a fan of a 1-d shape is refused', (t) => {
  t.deepEqual(L.initializers.fans([8, 3, 5, 5]), [75, 200]);
  t.throws(() => L.initializers.fans([4]), { message: /^initializer: fan needs a shape of at least 2 dims, got \(4\)$/ });
  seed(1);
  const he = Array.from(L.initializers.heNormal()([300, 200], 'float64').toFlat());
  const heStd = Math.sqrt(he.reduce((s, v) => s + v * v, 0) / he.length);
  t.true(Math.abs(heStd / Math.sqrt(2 / 200) - 1) < 0.02, `he std ${heStd}`);
  const g = Array.from(L.initializers.glorotUniform()([300, 200], 'float64').toFlat());
  const bound = Math.sqrt(6 / 500);
  t.true(g.every((v) => Math.abs(v) <= bound));
  t.true(Math.max(...g.map(Math.abs)) > 0.99 * bound);
});
