// ReductionKernel on the CPU: results against plain JS, axes, identities, scalars, gradients, errors.

import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import { array } from '../../runtime/array/xp.js';
import { checkBackward } from '../../runtime/gradient-check.js';
import { Variable } from '../../runtime/graph/variable.js';
import { ReductionKernel } from '../../runtime/kernels/index.js';
import { allclose, countKernels, distinct, refStrides, uniform, unravel } from '../helpers.js';

const l2norm = new ReductionKernel('T x', 'T y', 'x * x', 'a + b', 'y = sqrt(a)', '0', 'l2norm');

/** Plain-JS reduction of `x` over `axes` with `combine`, from `init`: values in C order of the kept dims. */
function refReduce(x: NDArray, axes: readonly number[], map: (v: number) => number, combine: (a: number, b: number) => number, init: number): number[] {
  const data = x.toFlat(), shape = x.shape;
  const kept = shape.map((n, d) => (axes.includes(d) ? 1 : n));
  const out = new Array<number>(kept.reduce((p, q) => p * q, 1)).fill(init);
  const st = refStrides(kept);
  for (let i = 0; i < data.length; i++) {
    const idx = unravel(i, shape);
    const o = idx.reduce((p, v, d) => p + (axes.includes(d) ? 0 : v * st[d]), 0);
    out[o] = combine(out[o], map(data[i]));
  }
  return out;
}

test('L2 norm equals plain JS over all axes, one axis, several axes and negative ones', (t) => {
  const x = uniform([3, 4, 5], 1);
  const ref = (axes: number[]) => refReduce(x, axes, (v) => v * v, (a, b) => a + b, 0).map(Math.sqrt);
  const all = l2norm.call(x);
  t.deepEqual(all.shape, []);
  allclose(t, all, ref([0, 1, 2]), { rtol: 1e-12 });
  const y1 = l2norm.call(x, { axis: 1 });
  t.deepEqual(y1.shape, [3, 5]);
  allclose(t, y1, ref([1]), { rtol: 1e-12 });
  const y02 = l2norm.call(x, { axis: [0, -1] });
  t.deepEqual(y02.shape, [4]);
  allclose(t, y02, ref([0, 2]), { rtol: 1e-12 });
  const kept = l2norm.call(x, { axis: 2, keepdims: true });
  t.deepEqual(kept.shape, [3, 4, 1]);
  allclose(t, kept, ref([2]), { rtol: 1e-12 });
  t.is(l2norm.call(array([3, 4])).dtype, 'float32');
});

test('max and min: max(a, b), a > b ? a : b and their mirror images', (t) => {
  const x = distinct([4, 6], 2);
  const maxRef = refReduce(x, [1], (v) => v, Math.max, -Infinity), minRef = refReduce(x, [1], (v) => v, Math.min, Infinity);
  for (const reduce of ['max(a, b)', 'max(b, a)', 'a > b ? a : b', 'b >= a ? b : a', 'a < b ? b : a']) {
    const k = new ReductionKernel('T x', 'T y', 'x', reduce, '', '-inf', 'rmax');
    t.is(k.op, 'max', reduce);
    allclose(t, k.call(x, { axis: 1 }), maxRef);
  }
  for (const reduce of ['min(a, b)', 'a < b ? a : b', 'a > b ? b : a']) {
    const k = new ReductionKernel('T x', 'T y', 'x', reduce, '', 'inf', 'rmin');
    t.is(k.op, 'min', reduce);
    allclose(t, k.call(x, { axis: 1 }), minRef);
  }
});

test('the identity starts the fold, as in CuPy: a non-neutral one is folded in exactly', (t) => {
  const x = array([-3, -1, -2, -5, -4, -6], [2, 3], 'float64');
  // max |x| with identity 0: the common CuPy spelling; a plain max of negatives shows the fold
  const absmax = new ReductionKernel('T x', 'T y', 'abs(x)', 'max(a, b)', 'y = a', '0', 'absmax');
  t.deepEqual(absmax.call(x, { axis: 1 }).toArray(), [3, 6]);
  const max0 = new ReductionKernel('T x', 'T y', 'x', 'max(a, b)', '', 0, 'max0');
  t.deepEqual(max0.call(x, { axis: 1 }).toArray(), [0, 0]);
  const sum10 = new ReductionKernel('T x', 'T y', 'x', 'a + b', '', '10', 'sum10');
  t.deepEqual(sum10.call(x, { axis: 0 }).toArray(), [10 - 8, 10 - 5, 10 - 8]);
  // over no elements: the identity, or an error when there is none to give
  const empty = array([], [2, 0], 'float64');
  t.deepEqual(max0.call(empty, { axis: 1 }).toArray(), [0, 0]);
  t.deepEqual(l2norm.call(empty, { axis: 1 }).toArray(), [0, 0]);
  const noIdentity = new ReductionKernel('T x', 'T y', 'x', 'max(a, b)', '', null, 'rmax');
  t.throws(() => noIdentity.call(empty, { axis: 1 }), { message: 'ReductionKernel rmax: a max over zero elements needs an identity, and none was given' });
});

