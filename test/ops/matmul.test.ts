// matmul (2-D, batched, every transpose flag) and linear: triple loops as the reference.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { matmulSumArray } from '../../runtime/ops/matmul/kernels.js';
import { allclose, checkOpBackward, product, refStrides, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

/** Plain-JS op(a) @ op(b) over leading batch axes; a, b row-major. */
function refMatmul(a: NDArray, b: NDArray, transA: boolean, transB: boolean): { shape: number[]; data: number[] } {
  const r = a.shape.length;
  const batch = a.shape.slice(0, r - 2);
  const [m, k] = transA ? [a.shape[r - 1], a.shape[r - 2]] : [a.shape[r - 2], a.shape[r - 1]];
  const n = transB ? b.shape[r - 2] : b.shape[r - 1];
  const A = Array.from(a.toFlat()), B = Array.from(b.toFlat());
  const sa = refStrides(a.shape), sb = refStrides(b.shape);
  const nb = batch.reduce((p, q) => p * q, 1);
  const data: number[] = [];
  for (let t = 0; t < nb; t++) {
    const ao = t * a.shape[r - 2] * a.shape[r - 1], bo = t * b.shape[r - 2] * b.shape[r - 1];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = A[ao + (transA ? p * sa[r - 2] + i : i * sa[r - 2] + p)];
          const bv = B[bo + (transB ? j * sb[r - 2] + p : p * sb[r - 2] + j)];
          s += av * bv;
        }
        data.push(s);
      }
    }
  }
  return { shape: [...batch, m, n], data };
}

const MM_CASES = product({
  batch: [[], [2], [2, 3]] as number[][],
  transA: [false, true],
  transB: [false, true],
});

/** a, b shapes for op(a) (m, k) and op(b) (k, n). */
const shapesFor = (batch: number[], ta: boolean, tb: boolean, m = 3, k = 4, n = 5) =>
  [[...batch, ...(ta ? [k, m] : [m, k])], [...batch, ...(tb ? [n, k] : [k, n])]];

for (const { batch, transA, transB } of MM_CASES) {
  test(`matmul: forward matches a triple loop, batch (${batch}) transA ${transA} transB ${transB}`, (t) => {
    const [sa, sb] = shapesFor(batch, transA, transB);
    const a = uniform(sa, 1), b = uniform(sb, 2);
    const y = F.matmul(a, b, transA, transB);
    const ref = refMatmul(a, b, transA, transB);
    t.deepEqual(y.shape, ref.shape);
    t.is(y.dtype, 'float64');
    allclose(t, y.data, ref.data, { atol: 1e-12, rtol: 1e-12 });
  });
}

test('matmul: known 2x2 product, float32, method form and .T', (t) => {
  const a = new Variable(array([[1, 2], [3, 4]])), b = new Variable(array([[5, 6], [7, 8]]));
  t.deepEqual(F.matmul(a, b).data.toArray(), [[19, 22], [43, 50]]);
  t.deepEqual(a.matmul(b, true).data.toArray(), [[26, 30], [38, 44]]);
  t.deepEqual(a.matmul(b.T).data.toArray(), [[17, 23], [39, 53]]);
  t.is(F.matmul(a, b).dtype, 'float32');
});

test('matmul: forward on non-contiguous views (a transposed view, a strided row slice)', (t) => {
  const a = uniform([4, 3], 3), b = uniform([8, 5], 4);
  const aT = F.transpose(a).data; // (3, 4), strides (1, 3)
  const bs = F.getItem(b, F.slice(null, null, 2)).data; // (4, 5), rows 0, 2, 4, 6
  t.false(aT.isContiguous);
  t.false(bs.isContiguous);
  const y = F.matmul(aT, bs);
  // reference on the original contiguous data: aT = a^T (transA), rows picked by hand
  const B = Array.from(b.toFlat());
  const rows = new NDArray(new Float64Array([0, 2, 4, 6].flatMap((r) => B.slice(r * 5, r * 5 + 5))), [4, 5]);
  t.deepEqual(y.shape, [3, 5]);
  allclose(t, y.data, refMatmul(a, rows, true, false).data, { atol: 1e-12 });
});

