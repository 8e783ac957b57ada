// ElementwiseKernel on the CPU: results against plain JS, scalars, broadcasting, dtypes, gradients, errors.

import test from 'ava';
import { compiledLoopCount } from '../../compiler/js.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { array } from '../../runtime/array/xp.js';
import { checkBackward, checkDoubleBackward } from '../../runtime/gradient-check.js';
import { noBackprop } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import { ElementwiseKernel } from '../../runtime/kernels/index.js';
import { sum } from '../../runtime/ops/shape.js';
import { allclose, awayFromZero, countKernels, plain, refBroadcast, uniform } from '../helpers.js';

const squaredDiff = new ElementwiseKernel('T x, T y', 'T z', 'z = (x - y) * (x - y)', 'squared_diff');

test('squared difference equals plain JS, and keeps the dtype T stands for', (t) => {
  for (const dtype of ['float32', 'float64'] as const) {
    const x = array(Array.from(uniform([2, 3], 1).toFlat()), [2, 3], dtype);
    const y = array(Array.from(uniform([2, 3], 2).toFlat()), [2, 3], dtype);
    const z = squaredDiff.call(x, y);
    t.is(z.dtype, dtype);
    t.deepEqual(z.shape, [2, 3]);
    allclose(t, z, refBroadcast((a, b) => (a - b) * (a - b), plain(x), plain(y)).data, { rtol: dtype === 'float32' ? 1e-6 : 1e-12 });
  }
});

test('inputs broadcast as in NumPy, each against each', (t) => {
  const x = uniform([2, 1, 4], 3), y = uniform([3, 1], 4);
  const z = squaredDiff.call(x, y);
  const ref = refBroadcast((a, b) => (a - b) * (a - b), plain(x), plain(y));
  t.deepEqual(z.shape, ref.shape);
  allclose(t, z, ref.data, { rtol: 1e-12 });
  // views broadcast too: a transposed operand
  const xt = uniform([4, 3], 5).transpose();
  allclose(t, squaredDiff.call(xt, array([1, 2, 3, 4], [4], 'float64')), refBroadcast((a, b) => (a - b) ** 2, plain(xt), { data: [1, 2, 3, 4], shape: [4] }).data);
});

test('a number argument is a runtime scalar: a new value compiles no new kernel', (t) => {
  const x = uniform([5], 6);
  squaredDiff.call(x, 0.5); // compiles the (array, scalar) kernel once
  const before = compiledLoopCount();
  for (const c of [1.5, -2, 3.25]) {
    allclose(t, squaredDiff.call(x, c), Array.from(x.toFlat(), (v) => (v - c) ** 2), { rtol: 1e-12 });
  }
  t.is(compiledLoopCount(), before);
  // either argument may be the number
  allclose(t, squaredDiff.call(2, x), Array.from(x.toFlat(), (v) => (2 - v) ** 2), { rtol: 1e-12 });
});

test('int32: integer parameters, T bound to int32, truncating stores, float outputs beside int ones', (t) => {
  const a = array([7, -7, 9, 1], [4], 'int32'), b = array([2, 2, 4, 3], [4], 'int32');
  const idiv = new ElementwiseKernel('int32 a, int32 b', 'int32 q, float32 r', 'q = a / b; r = a / b', 'idiv');
  const [q, r] = idiv.apply(a, b);
  t.is(q.dtype, 'int32');
  t.deepEqual(q.toArray(), [3, -3, 2, 0]); // toward zero, as C's integer division
  t.is(r.dtype, 'float32');
  allclose(t, r, [3.5, -3.5, 2.25, 1 / 3]);
  const sq = squaredDiff.call(a, b); // T = int32
  t.is(sq.dtype, 'int32');
  t.deepEqual(sq.toArray(), [25, 81, 25, 4]);
  // an int32 array may feed a float parameter
  const half = new ElementwiseKernel('float32 x', 'float32 y', 'y = x / 2', 'half');
  t.deepEqual(half.call(a).toArray(), [3.5, -3.5, 4.5, 0.5]);
  // and an integer number an int32 parameter
  t.deepEqual(new ElementwiseKernel('int32 a, int32 k', 'int32 c', 'c = a * k', 'scale').call(a, 3).toArray(), [21, -21, 27, 3]);
});

test('several outputs and temporaries: one launch, every output in outParams order', (t) => {
  const polar = new ElementwiseKernel('T x, T y', 'T r, T s', 'r2 = x * x + y * y; r = sqrt(r2); s = r2 > 1 ? 1 : 0', 'polar');
  const x = uniform([3, 2], 7, -2, 2), y = uniform([2], 8, -2, 2);
  const [r, s] = polar.apply(x, y);
  allclose(t, r, refBroadcast((a, b) => Math.hypot(a, b), plain(x), plain(y)).data, { rtol: 1e-12 });
  allclose(t, s, refBroadcast((a, b) => (a * a + b * b > 1 ? 1 : 0), plain(x), plain(y)).data);
  t.is(countKernels(() => polar.apply(x, y)), 1);
  t.throws(() => polar.call(x, y), { message: 'ElementwiseKernel polar: has 2 outputs (r, s); use apply() to get them all' });
  // a temporary may be reassigned, like a C local
  const k = new ElementwiseKernel('float64 x', 'float64 y', 't = x + 1; t = t * t; y = t', 'again');
  t.deepEqual(k.call(array([1, 2], [2], 'float64')).toArray(), [4, 9]);
});

