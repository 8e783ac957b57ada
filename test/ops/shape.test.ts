// Shape ops (broadcastTo, reshape, transpose, swapaxes, expandDims, squeeze, flatten, sumTo).

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { allclose, checkOpBackward, plain, refBroadcast, refStrides, uniform, unravel } from '../helpers.js';

/** Plain-JS transpose: out[i_0..] = x[i_{axes^-1}..]. */
function refTranspose(x: NDArray, axes: number[]): { shape: number[]; data: number[] } {
  const data = Array.from(x.toFlat()), st = refStrides(x.shape);
  const shape = axes.map((a) => x.shape[a]);
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const idx = unravel(i, shape);
    out.push(data[axes.reduce((p, a, d) => p + idx[d] * st[a], 0)]);
  }
  return { shape, data: out };
}

/** Plain-JS sum of `x` down to `shape` (the adjoint of broadcasting). */
function refSumTo(x: NDArray, shape: number[]): number[] {
  const data = Array.from(x.toFlat()), lead = x.shape.length - shape.length, st = refStrides(shape);
  const out = new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0);
  data.forEach((v, i) => {
    const idx = unravel(i, x.shape).slice(lead);
    out[idx.reduce((p, j, d) => p + (shape[d] === 1 ? 0 : j) * st[d], 0)] += v;
  });
  return out;
}

// ---- forward -----------------------------------------------------------------------------

const BROADCASTS: [number[], number[]][] = [[[3], [2, 3]], [[2, 1], [2, 4]], [[1, 3, 1], [2, 3, 4]], [[], [2, 2]]];
for (const [from, to] of BROADCASTS) {
  test(`broadcastTo: forward (${from}) -> (${to}) repeats values as NumPy does`, (t) => {
    const x = uniform(from, 1);
    const y = F.broadcastTo(x, to);
    t.deepEqual(y.shape, to);
    const zeros = { data: new Array<number>(to.reduce((a, b) => a * b, 1)).fill(0), shape: to };
    allclose(t, y.data, refBroadcast((v) => v, plain(x), zeros).data, { atol: 0, rtol: 0 });
  });
}

test('reshape: forward keeps row-major order, infers -1, also from a non-contiguous view', (t) => {
  const x = uniform([2, 3, 4], 2);
  const y = F.reshape(x, [4, -1]);
  t.deepEqual(y.shape, [4, 6]);
  allclose(t, y.data, Array.from(x.toFlat()), { atol: 0, rtol: 0 });
  const xt = F.transpose(x, [2, 0, 1]); // (4, 2, 3), a strided view
  const z = F.reshape(xt, [8, 3]);
  allclose(t, z.data, refTranspose(x, [2, 0, 1]).data, { atol: 0, rtol: 0 });
  t.deepEqual(new Variable(array([1, 2, 3, 4, 5, 6])).reshape(3, 2).data.toArray(), [[1, 2], [3, 4], [5, 6]]);
});

for (const axes of [undefined, [0, 1, 2], [1, 0, 2], [2, 0, 1], [-1, 0, -2]]) {
  test(`transpose: forward with axes ${JSON.stringify(axes)} matches a plain-JS permutation`, (t) => {
    const x = uniform([2, 3, 4], 3);
    const y = F.transpose(x, axes);
    const perm = (axes ?? [2, 1, 0]).map((a) => (a < 0 ? a + 3 : a));
    const ref = refTranspose(x, perm);
    t.deepEqual(y.shape, ref.shape);
    allclose(t, y.data, ref.data, { atol: 0, rtol: 0 });
  });
}

test('swapaxes: forward equals the permutation with two axes exchanged', (t) => {
  const x = uniform([2, 3, 4], 4);
  const y = F.swapaxes(x, 0, 2);
  const ref = refTranspose(x, [2, 1, 0]);
  t.deepEqual(y.shape, [4, 3, 2]);
  allclose(t, y.data, ref.data, { atol: 0, rtol: 0 });
  allclose(t, F.swapaxes(x, -1, 1).data, refTranspose(x, [0, 2, 1]).data, { atol: 0, rtol: 0 });
});

