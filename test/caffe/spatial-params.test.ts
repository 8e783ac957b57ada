// Convolution/Pooling/LRN parameters: Caffe's size rules and AVE divisor checked against real Caffe's outputs, and their errors.

import { readFileSync } from 'node:fs';
import test from 'ava';
import type { NDArray } from '../../runtime/array/ndarray.js';
import type { CaffeLayer } from '../../runtime/caffe/caffemodel.js';
import { readCaffemodel } from '../../runtime/caffe/caffemodel.js';
import { readPrototxt } from '../../runtime/caffe/prototxt.js';
import {
  averagePoolingDivisor, convolutionOutSize, convolutionSpec, convolutionWeightShape, deconvolutionOutSize, lrnSpec,
  poolingGeometry, poolingSpec, type PoolingSpec,
} from '../../runtime/caffe/spatial-params.js';
import { readNpy, relativeMismatch, sharedFolder } from './caffe-helpers.js';

/** Caffe's pooling forward in plain JS, from the spec's geometry (MAX ignores padding; AVE divides by averagePoolingDivisor). */
function refPool(x: NDArray, spec: PoolingSpec): { shape: number[]; data: number[] } {
  const [n, c, h, w] = x.shape;
  const { kernel: [kh, kw], outSize: [oh, ow] } = poolingGeometry(spec, h, w);
  const div = averagePoolingDivisor(spec, h, w);
  const xs = x.toFlat(), out: number[] = [];
  for (let i = 0; i < n * c; i++) {
    for (let r = 0; r < oh; r++) {
      for (let q = 0; q < ow; q++) {
        const r0 = r * spec.stride[0] - spec.pad[0], q0 = q * spec.stride[1] - spec.pad[1];
        let acc = spec.pool === 'MAX' ? -Infinity : 0;
        for (let a = Math.max(r0, 0); a < Math.min(r0 + kh, h); a++) {
          for (let b = Math.max(q0, 0); b < Math.min(q0 + kw, w); b++) {
            const v = xs[(i * h + a) * w + b];
            acc = spec.pool === 'MAX' ? Math.max(acc, v) : acc + v;
          }
        }
        out.push(spec.pool === 'MAX' ? acc : acc / div[r * ow + q]);
      }
    }
  }
  return { shape: [n, c, oh, ow], data: out };
}

const poolCases: [string, string, string, string][] = [];
const convCases: [string, string, string, string, boolean][] = [];
const caffe1 = sharedFolder(test, 'caffe1_layers');
if (caffe1 !== null) {
  for (const name of ['pool_max_ceil', 'pool_ave_pad', 'pool_global_ave']) {
    poolCases.push([name, `${caffe1}/${name}.prototxt`, `${caffe1}/${name}.input.npy`, `${caffe1}/${name}.output_pool.npy`]);
  }
  for (const name of ['conv_dilation_pad', 'conv_group_asym', 'conv_nobias']) convCases.push([name, `${caffe1}/${name}.caffemodel`, `${caffe1}/${name}.input.npy`, `${caffe1}/${name}.output_conv.npy`, false]);
  convCases.push(['deconv_s2_p1', `${caffe1}/deconv_s2_p1.caffemodel`, `${caffe1}/deconv_s2_p1.input.npy`, `${caffe1}/deconv_s2_p1.output_deconv.npy`, true]);
}
const opencv = sharedFolder(test, 'opencv_layers_2015');
if (opencv !== null) {
  for (const name of ['layer_pooling_max', 'layer_pooling_ave']) poolCases.push([name, `${opencv}/${name}.prototxt`, `${opencv}/blob.npy`, `${opencv}/${name}.npy`]);
  convCases.push(['layer_convolution', `${opencv}/layer_convolution.caffemodel`, `${opencv}/blob.npy`, `${opencv}/layer_convolution.npy`, false]);
}

for (const [name, proto, input, output] of poolCases) {
  test(`spatial params: ${name}: Caffe's pooled size and AVE divisor reproduce real Caffe's output`, (t) => {
    const layer = readPrototxt(readFileSync(proto, 'utf8'), proto).layers.find((l) => l.type === 'Pooling')!;
    const spec = poolingSpec(layer);
    const x = readNpy(input), want = readNpy(output);
    const got = refPool(x, spec);
    t.deepEqual(got.shape, want.shape);
    t.is(relativeMismatch(got.data, want.toFlat(), 1e-5), null);
  });
}

for (const [name, model, input, output, transposed] of convCases) {
  test(`spatial params: ${name}: Caffe's ${transposed ? 'deconvolution' : 'convolution'} output size and weight shape match real Caffe's`, (t) => {
    const layer = readCaffemodel(readFileSync(model), model).layers.find((l) => l.type === (transposed ? 'Deconvolution' : 'Convolution'))!;
    const spec = convolutionSpec(layer);
    const x = readNpy(input), want = readNpy(output);
    const size = transposed ? deconvolutionOutSize : convolutionOutSize;
    const out = [0, 1].map((d) => size(x.shape[2 + d], spec.kernel[d], spec.stride[d], spec.pad[d], spec.dilation[d]));
    t.deepEqual([x.shape[0], spec.numOutput, ...out], want.shape);
    t.deepEqual(convolutionWeightShape(spec, x.shape[1], transposed), layer.blobs[0].shape);
    t.is(layer.blobs.length, spec.biasTerm ? 2 : 1);
  });
}

