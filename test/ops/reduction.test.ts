// Reductions (sum, mean, max, min over axes, keepdims) and argmax/argmin against plain JS.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOpBackward, distinct, product, uniform, unravel } from '../helpers.js';

type Red = 'sum' | 'mean' | 'max' | 'min';

/** Plain-JS reduction of row-major `x` over `axes` (all when undefined). */
function refReduce(x: NDArray, op: Red, axes: number[] | undefined, keepdims: boolean): { shape: number[]; data: number[] } {
  const shape = x.shape, data = Array.from(x.toFlat()), nd = shape.length;
  const ax = (axes ?? shape.map((_, i) => i)).map((a) => (a < 0 ? a + nd : a));
  const kept = shape.map((n, d) => (ax.includes(d) ? 1 : n));
  const groups = new Map<string, number[]>();
  data.forEach((v, i) => {
    const key = unravel(i, shape).map((j, d) => (ax.includes(d) ? 0 : j)).join(',');
    groups.set(key, [...(groups.get(key) ?? []), v]);
  });
  const out: number[] = [];
  const nOut = kept.reduce((a, b) => a * b, 1);
  for (let i = 0; i < nOut; i++) {
    const vs = groups.get(unravel(i, kept).join(','))!;
    const s = vs.reduce((a, b) => a + b, 0);
    out.push(op === 'sum' ? s : op === 'mean' ? s / vs.length : op === 'max' ? Math.max(...vs) : Math.min(...vs));
  }
  return { shape: keepdims ? kept : shape.filter((_, d) => !ax.includes(d)), data: out };
}

const CASES: { shape: number[]; axes: number[] | number | undefined }[] = [
  { shape: [5], axes: undefined },
  { shape: [2, 3, 4], axes: undefined },
  { shape: [2, 3, 4], axes: 1 },
  { shape: [2, 3, 4], axes: -1 },
  { shape: [2, 3, 4], axes: [0, 2] },
  { shape: [2, 3, 4], axes: [2, 0, 1] },
];

for (const { op, c, keepdims } of product({ op: ['sum', 'mean', 'max', 'min'] as Red[], c: CASES, keepdims: [false, true] })) {
  test(`${op}: forward matches plain JS, shape (${c.shape}) axis ${JSON.stringify(c.axes)} keepdims ${keepdims}`, (t) => {
    const x = uniform(c.shape, 1, -3, 3);
    const y = F[op](x, c.axes, keepdims);
    const axes = c.axes === undefined ? undefined : typeof c.axes === 'number' ? [c.axes] : c.axes;
    const ref = refReduce(x, op, axes, keepdims);
    t.deepEqual(y.shape, ref.shape);
    t.is(y.dtype, 'float64');
    allclose(t, y.data, ref.data, { atol: 1e-12, rtol: 1e-12 });
  });
}

test('sum/mean/max/min: method forms and known values', (t) => {
  const x = new Variable(array([[1, 5, 3], [4, 2, 6]]));
  t.deepEqual(x.sum().data.toArray(), 21);
  t.deepEqual(x.sum(0).data.toArray(), [5, 7, 9]);
  t.deepEqual(x.mean(1, true).data.toArray(), [[3], [4]]);
  t.deepEqual(x.max(1).data.toArray(), [5, 6]);
  t.deepEqual(x.min(0).data.toArray(), [1, 2, 3]);
  t.deepEqual(F.sum(array([[1, 2]], undefined, 'int32')).data.toArray(), 3);
});

test('max/min: tied maxima share the gradient (every tied element gets gy), as in Chainer', (t) => {
  const x = new Variable(array([[3, 1, 3], [0, 2, 1]], undefined, 'float64'));
  F.sum(F.max(x, 1)).backward();
  t.deepEqual(x.grad!.toArray(), [[1, 0, 1], [0, 1, 0]]);
  const y = new Variable(array([[3, 1, 3], [0, 2, 0]], undefined, 'float64'));
  F.sum(F.min(y, 1)).backward();
  t.deepEqual(y.grad!.toArray(), [[0, 1, 0], [1, 0, 1]]);
});

// One literal checkOpBackward per op; shapes, axes and keepdims looped inside.
const eachCase = (fn: (x: NDArray, axes: number[] | number | undefined, keepdims: boolean) => void) =>
  product({ c: CASES, keepdims: [false, true] }).forEach(({ c, keepdims }, i) => fn(distinct(c.shape, 100 + i), c.axes, keepdims));

