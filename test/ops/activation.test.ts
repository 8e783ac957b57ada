// Activations (relu ... elu, softmax, logSoftmax): plain-JS references, gradient checks, bad inputs.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { allclose, awayFromZero, checkOpBackward, product, refStrides, uniform, unravel } from '../helpers.js';

const SHAPES = [[], [6], [2, 3, 2]];
const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));

type Act = 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh' | 'softplus' | 'elu';
const ACT: { [K in Act]: { ref: (v: number) => number; run: (x: NDArray) => Variable } } = {
  relu: { ref: (v) => (v > 0 ? v : 0), run: (x) => F.relu(x) },
  leakyRelu: { ref: (v) => (v > 0 ? v : 0.2 * v), run: (x) => F.leakyRelu(x) },
  sigmoid: { ref: sigmoidRef, run: (x) => F.sigmoid(x) },
  tanh: { ref: Math.tanh, run: (x) => F.tanh(x) },
  softplus: { ref: (v) => Math.log1p(Math.exp(v)), run: (x) => F.softplus(x) },
  elu: { ref: (v) => (v > 0 ? v : Math.exp(v) - 1), run: (x) => F.elu(x) },
};

for (const { op, shape } of product({ op: Object.keys(ACT) as Act[], shape: SHAPES })) {
  test(`${op}: forward matches a plain-JS reference (default parameters), shape (${shape})`, (t) => {
    const x = uniform(shape, 1, -3, 3);
    const y = ACT[op].run(x);
    t.deepEqual(y.shape, shape);
    t.is(y.dtype, 'float64');
    allclose(t, y.data, Array.from(x.toFlat(), ACT[op].ref), { atol: 1e-12, rtol: 1e-10 });
  });
}

test('leakyRelu, softplus, elu: explicit slope, beta and alpha', (t) => {
  const x = uniform([8], 2, -3, 3), xs = Array.from(x.toFlat());
  allclose(t, F.leakyRelu(x, 0.05).data, xs.map((v) => (v > 0 ? v : 0.05 * v)), { atol: 1e-12 });
  allclose(t, F.softplus(x, 2.5).data, xs.map((v) => Math.log1p(Math.exp(2.5 * v)) / 2.5), { atol: 1e-12 });
  allclose(t, F.elu(x, 0.7).data, xs.map((v) => (v > 0 ? v : 0.7 * (Math.exp(v) - 1))), { atol: 1e-12 });
});

test('sigmoid, softplus, tanh: finite in both tails', (t) => {
  const x = array([-1000, -40, 40, 1000], [4], 'float64');
  allclose(t, F.sigmoid(x).data, [0, sigmoidRef(-40), sigmoidRef(40), 1], { atol: 1e-15, rtol: 1e-12 });
  allclose(t, F.softplus(x).data, [0, Math.log1p(Math.exp(-40)), 40, 1000], { atol: 1e-15, rtol: 1e-12 });
  allclose(t, F.tanh(x).data, [-1, -1, 1, 1]);
  const v = new Variable(x);
  F.sum(F.softplus(v)).backward();
  allclose(t, v.grad!, [0, sigmoidRef(-40), sigmoidRef(40), 1], { atol: 1e-15, rtol: 1e-12 });
  const w = new Variable(x);
  F.sum(F.sigmoid(w)).backward();
  t.true(Array.from(w.grad!.toFlat()).every(Number.isFinite));
});

test('relu: gradient at exactly 0 is 0, as in Chainer', (t) => {
  const x = new Variable(array([-1, 0, 2], [3], 'float64'));
  F.sum(F.relu(x)).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [0, 0, 1]);
});

test('softplus: gradient at exactly 0 is sigmoid(0) = 0.5 (softplus has no kink)', (t) => {
  const x = new Variable(array([0, 1, -1], [3], 'float64'));
  F.sum(F.softplus(x)).backward();
  allclose(t, x.grad!, [0.5, sigmoidRef(1), sigmoidRef(-1)], { atol: 1e-12 });
  checkOpBackward('softplus', (softplus) => (a) => softplus(a, 1.5), [array([0, 0.3, -0.3], [3], 'float64')]);
});

