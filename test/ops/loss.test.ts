// Losses and metrics (softmaxCrossEntropy, meanSquaredError, accuracy) against plain-JS formulas.

import test from 'ava';
import { NDArray, Variable, array, F } from '../../runtime/index.js';
import { dispatchStats } from '../../runtime/array/cpu/kernels.js';
import { queueStats } from '../../runtime/array/webgpu/queue.js';
import { allclose, checkOpBackward, refStrides, uniform, unravel, useDevices } from '../helpers.js';

/**
 * Plain-JS per-element cross entropy of softmax over axis 1 of x (N, C, ...) against labels
 * t (N, ...); entries labelled `ignore` are 0. Returns per-element losses (t's order) and their count.
 */
function refSce(x: NDArray, t: ArrayLike<number>, ignore = -1): { losses: number[]; valid: number } {
  const shape = x.shape, c = shape[1], data = Array.from(x.toFlat()), st = refStrides(shape);
  const rest = [shape[0], ...shape.slice(2)];
  const losses: number[] = [];
  let valid = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === ignore) { losses.push(0); continue; }
    valid++;
    const idx = unravel(i, rest);
    const at = (k: number) => data[idx[0] * st[0] + k * st[1] + idx.slice(1).reduce((p, j, d) => p + j * st[d + 2], 0)];
    const row = Array.from({ length: c }, (_, k) => at(k));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    losses.push(lse - at(t[i]));
  }
  return { losses, valid };
}

const int32 = (v: number[], shape?: number[]) => array(v, shape ?? [v.length], 'int32');

const devices = await useDevices(test);

test('softmaxCrossEntropy: forward mean over samples, 2-D x', (t) => {
  const x = uniform([4, 5], 1, -3, 3), labels = [4, 0, 2, 2];
  const { losses } = refSce(x, labels);
  const y = F.softmaxCrossEntropy(x, int32(labels));
  t.deepEqual(y.shape, []);
  allclose(t, y.data, losses.reduce((a, b) => a + b) / 4, { atol: 1e-12, rtol: 1e-12 });
});

test('softmaxCrossEntropy: known value, uniform logits give log C', (t) => {
  allclose(t, F.softmaxCrossEntropy(array([[0, 0, 0, 0], [7, 7, 7, 7]]), int32([1, 3])).data, Math.log(4), { atol: 1e-6 });
  // stable for huge logits: the right class far ahead gives ~0, far behind gives the gap
  allclose(t, F.softmaxCrossEntropy(array([[1000, 0], [0, 1000]], undefined, 'float64'), int32([0, 0]), { reduce: 'no' }).data, [0, 1000], { atol: 1e-9 });
});

test('softmaxCrossEntropy: label -1 is ignored; normalize true divides by the valid count, false by the batch size', (t) => {
  const x = uniform([5, 3], 2, -2, 2), labels = [1, -1, 0, -1, 2];
  const { losses, valid } = refSce(x, labels);
  const total = losses.reduce((a, b) => a + b);
  t.is(valid, 3);
  allclose(t, F.softmaxCrossEntropy(x, int32(labels)).data, total / 3, { atol: 1e-12, rtol: 1e-12 });
  allclose(t, F.softmaxCrossEntropy(x, int32(labels), { normalize: false }).data, total / 5, { atol: 1e-12, rtol: 1e-12 });
  // every label ignored: the loss is 0, not NaN
  allclose(t, F.softmaxCrossEntropy(x, int32([-1, -1, -1, -1, -1])).data, 0, { atol: 0 });
});

test('softmaxCrossEntropy: a custom ignoreLabel', (t) => {
  const x = uniform([3, 4], 3), labels = [2, 7, 1];
  const { losses } = refSce(x, labels, 7);
  allclose(t, F.softmaxCrossEntropy(x, int32(labels), { ignoreLabel: 7 }).data, (losses[0] + losses[2]) / 2, { atol: 1e-12 });
});

test("softmaxCrossEntropy: reduce 'no' gives per-sample losses, 0 where ignored", (t) => {
  const x = uniform([4, 3], 4), labels = [0, -1, 2, 1];
  const y = F.softmaxCrossEntropy(x, int32(labels), { reduce: 'no' });
  t.deepEqual(y.shape, [4]);
  allclose(t, y.data, refSce(x, labels).losses, { atol: 1e-12, rtol: 1e-12 });
});

