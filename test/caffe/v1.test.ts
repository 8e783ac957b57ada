// V1 models (`layers`, enum types, legacy 4-D blob shapes) decode and run the same as the current format.

import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import { CaffeFunction } from '../../runtime/caffe/caffe-function.js';
import { readCaffemodel } from '../../runtime/caffe/caffemodel.js';
import { readPrototxt } from '../../runtime/caffe/prototxt.js';
import { testMode } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import { uniform, useDevices } from '../helpers.js';
import { caffeProto } from './caffe-proto.js';
import { relativeMismatch } from './caffe-helpers.js';

const devices = await useDevices(test);
const Net = caffeProto(true).lookupType('caffe.NetParameter');

const IN = 12, HIDDEN = 4, OUT = 3;
const w1 = Array.from(uniform([HIDDEN, IN], 1).toFlat(), Math.fround), b1 = Array.from(uniform([HIDDEN], 2).toFlat(), Math.fround);
const w2 = Array.from(uniform([OUT, HIDDEN], 3).toFlat(), Math.fround), b2 = Array.from(uniform([OUT], 4).toFlat(), Math.fround);

/** data (2, 3, 2, 2) -> ip1 -> relu1 (in place) -> drop1 -> ip2 -> prob, in the V1 format with legacy blob shapes. */
const v1Bytes = Net.encode(Net.fromObject({
  name: 'tiny', input: ['data'], input_dim: [2, 3, 2, 2],
  layers: [
    { name: 'ip1', type: 'INNER_PRODUCT', bottom: ['data'], top: ['ip1'], inner_product_param: { num_output: HIDDEN },
      blobs: [{ num: 1, channels: 1, height: HIDDEN, width: IN, data: w1 }, { num: 1, channels: 1, height: 1, width: HIDDEN, data: b1 }],
      blobs_lr: [1, 2], weight_decay: [1, 0] },
    { name: 'relu1', type: 'RELU', bottom: ['ip1'], top: ['ip1'] },
    { name: 'drop1', type: 'DROPOUT', bottom: ['ip1'], top: ['ip1'], dropout_param: { dropout_ratio: 0.5 } },
    { name: 'ip2', type: 'INNER_PRODUCT', bottom: ['ip1'], top: ['ip2'], inner_product_param: { num_output: OUT },
      blobs: [{ num: 1, channels: 1, height: OUT, width: HIDDEN, data: w2 }, { num: 1, channels: 1, height: 1, width: OUT, data: b2 }] },
    { name: 'prob', type: 'SOFTMAX', bottom: ['ip2'], top: ['prob'] },
  ],
})).finish();

/** The same net in the current format: string types, BlobShape shapes, an Input layer. */
const newBytes = Net.encode(Net.fromObject({
  name: 'tiny',
  layer: [
    { name: 'input', type: 'Input', top: ['data'], input_param: { shape: [{ dim: [2, 3, 2, 2] }] } },
    { name: 'ip1', type: 'InnerProduct', bottom: ['data'], top: ['ip1'], inner_product_param: { num_output: HIDDEN },
      blobs: [{ shape: { dim: [HIDDEN, IN] }, data: w1 }, { shape: { dim: [HIDDEN] }, data: b1 }] },
    { name: 'relu1', type: 'ReLU', bottom: ['ip1'], top: ['ip1'] },
    { name: 'drop1', type: 'Dropout', bottom: ['ip1'], top: ['ip1'], dropout_param: { dropout_ratio: 0.5 } },
    { name: 'ip2', type: 'InnerProduct', bottom: ['ip1'], top: ['ip2'], inner_product_param: { num_output: OUT },
      blobs: [{ shape: { dim: [OUT, HIDDEN] }, data: w2 }, { shape: { dim: [OUT] }, data: b2 }] },
    { name: 'prob', type: 'Softmax', bottom: ['ip2'], top: ['prob'] },
  ],
})).finish();