// Inputs drawn away from 0, where relu, leakyRelu and elu have kinks.
const away = (k: number) => SHAPES.map((s, i) => awayFromZero(s, k + i));
test('relu: checkBackward', (t) => { for (const x of away(10)) checkOpBackward('relu', (relu) => (a) => relu(a), [x]); t.pass(); });
test('leakyRelu: checkBackward', (t) => {
  for (const x of away(20)) checkOpBackward('leakyRelu', (leakyRelu) => (a) => leakyRelu(a, 0.1), [x]);
  t.pass();
});
test('sigmoid: checkBackward', (t) => { for (const x of away(30)) checkOpBackward('sigmoid', (sigmoid) => (a) => sigmoid(a), [x]); t.pass(); });
test('tanh: checkBackward', (t) => { for (const x of away(40)) checkOpBackward('tanh', (tanh) => (a) => tanh(a), [x]); t.pass(); });
test('softplus: checkBackward', (t) => {
  for (const x of away(50)) checkOpBackward('softplus', (softplus) => (a) => softplus(a), [x]);
  checkOpBackward('softplus', (softplus) => (a) => softplus(a, 3), [uniform([4], 55, -2, 2)]);
  t.pass();
});
test('elu: checkBackward', (t) => {
  for (const x of away(60)) checkOpBackward('elu', (elu) => (a) => elu(a, 0.8), [x]);
  t.pass();
});

// ---- softmax family ------------------------------------------------------------------------

/** Plain-JS softmax (or log-softmax) along `axis` of row-major data. */
function refSoftmax(x: NDArray, axis: number, log: boolean): number[] {
  const shape = x.shape, data = Array.from(x.toFlat()), st = refStrides(shape);
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    if (unravel(i, shape)[axis] !== 0) continue;
    const idx = Array.from({ length: shape[axis] }, (_, j) => i + j * st[axis]);
    const m = Math.max(...idx.map((p) => data[p]));
    const s = idx.reduce((acc, p) => acc + Math.exp(data[p] - m), 0);
    for (const p of idx) out[p] = log ? data[p] - m - Math.log(s) : Math.exp(data[p] - m) / s;
  }
  return out;
}

const SOFTMAX_CASES: { shape: number[]; axis: number }[] = [
  { shape: [3, 4], axis: 1 },
  { shape: [3, 4], axis: 0 },
  { shape: [2, 3, 4], axis: 1 },
  { shape: [2, 3, 4], axis: -1 },
];

for (const { op, c } of product({ op: ['softmax', 'logSoftmax'] as const, c: SOFTMAX_CASES })) {
  test(`${op}: forward matches a plain-JS reference, shape (${c.shape}) axis ${c.axis}`, (t) => {
    const x = uniform(c.shape, 3, -3, 3);
    const y = F[op](x, c.axis);
    t.deepEqual(y.shape, c.shape);
    const axis = c.axis < 0 ? c.axis + c.shape.length : c.axis;
    allclose(t, y.data, refSoftmax(x, axis, op === 'logSoftmax'), { atol: 1e-12, rtol: 1e-10 });
  });
}

test('softmax/logSoftmax: default axis is 1, rows sum to 1, and huge inputs stay finite', (t) => {
  const x = array([[1000, 1001, 999], [-1000, -1000, -1000]], undefined, 'float64');
  const e = Math.E;
  allclose(t, F.softmax(x).data, [1 / (1 + e + 1 / e), e / (1 + e + 1 / e), 1 / e / (1 + e + 1 / e), 1 / 3, 1 / 3, 1 / 3], { atol: 1e-12 });
  const lse = Math.log(1 + e + 1 / e);
  allclose(t, F.logSoftmax(x).data, [-lse, 1 - lse, -1 - lse, -Math.log(3), -Math.log(3), -Math.log(3)], { atol: 1e-12 });
});

test('softmax: checkBackward over shapes and axes', (t) => {
  SOFTMAX_CASES.forEach((c, k) => checkOpBackward('softmax', (softmax) => (a) => softmax(a, c.axis), [uniform(c.shape, 70 + k, -2, 2)]));
  t.pass();
});
test('logSoftmax: checkBackward over shapes and axes', (t) => {
  SOFTMAX_CASES.forEach((c, k) => checkOpBackward('logSoftmax', (logSoftmax) => (a) => logSoftmax(a, c.axis), [uniform(c.shape, 80 + k, -2, 2)]));
  t.pass();
});

// ---- bad inputs --------------------------------------------------------------------------

for (const op of Object.keys(ACT) as Act[]) {
  test(`${op}: bad input, a JS array is refused naming the op and argument x`, (t) => {
    const fn = F[op] as (x: unknown) => Variable;
    t.throws(() => fn([[1, 2]]), { message: new RegExp(`^${op}: argument x must be a Variable, NDArray or number, got a JS array`) });
  });
}

for (const op of ['softmax', 'logSoftmax'] as const) {
  test(`${op}: bad input, an axis outside x's dims names the op, the axis and x's rank`, (t) => {
    t.throws(() => F[op](array([1, 2, 3])), { message: new RegExp(`^${op}: axis 1 out of range for 1-d input$`) });
    t.throws(() => F[op](array([[1, 2, 3]]), -3), { message: new RegExp(`^${op}: axis -3 out of range for 2-d input$`) });
  });
}
