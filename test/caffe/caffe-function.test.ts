// CaffeFunction: LeNet's layers matched by name, its tail against plain JS on every device, training, and errors.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import { array } from '../../runtime/array/xp.js';
import { CaffeFunction } from '../../runtime/caffe/caffe-function.js';
import { readCaffemodel } from '../../runtime/caffe/caffemodel.js';
import { testMode, usingConfig } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import * as F from '../../runtime/ops/index.js';
import { SGD } from '../../runtime/optimizers/index.js';
import { checkBackward } from '../../runtime/gradient-check.js';
import { uniform, useDevices } from '../helpers.js';
import { relativeMismatch, sharedFolder } from './caffe-helpers.js';

const devices = await useDevices(test);
const enc = (s: string) => new TextEncoder().encode(s);
const f32 = (x: NDArray, device: 'cpu' | 'webgpu' = 'cpu') => new Variable(new NDArray(Float32Array.from(x.toFlat()), x.shape).to(device));

const lenetDir = sharedFolder(test, 'lenet_2016');
if (lenetDir !== null) {
  const model = `${lenetDir}/lenet_iter_10000.caffemodel`, prototxt = `${lenetDir}/lenet.prototxt`;

  test('CaffeFunction: LeNet with its deploy prototxt: layers by name, parameters named after them', (t) => {
    const warnings: string[] = [];
    const func = new CaffeFunction(model, { prototxt, warn: (m) => warnings.push(m) });
    t.deepEqual(func.layers.map((l) => `${l.name}:${l.type}`), ['data:Input', 'conv1:Convolution', 'pool1:Pooling', 'conv2:Convolution', 'pool2:Pooling', 'ip1:InnerProduct', 'relu1:ReLU', 'ip2:InnerProduct', 'prob:Softmax']);
    t.deepEqual(func.inputs, [{ name: 'data', shape: [64, 1, 28, 28] }]);
    // one warning per layer whose type has no entry in the table yet
    t.deepEqual(warnings.map((w) => /layer '(\w+)' of type (\w+)/.exec(w)?.slice(1).join(':')), func.layers.filter((l) => !l.supported).map((l) => `${l.name}:${l.type}`));
    const params = [...func.namedParams()].map(([k, p]) => `${k} ${p.shape.join('x')}`);
    t.true(params.includes('/ip1/W 500x800') && params.includes('/ip1/b 500') && params.includes('/ip2/W 10x500') && params.includes('/ip2/b 10'));
  });

  test('CaffeFunction: LeNet from the training snapshot alone: TEST phase drops the TRAIN-only Data layer, the loss is skipped with a warning', (t) => {
    const warnings: string[] = [];
    const func = new CaffeFunction(readFileSync(model), { warn: (m) => warnings.push(m) });
    t.deepEqual(func.layers.map((l) => l.name), ['conv1', 'pool1', 'conv2', 'pool2', 'ip1', 'relu1', 'ip2', 'loss']);
    t.true(warnings.some((w) => w.startsWith("CaffeFunction: skipping layer 'loss' of type SoftmaxWithLoss: not supported (caffemodel: byte ")));
    const train = new CaffeFunction(readFileSync(model), { phase: 'TRAIN', warn: () => {} });
    t.is(train.layers[0].name, 'mnist');
  });

  /** The LeNet tail (ip1, relu1, ip2, prob) in plain JS from the caffemodel's raw blobs. */
  function lenetTail(pool2: NDArray): number[] {
    const layers = readCaffemodel(readFileSync(model)).layers;
    const [w1, b1] = layers.find((l) => l.name === 'ip1')!.blobs, [w2, b2] = layers.find((l) => l.name === 'ip2')!.blobs;
    const x = pool2.toFlat(), n = pool2.shape[0], out: number[] = [];
    for (let s = 0; s < n; s++) {
      const h = Array.from({ length: 500 }, (_, o) => {
        let acc = b1.data[o];
        for (let i = 0; i < 800; i++) acc += w1.data[o * 800 + i] * x[s * 800 + i];
        return Math.max(acc, 0);
      });
      const z = Array.from({ length: 10 }, (_, o) => b2.data[o] + h.reduce((a, v, i) => a + v * w2.data[o * 500 + i], 0));
      const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), sum = e.reduce((a, b) => a + b, 0);
      out.push(...e.map((v) => v / sum));
    }
    return out;
  }

  devices.each('CaffeFunction: LeNet run from pool2 (given as an input) matches plain JS on the real weights', async (t, device) => {
    const func = new CaffeFunction(model, { prototxt, warn: () => {} });
    if (device === 'webgpu') func.toGpu();
    const pool2 = uniform([3, 50, 4, 4], 5, 0, 2);
    const [prob, ip1] = testMode(() => func({ inputs: { pool2: f32(pool2, device) }, outputs: ['prob', 'ip1'] }));
    t.deepEqual(prob.shape, [3, 10]);
    t.is(relativeMismatch(await prob.data.data(), lenetTail(pool2), 1e-4), null);
    // ip1 is rewritten in place by relu1: the blob after the whole pass, as in Caffe
    t.true(Array.from(await ip1.data.data()).every((v) => v >= 0));
  });

  devices.each('CaffeFunction: fine-tuning LeNet\'s last layer (gradients reach its blobs) lowers the loss', async (t, device) => {
    const func = new CaffeFunction(model, { prototxt, warn: () => {} });
    if (device === 'webgpu') func.toGpu();
    const pool2 = f32(uniform([8, 50, 4, 4], 6, 0, 2), device);
    // labels the net does not predict now, so there is a loss to lower
    const [before] = testMode(() => func({ inputs: { pool2 }, outputs: ['ip2'] }));
    const pred = await F.argmax(before, 1).data.data();
    const labels = new Variable(array(Array.from(pred, (p) => (p + 1) % 10), [8], 'int32').to(device));
    const opt = new SGD(0.05);
    opt.setup(func);
    const losses: number[] = [];
    for (let step = 0; step < 4; step++) {
      func.cleargrads();
      const [ip2] = testMode(() => func({ inputs: { pool2 }, outputs: ['ip2'] }));
      const loss = F.softmaxCrossEntropy(ip2, labels);
      loss.backward();
      losses.push(await loss.item());
      const ip2Params = [...func.namedParams()].filter(([k]) => k.startsWith('/ip2/'));
      t.true(ip2Params.every(([, p]) => p.grad !== null));
      opt.update();
    }
    t.true(losses[3] < losses[0], `losses ${losses.join(', ')}`);
  });
}

