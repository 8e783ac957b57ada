// Indexing and joining (getItem, concat, splitAxis, selectItem): hand-written index lists as the reference.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import type { Index } from '../../runtime/ops/indexing.js';
import { allclose, checkOpBackward, uniform } from '../helpers.js';

const { slice } = F;

/** x[i, j, k] = 100 i + 10 j + k over (2, 3, 4): every element names its own position. */
const X = new NDArray(new Float64Array(24).map((_, p) => 100 * Math.floor(p / 12) + 10 * (Math.floor(p / 4) % 3) + (p % 4)), [2, 3, 4]);
const at = (i: number, j: number, k: number) => 100 * i + 10 * j + k;
const ALL = { i: [0, 1], j: [0, 1, 2], k: [0, 1, 2, 3] };

/** The values at every (i, j, k) of the per-axis index lists, in row-major order. */
const pick = (i: number[], j: number[], k: number[]) => i.flatMap((a) => j.flatMap((b) => k.map((c) => at(a, b, c))));

// Each case: NumPy's x[...] written out, the result shape and index lists worked out by hand.
const CASES: { numpy: string; index: Index | Index[]; shape: number[]; values: number[] }[] = [
  { numpy: 'x[0]', index: 0, shape: [3, 4], values: pick([0], ALL.j, ALL.k) },
  { numpy: 'x[-1, -2]', index: [-1, -2], shape: [4], values: pick([1], [1], ALL.k) },
  { numpy: 'x[1, 2, 3]', index: [1, 2, 3], shape: [], values: [at(1, 2, 3)] },
  { numpy: 'x[::-1]', index: [slice(null, null, -1)], shape: [2, 3, 4], values: pick([1, 0], ALL.j, ALL.k) },
  { numpy: 'x[:, 2:0:-1, ::3]', index: [slice(), slice(2, 0, -1), slice(null, null, 3)], shape: [2, 2, 2], values: pick(ALL.i, [2, 1], [0, 3]) },
  { numpy: 'x[None, 0, ..., 1]', index: [null, 0, '...', 1], shape: [1, 3], values: pick([0], ALL.j, [1]) },
  { numpy: 'x[..., -3:-1]', index: ['...', slice(-3, -1)], shape: [2, 3, 2], values: pick(ALL.i, ALL.j, [1, 2]) },
  { numpy: 'x[0, None, 1:, None]', index: [0, null, slice(1), null], shape: [1, 2, 1, 4], values: pick([0], [1, 2], ALL.k) },
  { numpy: 'x[5:10]', index: [slice(5, 10)], shape: [0, 3, 4], values: [] },
  { numpy: 'x[::-2, -1, 3::-2]', index: [slice(null, null, -2), -1, slice(3, null, -2)], shape: [1, 2], values: pick([1], [2], [3, 1]) },
  { numpy: 'x[-100:100, 1:2, -1:-5:-1]', index: [slice(-100, 100), slice(1, 2), slice(-1, -5, -1)], shape: [2, 1, 4], values: pick(ALL.i, [1], [3, 2, 1, 0]) },
  { numpy: 'x[..., None]', index: ['...', null], shape: [2, 3, 4, 1], values: pick(ALL.i, ALL.j, ALL.k) },
  { numpy: 'x[1, ...]', index: [1, '...'], shape: [3, 4], values: pick([1], ALL.j, ALL.k) },
];

for (const c of CASES) {
  test(`getItem: forward ${c.numpy}`, (t) => {
    const y = F.getItem(X, c.index);
    t.deepEqual(y.shape, c.shape);
    t.deepEqual(Array.from(y.data.toFlat()), c.values);
  });
}

test('getItem: method form, 1-d slices with slice(start) meaning start:, and a view of a view', (t) => {
  const v = new Variable(array([0, 1, 2, 3, 4, 5]));
  t.deepEqual(v.getItem(slice(1, null, 2)).data.toArray(), [1, 3, 5]);
  t.deepEqual(v.getItem(slice(4)).data.toArray(), [4, 5]);
  t.deepEqual(v.getItem(slice(null, -4, -1)).data.toArray(), [5, 4, 3]);
  t.deepEqual(v.getItem(slice(null, null, -1)).getItem(slice(1, null, 2)).data.toArray(), [4, 2, 0]);
});