test('spatial params: the parsed forms of the fixtures (asymmetric h/w, lists, defaults)', (t) => {
  const layer = (text: string) => readPrototxt(`layer { name: "l" ${text} }`, 's.prototxt').layers[0];
  t.deepEqual(convolutionSpec(layer('type: "Convolution" convolution_param { num_output: 6 group: 2 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 }')), {
    numOutput: 6, biasTerm: true, kernel: [3, 2], stride: [2, 1], pad: [1, 0], dilation: [1, 1], group: 2,
  });
  t.deepEqual(convolutionSpec(layer('type: "Convolution" convolution_param { num_output: 4 kernel_size: [3, 5] stride: 2 dilation: [2, 3] bias_term: false }')), {
    numOutput: 4, biasTerm: false, kernel: [3, 5], stride: [2, 2], pad: [0, 0], dilation: [2, 3], group: 1,
  });
  t.deepEqual(poolingSpec(layer('type: "Pooling" pooling_param { pool: AVE global_pooling: true }')), { pool: 'AVE', kernel: null, stride: [1, 1], pad: [0, 0], roundMode: 'CEIL' });
  t.deepEqual(poolingSpec(layer('type: "Pooling" pooling_param { kernel_h: 3 kernel_w: 5 stride_h: 2 stride_w: 1 pad_h: 2 pad_w: 1 round_mode: FLOOR }')), {
    pool: 'MAX', kernel: [3, 5], stride: [2, 1], pad: [2, 1], roundMode: 'FLOOR',
  });
  t.deepEqual(lrnSpec(layer('type: "LRN" lrn_param { local_size: 3 norm_region: WITHIN_CHANNEL }')), { size: 3, alpha: 1, beta: 0.75, k: 1, region: 'WITHIN_CHANNEL' });
  t.deepEqual(lrnSpec(layer('type: "LRN"')), { size: 5, alpha: 1, beta: 0.75, k: 1, region: 'ACROSS_CHANNELS' });
});

test('spatial params: unsupported or inconsistent parameters name the layer and the parameter', (t) => {
  const layer = (text: string): CaffeLayer => readPrototxt(`\nlayer { name: "l" ${text} }`, 's.prototxt').layers[0];
  const where = "s.prototxt: line 2: layer 0 'l'";
  const conv = (p: string) => t.throws(() => convolutionSpec(layer(`type: "Convolution" convolution_param { ${p} }`)))?.message;
  t.is(conv('num_output: 2'), `${where} (Convolution): convolution_param: kernel is required (kernel_size or kernel_h/kernel_w)`);
  t.is(conv('num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3'), `${where} (Convolution): convolution_param: give either kernel or kernel_h/kernel_w, not both`);
  t.is(conv('num_output: 2 kernel_h: 3'), `${where} (Convolution): convolution_param: kernel_h and kernel_w must be given together`);
  t.is(conv('num_output: 3 kernel_size: 3 group: 2'), `${where} (Convolution): convolution_param: num_output 3 must be a multiple of group 2`);
  t.is(conv('num_output: 2 kernel_size: 3 axis: 2'), `${where} (Convolution): unsupported parameter convolution_param.axis 2: only the channel axis 1 is supported`);
  t.is(conv('num_output: 2 kernel_size: [3, 3, 3]'), `${where} (Convolution): convolution_param: kernel has 3 values; kusari supports 2-D convolution (1 or 2 values)`);
  t.is(conv('num_output: 2 kernel_size: 3 stride: 0'), `${where} (Convolution): convolution_param: stride (0, 0) must be positive`);
  t.is(conv('num_output: 2 kernel_size: 3 shiny: true'), `${where} (Convolution): unsupported parameter convolution_param.shiny`);
  const pool = (p: string) => t.throws(() => poolingSpec(layer(`type: "Pooling" pooling_param { ${p} }`)))?.message;
  t.is(pool('pool: STOCHASTIC kernel_size: 2'), `${where} (Pooling): unsupported parameter pooling_param.pool STOCHASTIC: only MAX and AVE are supported`);
  t.is(pool('kernel_size: 2 kernel_h: 2 kernel_w: 2'), `${where} (Pooling): pooling_param: give kernel_size, or kernel_h and kernel_w (one of the two)`);
  t.is(pool('global_pooling: true kernel_size: 2'), `${where} (Pooling): pooling_param: with global_pooling the kernel size cannot be given`);
  t.is(pool('global_pooling: true stride: 2'), `${where} (Pooling): pooling_param: with global_pooling only pad 0 and stride 1 are allowed`);
  t.is(pool('kernel_size: 2 pad: 2'), `${where} (Pooling): pooling_param: pad (2, 2) must be smaller than the kernel (2, 2)`);
  t.is(pool('kernel_size: 2 pad: 1 pad_h: 1'), `${where} (Pooling): pooling_param: give pad, or pad_h and pad_w, not both`);
  t.is(t.throws(() => lrnSpec(layer('type: "LRN" lrn_param { local_size: 4 }')))?.message, `${where} (LRN): lrn_param.local_size must be odd, got 4`);
});
