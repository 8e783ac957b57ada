// matmul, linear, losses, selectItem, accuracy and dropout on every device, and ops refusing inputs on two devices.

import test from 'ava';
import { NDArray, Variable, array, seed, testMode, F } from '../../runtime/index.js';
import { checkOnDevices, on, product, refStrides, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const int32 = (v: number[], shape?: number[]) => array(v, shape ?? [v.length], 'int32');

// ---- matmul and linear ---------------------------------------------------------------------

/** Plain-JS op(a) @ op(b) for 2-D row-major a, b. */
function refMatmul2(a: NDArray, b: NDArray, transA: boolean, transB: boolean): number[] {
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const n = transB ? b.shape[0] : b.shape[1];
  const A = Array.from(a.toFlat()), B = Array.from(b.toFlat()), sa = refStrides(a.shape), sb = refStrides(b.shape);
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[transA ? p * sa[0] + i : i * sa[0] + p] * B[transB ? j * sb[0] + p : p * sb[0] + j];
      out.push(s);
    }
  }
  return out;
}

const MM_CASES = product({ batch: [[], [2], [2, 3]] as number[][], transA: [false, true], transB: [false, true] });
const shapesFor = (batch: number[], ta: boolean, tb: boolean, m: number, k: number, n: number) =>
  [[...batch, ...(ta ? [k, m] : [m, k])], [...batch, ...(tb ? [n, k] : [k, n])]];

devices.each('matmul: forward and gradients, 2-D and batched, all four transpose flag combinations', async (t, device) => {
  for (const [i, { batch, transA, transB }] of MM_CASES.entries()) {
    const [sa, sb] = shapesFor(batch, transA, transB, 3, 4, 2);
    const a = uniform(sa, 10 + i), b = uniform(sb, 50 + i);
    const expected = batch.length === 0 ? [refMatmul2(a, b, transA, transB)] : undefined;
    await checkOnDevices('matmul', (matmul) => (p, q) => matmul(p, q, transA, transB), [a, b], { device, expected });
  }
  t.pass();
});

devices.each('matmul: shapes across the GPU tiles (m 13, n 65), k of 1, and reversed (negative-stride) views', async (t, device) => {
  const a = uniform([13, 7], 1), b = uniform([7, 65], 2);
  await checkOnDevices('matmul', (matmul) => (p, q) => matmul(p, q), [a, b], { device, expected: [refMatmul2(a, b, false, false)], atol: 1e-5, rtol: 1e-4 });
  const c = uniform([4, 1], 3), d = uniform([1, 3], 4);
  await checkOnDevices('matmul', (matmul) => (p, q) => matmul(p, q), [c, d], { device, expected: [refMatmul2(c, d, false, false)] });
  // rows of p reversed, columns of q every other one reversed: strides -k and -2
  const rev = F.slice(null, null, -1), rev2 = F.slice(null, null, -2);
  await checkOnDevices('matmul', (matmul) => (p, q) => matmul(F.getItem(p, rev), F.getItem(q, [F.slice(), rev2])), [uniform([3, 4], 5), uniform([4, 6], 6)], { device });
  t.pass();
});

devices.each('linear: forward and gradients with and without bias, N-d x', async (t, device) => {
  for (const [i, xs] of [[3, 4], [3, 2, 2], [2, 1, 2, 2]].entries()) {
    await checkOnDevices('linear', (linear) => (x, W, b) => linear(x, W, b), [uniform(xs, 20 + i), uniform([3, 4], 30 + i), uniform([3], 40 + i)], { device });
    await checkOnDevices('linear', (linear) => (x, W) => linear(x, W), [uniform(xs, 60 + i), uniform([3, 4], 70 + i)], { device });
  }
  t.pass();
});

// ---- selectItem and losses ----------------------------------------------------------------

devices.each('selectItem: forward and gradients, int32 labels on the device; out-of-range labels give 0', async (t, device) => {
  const x = uniform([4, 3], 40), xs = Array.from(x.toFlat()), labels = [2, 0, 0, 1];
  await checkOnDevices('selectItem', (selectItem) => (a, l) => selectItem(a, l), [x, int32(labels)], { device, expected: [labels.map((c, i) => xs[i * 3 + c])] });
  const y = F.selectItem(on(device, x), on(device, int32([3, -1, 1, 2])));
  const got = Array.from(await y.data.data());
  t.deepEqual(got.slice(0, 2), [0, 0]);
  t.is(got[2], Math.fround(xs[7]));
});