test('getItem: backward scatters gy into zeros at the indexed positions', (t) => {
  const x = new Variable(array([[1, 2, 3], [4, 5, 6]], undefined, 'float64'));
  const y = F.getItem(x, [slice(null, null, -1), slice(0, 3, 2)]); // rows reversed, columns 0 and 2
  y.grad = array([[10, 20], [30, 40]], undefined, 'float64');
  y.backward();
  t.deepEqual(x.grad!.toArray(), [[30, 0, 40], [10, 0, 20]]);
});

test('getItem: checkBackward over ints, negative steps, newaxis and ellipsis', (t) => {
  CASES.filter((c) => c.values.length > 1).forEach((c, i) => {
    checkOpBackward('getItem', (getItem) => (a) => getItem(a, c.index), [uniform([2, 3, 4], 10 + i)]);
  });
  t.pass();
});

// ---- concat / splitAxis --------------------------------------------------------------------

test('concat: forward joins along axis 1 by default, and along 0 and -1', (t) => {
  const a = array([[1, 2], [3, 4]]), b = array([[5], [6]]);
  t.deepEqual(F.concat([a, b]).data.toArray(), [[1, 2, 5], [3, 4, 6]]);
  t.deepEqual(F.concat([a, array([[7, 8]])], 0).data.toArray(), [[1, 2], [3, 4], [7, 8]]);
  const x = uniform([2, 2, 1], 1), y = uniform([2, 2, 3], 2);
  const z = F.concat([x, y], -1);
  t.deepEqual(z.shape, [2, 2, 4]);
  const xs = Array.from(x.toFlat()), ys = Array.from(y.toFlat());
  const expected = [0, 1, 2, 3].flatMap((r) => [xs[r], ...ys.slice(3 * r, 3 * r + 3)]);
  allclose(t, z.data, expected, { atol: 0, rtol: 0 });
});

test('concat: checkBackward over three inputs', (t) => {
  checkOpBackward('concat', (concat) => (a, b, c) => concat([a, b, c], 1), [uniform([2, 1, 3], 20), uniform([2, 2, 3], 21), uniform([2, 3, 3], 22)]);
  checkOpBackward('concat', (concat) => (a, b) => concat([a, b], 0), [uniform([1, 3], 23), uniform([2, 3], 24)]);
  t.pass();
});

test('splitAxis: forward into equal sections and at indices (numpy.split)', (t) => {
  const x = array([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]);
  t.deepEqual(F.splitAxis(x, 3, 1).map((p) => p.data.toArray()), [[[0, 1], [6, 7]], [[2, 3], [8, 9]], [[4, 5], [10, 11]]]);
  t.deepEqual(F.splitAxis(x, [1, 4], 1).map((p) => p.data.toArray()), [[[0], [6]], [[1, 2, 3], [7, 8, 9]], [[4, 5], [10, 11]]]);
  t.deepEqual(F.splitAxis(x, [-2], -1).map((p) => p.shape), [[2, 4], [2, 2]]);
  t.deepEqual(F.splitAxis(x, 2, 0).map((p) => p.data.toArray()), [[[0, 1, 2, 3, 4, 5]], [[6, 7, 8, 9, 10, 11]]]);
});

test('splitAxis: checkBackward, all outputs at once and with an output unused', (t) => {
  checkOpBackward('splitAxis', (splitAxis) => (a) => splitAxis(a, [1, 3], 1), [uniform([2, 5], 30)]);
  checkOpBackward('splitAxis', (splitAxis) => (a) => splitAxis(a, 2, 0)[1], [uniform([4, 3], 31)]);
  const x = new Variable(array([1, 2, 3, 4, 5, 6], undefined, 'float64'));
  F.sum(F.splitAxis(x, 3, 0)[1]).backward();
  t.deepEqual(Array.from(x.grad!.toFlat()), [0, 0, 1, 1, 0, 0]);
});

// ---- selectItem --------------------------------------------------------------------------