test('several inputs broadcast in the map; number arguments reach map and post-map', (t) => {
  const dot = new ReductionKernel('T x, T y', 'T z', 'x * y', 'a + b', '', '0', 'dot');
  const x = uniform([3, 4], 3), w = uniform([4], 4);
  const xs = x.toFlat(), ws = w.toFlat();
  allclose(t, dot.call(x, w, { axis: 1 }), [0, 1, 2].map((i) => [0, 1, 2, 3].reduce((s, j) => s + xs[i * 4 + j] * ws[j], 0)), { rtol: 1e-12 });
  // the p-norm, p a runtime scalar used on both sides of the reduction
  const pnorm = new ReductionKernel('T x, float64 p', 'T y', 'abs(x) ** p', 'a + b', 'y = a ** (1 / p)', '0', 'pnorm');
  for (const p of [1, 3]) {
    allclose(t, pnorm.call(x, p, { axis: 0 }), refReduce(x, [0], (v) => Math.abs(v) ** p, (a, b) => a + b, 0).map((s) => s ** (1 / p)), { rtol: 1e-12 });
  }
  // a mean: the count is a number argument of the post-map
  const mean = new ReductionKernel('T x, float64 n', 'T y', 'x', 'a + b', 'y = a / n', '0', 'mean');
  allclose(t, mean.call(x, 4, { axis: 1 }), refReduce(x, [1], (v) => v, (a, b) => a + b, 0).map((s) => s / 4), { rtol: 1e-12 });
  // one reduction launch, then one post-map launch
  t.is(countKernels(() => pnorm.call(x, 2, { axis: 0 })), 2);
  t.is(countKernels(() => dot.call(x, w, { axis: 1 })), 1);
});

test('int32: sums of int32 into int32, and an int32 input to a float result', (t) => {
  const x = array([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
  const isum = new ReductionKernel('T x', 'T y', 'x', 'a + b', '', '0', 'isum');
  const s = isum.call(x, { axis: 1 });
  t.is(s.dtype, 'int32');
  t.deepEqual(s.toArray(), [6, 15]);
  const rms = new ReductionKernel('int32 x', 'float32 y', 'x * x', 'a + b', 'y = sqrt(a / 3)', '0', 'rms');
  allclose(t, rms.call(x, { axis: 1 }), [Math.sqrt(14 / 3), Math.sqrt(77 / 3)]);
  // an int32 output of a post-map: the reduced value stays float until the store
  const half = new ReductionKernel('T x', 'T y', 'x', 'a + b', 'y = a / 4', '0', 'half');
  t.deepEqual(half.call(x, { axis: 1 }).toArray(), [1, 3]);
});

test('with a Variable the result is a Variable, differentiable through map, reduce and post-map', (t) => {
  const x = new Variable(uniform([3, 4], 5));
  const y = l2norm.call(x, { axis: 1 });
  t.true(y instanceof Variable);
  t.deepEqual(y.shape, [3]);
  t.notThrows(() => checkBackward((x) => l2norm.call(x, { axis: 1 }), [uniform([3, 4], 6)]));
  t.notThrows(() => checkBackward((x) => l2norm.call(x, { axis: [0, 2], keepdims: true }), [uniform([2, 3, 2], 7)]));
  const dot = new ReductionKernel('T x, T y', 'T z', 'x * y', 'a + b', '', '0', 'dot');
  t.notThrows(() => checkBackward((x, w) => dot.call(x, w, { axis: 1 }), [uniform([3, 4], 8), uniform([4], 9)]));
  const softmax = new ReductionKernel('T x', 'T y', 'exp(x)', 'a + b', 'y = log(a)', '0', 'logsumexp');
  t.notThrows(() => checkBackward((x) => softmax.call(x, { axis: 0 }), [uniform([3, 2], 10)]));
  const rmax = new ReductionKernel('T x', 'T y', 'exp(x)', 'max(a, b)', '', '-inf', 'maxexp');
  t.notThrows(() => checkBackward((x) => rmax.call(x, { axis: 1 }), [distinct([3, 4], 11)]));
});

test('call-time errors name the kernel and the problem', (t) => {
  const x = uniform([2, 3], 12);
  t.throws(() => l2norm.call(x, { axis: 2 }), { message: 'ReductionKernel l2norm: axis 2 out of range for 2-d input' });
  t.throws(() => l2norm.call(x, { axes: [1] } as never), { message: 'ReductionKernel l2norm: unknown option \'axes\' (options: axis, keepdims)' });
  t.throws(() => l2norm.call(x, x), { message: 'ReductionKernel l2norm: expected 1 argument (x), got 2' });
  const pnorm = new ReductionKernel('T x, T p', 'T y', 'abs(x) ** p', 'a + b', 'y = a ** (1 / p)', '0', 'pnorm');
  const err = t.throws(() => pnorm.call(x, uniform([2, 3], 13)))!;
  t.is(err.message.split('\n')[0],
    `ReductionKernel pnorm: 'p' is an array in this call at column 15 in post-map "y = a ** (1 / p)"; the post-map sees a (the reduced value) and number arguments only`);
});