test('softmaxCrossEntropy: N-d x (N, C, d1, d2) with the classes on axis 1', (t) => {
  const x = uniform([2, 3, 2, 2], 5, -2, 2);
  const labels = [0, 2, -1, 1, 2, 2, 0, -1];
  const tt = int32(labels, [2, 2, 2]);
  const { losses, valid } = refSce(x, labels);
  const none = F.softmaxCrossEntropy(x, tt, { reduce: 'no' });
  t.deepEqual(none.shape, [2, 2, 2]);
  allclose(t, none.data, losses, { atol: 1e-12, rtol: 1e-12 });
  const total = losses.reduce((a, b) => a + b);
  allclose(t, F.softmaxCrossEntropy(x, tt).data, total / valid, { atol: 1e-12, rtol: 1e-12 });
  allclose(t, F.softmaxCrossEntropy(x, tt, { normalize: false }).data, total / 2, { atol: 1e-12, rtol: 1e-12 });
});

test('softmaxCrossEntropy: checkBackward, 2-D and N-d, ignored labels, normalize and reduce', (t) => {
  const t2 = int32([2, -1, 0, 1]), tn = int32([0, 2, -1, 1, 2, 2], [2, 3]);
  for (const opts of [{}, { normalize: false }, { reduce: 'no' as const }]) {
    checkOpBackward('softmaxCrossEntropy', (sce) => (x, l) => sce(x, l, opts), [uniform([4, 3], 10, -2, 2), t2]);
    checkOpBackward('softmaxCrossEntropy', (sce) => (x, l) => sce(x, l, opts), [uniform([2, 3, 3], 11, -2, 2), tn]);
  }
  // the gradient of the mean loss is (softmax - onehot) / count, and 0 on ignored rows
  const x = new Variable(array([[0, 0], [1, 2]], undefined, 'float64'));
  F.softmaxCrossEntropy(x, int32([1, -1])).backward();
  allclose(t, x.grad!, [0.5, -0.5, 0, 0], { atol: 1e-12 });
});

test('meanSquaredError: forward mean((x0 - x1)^2)', (t) => {
  const a = uniform([3, 4], 6), b = uniform([3, 4], 7);
  const A = Array.from(a.toFlat()), B = Array.from(b.toFlat());
  const expected = A.reduce((s, v, i) => s + (v - B[i]) ** 2, 0) / 12;
  allclose(t, F.meanSquaredError(a, b).data, expected, { atol: 1e-12, rtol: 1e-12 });
  allclose(t, F.meanSquaredError(array([1, 2]), array([3, 2])).data, 2);
});

test('meanSquaredError: checkBackward', (t) => {
  checkOpBackward('meanSquaredError', (mse) => (a, b) => mse(a, b), [uniform([3, 4], 20), uniform([3, 4], 21)]);
  checkOpBackward('meanSquaredError', (mse) => (a, b) => mse(a, b), [uniform([5], 22), uniform([5], 23)]);
  t.pass();
});

test('accuracy: forward counts argmax hits, skipping ignoreLabel; N-d y uses axis 1', (t) => {
  const y = array([[0.1, 0.9, 0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]]);
  t.is(F.accuracy(y, int32([1, 0, 0, 0])).itemSync(), 0.75);
  allclose(t, F.accuracy(y, int32([1, 2, 2, -1]), -1).data, 2 / 3); // float32, like y
  t.is(F.accuracy(y, int32([-1, -1, -1, -1]), -1).itemSync(), 0);
  t.false(F.accuracy(y, int32([1, 0, 0, 0])).requiresGrad);
  // (N, C, d) = (2, 3, 2): argmax over C at each (n, d)
  const yn = array([[[0, 5], [9, 1], [3, 2]], [[7, 0], [1, 0], [0, 8]]]); // argmax: [[1, 0], [0, 2]]
  t.is(F.accuracy(yn, int32([1, 0, 0, 0], [2, 2])).itemSync(), 0.75);
});

// ---- bad inputs --------------------------------------------------------------------------

test('softmaxCrossEntropy: bad input, shape mismatch, float labels, labels out of range, x rank', (t) => {
  const x = uniform([2, 4], 0);
  t.throws(() => F.softmaxCrossEntropy(x, int32([0, 1, 2])), {
    message: /^softmaxCrossEntropy: t \(3,\) does not match x \(2, 4\): expected t \(2,\)$/,
  });
  t.throws(() => F.softmaxCrossEntropy(x, array([0, 1])), { message: /^softmaxCrossEntropy: t must be an int32 array of labels, got float32 t \(2,\)$/ });
  t.throws(() => F.softmaxCrossEntropy(x, int32([0, 4])), { message: /^softmaxCrossEntropy: label 4 in t is outside \[0, 4\) and is not the ignore label -1$/ });
  t.throws(() => F.softmaxCrossEntropy(x, int32([0, -2])), { message: /^softmaxCrossEntropy: label -2 in t/ });
  t.throws(() => F.softmaxCrossEntropy(uniform([4], 0), int32([0])), { message: /^softmaxCrossEntropy: x must be \(N, C, \.\.\.\), got x \(4,\)$/ });
});