test('expandDims, squeeze, flatten: shapes and values', (t) => {
  const x = uniform([2, 3], 5), xs = Array.from(x.toFlat());
  for (const [axis, shape] of [[0, [1, 2, 3]], [1, [2, 1, 3]], [2, [2, 3, 1]], [-1, [2, 3, 1]], [-3, [1, 2, 3]]] as [number, number[]][]) {
    const y = F.expandDims(x, axis);
    t.deepEqual(y.shape, shape, `expandDims axis ${axis}`);
    allclose(t, y.data, xs, { atol: 0, rtol: 0 });
  }
  const z = uniform([1, 3, 1, 2], 6);
  t.deepEqual(F.squeeze(z).shape, [3, 2]);
  t.deepEqual(F.squeeze(z, 2).shape, [1, 3, 2]);
  t.deepEqual(F.squeeze(z, [0, -2]).shape, [3, 2]);
  allclose(t, F.squeeze(z).data, Array.from(z.toFlat()), { atol: 0, rtol: 0 });
  const f = F.flatten(F.transpose(x));
  t.deepEqual(f.shape, [6]);
  allclose(t, f.data, refTranspose(x, [1, 0]).data, { atol: 0, rtol: 0 });
});

const SUM_TO: [number[], number[]][] = [[[2, 3], [3]], [[2, 3], [2, 1]], [[2, 3, 4], [3, 1]], [[2, 3], []], [[4, 1, 3], [1, 1, 3]]];
for (const [from, to] of SUM_TO) {
  test(`sumTo: forward (${from}) -> (${to}) sums over the broadcast axes`, (t) => {
    const x = uniform(from, 7);
    const y = F.sumTo(new Variable(x), to);
    t.deepEqual(y.shape, to);
    allclose(t, y.data, refSumTo(x, to), { atol: 1e-12, rtol: 1e-12 });
  });
}

// ---- gradients ---------------------------------------------------------------------------

test('broadcastTo: checkBackward', (t) => {
  BROADCASTS.forEach(([from, to], i) => checkOpBackward('broadcastTo', (broadcastTo) => (a) => broadcastTo(a, to), [uniform(from, 10 + i)]));
  t.pass();
});
test('reshape: checkBackward (also through a transposed view)', (t) => {
  checkOpBackward('reshape', (reshape) => (a) => reshape(a, [3, -1]), [uniform([2, 3, 2], 20)]);
  checkOpBackward('reshape', (reshape) => (a) => reshape(F.transpose(a), [-1]), [uniform([2, 3], 21)]);
  t.pass();
});
test('transpose: checkBackward', (t) => {
  for (const axes of [undefined, [1, 0, 2], [2, 0, 1]]) checkOpBackward('transpose', (transpose) => (a) => transpose(a, axes), [uniform([2, 3, 4], 30)]);
  t.pass();
});
test('swapaxes: checkBackward', (t) => {
  checkOpBackward('swapaxes', (swapaxes) => (a) => swapaxes(a, 0, 2), [uniform([2, 3, 4], 40)]);
  checkOpBackward('swapaxes', (swapaxes) => (a) => swapaxes(a, -1, 0), [uniform([3, 2], 41)]);
  t.pass();
});
test('expandDims: checkBackward', (t) => {
  checkOpBackward('expandDims', (expandDims) => (a) => expandDims(a, 1), [uniform([2, 3], 50)]);
  checkOpBackward('expandDims', (expandDims) => (a) => expandDims(a, -1), [uniform([4], 51)]);
  t.pass();
});
test('squeeze: checkBackward', (t) => {
  checkOpBackward('squeeze', (squeeze) => (a) => squeeze(a), [uniform([1, 3, 1, 2], 60)]);
  checkOpBackward('squeeze', (squeeze) => (a) => squeeze(a, 0), [uniform([1, 4], 61)]);
  t.pass();
});
test('flatten: checkBackward', (t) => {
  checkOpBackward('flatten', (flatten) => (a) => flatten(a), [uniform([2, 3, 2], 70)]);
  t.pass();
});
test('sumTo: checkBackward', (t) => {
  SUM_TO.forEach(([from, to], i) => checkOpBackward('sumTo', (sumTo) => (a) => sumTo(a, to), [uniform(from, 80 + i)]));
  t.pass();
});