// ---- nets written here: semantics and errors -------------------------------------------

const NET = `
name: "small"
input: "data" input_shape { dim: 2 dim: 3 dim: 4 }
layer { name: "drop" type: "Dropout" bottom: "data" top: "d" dropout_param { dropout_ratio: 0.25 scale_train: false } }
layer { name: "bn" type: "BatchNorm" bottom: "d" top: "bn" }
layer { name: "mvn" type: "MVN" bottom: "data" top: "mvn" mvn_param { across_channels: true normalize_variance: false } }
layer { name: "train_only" type: "ReLU" bottom: "data" top: "data" include { phase: TRAIN } }
layer { name: "weird" type: "Crop" bottom: "data" bottom: "mvn" top: "crop" }
`;

test('CaffeFunction: phase rules, Dropout with scale_train false, BatchNorm batch statistics while training, MVN across channels', async (t) => {
  const warnings: string[] = [];
  // BatchNorm's blobs written inline in the prototxt play the caffemodel's part
  const withBlobs = NET.replace('top: "bn" }', 'top: "bn" blobs { shape { dim: 3 } data: [1, 2, 3] } blobs { shape { dim: 3 } data: [4, 4, 4] } blobs { shape { dim: 1 } data: 2 } }');
  const func = new CaffeFunction(null, { prototxt: enc(withBlobs), warn: (m) => warnings.push(m) });
  t.deepEqual(func.layers.map((l) => l.name), ['drop', 'bn', 'mvn', 'weird']);
  t.deepEqual(warnings, ["CaffeFunction: skipping layer 'weird' of type Crop: not supported (prototxt: line 8: layer 4 'weird')"]);
  const x = uniform([2, 3, 4], 3);
  const xs = Array.from(x.toFlat());
  // test phase: dropout scales by 1 - ratio; BatchNorm uses blobs / 2: mean (0.5, 1, 1.5), var 2
  const [d, bn, mvn] = testMode(() => func({ inputs: { data: f32(x) }, outputs: ['d', 'bn', 'mvn'] }));
  t.is(relativeMismatch(d.data.toFlat(), xs.map((v) => v * 0.75), 1e-6), null);
  t.is(relativeMismatch(bn.data.toFlat(), xs.map((v, i) => (v * 0.75 - [0.5, 1, 1.5][Math.floor(i / 4) % 3]) / Math.sqrt(2 + 1e-5)), 1e-5), null);
  const means = [0, 1].map((n) => xs.slice(n * 12, n * 12 + 12).reduce((a, b) => a + b, 0) / 12);
  t.is(relativeMismatch(mvn.data.toFlat(), xs.map((v, i) => v - means[Math.floor(i / 12)]), 1e-5), null);
  // training: dropout zeroes or keeps (unscaled); BatchNorm normalises with the batch's own statistics
  const [dt, bt] = usingConfig({ train: true }, () => func({ inputs: { data: f32(x) }, outputs: ['d', 'bn'] }));
  t.true(Array.from(dt.data.toFlat()).every((v, i) => v === 0 || Math.abs(v - xs[i]) < 1e-6));
  const b = Array.from(bt.data.toFlat());
  for (let c = 0; c < 3; c++) {
    const vals = [0, 1].flatMap((n) => b.slice((n * 3 + c) * 4, (n * 3 + c) * 4 + 4));
    t.true(Math.abs(vals.reduce((p, q) => p + q, 0) / 8) < 1e-5, `channel ${c} mean`);
  }
  // the crop layer was skipped: asking for its top says why
  t.throws(() => testMode(() => func({ inputs: { data: f32(x) }, outputs: ['crop'] })), {
    message: "CaffeFunction: blob 'crop' comes from layer 'weird' of type Crop, which is not supported (skipped at load); give 'crop' as an input to start after it",
  });
});