devices.each('softmaxCrossEntropy: forward and gradients, 2-D and N-d, ignored labels, normalize and reduce', async (t, device) => {
  const t2 = int32([2, -1, 0, 1]), tn = int32([0, 2, -1, 1, 2, 2], [2, 3]);
  for (const opts of [{}, { normalize: false }, { reduce: 'no' as const }]) {
    await checkOnDevices('softmaxCrossEntropy', (sce) => (x, l) => sce(x, l, opts), [uniform([4, 3], 10, -2, 2), t2], { device });
    await checkOnDevices('softmaxCrossEntropy', (sce) => (x, l) => sce(x, l, opts), [uniform([2, 3, 3], 11, -2, 2), tn], { device });
  }
  // uniform logits give log C; every label ignored gives 0, not NaN
  await checkOnDevices('softmaxCrossEntropy', (sce) => (x, l) => sce(x, l), [array([[0, 0, 0, 0], [7, 7, 7, 7]]), int32([1, 3])], { device, expected: [[Math.log(4)]] });
  await checkOnDevices('softmaxCrossEntropy', (sce) => (x, l) => sce(x, l, { ignoreLabel: 5 }), [uniform([2, 3], 12), int32([5, 5])], { device, expected: [[0]] });
  t.pass();
});

devices.each('meanSquaredError: forward and gradients', async (t, device) => {
  const a = uniform([3, 4], 20), b = uniform([3, 4], 21), A = Array.from(a.toFlat()), B = Array.from(b.toFlat());
  await checkOnDevices('meanSquaredError', (mse) => (p, q) => mse(p, q), [a, b], { device, expected: [[A.reduce((s, v, i) => s + (v - B[i]) ** 2, 0) / 12]] });
  await checkOnDevices('meanSquaredError', (mse) => (p, q) => mse(p, q), [uniform([5], 22), uniform([5], 23)], { device });
  t.pass();
});

// ---- accuracy (not differentiable) ---------------------------------------------------------

devices.each('accuracy: counts argmax hits on the device, skipping ignoreLabel; N-d y uses axis 1', async (t, device) => {
  const y = on(device, array([[0.1, 0.9, 0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]]));
  const acc = F.accuracy(y, on(device, int32([1, 0, 0, 0])));
  t.is(acc.data.device, device);
  t.false(acc.requiresGrad);
  t.is(acc.creator, null);
  t.is(await acc.item(), 0.75);
  t.is(await F.accuracy(y, on(device, int32([1, 2, 2, -1])), -1).item(), Math.fround(2 / 3));
  t.is(await F.accuracy(y, on(device, int32([-1, -1, -1, -1])), -1).item(), 0);
  const yn = on(device, array([[[0, 5], [9, 1], [3, 2]], [[7, 0], [1, 0], [0, 8]]])); // argmax over C: [[1, 0], [0, 2]]
  t.is(await F.accuracy(yn, on(device, int32([1, 0, 0, 0], [2, 2]))).item(), 0.75);
});

// ---- dropout -------------------------------------------------------------------------------

devices.each('dropout: test mode and ratio 0 return x itself', async (t, device) => {
  const x = on(device, uniform([50], 1));
  t.is(testMode(() => F.dropout(x, 0.5)), x);
  t.is(F.dropout(x, 0), x);
});

devices.each('dropout: keeps about 1 - ratio of the elements, each exactly x / (1 - ratio) in float32', async (t, device) => {
  seed(123);
  const n = 20000, x = uniform([n], 2, 0.5, 1.5), xs = new Float32Array(x.toFlat());
  for (const ratio of [0.3, 0.5, 0.8]) {
    const y = F.dropout(on(device, x), ratio);
    t.is(y.data.device, device);
    const ys = await y.data.data();
    let kept = 0, keptFirstHalf = 0, wrong = -1;
    ys.forEach((v, i) => {
      if (v === 0) return;
      kept++;
      if (i < n / 2) keptFirstHalf++;
      if (wrong < 0 && Math.abs(v - xs[i] / (1 - ratio)) > 1e-6 * Math.abs(v)) wrong = i;
    });
    t.is(wrong, -1, `ratio ${ratio}: element ${wrong} is ${ys[wrong]}, expected 0 or ${xs[wrong] / (1 - ratio)}`);
    // Binomial(n, 1 - ratio): within 5 standard deviations, over all and over the first half
    const sd = (m: number) => Math.sqrt((ratio * (1 - ratio)) / m);
    t.true(Math.abs(kept / n - (1 - ratio)) < 5 * sd(n), `ratio ${ratio}: kept ${kept / n}`);
    t.true(Math.abs(keptFirstHalf / (n / 2) - (1 - ratio)) < 5 * sd(n / 2), `ratio ${ratio}: kept ${keptFirstHalf / (n / 2)} of the first half`);
  }
});