test('matmul: checkBackward, 2-D and batched, all four transpose flag combinations', (t) => {
  MM_CASES.forEach(({ batch, transA, transB }, i) => {
    const [sa, sb] = shapesFor(batch, transA, transB, 2, 3, 2);
    checkOpBackward('matmul', (matmul) => (a, b) => matmul(a, b, transA, transB), [uniform(sa, 10 + i), uniform(sb, 50 + i)]);
  });
  t.pass();
});

// ---- linear ------------------------------------------------------------------------------

function refLinear(x: NDArray, W: NDArray, b?: NDArray): number[] {
  const [out, inSize] = W.shape;
  const X = Array.from(x.toFlat()), Wd = Array.from(W.toFlat()), bd = b ? Array.from(b.toFlat()) : null;
  const n = X.length / inSize;
  const data: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < out; o++) {
      let s = bd ? bd[o] : 0;
      for (let p = 0; p < inSize; p++) s += X[i * inSize + p] * Wd[o * inSize + p];
      data.push(s);
    }
  }
  return data;
}

const LINEAR_X = [[3, 4], [3, 2, 2], [2, 1, 2, 2]];
for (const { xs, bias } of product({ xs: LINEAR_X, bias: [true, false] })) {
  test(`linear: forward y = x W^T${bias ? ' + b' : ''}, x (${xs}) flattened to (batch, features)`, (t) => {
    const x = uniform(xs, 1), W = uniform([5, 4], 2), b = uniform([5], 3);
    const y = bias ? F.linear(x, W, b) : F.linear(x, W);
    t.deepEqual(y.shape, [xs[0], 5]);
    allclose(t, y.data, refLinear(x, W, bias ? b : undefined), { atol: 1e-12, rtol: 1e-12 });
  });
}

test('linear: checkBackward with and without bias, N-d x', (t) => {
  LINEAR_X.forEach((xs, i) => {
    checkOpBackward('linear', (linear) => (x, W, b) => linear(x, W, b), [uniform(xs, 20 + i), uniform([3, 4], 30 + i), uniform([3], 40 + i)]);
    checkOpBackward('linear', (linear) => (x, W) => linear(x, W), [uniform(xs, 60 + i), uniform([3, 4], 70 + i)]);
  });
  t.pass();
});

// ---- bad inputs --------------------------------------------------------------------------

test('matmul: bad input, inner dimensions name the op, both arguments and both shapes', (t) => {
  t.throws(() => F.matmul(array([[1, 2, 3]]), array([[1, 2]])), {
    message: /^matmul: inner dimensions 3 and 1 do not match: a \(1, 3\) and b \(1, 2\)$/,
  });
  t.throws(() => F.matmul(uniform([3, 2], 0), uniform([3, 2], 0), false, false), {
    message: /^matmul: inner dimensions 2 and 3 do not match: a \(3, 2\) and b \(3, 2\)$/,
  });
  t.throws(() => F.matmul(uniform([3, 2], 0), uniform([2, 4], 0), true, false), {
    message: /^matmul: inner dimensions 3 and 2 do not match: a \(3, 2\) \(transposed\) and b \(2, 4\)$/,
  });
  t.throws(() => F.matmul(uniform([3, 2], 0), uniform([3, 4], 0), false, true), {
    message: /^matmul: inner dimensions 2 and 4 do not match: a \(3, 2\) and b \(3, 4\) \(transposed\)$/,
  });
  t.notThrows(() => F.matmul(uniform([3, 2], 0), uniform([3, 2], 0), true, false));
  t.notThrows(() => F.matmul(uniform([3, 2], 0), uniform([3, 2], 0), false, true));
});