test('V1: layers decode to the same names, types, connections and blob data as the current format', (t) => {
  const v1 = readCaffemodel(v1Bytes, 'v1.caffemodel'), cur = readCaffemodel(newBytes, 'new.caffemodel');
  t.is(v1.format, 'V1');
  t.is(cur.format, 'layer');
  t.deepEqual(v1.inputs, [{ name: 'data', shape: [2, 3, 2, 2] }]);
  const summary = (l: (typeof v1.layers)[number]) => [l.name, l.type, l.bottom, l.top, l.blobs.map((b) => Array.from(b.data))];
  t.deepEqual(v1.layers.map(summary), cur.layers.filter((l) => l.type !== 'Input').map(summary));
  t.deepEqual(v1.layers[0].blobs.map((b) => [b.shape, b.legacy]), [[[1, 1, HIDDEN, IN], true], [[1, 1, 1, HIDDEN], true]]);
  t.deepEqual(cur.layers[1].blobs.map((b) => [b.shape, b.legacy]), [[[HIDDEN, IN], false], [[HIDDEN], false]]);
  t.is(v1.layers[2].param.dropout_param?.dropout_ratio, 0.5);
});

/** Plain-JS forward of the tiny net (test phase: dropout is the identity). */
function reference(x: NDArray): number[] {
  const xs = Array.from(x.toFlat());
  const out: number[] = [];
  for (let n = 0; n < 2; n++) {
    const h = Array.from({ length: HIDDEN }, (_, o) => Math.max(0, b1[o] + xs.slice(n * IN, n * IN + IN).reduce((s, v, i) => s + v * w1[o * IN + i], 0)));
    const z = Array.from({ length: OUT }, (_, o) => b2[o] + h.reduce((s, v, i) => s + v * w2[o * HIDDEN + i], 0));
    const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), sum = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((v) => v / sum));
  }
  return out;
}

devices.each('V1: the V1 model, the current one and a V1 prototxt with either model run alike', async (t, device) => {
  const x = uniform([2, 3, 2, 2], 9);
  const v1Text = `name: "tiny"  # a V1 deploy net
input: "data"
input_dim: 2 input_dim: 3 input_dim: 2 input_dim: 2
layers { name: "ip1" type: INNER_PRODUCT bottom: "data" top: "ip1" inner_product_param { num_output: ${HIDDEN} } }
layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
layers { name: "drop1" type: DROPOUT bottom: "ip1" top: "ip1" }
layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2" inner_product_param { num_output: ${OUT} } }
layers { name: "prob" type: SOFTMAX bottom: "ip2" top: "prob" }
`;
  t.is(readPrototxt(v1Text, 'v1.prototxt').format, 'V1');
  const funcs = [
    new CaffeFunction(v1Bytes),
    new CaffeFunction(newBytes),
    new CaffeFunction(v1Bytes, { prototxt: new TextEncoder().encode(v1Text) }),
    new CaffeFunction(newBytes, { prototxt: new TextEncoder().encode(v1Text) }),
  ];
  const want = reference(x);
  for (const [i, func] of funcs.entries()) {
    // legacy 1 x 1 x OUT x IN weights become (OUT, IN) parameters
    t.deepEqual([...func.namedParams()].map(([k, p]) => [k, p.shape]), [['/ip1/W', [HIDDEN, IN]], ['/ip1/b', [HIDDEN]], ['/ip2/W', [OUT, HIDDEN]], ['/ip2/b', [OUT]]]);
    if (device === 'webgpu') func.toGpu();
    const [y] = testMode(() => func({ inputs: { data: new Variable(new NDArray(Float32Array.from(x.toFlat()), x.shape).to(device)) }, outputs: ['prob'] }));
    t.deepEqual(y.shape, [2, OUT]);
    t.is(relativeMismatch(await y.data.data(), want, 1e-5), null, `model ${i}`);
  }
});
