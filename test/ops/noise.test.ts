// dropout: identity in test mode, an inverted-dropout mask while training.

import test from 'ava';
import { Variable, array, seed, type NDArray, usingConfig, testMode, F, config } from '../../runtime/index.js';
import { dispatchStats } from '../../runtime/array/cpu/kernels.js';
import { queueStats } from '../../runtime/array/webgpu/queue.js';
import { randomUniform } from '../../runtime/array/random-uniform.js';
import { allclose, checkOpBackward, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

test('dropout: test mode returns x unchanged (usingConfig and testMode)', (t) => {
  const x = new Variable(uniform([50], 1));
  for (const y of [usingConfig({ train: false }, () => F.dropout(x, 0.5)), testMode(() => F.dropout(x, 0.9))]) {
    t.deepEqual(Array.from(y.data.toFlat()), Array.from(x.data.toFlat()));
  }
  t.true(config.train);
});

test('dropout: train mode keeps about 1 - ratio of the elements, scaled by 1 / (1 - ratio)', (t) => {
  seed(123);
  const n = 20000;
  for (const ratio of [0.3, 0.5, 0.8]) {
    const x = uniform([n], 2, 0.5, 1.5), xs = Array.from(x.toFlat());
    const ys = Array.from(F.dropout(x, ratio).data.toFlat());
    let kept = 0;
    ys.forEach((v, i) => {
      if (v === 0) return;
      kept++;
      // every kept element is exactly x / (1 - ratio)
      if (Math.abs(v - xs[i] / (1 - ratio)) > 1e-12) t.fail(`element ${i}: ${v} != ${xs[i]} / (1 - ${ratio})`);
    });
    // Binomial(n, 1 - ratio): 5 standard deviations of the kept fraction
    const sd = Math.sqrt((ratio * (1 - ratio)) / n);
    t.true(Math.abs(kept / n - (1 - ratio)) < 5 * sd, `ratio ${ratio}: kept ${kept / n}, expected ${1 - ratio} +- ${5 * sd}`);
  }
});

test('dropout: the gradient is the same mask; ratio 0 is the identity; masks differ between calls', (t) => {
  seed(5);
  const x = new Variable(uniform([1000], 3, 0.5, 1.5));
  const y = F.dropout(x, 0.25);
  F.sum(y).backward();
  const ys = Array.from(y.data.toFlat()), g = Array.from(x.grad!.toFlat());
  t.true(g.every((v, i) => (ys[i] === 0 ? v === 0 : Math.abs(v - 1 / 0.75) < 1e-12)));
  t.deepEqual(Array.from(F.dropout(x, 0).data.toFlat()), Array.from(x.data.toFlat()));
  const a = Array.from(F.dropout(x, 0.5).data.toFlat()), b = Array.from(F.dropout(x, 0.5).data.toFlat());
  t.notDeepEqual(a.map((v) => v === 0), b.map((v) => v === 0));
});

test('dropout: checkBackward (the mask fixed by reseeding the global stream on every call)', (t) => {
  checkOpBackward('dropout', (dropout) => (x) => { seed(7); return dropout(x, 0.4); }, [uniform([4, 5], 10)]);
  checkOpBackward('dropout', (dropout) => (x) => { seed(8); return dropout(x, 0.1); }, [uniform([30], 11)]);
  t.pass();
});

test('dropout: bad input, a ratio outside [0, 1) or a JS array names the op and argument', (t) => {
  for (const ratio of [1, -0.1, 1.5, NaN]) {
    t.throws(() => F.dropout(array([1, 2]), ratio), { message: new RegExp(`^dropout: ratio must be in \\[0, 1\\), got ${ratio}$`) });
  }
  t.throws(() => F.dropout([1, 2] as never), { message: /^dropout: argument x must be a Variable, NDArray or number, got a JS array/ });
});

// ---- the fused mask: one kernel forward (after the random draw), one backward, both devices ----


/** Kernel launches on a device: the CPU's counter, or WebGPU's recorded dispatches. */
const counter = (device: string) => () => (device === 'cpu' ? dispatchStats.count : queueStats.dispatches);

devices.each('dropout: one kernel forward besides the draw and one backward; equal to x * [u >= ratio] / (1 - ratio) from the same stream', async (t, device) => {
  const ratio = 0.3, shape = [37, 21], launches = counter(device);
  const f32 = (x: NDArray) => array(Float32Array.from(x.toFlat()), x.shape);  // WGSL has no float64
  const xs = f32(uniform(shape, 12, 0.5, 1.5));
  const x = new Variable(device === 'cpu' ? xs : xs.toGpu());
  // the reference draws u from the same seed on the same device and masks it in plain JS
  seed(41);
  const u = Array.from(await randomUniform(shape, 0, 1, { device }).data());
  seed(41);
  let before = launches();
  randomUniform(shape, 0, 1, { device });
  const drawKernels = launches() - before;
  seed(41);
  before = launches();
  const y = F.dropout(x, ratio);
  t.is(launches() - before, drawKernels + 1, 'forward: the draw, then one fused kernel');
  const expected = Array.from(xs.toFlat()).map((v, i) => (u[i] >= ratio ? v / (1 - ratio) : 0));
  allclose(t, await y.data.data(), expected);
  const gy = f32(uniform(shape, 13));
  y.grad = device === 'cpu' ? gy : gy.toGpu();
  before = launches();
  y.backward();
  t.is(launches() - before, 1, 'backward: one kernel');
  const gys = Array.from(gy.toFlat());
  allclose(t, await x.grad!.data(), gys.map((g, i) => (u[i] >= ratio ? g / (1 - ratio) : 0)));
});