test('matmul: bad input, rank below 2, batch mismatch, int32 and mixed dtypes', (t) => {
  t.throws(() => F.matmul(array([1, 2]), array([[1], [2]])), { message: /^matmul: expected arrays of at least 2 dims, got a \(2,\) and b \(2, 1\)$/ });
  t.throws(() => F.matmul(uniform([2, 3, 4], 0), uniform([3, 4, 5], 0)), { message: /^matmul: batch dimensions differ: a \(2, 3, 4\) and b \(3, 4, 5\)$/ });
  t.throws(() => F.matmul(uniform([2, 3, 4], 0), uniform([4, 5], 0)), { message: /^matmul: batch dimensions differ: a \(2, 3, 4\) and b \(4, 5\)$/ });
  t.throws(() => F.matmul(array([[1]], undefined, 'int32'), array([[1]])), { message: /^matmul: expected float arrays, got a int32 and b float32$/ });
  t.throws(() => F.matmul(array([[1]], undefined, 'float64'), array([[1]])), { message: /^matmul: dtypes differ: a float64 and b float32$/ });
});

test('linear: bad input, W not 2-D, feature count and bias shape', (t) => {
  t.throws(() => F.linear(uniform([2, 3], 0), uniform([3], 0)), { message: /^linear: W must be 2-D \(out, in\), got W \(3,\)$/ });
  t.throws(() => F.linear(uniform([2, 3], 0), uniform([4, 5], 0)), {
    message: /^linear: x \(2, 3\) has 3 features per sample but W \(4, 5\) expects 5$/,
  });
  t.throws(() => F.linear(uniform([2, 5], 0), uniform([4, 5], 0), uniform([5], 0)), {
    message: /^linear: b \(5,\) does not match W \(4, 5\): expected b \(4,\)$/,
  });
});

// The sum over a leading axis of batched products (a convolution's weight gradient over a
// batch of images): on WebGPU one kernel accumulating in registers, on the CPU products then a sum.
devices.each('matmulSumArray: sum over the first axis of batched products, every transpose flag, against triple loops', async (t, device) => {
  const f32 = (x: NDArray) => new NDArray(new Float32Array(x.toFlat()), x.shape.slice()).to(device);
  for (const [c, [z, m, k, n, transA, transB]] of ([[3, 5, 7, 6, false, false], [4, 20, 9, 26, false, true], [2, 3, 64, 5, true, false], [1, 17, 8, 33, true, true], [5, 50, 12, 8, false, true]] as const).entries()) {
    const a = uniform(transA ? [z, 2, k, m] : [z, 2, m, k], 10 + m), b = uniform(transB ? [z, 2, n, k] : [z, 2, k, n], 20 + n);
    const prods = refMatmul(a, b, transA, transB);
    const want = new Array<number>(2 * m * n).fill(0);
    prods.data.forEach((v, i) => { want[i % want.length] += v; });
    const got = matmulSumArray(f32(a), f32(b), transA, transB);
    t.deepEqual(got.shape, [2, m, n]);
    allclose(t, Array.from(await got.data()), want, { atol: 1e-5, rtol: 1e-5 });
    if (device !== 'webgpu' || c >= 2) continue;
    // every tiling renders the sum loop (a GPU adapter picks 'shared' or 64-wide subgroups), B read both ways
    const { matmulWith, subgroupsUsable } = await import('../../runtime/ops/matmul/webgpu.js');
    const swap = (x: NDArray) => x.transpose([0, 1, 3, 2]);
    const [ga, gb] = [transA ? swap(f32(a)) : f32(a), transB ? swap(f32(b)) : f32(b)];
    for (const tiling of [
      { rows: 'own', tm: 8, tn4: 2, wx: 8, wy: 4 },
      { rows: 'shared', tm: 4, tn4: 1, wx: 16, wy: 16, tkg: 4 },
      ...(subgroupsUsable() ? [{ rows: 'subgroup' as const, tm: 8, tn4: 2, wx: 64, wy: 1 }, { rows: 'subgroup' as const, tm: 24, tn4: 1, wx: 8, wy: 1 }] : []),
    ] as const) {
      allclose(t, Array.from(await matmulWith(ga, gb, tiling, undefined, false, true).data()), want, { atol: 1e-5, rtol: 1e-5 });
    }
  }
});
