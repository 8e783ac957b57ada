// Optimizer hooks: WeightDecay and GradientClipping, checked against plain-JS arithmetic.

import test from 'ava';
import { array, F, L, optimizers } from '../../runtime/index.js';
import { allclose } from '../helpers.js';

class Two extends L.Chain {
  a = new L.Parameter(array([1, -2, 3], [3], 'float64'));
  b = new L.Parameter(array([[0.5, 4]], undefined, 'float64'));
}
const A0 = [1, -2, 3], B0 = [0.5, 4];

test('WeightDecay: g += rate W before the update (SGD: W -= lr (g + rate W))', (t) => {
  const m = new Two();
  const opt = new optimizers.SGD(0.1).setup(m).addHook(new optimizers.WeightDecay(0.01));
  m.a.grad = array([0.3, 0.2, -0.1], [3], 'float64');
  m.b.grad = array([[1, -1]], undefined, 'float64');
  opt.update();
  allclose(t, m.a.data, A0.map((w, i) => w - 0.1 * ([0.3, 0.2, -0.1][i] + 0.01 * w)), { atol: 1e-12 });
  allclose(t, m.b.data, B0.map((w, i) => w - 0.1 * ([1, -1][i] + 0.01 * w)), { atol: 1e-12 });
});

test('WeightDecay: correct on the gradient of a sum (a zero-stride view) and on a gradient two parameters share', (t) => {
  const m = new Two();
  const opt = new optimizers.SGD(1).setup(m).addHook(new optimizers.WeightDecay(0.1));
  // d/da sum(a) = 1 everywhere, delivered as a broadcast of one element
  opt.update(() => F.sum(m.a));
  allclose(t, m.a.data, A0.map((w) => w - (1 + 0.1 * w)), { atol: 1e-12 });
  // add passes gy through unchanged to both inputs: one array, two parameters
  const p = new L.Parameter(array([1, 2], [2], 'float64')), q = new L.Parameter(array([10, 20], [2], 'float64'));
  class PQ extends L.Chain { p = p; q = q; }
  const opt2 = new optimizers.SGD(1).setup(new PQ()).addHook(new optimizers.WeightDecay(0.5));
  opt2.update(() => F.sum(F.mul(F.add(p, q), 3)));
  allclose(t, p.data, [1 - (3 + 0.5), 2 - (3 + 1)], { atol: 1e-12 });
  allclose(t, q.data, [10 - (3 + 5), 20 - (3 + 10)], { atol: 1e-12 });
});

test('GradientClipping: rescales all gradients together to the threshold norm, only when above it', (t) => {
  const ga = [3, 0, -4], gb = [12, 0]; // global norm sqrt(9 + 16 + 144) = 13
  const run = (threshold: number) => {
    const m = new Two();
    const opt = new optimizers.SGD(1).setup(m).addHook(new optimizers.GradientClipping(threshold));
    m.a.grad = array(ga, [3], 'float64');
    m.b.grad = array([gb], undefined, 'float64');
    opt.update();
    return m;
  };
  const clipped = run(6.5); // scale 6.5 / 13 = 0.5
  allclose(t, clipped.a.data, A0.map((w, i) => w - 0.5 * ga[i]), { atol: 1e-12 });
  allclose(t, clipped.b.data, B0.map((w, i) => w - 0.5 * gb[i]), { atol: 1e-12 });
  const untouched = run(13.5);
  allclose(t, untouched.a.data, A0.map((w, i) => w - ga[i]), { atol: 1e-12 });
  allclose(t, untouched.b.data, B0.map((w, i) => w - gb[i]), { atol: 1e-12 });
});

test('GradientClipping: the gradient of a sum (a zero-stride view) is clipped once, not once per element', (t) => {
  const m = new Two();
  const opt = new optimizers.SGD(1).setup(m).addHook(new optimizers.GradientClipping(1));
  opt.update(() => F.sum(m.a)); // g = (1, 1, 1), norm sqrt 3
  const s = 1 / Math.sqrt(3);
  allclose(t, m.a.data, A0.map((w) => w - s), { atol: 1e-12 });
  allclose(t, m.a.grad!, [s, s, s], { atol: 1e-12 });
});

test('hooks run in the order added: clip then decay differs from decay then clip', (t) => {
  const run = (hooks: optimizers.OptimizerHook[]) => {
    const m = new Two();
    const opt = new optimizers.SGD(1).setup(m);
    hooks.forEach((h) => opt.addHook(h));
    m.a.grad = array([3, 0, -4], [3], 'float64');
    m.b.grad = array([[0, 0]], undefined, 'float64');
    opt.update();
    return Array.from(m.a.grad!.toFlat());
  };
  const clipFirst = run([new optimizers.GradientClipping(1), new optimizers.WeightDecay(1)]);
  // clip: (3, 0, -4)/5 = (0.6, 0, -0.8), then + W
  allclose(t, clipFirst, [0.6 + 1, 0 - 2, -0.8 + 3], { atol: 1e-12 });
  const decayFirst = run([new optimizers.WeightDecay(1), new optimizers.GradientClipping(1)]);
  // decay: a (4, -2, -1), b (0.5, 4); then both divided by their joint norm
  const n = Math.sqrt(16 + 4 + 1 + 0.25 + 16);
  allclose(t, decayFirst, [4 / n, -2 / n, -1 / n], { atol: 1e-12 });
});
