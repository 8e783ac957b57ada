// Shape, indexing and reduction ops on every device: float32 forward and gradients against the checked CPU run.

import test from 'ava';
import { NDArray, array, F } from '../../runtime/index.js';
import type { Index } from '../../runtime/ops/indexing.js';
import { checkOnDevices, distinct, on, plain, refBroadcast, uniform, unravel, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const { slice } = F;

// ---- shape ops ---------------------------------------------------------------------------

const BROADCASTS: [number[], number[]][] = [[[3], [2, 3]], [[2, 1], [2, 4]], [[1, 3, 1], [2, 3, 4]], [[], [2, 2]]];

devices.each('broadcastTo: forward and gradients (the gradient sums over broadcast axes)', async (t, device) => {
  for (const [k, [from, to]] of BROADCASTS.entries()) {
    const x = uniform(from, 10 + k);
    const expected = [refBroadcast((v) => v, plain(x), { data: new Array<number>(to.reduce((a, b) => a * b, 1)).fill(0), shape: to }).data];
    await checkOnDevices('broadcastTo', (broadcastTo) => (a) => broadcastTo(a, to), [x], { device, expected });
  }
  t.pass();
});

devices.each('reshape: forward and gradients, -1 inferred, also from a transposed (non-contiguous) view', async (t, device) => {
  const x = uniform([2, 3, 2], 20);
  await checkOnDevices('reshape', (reshape) => (a) => reshape(a, [3, -1]), [x], { device, expected: [Array.from(x.toFlat())] });
  const y = uniform([2, 3], 21), Y = Array.from(y.toFlat());
  await checkOnDevices('reshape', (reshape) => (a) => reshape(F.transpose(a), [-1]), [y], { device, expected: [[0, 3, 1, 4, 2, 5].map((i) => Y[i])] });
  t.pass();
});

devices.each('transpose: forward and gradients over axis orders', async (t, device) => {
  for (const axes of [undefined, [1, 0, 2], [2, 0, 1], [-1, 0, -2]]) await checkOnDevices('transpose', (transpose) => (a) => transpose(a, axes), [uniform([2, 3, 4], 30)], { device });
  t.pass();
});

devices.each('swapaxes: forward and gradients', async (t, device) => {
  await checkOnDevices('swapaxes', (swapaxes) => (a) => swapaxes(a, 0, 2), [uniform([2, 3, 4], 40)], { device });
  await checkOnDevices('swapaxes', (swapaxes) => (a) => swapaxes(a, -1, 0), [uniform([3, 2], 41)], { device });
  t.pass();
});

devices.each('expandDims, squeeze, flatten: forward and gradients', async (t, device) => {
  await checkOnDevices('expandDims', (expandDims) => (a) => expandDims(a, 1), [uniform([2, 3], 50)], { device });
  await checkOnDevices('expandDims', (expandDims) => (a) => expandDims(a, -1), [uniform([4], 51)], { device });
  await checkOnDevices('squeeze', (squeeze) => (a) => squeeze(a), [uniform([1, 3, 1, 2], 60)], { device });
  await checkOnDevices('squeeze', (squeeze) => (a) => squeeze(a, 0), [uniform([1, 4], 61)], { device });
  // flatten of a non-contiguous view copies on the device
  await checkOnDevices('flatten', (flatten) => (a) => flatten(F.transpose(a)), [uniform([2, 3, 2], 70)], { device });
  t.pass();
});

devices.each('sumTo: forward and gradients', async (t, device) => {
  const cases: [number[], number[]][] = [[[2, 3], [3]], [[2, 3], [2, 1]], [[2, 3, 4], [3, 1]], [[2, 3], []], [[2, 3], [2, 3]]];
  for (const [k, [from, to]] of cases.entries()) await checkOnDevices('sumTo', (sumTo) => (a) => sumTo(a, to), [uniform(from, 80 + k)], { device });
  t.pass();
});

// ---- indexing ----------------------------------------------------------------------------

/** x[i, j, k] = 100 i + 10 j + k over (2, 3, 4): every element names its own position. */
const X = new NDArray(new Float64Array(24).map((_, p) => 100 * Math.floor(p / 12) + 10 * (Math.floor(p / 4) % 3) + (p % 4)), [2, 3, 4]);
const at = (i: number, j: number, k: number) => 100 * i + 10 * j + k;
const pick = (i: number[], j: number[], k: number[]) => i.flatMap((a) => j.flatMap((b) => k.map((c) => at(a, b, c))));
const J = [0, 1, 2], K = [0, 1, 2, 3];

// NumPy's x[...] with the values worked out by hand (a subset of indexing.test.ts's cases)
const GET_ITEM: { index: Index | Index[]; values: number[] }[] = [
  { index: 0, values: pick([0], J, K) },
  { index: [1, 2, 3], values: [at(1, 2, 3)] },
  { index: [slice(), slice(2, 0, -1), slice(null, null, 3)], values: pick([0, 1], [2, 1], [0, 3]) },
  { index: [null, 0, '...', 1], values: pick([0], J, [1]) },
  { index: [slice(null, null, -2), -1, slice(3, null, -2)], values: pick([1], [2], [3, 1]) },
  { index: [slice(5, 10)], values: [] },
];

devices.each('getItem: forward and gradients over ints, negative steps, newaxis, ellipsis and an empty slice', async (t, device) => {
  for (const c of GET_ITEM) await checkOnDevices('getItem', (getItem) => (a) => getItem(a, c.index), [X], { device, expected: [c.values] });
  t.pass();
});

devices.each('concat: forward and gradients over two and three inputs', async (t, device) => {
  await checkOnDevices('concat', (concat) => (a, b, c) => concat([a, b, c], 1), [uniform([2, 1, 3], 20), uniform([2, 2, 3], 21), uniform([2, 3, 3], 22)], { device });
  const a = array([[1, 2], [3, 4]]), b = array([[5], [6]]);
  await checkOnDevices('concat', (concat) => (p, q) => concat([p, q]), [a, b], { device, expected: [[1, 2, 5, 3, 4, 6]] });
  await checkOnDevices('concat', (concat) => (p, q) => concat([p, q], 0), [uniform([1, 3], 23), uniform([2, 3], 24)], { device });
  t.pass();
});

devices.each('splitAxis: forward and gradients, all outputs and with an output unused', async (t, device) => {
  const x = array([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]);
  await checkOnDevices('splitAxis', (splitAxis) => (a) => splitAxis(a, [1, 4], 1), [x], { device, expected: [[0, 6], [1, 2, 3, 7, 8, 9], [4, 5, 10, 11]] });
  await checkOnDevices('splitAxis', (splitAxis) => (a) => splitAxis(a, 2, 0)[1], [uniform([4, 3], 31)], { device });
  t.pass();
});

// ---- reductions --------------------------------------------------------------------------

const RED_CASES: { shape: number[]; axes: number[] | number | undefined }[] = [
  { shape: [5], axes: undefined },
  { shape: [2, 3, 4], axes: undefined },
  { shape: [2, 3, 4], axes: 1 },
  { shape: [2, 3, 4], axes: -1 },
  { shape: [2, 3, 4], axes: [0, 2] },
];
const eachReduction = async (check: (x: NDArray, axes: number[] | number | undefined, keepdims: boolean) => Promise<void>) => {
  for (const [k, c] of RED_CASES.entries()) for (const keepdims of [false, true]) await check(distinct(c.shape, 90 + k), c.axes, keepdims);
};

devices.each('sum: forward and gradients over axes and keepdims', async (t, device) => {
  await eachReduction((x, axes, keepdims) => checkOnDevices('sum', (sum) => (a) => sum(a, axes, keepdims), [x], { device }));
  t.pass();
});
devices.each('mean: forward and gradients over axes and keepdims', async (t, device) => {
  await eachReduction((x, axes, keepdims) => checkOnDevices('mean', (mean) => (a) => mean(a, axes, keepdims), [x], { device }));
  t.pass();
});
devices.each('max: forward and gradients over axes and keepdims (distinct values)', async (t, device) => {
  await eachReduction((x, axes, keepdims) => checkOnDevices('max', (max) => (a) => max(a, axes, keepdims), [x], { device }));
  t.pass();
});
devices.each('min: forward and gradients over axes and keepdims (distinct values)', async (t, device) => {
  await eachReduction((x, axes, keepdims) => checkOnDevices('min', (min) => (a) => min(a, axes, keepdims), [x], { device }));
  t.pass();
});

devices.each('sum/mean/max/min: known values; tied maxima share the gradient', async (t, device) => {
  const x = on(device, array([[1, 5, 2], [4, 0, 6]]));
  t.deepEqual(Array.from(await F.sum(x, 1).data.data()), [8, 10]);
  t.deepEqual(Array.from(await x.mean(0).data.data()), [2.5, 2.5, 4]);
  t.deepEqual(Array.from(await x.max().data.data()), [6]);
  t.deepEqual(Array.from(await F.min(x, 1, true).data.data()), [1, 0]);
  const v = on(device, array([3, 1, 3, 2]));
  F.max(v).backward();
  t.deepEqual(Array.from(await v.grad!.data()), [1, 0, 1, 0]);
});

// ---- argmax / argmin (not differentiable) --------------------------------------------------

/** Plain-JS first-wins argmax/argmin of (2, 3, 4) data along `axis`. */
function refArg(op: 'argmax' | 'argmin', data: ArrayLike<number>, axis: number): number[] {
  const shape = [2, 3, 4], out: number[] = [], outShape = shape.filter((_, d) => d !== axis);
  for (let i = 0; i < outShape.reduce((p, q) => p * q, 1); i++) {
    const rest = unravel(i, outShape);
    let best = 0, bv = NaN;
    for (let j = 0; j < shape[axis]; j++) {
      const idx = [...rest.slice(0, axis), j, ...rest.slice(axis)];
      const v = data[(idx[0] * 3 + idx[1]) * 4 + idx[2]];
      if (j === 0 || (op === 'argmax' ? v > bv : v < bv)) { best = j; bv = v; }
    }
    out.push(best);
  }
  return out;
}

devices.each('argmax/argmin: int32 indices equal a plain-JS scan along every axis, and through a transposed view', async (t, device) => {
  const x = uniform([2, 3, 4], 5), data = new Float32Array(x.toFlat());
  for (const op of ['argmax', 'argmin'] as const) {
    for (const axis of [0, 1, 2, -1]) {
      const y = F[op](on(device, x), axis);
      t.is(y.data.device, device);
      t.is(y.dtype, 'int32');
      t.false(y.requiresGrad);
      t.deepEqual(Array.from(await y.data.data()), refArg(op, data, axis < 0 ? axis + 3 : axis), `${op} axis ${axis}`);
    }
    // along axis 0 of the (4, 3, 2) transposed view is along axis 2 of x, its (2, 3) result transposed
    const viaView = F[op](F.transpose(on(device, x), [2, 1, 0]), 0);
    const want = refArg(op, data, 2);
    t.deepEqual(Array.from(await viaView.data.data()), [0, 1, 2].flatMap((j) => [want[j], want[3 + j]]));
  }
});

devices.each('argmax/argmin: default axis 0, first index wins on ties', async (t, device) => {
  t.deepEqual(Array.from(await F.argmax(on(device, array([1, 7, 7, 2]))).data.data()), [1]);
  t.deepEqual(Array.from(await F.argmin(on(device, array([3, 0, 5, 0]))).data.data()), [1]);
  t.deepEqual(Array.from(await F.argmax(on(device, array([[1, 9], [4, 2]]))).data.data()), [1]);
  t.deepEqual(Array.from(await F.argmax(on(device, array([[1, 9], [4, 2]])), 0).data.data()), [1, 0]);
});