// ---- bad inputs --------------------------------------------------------------------------

test('broadcastTo: bad input names the op, x and both shapes', (t) => {
  const x = uniform([2, 3], 0);
  t.throws(() => F.broadcastTo(x, [4]), { message: /^broadcastTo: shapes do not broadcast: x \(2, 3\), shape \(4,\)$/ });
  t.throws(() => F.broadcastTo(x, [1, 3]), { message: /^broadcastTo: cannot broadcast x \(2, 3\) to \(1, 3\)$/ });
  t.throws(() => F.broadcastTo(x, [3]), { message: /^broadcastTo: .*x \(2, 3\).*\(3,\)/ });
});

test('reshape: bad input names the op, the size of x and the requested shape', (t) => {
  const x = uniform([2, 3], 0);
  t.throws(() => F.reshape(x, [4]), { message: /^reshape: cannot reshape size 6 into \(4,\)$/ });
  t.throws(() => F.reshape(x, [4, -1]), { message: /^reshape: cannot reshape size 6 into \(4, -1\)$/ });
  t.throws(() => F.reshape(x, [-1, -1]), { message: /^reshape: invalid shape \(-1, -1\): expected non-negative integers and at most one -1$/ });
});

test('transpose/swapaxes: bad input names the op and the axes', (t) => {
  const x = uniform([2, 3], 0);
  t.throws(() => F.transpose(x, [0, 0]), { message: /^transpose: axes \(0, 0\) is not a permutation of 2 axes$/ });
  t.throws(() => F.transpose(x, [0, 1, 2]), { message: /^transpose: axis 2 out of range for 2-d input$/ });
  t.throws(() => F.transpose(x, [0]), { message: /^transpose: axes \(0,\) is not a permutation of 2 axes$/ });
  t.throws(() => F.swapaxes(x, 0, 2), { message: /^swapaxes: axis 2 out of range for 2-d input$/ });
});

test('expandDims/squeeze: bad input names the op, the axis and x', (t) => {
  const x = uniform([2, 3], 0);
  t.throws(() => F.expandDims(x, 3), { message: /^expandDims: axis 3 out of range for x \(2, 3\): expected -3 <= axis <= 2$/ });
  t.throws(() => F.expandDims(x, -4), { message: /^expandDims: axis -4 out of range for x \(2, 3\)/ });
  t.throws(() => F.squeeze(x, 0), { message: /^squeeze: axis 0 of x \(2, 3\) has size 2, not 1$/ });
  t.throws(() => F.squeeze(x, 2), { message: /^squeeze: axis 2 out of range for 2-d input$/ });
});

test('flatten: bad input, a JS array is refused naming the op and argument x', (t) => {
  t.throws(() => F.flatten([[1, 2]] as never), { message: /^flatten: argument x must be a Variable, NDArray or number, got a JS array/ });
});

test('sumTo: bad input names the op, x and both shapes', (t) => {
  const x = new Variable(uniform([2, 3], 0));
  t.throws(() => F.sumTo(x, [4]), { message: /^sumTo: cannot sum x \(2, 3\) to \(4,\)/ });
  t.throws(() => F.sumTo(x, [2, 2, 3]), { message: /^sumTo: cannot sum x \(2, 3\) to \(2, 2, 3\)/ });
  t.throws(() => F.sumTo(x, [3, 1]), { message: /^sumTo: cannot sum x \(2, 3\) to \(3, 1\)/ });
});