test('with a Variable the result is a Variable whose backward reaches the inputs', (t) => {
  const x = new Variable(uniform([3, 4], 9)), y = new Variable(uniform([4], 10));
  const z = squaredDiff.call(x, y);
  t.true(z instanceof Variable);
  t.is(z.creator?.label, 'squared_diff');
  sum(z).backward();
  const gx = refBroadcast((a, b) => 2 * (a - b), plain(x.data), plain(y.data));
  allclose(t, x.grad!, gx.data, { rtol: 1e-12 });
  // y was broadcast over 3 rows: its gradient is summed back to (4,)
  const gy = [0, 1, 2, 3].map((j) => [0, 1, 2].reduce((s, i) => s - gx.data[i * 4 + j], 0));
  allclose(t, y.grad!, gy, { rtol: 1e-12 });
  // an NDArray beside a Variable is a constant; noBackprop records nothing
  t.true(squaredDiff.call(x, uniform([4], 11)) instanceof Variable);
  t.is(noBackprop(() => squaredDiff.call(x, y)).creator, null);
});

test('checkBackward: squared difference with broadcasting and with a scalar', (t) => {
  t.notThrows(() => checkBackward((x, y) => squaredDiff.call(x, y), [uniform([3, 4], 12), uniform([4], 13)]));
  t.notThrows(() => checkBackward((x) => squaredDiff.call(x, 0.25), [uniform([2, 3], 14)]));
});

test('checkBackward: functions, a ternary, temporaries, and several outputs at once', (t) => {
  const smooth = new ElementwiseKernel('T x, T w', 'T y', 'h = tanh(x * w); y = x > 0 ? h * sigmoid(x) : exp(x) ** 2 / (1 + w * w)', 'smooth');
  t.notThrows(() => checkBackward((x, w) => smooth.call(x, w), [awayFromZero([3, 4], 15), uniform([4], 16)]));
  const two = new ElementwiseKernel('T x, T y', 'T s, T p', 's = x + max(x, y); p = x * y / 2', 'two');
  t.notThrows(() => checkBackward((x, y) => two.apply(x, y), [uniform([2, 3], 17), uniform([2, 3], 18, 2, 3)]));
});

test('checkDoubleBackward: the backward of a kernel is differentiable again', (t) => {
  const cube = new ElementwiseKernel('T x, T y', 'T z', 'z = x * x * x * y', 'cube');
  t.notThrows(() => checkDoubleBackward((x, y) => cube.call(x, y), [uniform([2, 3], 19), uniform([3], 20)], [uniform([2, 3], 21)]));
});

test('an int32 output passes no gradient; the float one beside it does', (t) => {
  const k = new ElementwiseKernel('T x', 'int32 n, T y', 'n = x * 10; y = x * 3', 'mixed');
  const x = new Variable(uniform([4], 22));
  const [n, y] = k.apply(x);
  t.is(n.dtype, 'int32');
  sum(y).backward();
  allclose(t, x.grad!, [3, 3, 3, 3]);
});

test('call-time errors name the kernel, the argument and what was wrong', (t) => {
  const x = uniform([2, 3], 23);
  t.throws(() => squaredDiff.call(x), { message: 'ElementwiseKernel squared_diff: expected 2 arguments (x, y), got 1' });
  t.throws(() => squaredDiff.call(x, uniform([2, 4], 24)), { message: 'ElementwiseKernel squared_diff: shapes do not broadcast: x (2, 3), y (2, 4)' });
  t.throws(() => squaredDiff.call(x, array([1, 2, 3])), { message: 'ElementwiseKernel squared_diff: T is float64 from x but float32 from y' });
  t.throws(() => squaredDiff.call(1, 2), { message: /^ElementwiseKernel squared_diff: at least one argument must be an NDArray or Variable/ });
  t.throws(() => squaredDiff.call(x, [1, 2, 3] as unknown as NDArray), {
    message: 'ElementwiseKernel squared_diff: argument y must be an NDArray, Variable or number, got a JS array (wrap it with kusari.array)',
  });
  const ints = new ElementwiseKernel('int32 a, int32 k', 'int32 c', 'c = a * k', 'scale');
  t.throws(() => ints.call(x, 2), { message: 'ElementwiseKernel scale: argument a is a float64 array but the parameter is int32' });
  t.throws(() => ints.call(array([1], [1], 'int32'), 2.5), { message: 'ElementwiseKernel scale: argument k is 2.5 but the parameter is int32' });
  t.throws(() => squaredDiff.call(1.5, array([2], [1], 'int32')), { message: 'ElementwiseKernel squared_diff: argument x is 1.5 but the parameter is T, int32 in this call' });
});