test('meanSquaredError: bad input names the op and both shapes', (t) => {
  t.throws(() => F.meanSquaredError(uniform([2, 3], 0), uniform([3, 2], 0)), {
    message: /^meanSquaredError: x0 \(2, 3\) and x1 \(3, 2\) must have the same shape$/,
  });
  t.throws(() => F.meanSquaredError(uniform([3], 0), uniform([1, 3], 0)), { message: /^meanSquaredError: x0 \(3,\) and x1 \(1, 3\)/ });
});

test('accuracy: bad input, float labels and shape mismatch', (t) => {
  const y = uniform([3, 2], 0);
  t.throws(() => F.accuracy(y, array([0, 1, 1])), { message: /^accuracy: t must be an int32 array of labels, got float32$/ });
  t.throws(() => F.accuracy(y, int32([0, 1])), { message: /^accuracy: t \(2,\) does not match y \(3, 2\): expected t \(3,\)$/ });
  t.throws(() => F.accuracy(uniform([3], 0), int32([0, 1, 1])), { message: /^accuracy: t \(3,\) does not match y \(3,\)/ });
});

// ---- the fused node: kernels counted on both devices, against the plain-JS reference ----------

const counter = (device: string) => () => (device === 'cpu' ? dispatchStats.count : queueStats.dispatches);
const f32 = (x: NDArray) => array(Float32Array.from(x.toFlat()), x.shape);

devices.each("softmaxCrossEntropy: the fused node is 4 kernels forward on a GPU ('mean'; 3 otherwise), one pass on the CPU, and 1 backward, equal to the reference, logits up to 80", async (t, device) => {
  const launches = counter(device);
  const on = (a: NDArray) => (device === 'cpu' ? a : a.toGpu());
  // large logits: a shift-free exp would overflow float32
  const xs = f32(uniform([6, 5], 61, -80, 80)), labels = [4, -1, 0, 2, -1, 1];
  const { losses, valid } = refSce(xs, labels);
  const softmaxRows = Array.from({ length: 6 }, (_, i) => {
    const row = Array.from(xs.toFlat()).slice(i * 5, i * 5 + 5), m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  for (const [opts, kernels, scale] of [[{}, 4, 1 / valid], [{ normalize: false }, 3, 1 / 6], [{ reduce: 'no' as const }, 3, 1]] as const) {
    const x = new Variable(on(xs));
    let before = launches();
    const loss = F.softmaxCrossEntropy(x, on(int32(labels)), opts);
    t.is(launches() - before, device === 'cpu' ? 1 : kernels, `forward ${JSON.stringify(opts)}`);
    const gyRow = Array.from({ length: 6 }, (_, i) => (opts === undefined || !('reduce' in opts) ? 1 : 0.5 + i));
    allclose(t, await loss.data.data(), 'reduce' in opts ? losses : [losses.reduce((a, b) => a + b, 0) * scale], { atol: 1e-4, rtol: 1e-5 });
    loss.grad = on('reduce' in opts ? f32(array(gyRow, [6])) : f32(array(1)));
    before = launches();
    loss.backward();
    t.is(launches() - before, 1, `backward ${JSON.stringify(opts)}`);
    const expected = softmaxRows.flatMap((row, i) => row.map((p, k) => (labels[i] === -1 ? 0 : (p - (k === labels[i] ? 1 : 0)) * gyRow[i] * scale)));
    allclose(t, await x.grad!.data(), expected, { atol: 1e-6, rtol: 1e-4 });
  }
});

devices.each('softmaxCrossEntropy: a NaN logit makes its sample NaN (loss and gradient row) and leaves the other rows finite, on either device', async (t, device) => {
  const on = (a: NDArray) => (device === 'cpu' ? a : a.toGpu());
  const xs = f32(uniform([3, 4], 71));
  const flat = Float32Array.from(xs.toFlat());
  flat[4 + 2] = NaN; // row 1
  const x = new Variable(on(array(flat, [3, 4])));
  const per = F.softmaxCrossEntropy(x, on(int32([0, 3, 1])), { reduce: 'no' });
  const losses = await per.data.data();
  t.true(Number.isNaN(losses[1]));
  t.true(Number.isFinite(losses[0]) && Number.isFinite(losses[2]));
  const loss = F.softmaxCrossEntropy(x, on(int32([0, 3, 1])));
  t.true(Number.isNaN(await loss.item()));
  F.sum(per).backward();
  const g = await x.grad!.data();
  t.true([4, 5, 6, 7].every((i) => Number.isNaN(g[i])), 'row 1 of the gradient is NaN');
  t.true([0, 1, 2, 3, 8, 9, 10, 11].every((i) => Number.isFinite(g[i])), 'rows 0 and 2 stay finite');
});
