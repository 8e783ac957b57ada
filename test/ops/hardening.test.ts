// Core hardening (issue 7): every bad argument named before work, NumPy's numbers on both devices, no stack overflow.

import test from 'ava';
import {
  ElementwiseKernel, F, L, NDArray, RandomState, Variable, array, arange, buildComputationalGraph, optimizers, seed, training, zeros,
} from '../../runtime/index.js';
import { Chain, Parameter } from '../../runtime/links/link.js';
import { slice } from '../../runtime/ops/indexing.js';
import { setWasmMinSize, wasmElementwiseStats } from '../../runtime/array/cpu/wasm-elementwise.js';
import { on, uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

const read = async (v: Variable | NDArray): Promise<number[]> => Array.from(await (v instanceof Variable ? v.data : v).data());

// ---- item 2: arguments checked before work ------------------------------------------------

test('broadcastTo refuses negative and fractional sizes, naming the op and the shape', (t) => {
  const x = array([1, 2, 3]);
  t.throws(() => F.broadcastTo(x, [-1, 3]), { message: 'broadcastTo: shape must be a list of non-negative integers, got (-1, 3)' });
  t.throws(() => F.broadcastTo(x, [2.5, 3]), { message: 'broadcastTo: shape must be a list of non-negative integers, got (2.5, 3)' });
  t.throws(() => x.broadcastTo([NaN, 3]), { message: 'broadcastTo: shape must be a list of non-negative integers, got (NaN, 3)' });
  t.deepEqual(F.broadcastTo(x, [2, 3]).shape, [2, 3]);
});

test('getItem refuses fractional and NaN slice bounds and NumPy-style fancy indices', (t) => {
  const x = uniform([4, 3], 1);
  t.throws(() => F.getItem(x, slice(1.5, 3)), { message: 'getItem: slice start 1.5 at position 0 must be an integer or null' });
  t.throws(() => F.getItem(x, slice(NaN, 3)), { message: 'getItem: slice start NaN at position 0 must be an integer or null' });
  t.throws(() => F.getItem(x, [0, slice(0, 2.5)]), { message: 'getItem: slice stop 2.5 at position 1 must be an integer or null' });
  t.throws(() => F.getItem(x, [[0, 1]] as never), {
    message: "getItem: index [0,1] at position 0 is a list; advanced (fancy) indexing is not supported: use integers, slice(), null or '...' (or selectItem)",
  });
  t.throws(() => F.getItem(x, 1.5), { message: 'getItem: index 1.5 at position 0 is not an integer' });
  t.deepEqual(F.getItem(x, slice(1, 3)).shape, [2, 3]);
});

test('splitAxis refuses fractional and NaN indices', (t) => {
  const x = uniform([4, 3], 1);
  t.throws(() => F.splitAxis(x, [1.5], 0), { message: 'splitAxis: indices must be integers, got 1.5 at position 0' });
  t.throws(() => F.splitAxis(x, [NaN], 0), { message: 'splitAxis: indices must be integers, got NaN at position 0' });
  t.deepEqual(F.splitAxis(x, [1], 0).map((p) => p.shape), [[1, 3], [3, 3]]);
});

test('arange refuses NaN and infinite bounds instead of an empty or endless array', (t) => {
  t.throws(() => arange(NaN), { message: 'arange: stop must be a finite number, got NaN' });
  t.throws(() => arange(0, Infinity), { message: 'arange: stop must be a finite number, got Infinity' });
  t.throws(() => arange(0, 3, NaN), { message: 'arange: step must be a finite number, got NaN' });
  t.deepEqual(Array.from(arange(3).toFlat()), [0, 1, 2]);
});

test('new NDArray and view refuse a shape larger than the data', (t) => {
  t.throws(() => new NDArray(new Float32Array(4), [3, 2]), {
    message: 'NDArray: a view of shape (3, 2) (strides (2, 1), offset 0) reaches elements [0, 5] outside the 4 elements of its storage',
  });
  const a = new NDArray(new Float32Array(4), [4]);
  t.throws(() => a.view([5], [1], 0), { message: 'NDArray: a view of shape (5,) (strides (1,), offset 0) reaches elements [0, 4] outside the 4 elements of its storage' });
  t.throws(() => a.view([2], [-1], 0), { message: 'NDArray: a view of shape (2,) (strides (-1,), offset 0) reaches elements [-1, 0] outside the 4 elements of its storage' });
  t.throws(() => new NDArray(new Float32Array(4), [-2]), { message: 'NDArray: shape must be a list of non-negative integers, got (-2,)' });
  t.deepEqual(a.view([2], [2], 1).toArray(), [0, 0]);
  t.deepEqual(new NDArray(new Float32Array(0), [0, 5]).shape, [0, 5]);
});

devices.each('argument checks come before any work on either device: the same messages', async (t, device) => {
  const x = on(device, array([[1, 2, 3], [4, 5, 6]]));
  t.throws(() => F.broadcastTo(x, [-1, 3]), { message: 'broadcastTo: shape must be a list of non-negative integers, got (-1, 3)' });
  t.throws(() => F.getItem(x, slice(1.5, 3)), { message: 'getItem: slice start 1.5 at position 0 must be an integer or null' });
  t.throws(() => F.splitAxis(x, [NaN], 1), { message: 'splitAxis: indices must be integers, got NaN at position 0' });
  t.throws(() => x.data.view([3, 3], [3, 1], 0), { message: /^NDArray: a view of shape \(3, 3\) \(strides \(3, 1\), offset 0\) reaches elements \[0, 8\] outside the \d+ elements of its storage$/ });
  t.throws(() => F.softmaxCrossEntropy(x, on(device, array([0, 2], [2], 'int32')), { reduce: 'sum' } as never), { message: "softmaxCrossEntropy: option reduce must be 'mean' or 'no', got 'sum'" });
  t.deepEqual(await read(F.getItem(x, [1, slice(0, 3, 2)])), [4, 6]);
});

test('softmaxCrossEntropy validates its options: reduce is mean or no, unknown keys are named', (t) => {
  const x = uniform([2, 3], 1), lab = array([0, 2], [2], 'int32');
  t.throws(() => F.softmaxCrossEntropy(x, lab, { reduce: 'sum' } as never), { message: "softmaxCrossEntropy: option reduce must be 'mean' or 'no', got 'sum'" });
  t.throws(() => F.softmaxCrossEntropy(x, lab, { reduction: 'mean' } as never), {
    message: "softmaxCrossEntropy: unknown option 'reduction'; the options are normalize, ignoreLabel, reduce",
  });
  t.throws(() => F.softmaxCrossEntropy(x, lab, { normalize: 1 } as never), { message: 'softmaxCrossEntropy: option normalize must be a boolean, got 1' });
  t.throws(() => F.softmaxCrossEntropy(x, lab, { ignoreLabel: 0.5 }), { message: 'softmaxCrossEntropy: option ignoreLabel must be an integer, got 0.5' });
  // 'no' is implemented: one loss per sample, summing to the mean times N
  const per = F.softmaxCrossEntropy(x, lab, { reduce: 'no' });
  t.deepEqual(per.shape, [2]);
  const mean = F.softmaxCrossEntropy(x, lab).itemSync();
  t.true(Math.abs(Array.from(per.data.toFlat()).reduce((a, b) => a + b, 0) / 2 - mean) < 1e-6);
});

test('numeric parameters and flags of ops, links and iterators are validated, naming the op', (t) => {
  const x = array([1, -1]);
  t.throws(() => F.leakyRelu(x, NaN), { message: 'leakyRelu: slope must be a finite number, got NaN' });
  t.throws(() => F.softplus(x, 0), { message: 'softplus: beta must be a finite, non-zero number, got 0' });
  t.throws(() => F.elu(x, Infinity), { message: 'elu: alpha must be a finite number, got Infinity' });
  t.throws(() => F.matmul(zeros([2, 2]), zeros([2, 2]), 1 as never), { message: 'matmul: transA and transB must be booleans, got number and boolean' });
  t.throws(() => F.accuracy(zeros([2, 3]), array([0, 1], [2], 'int32'), 0.5), { message: 'accuracy: ignoreLabel must be an integer, got 0.5' });
  t.throws(() => F.sum(x, 0, 1 as never), { message: 'sum: keepdims must be a boolean, got 1' });
  t.throws(() => new L.Linear(2, 3, { noBias: true } as never), { message: "Linear: unknown option 'noBias'; the options are nobias, initialW, initialBias" });
  t.throws(() => new L.Linear(2, 3, { nobias: 'yes' } as never), { message: "Linear: option nobias must be a boolean, got 'yes'" });
  t.throws(() => new training.SerialIterator([1, 2], 1, { shuffle: 1 } as never), { message: 'SerialIterator: option shuffle must be a boolean, got 1' });
  t.throws(() => new training.SerialIterator([1, 2], 1, { rng: Math.random } as never), { message: 'SerialIterator: option rng must be a RandomState, got a function (random)' });
});

test('unknown dtypes name themselves and the op', (t) => {
  t.throws(() => array([1, 2], undefined, 'float16' as never), { message: "array: unknown dtype 'float16'; expected 'float32', 'float64' or 'int32'" });
  t.throws(() => zeros([2], 'float16' as never), { message: "zeros: unknown dtype 'float16'; expected 'float32', 'float64' or 'int32'" });
  t.throws(() => arange(3, undefined, 1, 'uint8' as never), { message: "arange: unknown dtype 'uint8'; expected 'float32', 'float64' or 'int32'" });
  t.throws(() => new L.Linear(2, 3, { initialW: (s) => zeros(s, 'bfloat16' as never) }), { message: /^zeros: unknown dtype 'bfloat16'/ });
});

test('typed arrays other than float32/float64/int32 are converted exactly or refused, never mislabelled', (t) => {
  const u8 = array(new Uint8Array([1, 2, 255]));
  t.is(u8.dtype, 'int32');
  t.true(u8.buffer instanceof Int32Array);
  t.deepEqual(Array.from(u8.toFlat()), [1, 2, 255]);
  t.deepEqual(Array.from(array(new Int16Array([-5, 7])).toFlat()), [-5, 7]);
  t.deepEqual(Array.from(array(new Uint32Array([7, 2 ** 31 - 1])).toFlat()), [7, 2 ** 31 - 1]);
  t.throws(() => array(new Uint32Array([2 ** 32 - 1])), { message: 'array: Uint32Array value 4294967295 at 0 does not fit int32; convert it to a Float64Array first' });
  t.throws(() => array(new BigInt64Array(2) as never), { message: 'array: BigInt64Array is not supported; use a Float32Array, Float64Array or Int32Array (or a plain array)' });
  t.throws(() => new NDArray(new Uint8Array(3) as never, [3]), { message: 'NDArray: Uint8Array is not a supported storage; use a Float32Array, Float64Array or Int32Array' });
});

test('an empty batch works through linear and Linear, and a featureless x is named, never "NaN features"', (t) => {
  const W = zeros([4, 3]);
  t.deepEqual(F.linear(zeros([0, 3]), W).shape, [0, 4]);
  t.throws(() => F.linear(zeros([0, 3]), zeros([4, 5])), { message: 'linear: x (0, 3) has 3 features per sample but W (4, 5) expects 5' });
  const l = new L.Linear(null, 4);
  t.deepEqual(l.forward(zeros([0, 3])).shape, [0, 4]);
  t.deepEqual(l.W.shape, [4, 3]);
  t.throws(() => new L.Linear(null, 4).forward(zeros([2, 0])), { message: 'Linear: cannot infer the input size from x (2, 0): it has no features' });
});

test("a deferred Linear's initialization error names the Linear", (t) => {
  const l = new L.Linear(null, 3, { initialW: () => { throw new Error('randomNormal: out of memory'); } });
  t.throws(() => l.forward(zeros([4, 2])), { message: 'Linear: initializing W (3, 2) for x (4, 2) failed: randomNormal: out of memory' });
});

test('optimizer.update(fn) where fn returns no Variable says so', (t) => {
  const model = new L.Linear(2, 1);
  const opt = new optimizers.SGD().setup(model);
  t.throws(() => opt.update(() => undefined as never), { message: 'SGD.update: lossFn returned undefined (did it forget to return the loss?); expected the loss as a Variable' });
  t.throws(() => opt.update((async () => F.sum(model.forward(zeros([1, 2])))) as never), {
    message: 'SGD.update: lossFn returned a Promise (update is synchronous: compute the loss without await); expected the loss as a Variable',
  });
  t.throws(() => opt.update(() => 3 as never), { message: 'SGD.update: lossFn returned number; expected the loss as a Variable' });
});

// ---- item 3: optimizer settings, weight tying, cycles -------------------------------------

test('optimizers and hooks refuse settings that would turn parameters NaN, naming optimizer and setting', (t) => {
  const { SGD, MomentumSGD, Adam, WeightDecay, GradientClipping } = optimizers;
  t.throws(() => new Adam(NaN), { message: 'Adam: alpha must be a finite number > 0, got NaN' });
  t.throws(() => new Adam(0.001, 1), { message: 'Adam: beta1 must be in [0, 1), got 1' });
  t.throws(() => new Adam(0.001, 0.9, -0.1), { message: 'Adam: beta2 must be in [0, 1), got -0.1' });
  t.throws(() => new Adam(0.001, 0.9, 0.999, 0), { message: 'Adam: eps must be a finite number > 0, got 0' });
  t.throws(() => new SGD(Infinity), { message: 'SGD: lr must be a finite number > 0, got Infinity' });
  t.throws(() => new SGD(0), { message: 'SGD: lr must be a finite number > 0, got 0' });
  t.throws(() => new MomentumSGD(0.1, 1), { message: 'MomentumSGD: momentum must be in [0, 1), got 1' });
  t.throws(() => new MomentumSGD(-1), { message: 'MomentumSGD: lr must be a finite number > 0, got -1' });
  t.throws(() => new GradientClipping(-1), { message: 'GradientClipping: threshold must be a number > 0, got -1' });
  t.throws(() => new GradientClipping(0), { message: 'GradientClipping: threshold must be a number > 0, got 0' });
  t.throws(() => new WeightDecay(-0.1), { message: 'WeightDecay: rate must be a finite number >= 0, got -0.1' });
  t.throws(() => new WeightDecay(NaN), { message: 'WeightDecay: rate must be a finite number >= 0, got NaN' });
  // settings are public fields: a bad value set later is refused at the next update
  const model = new L.Linear(2, 1);
  const opt = new SGD(0.1).setup(model);
  opt.lr = NaN;
  t.throws(() => opt.update(() => F.sum(model.forward(zeros([1, 2])))), { message: 'SGD: lr must be a finite number > 0, got NaN' });
});

class Tied extends Chain {
  a = new L.Linear(2, 2);
  b: L.Linear;
  constructor() {
    super();
    this.b = this.a; // the same layer through two fields
  }
}

test('weight tying: a parameter reachable through two fields is one parameter, updated once', (t) => {
  const m = new Tied();
  t.deepEqual([...m.namedParams()].map(([p]) => p), ['/a/W', '/a/b']);
  class Shared extends Chain {
    l = new L.Linear(2, 2);
    W2 = this.l.W; // a Parameter field pointing at a child's parameter
  }
  t.is([...new Shared().params()].length, 2);
  const W0 = Array.from(m.a.W.data.toFlat());
  const x = array([[1, 2]]);
  const opt = new optimizers.SGD(0.1).setup(m);
  opt.update(() => F.sum(m.a.forward(x)));
  const g = m.a.W.grad!.toFlat();
  // one step of W - lr g, not two
  t.deepEqual(Array.from(m.a.W.data.toFlat()), W0.map((w, i) => Math.fround(w - Math.fround(0.1 * g[i]))));
});

test('a Chain that contains itself or its parent is a clear error, not a stack overflow', (t) => {
  class Loop extends Chain {
    l = new L.Linear(2, 2);
    self: Chain | null = null;
  }
  const m = new Loop();
  m.self = m;
  t.throws(() => [...m.params()], { message: 'Loop: the link at /self is its own ancestor (the link at /); a Chain cannot contain itself or a parent' });
  class Child extends Chain { parent: Chain | null = null; }
  class Parent extends Chain { child = new Child(); }
  const p = new Parent();
  p.child.parent = p;
  t.throws(() => p.cleargrads(), { message: 'Parent: the link at /child/parent is its own ancestor (the link at /); a Chain cannot contain itself or a parent' });
  t.throws(() => p.toGpu(), { message: /is its own ancestor/ });
});

test('a Parameter made without data, weight-tied, is still listed once', (t) => {
  const shared = new Parameter(array([1, 2]));
  class Two extends Chain { p = shared; q = shared; }
  t.is([...new Two().params()].length, 1);
});

// ---- item 5: the same numbers on both devices ------------------------------------------------

devices.each('relu: NaN propagates (NumPy and PyTorch), 0 and negatives give 0', async (t, device) => {
  const y = F.relu(on(device, array([NaN, -1, 0, 2])));
  const v = await read(y);
  t.true(Number.isNaN(v[0]));
  t.deepEqual(v.slice(1), [0, 0, 2]);
});

test.serial('relu, maximum and minimum propagate NaN in the SIMD WebAssembly kernels too', (t) => {
  const old = setWasmMinSize(0);
  try {
    const before = wasmElementwiseStats.count;
    const a = array(Array.from({ length: 64 }, (_, i) => (i % 5 === 0 ? NaN : i - 32)));
    const b = array(Array.from({ length: 64 }, (_, i) => (i % 7 === 0 ? NaN : 32 - i)));
    const relu = F.relu(a).data.toFlat(), mx = F.maximum(a, b).data.toFlat(), mn = F.minimum(a, b).data.toFlat();
    t.true(wasmElementwiseStats.count >= before + 3, 'the wasm path ran');
    for (let i = 0; i < 64; i++) {
      const x = a.toFlat()[i], y = b.toFlat()[i];
      t.is(String(relu[i]), String(Number.isNaN(x) ? NaN : Math.max(x, 0)));
      t.is(String(mx[i]), String(Math.max(x, y)));
      t.is(String(mn[i]), String(Math.min(x, y)));
    }
  } finally {
    setWasmMinSize(old);
  }
});

devices.each('max/min: a NaN anywhere gives NaN, over all elements and along an axis', async (t, device) => {
  const x = on(device, array([1, NaN, 3]));
  t.true(Number.isNaN((await read(F.max(x)))[0]));
  t.true(Number.isNaN((await read(F.min(x)))[0]));
  const m = on(device, array([[1, 5], [NaN, 2], [4, NaN]]));
  const mx = await read(F.max(m, 1)), mn = await read(F.min(m, 0));
  t.is(mx[0], 5);
  t.true(Number.isNaN(mx[1]) && Number.isNaN(mx[2]));
  t.true(Number.isNaN(mn[0]) && Number.isNaN(mn[1]));
});

devices.each('maximum/minimum: a NaN operand on either side gives NaN', async (t, device) => {
  const a = on(device, array([NaN, 1, 2, NaN])), b = on(device, array([1, NaN, 3, NaN]));
  const mx = await read(F.maximum(a, b)), mn = await read(F.minimum(a, b));
  t.deepEqual(mx.map(Number.isNaN), [true, true, false, true]);
  t.deepEqual(mn.map(Number.isNaN), [true, true, false, true]);
  t.is(mx[2], 3);
  t.is(mn[2], 2);
});

devices.each('argmax/argmin: the first NaN wins (NumPy); no axis means the flattened array', async (t, device) => {
  t.deepEqual(await read(F.argmax(on(device, array([1, NaN, 3, NaN])))), [1]);
  t.deepEqual(await read(F.argmin(on(device, array([1, NaN, -3, NaN])))), [1]);
  t.deepEqual(await read(F.argmax(on(device, array([NaN, 5])))), [0]);
  t.deepEqual(await read(F.argmax(on(device, array([[1, 2], [NaN, 0]])), 1)), [1, 0]);
  const flat = F.argmax(on(device, array([[1, 9], [4, 2]])));
  t.deepEqual(flat.shape, []);
  t.deepEqual(await read(flat), [1]);
  t.deepEqual(await read(F.argmin(on(device, array([[1, 9], [-4, 2]])))), [2]);
});

devices.each('a user kernel divides by zero as IEEE does: +-Inf, and NaN for 0/0 and NaN/0', async (t, device) => {
  const byZero = new ElementwiseKernel('T x', 'T y', 'y = x / 0', 'by_zero');
  t.deepEqual((await read(byZero.call(on(device, array([1, -1, 0, NaN])).data))).map(String), ['Infinity', '-Infinity', 'NaN', 'NaN']);
  const div = new ElementwiseKernel('T x, T z', 'T y', 'y = x / z', 'div');
  const y = await read(div.call(on(device, array([1, 1, -2, 0, 6])).data, on(device, array([0, -0, -0, 0, 3])).data));
  t.deepEqual(y.map(String), ['Infinity', '-Infinity', 'Infinity', 'NaN', '2']);
  // F.div goes through the same renderer
  t.deepEqual((await read(F.div(on(device, array([1, -1])), 0))).map(String), ['Infinity', '-Infinity']);
});

devices.each('float to int32 conversion saturates, NaN giving 0, the same on both devices', async (t, device) => {
  // chosen: truncate toward zero, clamp to [-2^31, 2^31 - 1], NaN -> 0 (WGSL's conversion)
  const k = new ElementwiseKernel('float32 x', 'int32 y', 'y = x', 'to_int');
  const x = on(device, array([NaN, Infinity, -Infinity, 3e9, -3e9, 2.7, -2.7, 0])).data;
  t.deepEqual(await read(k.call(x)), [0, 2147483647, -2147483648, 2147483647, -2147483648, 2, -2, 0]);
});

devices.each('arithmetic on int32 inputs stays int32', async (t, device) => {
  const x = on(device, array([16777217, -3, 7], [3], 'int32'));
  for (const y of [F.add(x, 0), F.sub(x, 0), F.mul(x, 1), F.maximum(x, x), F.neg(F.neg(x)), F.abs(x), F.relu(x)]) t.is(y.dtype, 'int32');
  const small = on(device, array([1000, -3, 7], [3], 'int32'));
  t.deepEqual(await read(F.add(small, 1)), [1001, -2, 8]);
  t.deepEqual(await read(F.mul(small, -2)), [-2000, 6, -14]);
  t.deepEqual(await read(F.where(on(device, array([1, 0, 1], [3], 'int32')), small, 5)), [1000, 5, 7]);
  // computed in int32, not through f32: exact past 2^24 on both devices
  t.deepEqual(await read(F.add(x, 0)), [16777217, -3, 7]);
  t.deepEqual(await read(F.add(x, 1)), [16777218, -2, 8]);
  t.deepEqual(await read(F.sub(F.mul(x, 3), x)), [33554434, -6, 14]);
  t.deepEqual(await read(F.maximum(x, on(device, array([16777219, -4, 7], [3], 'int32')))), [16777219, -3, 7]);
  // and it wraps on overflow as NumPy's int32 does, the same on both devices
  const big = on(device, array([2147483647, -2147483648, 65536], [3], 'int32'));
  t.deepEqual(await read(F.add(big, 1)), [-2147483648, -2147483647, 65537]);
  t.deepEqual(await read(F.mul(big, on(device, array([1, 1, 65536], [3], 'int32')))), [2147483647, -2147483648, 0]);
  t.deepEqual(await read(F.neg(big)), [-2147483647, -2147483648, -65536]);
  // max/min of int32: from int32's extremes (not 0, which is all an Int32Array keeps of
  // -Infinity), and in i32 on the GPU
  t.deepEqual(await read(F.max(on(device, array([-5, -3], [2], 'int32')))), [-3]);
  t.deepEqual(await read(F.min(on(device, array([5, 3], [2], 'int32')))), [3]);
  t.deepEqual(await read(F.max(x)), [16777217]);
  t.deepEqual(await read(F.min(on(device, array([[2147483647, -2147483648], [7, 8]], [2, 2], 'int32')), 1)), [-2147483648, 7]);
  // NumPy's true division and transcendental functions give floats
  t.is(F.div(x, 2).dtype, 'float32');
  t.is(F.exp(F.neg(x)).dtype, 'float32');
  t.is(F.add(x, 0.5).dtype, 'float32');
  t.deepEqual(await read(F.add(small, 0.5)), [1000.5, -2.5, 7.5]);
});

// ---- item 6: no stack overflow from sizes a user can reach --------------------------------------

test('SerialIterator hands out a batch of 150,000 without spreading it into a call', (t) => {
  const data = Array.from({ length: 150_000 }, (_, i) => i);
  const it = new training.SerialIterator(data, 150_000, { shuffle: false });
  const b = it.next();
  t.is(b.length, 150_000);
  t.is(b[149_999], 149_999);
  t.is(it.epoch, 1);
});

test('concat of 150,000 Variables forward and backward', (t) => {
  const xs = Array.from({ length: 150_000 }, (_, i) => new Variable(array([i])));
  const y = F.concat(xs, 0);
  t.deepEqual(y.shape, [150_000]);
  t.is(y.data.toFlat()[149_999], 149_999);
  F.sum(F.mul(y, y)).backward();
  t.deepEqual(Array.from(xs[149_999].grad!.toFlat()), [2 * 149_999]);
});

devices.each('a kernel body of thousands of terms compiles and runs; deep nesting is a clear error', async (t, device) => {
  const n = device === 'cpu' ? 20_000 : 2_000;
  const k = new ElementwiseKernel('T x', 'T y', `y = ${Array.from({ length: n }, () => 'x').join(' + ')}`, 'many_terms');
  t.deepEqual(await read(k.call(on(device, array([1, 0.5])).data)), [n, n / 2]);
  const deep = `y = ${'('.repeat(20_000)}x${')'.repeat(20_000)}`;
  const err = t.throws(() => new ElementwiseKernel('T x', 'T y', deep, 'deep'))!;
  t.regex(err.message, /^ElementwiseKernel deep: expression nested more than 500 levels deep at column \d+/);
  t.throws(() => new ElementwiseKernel('T x', 'T y', `y = ${'-'.repeat(20_000)}x`, 'signs'), { message: /^ElementwiseKernel signs: expression nested more than 500 levels deep/ });
});

// ---- item 7: smaller ones -------------------------------------------------------------------------

test('seed accepts only safe integers, and seeds past 2^32 give their own streams', (t) => {
  t.throws(() => seed(NaN), { message: 'seed: expected a safe integer (|seed| <= 2^53 - 1), got NaN' });
  t.throws(() => seed('abc' as never), { message: 'seed: expected a safe integer (|seed| <= 2^53 - 1), got string "abc"' });
  t.throws(() => seed(2 ** 53), { message: 'seed: expected a safe integer (|seed| <= 2^53 - 1), got 9007199254740992' });
  t.throws(() => seed(1.5), { message: 'seed: expected a safe integer (|seed| <= 2^53 - 1), got 1.5' });
  const draw = (s: number) => { const r = new RandomState(s); return [r.nextU32(), r.nextU32()]; };
  t.notDeepEqual(draw(2 ** 32 + 1), draw(1));
  t.notDeepEqual(draw(-1), draw(2 ** 32 - 1));
  t.notDeepEqual(draw(2 ** 53 - 1), draw(2 ** 32 - 1));
  t.deepEqual(draw(7), draw(7));
  seed(0);
});

test("a gradient set by the user must match the Variable's dtype", (t) => {
  const v = new Variable(array([1, 2]));
  t.throws(() => { v.grad = array([1, 2], [2], 'float64'); }, { message: 'Variable.grad: gradient dtype float64 does not match data dtype float32' });
  v.grad = array([3, 4]);
  t.deepEqual(Array.from(v.grad!.toFlat()), [3, 4]);
});

test('buildComputationalGraph escapes quotes, backslashes and newlines in names', (t) => {
  const x = new Variable(array([1]), { name: 'say "hi"\\\nnext' });
  const dot = buildComputationalGraph([F.mul(x, 2)]);
  t.true(dot.includes('label="say \\"hi\\"\\\\\\nnext (1,) float32"'), dot);
  // every label is one well-formed string: quotes balance on every line
  for (const line of dot.split('\n')) t.is((line.replace(/\\./g, '').match(/"/g) ?? []).length % 2, 0, line);
});

test('reshape takes a list as well as varargs, and its message prints the shape', (t) => {
  const x = new Variable(uniform([2, 3], 1));
  t.deepEqual(x.reshape([3, 2]).shape, [3, 2]);
  t.deepEqual(x.reshape(3, 2).shape, [3, 2]);
  t.deepEqual(x.reshape([-1]).shape, [6]);
  t.deepEqual(F.reshape(x, 6).shape, [6]);
  t.throws(() => x.reshape([4, 2]), { message: 'reshape: cannot reshape size 6 into (4, 2)' });
  t.throws(() => x.reshape(4, 2), { message: 'reshape: cannot reshape size 6 into (4, 2)' });
  t.throws(() => x.reshape(2.5, 2), { message: 'reshape: invalid shape (2.5, 2): expected non-negative integers and at most one -1' });
  t.throws(() => x.reshape([[2, 3]] as never), { message: 'reshape: invalid shape [[2,3]]: expected non-negative integers and at most one -1' });
});

test('concatExamples with an unknown device says the device is unknown', (t) => {
  t.throws(() => training.concatExamples([[array([1]), 0]], 'gpu' as never), { message: "concatExamples: unknown device 'gpu'; expected 'cpu' or 'webgpu'" });
  t.throws(() => array([1]).to('cuda' as never), { message: "unknown device 'cuda'; expected 'cpu' or 'webgpu'" });
});