test('sum: checkBackward over axes and keepdims', (t) => {
  eachCase((x, axes, keepdims) => checkOpBackward('sum', (sum) => (a) => sum(a, axes, keepdims), [x]));
  t.pass();
});
test('mean: checkBackward over axes and keepdims', (t) => {
  eachCase((x, axes, keepdims) => checkOpBackward('mean', (mean) => (a) => mean(a, axes, keepdims), [x]));
  t.pass();
});
test('max: checkBackward over axes and keepdims (distinct values, no ties)', (t) => {
  eachCase((x, axes, keepdims) => checkOpBackward('max', (max) => (a) => max(a, axes, keepdims), [x]));
  t.pass();
});
test('min: checkBackward over axes and keepdims (distinct values, no ties)', (t) => {
  eachCase((x, axes, keepdims) => checkOpBackward('min', (min) => (a) => min(a, axes, keepdims), [x]));
  t.pass();
});

// ---- argmax / argmin ---------------------------------------------------------------------

for (const { op, axis } of product({ op: ['argmax', 'argmin'] as const, axis: [0, 1, 2, -1] })) {
  test(`${op}: forward matches a plain-JS scan, shape (2, 3, 4) axis ${axis}`, (t) => {
    const x = uniform([2, 3, 4], 5);
    const y = F[op](x, axis);
    const shape = [2, 3, 4], a = axis < 0 ? axis + 3 : axis, data = Array.from(x.toFlat());
    const outShape = shape.filter((_, d) => d !== a);
    const expected: number[] = [];
    for (let i = 0; i < outShape.reduce((p, q) => p * q, 1); i++) {
      const rest = unravel(i, outShape);
      let best = 0, bv = NaN;
      for (let j = 0; j < shape[a]; j++) {
        const idx = [...rest.slice(0, a), j, ...rest.slice(a)];
        const v = data[(idx[0] * 3 + idx[1]) * 4 + idx[2]];
        if (j === 0 || (op === 'argmax' ? v > bv : v < bv)) { best = j; bv = v; }
      }
      expected.push(best);
    }
    t.deepEqual(y.shape, outShape);
    t.is(y.dtype, 'int32');
    t.false(y.requiresGrad);
    t.deepEqual(Array.from(y.data.toFlat()), expected);
  });
}

test('argmax/argmin: default axis 0, first index wins on ties', (t) => {
  t.deepEqual(F.argmax(array([1, 7, 7, 2])).data.toArray(), 1);
  t.deepEqual(F.argmin(array([3, 0, 5, 0])).data.toArray(), 1);
  // no axis: over the flattened array, as numpy.argmax([[1, 9], [4, 2]]) == 1
  t.deepEqual(F.argmax(array([[1, 9], [4, 2]])).data.toArray(), 1);
  t.deepEqual(F.argmax(array([[1, 9], [4, 2]]), 0).data.toArray(), [1, 0]);
});

// ---- bad inputs --------------------------------------------------------------------------

for (const op of ['sum', 'mean', 'max', 'min'] as const) {
  test(`${op}: bad input, an axis out of range or repeated names the op and the axis`, (t) => {
    const x = uniform([2, 3], 0);
    t.throws(() => F[op](x, 2), { message: new RegExp(`^${op}: axis 2 out of range for 2-d input$`) });
    t.throws(() => F[op](x, [-3]), { message: new RegExp(`^${op}: axis -3 out of range for 2-d input$`) });
    t.throws(() => F[op](x, [1, -1]), { message: new RegExp(`^${op}: repeated axis in \\(1, -1\\)$`) });
  });
}

test('max/min: bad input, an empty x is refused by name', (t) => {
  const x = new NDArray(new Float32Array(0), [0, 3]);
  t.throws(() => F.max(x), { message: /^max: x is empty; the max of no elements is undefined$/ });
  t.throws(() => F.min(x, 0), { message: /^min: x is empty/ });
});

for (const op of ['argmax', 'argmin'] as const) {
  test(`${op}: bad input, an axis out of range names the op, the axis and x's rank`, (t) => {
    t.throws(() => F[op](uniform([2, 3], 0), 2), { message: new RegExp(`^${op}: axis 2 out of range for 2-d input$`) });
    t.throws(() => F[op](uniform([4], 0), -2), { message: new RegExp(`^${op}: axis -2 out of range for 1-d input$`) });
  });
}