test('CaffeFunction: missing inputs, unknown outputs, blobs and parameters are errors naming the layer', (t) => {
  const func = new CaffeFunction(null, { prototxt: enc(NET.replace(/layer \{ name: "bn".*\n/, '')), warn: () => {} });
  t.throws(() => func({ inputs: {}, outputs: ['d'] }), { message: "CaffeFunction: blob 'data' is neither given in inputs nor produced by a layer (blobs: data, d, mvn, crop)" });
  t.throws(() => func({ inputs: { data: f32(uniform([2, 3, 4], 1)) }, outputs: ['nope'] }), { message: "CaffeFunction: blob 'nope' is neither given in inputs nor produced by a layer (blobs: data, d, mvn, crop)" });
  const inputLayer = new CaffeFunction(null, { prototxt: enc('layer { name: "in" type: "Input" top: "x" } layer { name: "r" type: "ReLU" bottom: "x" top: "y" }') });
  t.throws(() => inputLayer({ inputs: {}, outputs: ['y'] }), { message: "CaffeFunction: input 'x' (declared by layer 'in' of type Input) was not given in inputs" });
  const build = (layer: string) => t.throws(() => new CaffeFunction(null, { prototxt: enc(`\n${layer}`) }))?.message;
  t.is(build('layer { name: "r" type: "ReLU" bottom: "a" top: "b" relu_param { negative_slope: 0.1 sparkle: 2 } }'),
    "prototxt: line 2: layer 0 'r' (ReLU): unsupported parameter relu_param.sparkle");
  t.is(build('layer { name: "ip" type: "InnerProduct" bottom: "a" top: "b" inner_product_param { num_output: 3 } }'),
    "prototxt: line 2: layer 0 'ip' (InnerProduct): expected 2 blobs (weights and bias), the model has 0");
  t.is(build('layer { name: "ip" type: "InnerProduct" bottom: "a" top: "b" inner_product_param { num_output: 3 bias_term: false } blobs { shape { dim: 2 dim: 5 } data: [1,2,3,4,5,6,7,8,9,10] } }'),
    "prototxt: line 2: layer 0 'ip' (InnerProduct): the weight blob has shape (2, 5), expected (3, *)");
  t.is(build('layer { name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "c" eltwise_param { operation: MAX coeff: [1, 2] } }'),
    "prototxt: line 2: layer 0 'e' (Eltwise): eltwise_param.coeff is only for SUM, not MAX");
  t.is(build('layer { name: "s" type: "Slice" bottom: "a" top: "b" top: "c" slice_param { slice_point: [1, 2] } }'),
    "prototxt: line 2: layer 0 's' (Slice): slice_param.slice_point has 2 values for 2 tops (expected 1)");
  t.is(build('layer { name: "d" type: "Dropout" bottom: "a" top: "b" dropout_param { dropout_ratio: 1 } }'),
    "prototxt: line 2: layer 0 'd' (Dropout): dropout_param.dropout_ratio must be in [0, 1), got 1");
  t.is(build('layer { name: "r" type: "ReLU" bottom: "a" bottom: "b" top: "c" }'), "prototxt: line 2: layer 0 'r' (ReLU): takes 1 bottom, got 2");
  t.is(t.throws(() => new CaffeFunction(null))?.message, 'CaffeFunction: give a caffemodel, a prototxt, or both');
  // shape checks at run time name the layer too
  const ip = new CaffeFunction(null, { prototxt: enc('layer { name: "ip" type: "InnerProduct" bottom: "a" top: "b" inner_product_param { num_output: 1 } blobs { shape { dim: 1 dim: 3 } data: [1, 2, 3] } blobs { shape { dim: 1 } data: 0 } }') });
  t.throws(() => ip({ inputs: { a: f32(uniform([2, 4], 1)) }, outputs: ['b'] }), { message: "prototxt: line 1: layer 0 'ip' (InnerProduct): bottom (2, 4) has 4 values from axis 1 on, the weights take 3" });
});

test('CaffeFunction: Scale with two bottoms, InnerProduct transpose and axis, Reshape with axis/num_axes, Flatten end_axis', (t) => {
  const func = new CaffeFunction(null, { prototxt: enc(`
layer { name: "s" type: "Scale" bottom: "x" bottom: "g" top: "s" scale_param { axis: 1 } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 2 axis: -1 transpose: true bias_term: false }
  blobs { shape { dim: 4 dim: 2 } data: [1, 0, 0, 1, 1, 1, 2, -1] } }
layer { name: "r" type: "Reshape" bottom: "x" top: "r" reshape_param { shape { dim: 3 dim: -1 } axis: 1 num_axes: 1 } }
layer { name: "f" type: "Flatten" bottom: "x" top: "f" flatten_param { axis: 0 end_axis: 1 } }
`) });
  const x = uniform([2, 3, 4], 8), g = uniform([3], 9);
  const [s, ip, r, f] = func({ inputs: { x: f32(x), g: f32(g) }, outputs: ['s', 'ip', 'r', 'f'] });
  const xs = Array.from(x.toFlat()), gs = Array.from(g.toFlat());
  t.is(relativeMismatch(s.data.toFlat(), xs.map((v, i) => v * gs[Math.floor(i / 4) % 3]), 1e-6), null);
  // transpose: the blob is (K, N) = (4, 2), y = x W
  const W = [[1, 0], [0, 1], [1, 1], [2, -1]];
  t.deepEqual(ip.shape, [2, 3, 2]);
  t.is(relativeMismatch(ip.data.toFlat(), Array.from({ length: 6 }, (_, row) => [0, 1].map((n) => [0, 1, 2, 3].reduce((a, k) => a + xs[row * 4 + k] * W[k][n], 0))).flat(), 1e-6), null);
  t.deepEqual(r.shape, [2, 3, 1, 4]);
  t.deepEqual(f.shape, [6, 4]);
});

test('CaffeFunction: gradients through parameter-free layers (Power, MVN, Eltwise, Concat, Slice, Scale, BatchNorm on batch statistics, Softmax) match numerical ones in float64', (t) => {
  const func = new CaffeFunction(null, { prototxt: enc(`
layer { name: "p" type: "Power" bottom: "x" top: "p" power_param { power: 3 scale: 0.5 shift: 2 } }
layer { name: "m" type: "MVN" bottom: "p" top: "m" }
layer { name: "e1" type: "Eltwise" bottom: "m" bottom: "y" top: "e1" eltwise_param { coeff: [2, -1] } }
layer { name: "e2" type: "Eltwise" bottom: "e1" bottom: "y" top: "e2" eltwise_param { operation: PROD } }
layer { name: "e3" type: "Eltwise" bottom: "e2" bottom: "x" top: "e3" eltwise_param { operation: MAX } }
layer { name: "c" type: "Concat" bottom: "e3" bottom: "x" top: "c" concat_param { axis: 2 } }
layer { name: "s" type: "Slice" bottom: "c" top: "s0" top: "s1" slice_param { axis: 2 slice_point: 3 } }
layer { name: "sc" type: "Scale" bottom: "s0" bottom: "g" top: "sc" scale_param { axis: 1 num_axes: 1 } }
layer { name: "bn" type: "BatchNorm" bottom: "sc" top: "bn" batch_norm_param { use_global_stats: false }
  blobs { shape { dim: 3 } data: [0, 0, 0] } blobs { shape { dim: 3 } data: [1, 1, 1] } blobs { shape { dim: 1 } data: 1 } }
layer { name: "sm" type: "Softmax" bottom: "bn" top: "sm" softmax_param { axis: -1 } }
`) });
  const run = (x: Variable, y: Variable, g: Variable) => func({ inputs: { x, y, g }, outputs: ['sm', 's1'] });
  // every input's gradient is checked: x reaches the outputs along four paths
  checkBackward(run, [uniform([2, 3, 4], 11), uniform([2, 3, 4], 12), uniform([3], 13, 0.5, 2)]);
  t.pass();
});

test('CaffeFunction: a callable Chain: instanceof, forward() equals a call, toGpu returns the same callable', (t) => {
  const func = new CaffeFunction(null, { prototxt: enc('layer { name: "t" type: "TanH" bottom: "x" top: "y" }') });
  t.is(typeof func, 'function');
  t.true(func instanceof CaffeFunction);
  const x = f32(uniform([2, 3], 1));
  t.deepEqual(Array.from(func.forward({ inputs: { x }, outputs: ['y'] })[0].data.toFlat()), Array.from(func({ inputs: { x }, outputs: ['y'] })[0].data.toFlat()));
  t.is(func.name, '');
  t.deepEqual([...func.namedParams()], []);
  // no parameters to move, so no device is needed to see that it returns itself
  t.is(func.toGpu(), func);
});