devices.each('dropout: the gradient is gy times the same mask; masks differ between calls and seed() reproduces them', async (t, device) => {
  const ratio = 0.25, gy = uniform([1000], 4);
  seed(5);
  const x = on(device, uniform([1000], 3, 0.5, 1.5));
  const y = F.dropout(x, ratio);
  y.grad = on(device, gy).data;
  y.backward();
  const ys = await y.data.data(), g = await x.grad!.data(), gys = new Float32Array(gy.toFlat());
  t.true(Array.from(g).every((v, i) => (ys[i] === 0 ? v === 0 : Math.abs(v - gys[i] / (1 - ratio)) <= 1e-6 * Math.abs(v) + 1e-7)));
  const mask = async () => Array.from(await F.dropout(x, 0.5).data.data(), (v) => v === 0);
  const [a, b] = [await mask(), await mask()];
  t.notDeepEqual(a, b);
  seed(9);
  const c = await mask();
  seed(9);
  t.deepEqual(await mask(), c);
});

// ---- bad inputs: one op, two devices -------------------------------------------------------

const both = (op: string, a: string, b: string) => new RegExp(`^${op}: inputs are on different devices \\(${a} on cpu, ${b} on webgpu\\)`);

devices.gpu('add, where, maximum: inputs on two devices are refused, naming the op, the arguments and both devices', (t) => {
  const cpu = new Variable(array([[1, -2], [3, 4]])), gpu = new Variable(array([[1, -2], [3, 4]])).toGpu();
  t.throws(() => F.add(cpu, gpu), { message: both('add', 'x', 'y') });
  t.throws(() => cpu.mul(gpu), { message: both('mul', 'x', 'y') });
  t.throws(() => F.maximum(cpu, gpu), { message: both('maximum', 'x', 'y') });
  t.throws(() => F.add(gpu, cpu), { message: /^add: inputs are on different devices \(x on webgpu, y on cpu\)/ });
  t.throws(() => F.where(int32([1, 0]), gpu, gpu), { message: /^where: inputs are on different devices \(condition on cpu, x on webgpu, y on webgpu\)/ });
});

devices.gpu('matmul, linear, concat, selectItem: inputs on two devices are refused, naming the op and both devices', (t) => {
  const a = on('cpu', uniform([2, 3], 1)), b = on('cpu', uniform([3, 2], 2)).data;
  t.throws(() => F.matmul(a, b.toGpu()), { message: both('matmul', 'a', 'b') });
  t.throws(() => F.linear(a, on('cpu', uniform([4, 3], 3)).data.toGpu()), { message: both('linear', 'x', 'W') });
  const W = array([[1, 2, 3], [4, 5, 6]]).toGpu();
  t.throws(() => F.linear(a.data.toGpu(), W, array([1, 2])), { message: /^linear: inputs are on different devices \(x on webgpu, W on webgpu, b on cpu\)/ });
  t.throws(() => F.concat([a, a.data.toGpu()], 0), { message: both('concat', 'xs\\[0\\]', 'xs\\[1\\]') });
  t.throws(() => F.selectItem(a, int32([0, 1]).toGpu()), { message: both('selectItem', 'x', 't') });
});

devices.gpu('softmaxCrossEntropy, meanSquaredError, accuracy: inputs on two devices are refused by the op itself', (t) => {
  const x = array([[1, 2, 3], [4, 5, 6]]), labels = int32([0, 2]);
  t.throws(() => F.softmaxCrossEntropy(x, labels.toGpu()), { message: both('softmaxCrossEntropy', 'x', 't') });
  t.throws(() => F.softmaxCrossEntropy(x.toGpu(), labels), { message: /^softmaxCrossEntropy: inputs are on different devices \(x on webgpu, t on cpu\)/ });
  t.throws(() => F.meanSquaredError(x, x.toGpu()), { message: both('meanSquaredError', 'x0', 'x1') });
  t.throws(() => F.accuracy(x, labels.toGpu()), { message: both('accuracy', 'y', 't') });
});

devices.gpu('float64 cannot go to the GPU: the error says so and names the array', (t) => {
  t.throws(() => array([1, 2], [2], 'float64').toGpu(), { message: /float64 arrays are not supported on the GPU/ });
});
