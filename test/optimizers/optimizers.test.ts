// SGD, MomentumSGD, Adam: a few steps against Chainer's update rules written in plain JS.

import test from 'ava';
import { Variable, array, seed, F, L, optimizers } from '../../runtime/index.js';
import { allclose } from '../helpers.js';

/** A model with one float64 parameter W and the loss sum(c * (W - target)^2). */
class Quad extends L.Chain {
  W = new L.Parameter(array([0.5, -1.5, 2, 0.1], [4], 'float64'));
}
const TARGET = [1, 2, -1, 0];
const C = [1, 0.5, 2, 3];
const W0 = [0.5, -1.5, 2, 0.1];
const lossOf = (m: Quad) => F.sum(F.mul(F.pow(F.sub(m.W, array(TARGET, [4], 'float64')), 2), array(C, [4], 'float64')));
/** dL/dW in plain JS. */
const gradOf = (w: number[]) => w.map((v, i) => 2 * C[i] * (v - TARGET[i]));

test('SGD: W -= lr g, three steps', (t) => {
  const m = new Quad();
  const opt = new optimizers.SGD(0.1).setup(m);
  let w = W0.slice();
  for (let step = 1; step <= 3; step++) {
    opt.update(() => lossOf(m));
    const g = gradOf(w);
    w = w.map((v, i) => v - 0.1 * g[i]);
    allclose(t, m.W.data, w, { atol: 1e-12, rtol: 1e-12 });
    t.is(opt.t, step);
  }
});

test('MomentumSGD: v = momentum v - lr g; W += v, three steps', (t) => {
  const m = new Quad();
  const opt = new optimizers.MomentumSGD(0.05, 0.8).setup(m);
  let w = W0.slice(), v = [0, 0, 0, 0];
  for (let step = 1; step <= 3; step++) {
    opt.update(() => lossOf(m));
    const g = gradOf(w);
    v = v.map((vi, i) => 0.8 * vi - 0.05 * g[i]);
    w = w.map((wi, i) => wi + v[i]);
    allclose(t, m.W.data, w, { atol: 1e-12, rtol: 1e-12 });
  }
});

test("Adam: Chainer's rule with bias-corrected alpha_t, three steps", (t) => {
  const alpha = 0.01, b1 = 0.8, b2 = 0.9, eps = 1e-6;
  const m = new Quad();
  const opt = new optimizers.Adam(alpha, b1, b2, eps).setup(m);
  let w = W0.slice(), mm = [0, 0, 0, 0], vv = [0, 0, 0, 0];
  for (let step = 1; step <= 3; step++) {
    opt.update(() => lossOf(m));
    const g = gradOf(w);
    mm = mm.map((mi, i) => mi + (1 - b1) * (g[i] - mi));
    vv = vv.map((vi, i) => vi + (1 - b2) * (g[i] * g[i] - vi));
    const alphaT = (alpha * Math.sqrt(1 - b2 ** step)) / (1 - b1 ** step);
    w = w.map((wi, i) => wi - (alphaT * mm[i]) / (Math.sqrt(vv[i]) + eps));
    allclose(t, opt.alphaT, alphaT, { atol: 0, rtol: 1e-14 });
    allclose(t, m.W.data, w, { atol: 1e-12, rtol: 1e-12 });
  }
});

test('Adam: defaults are alpha 0.001, beta1 0.9, beta2 0.999, eps 1e-8; the first step moves each weight by ~alpha', (t) => {
  const opt = new optimizers.Adam();
  t.deepEqual([opt.alpha, opt.beta1, opt.beta2, opt.eps], [0.001, 0.9, 0.999, 1e-8]);
  const m = new Quad();
  opt.setup(m);
  opt.update(() => lossOf(m));
  // step 1: m = 0.1 g, v = 0.001 g^2, alpha_t = alpha sqrt(0.001) / 0.1, so the step is alpha sign(g)
  const g = gradOf(W0);
  allclose(t, m.W.data, W0.map((w, i) => w - 0.001 * Math.sign(g[i])), { atol: 1e-10 });
});

test('update(lossFn, ...args) clears old gradients, then backprops lossFn(...args)', (t) => {
  const m = new Quad();
  const opt = new optimizers.SGD(0.1).setup(m);
  m.W.grad = array([100, 100, 100, 100], [4], 'float64'); // stale: must not leak into the step
  let seen: number[] = [];
  opt.update((scale: number, tag: string) => {
    seen = [scale, tag.length];
    t.is(m.W.grad, null, 'cleared before the loss is computed');
    return F.mul(lossOf(m), scale);
  }, 2, 'ab');
  t.deepEqual(seen, [2, 2]);
  const g = gradOf(W0).map((v) => 2 * v);
  allclose(t, m.W.data, W0.map((w, i) => w - 0.1 * g[i]), { atol: 1e-12 });
  allclose(t, m.W.grad!, g, { atol: 1e-12 });
});

test('update() without a loss uses the gradients present, and skips parameters without one', (t) => {
  class Two extends L.Chain {
    a = new L.Parameter(array([1, 2], [2], 'float64'));
    b = new L.Parameter(array([3, 4], [2], 'float64'));
  }
  const m = new Two();
  const opt = new optimizers.SGD(0.5).setup(m);
  m.a.grad = array([2, -2], [2], 'float64');
  opt.update();
  t.deepEqual(Array.from(m.a.data.toFlat()), [0, 3]);
  t.deepEqual(Array.from(m.b.data.toFlat()), [3, 4], 'b has no gradient: untouched');
  opt.update(); // the same gradient again: it is not cleared without a loss
  t.deepEqual(Array.from(m.a.data.toFlat()), [-1, 4]);
});

test('Optimizer: update before setup is an error; setup resets the step count and state', (t) => {
  t.throws(() => new optimizers.SGD().update(), { message: 'Optimizer: call setup(model) before update()' });
  const m = new Quad();
  const opt = new optimizers.MomentumSGD(0.1, 0.9).setup(m);
  opt.update(() => lossOf(m));
  opt.update(() => lossOf(m));
  t.is(opt.t, 2);
  const m2 = new Quad();
  opt.setup(m2);
  t.is(opt.t, 0);
  opt.update(() => lossOf(m2));
  // a fresh velocity: the first step is plain SGD
  allclose(t, m2.W.data, W0.map((w, i) => w - 0.1 * gradOf(W0)[i]), { atol: 1e-12 });
});

test('regression: a Linear model fit with SGD and with Adam drives the loss down', (t) => {
  for (const make of [() => new optimizers.SGD(0.1), () => new optimizers.Adam(0.05)]) {
    seed(3);
    const xs = Array.from({ length: 32 }, (_, i) => [i / 16 - 1, ((i * 7) % 32) / 16 - 1]);
    const x = new Variable(array(xs));
    const y = new Variable(array(xs.map(([a, b]) => [2 * a - 3 * b + 0.5])));
    const model = new L.Linear(2, 1);
    const opt = make().setup(model);
    const loss = () => F.meanSquaredError(model.forward(x), y);
    const first = loss().itemSync();
    for (let i = 0; i < 200; i++) opt.update(loss);
    const last = loss().itemSync();
    t.true(last < first * 0.01, `${make().constructor.name}: loss ${first} -> ${last}`);
    allclose(t, model.W.data, [2, -3], { atol: 0.1 });
    allclose(t, model.b!.data, [0.5], { atol: 0.1 });
  }
});