test('selectItem: forward y[i] = x[i, t[i]]', (t) => {
  const x = uniform([4, 3], 1), xs = Array.from(x.toFlat());
  const tt = [2, 0, 1, 2];
  const y = F.selectItem(x, array(tt, [4], 'int32'));
  t.deepEqual(y.shape, [4]);
  t.deepEqual(Array.from(y.data.toFlat()), tt.map((c, i) => xs[i * 3 + c]));
});

test('selectItem: checkBackward (no gradient to the int32 t)', (t) => {
  checkOpBackward('selectItem', (selectItem) => (a, tt) => selectItem(a, tt), [uniform([4, 3], 40), array([2, 0, 0, 1], [4], 'int32')]);
  const x = new Variable(uniform([2, 3], 41));
  F.sum(F.selectItem(x, array([1, 1], [2], 'int32'))).backward();
  t.deepEqual(x.grad!.toArray(), [[0, 1, 0], [0, 1, 0]]);
});

// ---- bad inputs --------------------------------------------------------------------------

test('getItem: bad input names the op, the index and the axis or shape', (t) => {
  t.throws(() => F.getItem(X, [0, 3]), { message: /^getItem: index 3 out of range for axis 1 of size 3$/ });
  t.throws(() => F.getItem(X, -3), { message: /^getItem: index -3 out of range for axis 0 of size 2$/ });
  t.throws(() => F.getItem(X, [0, 0, 0, 0]), { message: /^getItem: too many indices \(4\) for x \(2, 3, 4\)$/ });
  t.throws(() => F.getItem(X, ['...', 0, '...']), { message: /^getItem: at most one '\.\.\.' allowed, got 2$/ });
  t.throws(() => F.getItem(X, slice(null, null, 0)), { message: /^getItem: slice step must be a non-zero integer, got 0$/ });
  t.throws(() => F.getItem(X, 'a' as never), { message: /^getItem: unsupported index "a"/ });
  t.throws(() => F.getItem([1, 2] as never, 0), { message: /^getItem: argument x must be a Variable, NDArray or number, got a JS array/ });
});

test('concat: bad input names the op, the offending argument and both shapes', (t) => {
  t.throws(() => F.concat([array([[1, 2]]), array([[1, 2, 3], [4, 5, 6]])], 1), {
    message: /^concat: xs\[1\] \(2, 3\) does not match xs\[0\] \(1, 2\) outside axis 1$/,
  });
  t.throws(() => F.concat([array([[1]]), array([1])], 0), { message: /^concat: xs\[1\] \(1,\) does not match xs\[0\] \(1, 1\) outside axis 0$/ });
  t.throws(() => F.concat([array([1]), array([1], [1], 'float64')], 0), { message: /^concat: xs\[1\] is float64 but xs\[0\] is float32$/ });
  t.throws(() => F.concat([]), { message: /^concat: xs is empty$/ });
  t.throws(() => F.concat([array([1])]), { message: /^concat: axis 1 out of range for 1-d input$/ });
});

test('splitAxis: bad input names the op, x and the split asked for', (t) => {
  const x = array([[1, 2, 3], [4, 5, 6]]);
  t.throws(() => F.splitAxis(x, 2, 1), { message: /^splitAxis: axis 1 of x \(2, 3\) \(size 3\) cannot be split into 2 equal sections$/ });
  t.throws(() => F.splitAxis(x, [2, 1], 1), { message: /^splitAxis: indices \(2, 1\) must be increasing$/ });
  t.throws(() => F.splitAxis(x, 1, 2), { message: /^splitAxis: axis 2 out of range for 2-d input$/ });
});

test('selectItem: bad input names the op, the argument and the shapes', (t) => {
  const x = array([[1, 2], [3, 4], [5, 6]]);
  t.throws(() => F.selectItem(array([1, 2]), array([0], [1], 'int32')), { message: /^selectItem: x must be 2-D \(N, C\), got x \(2,\)$/ });
  t.throws(() => F.selectItem(x, array([0, 1, 1])), { message: /^selectItem: t must be an int32 array of indices, got float32$/ });
  t.throws(() => F.selectItem(x, array([0, 1], [2], 'int32')), { message: /^selectItem: t \(2,\) does not match x \(3, 2\): expected t \(3,\)$/ });
});
