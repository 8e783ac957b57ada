// Caffe's Pooling (MAX/AVE, ceil rounding, clipped divisor, global) and LRN against plain-JS transcriptions of Caffe's loops; gradients through the spatial layers.

import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import { CaffeFunction } from '../../runtime/caffe/caffe-function.js';
import { testMode } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import { checkBackward } from '../../runtime/gradient-check.js';
import { loadNpzBytes, saveNpzBytes } from '../../runtime/serializers/npz.js';
import { uniform, useDevices } from '../helpers.js';
import { relativeMismatch } from './caffe-helpers.js';

const devices = await useDevices(test);
const enc = (s: string) => new TextEncoder().encode(s);
const f32 = (x: NDArray, device: 'cpu' | 'webgpu') => new Variable(new NDArray(Float32Array.from(x.toFlat()), x.shape).to(device));

interface Geo { k: [number, number]; s: [number, number]; p: [number, number] }

/** Caffe's PoolingLayer::Forward_cpu, transcribed: pooled size, hend clipping, pool_size and -FLT_MAX start. */
function caffePool(x: NDArray, pool: 'MAX' | 'AVE', { k, s, p }: Geo): { data: number[]; shape: number[] } {
  const [n, c, h, w] = x.shape, v = x.toFlat();
  const size = (len: number, d: 0 | 1) => {
    let o = Math.ceil((len + 2 * p[d] - k[d]) / s[d]) + 1;
    if (p[d] > 0 && (o - 1) * s[d] >= len + p[d]) o--;
    return o;
  };
  const oh = size(h, 0), ow = size(w, 1), out: number[] = [];
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let hs = i * s[0] - p[0], ws = j * s[1] - p[1];
        let he = Math.min(hs + k[0], h + p[0]), we = Math.min(ws + k[1], w + p[1]);
        const poolSize = (he - hs) * (we - ws);
        hs = Math.max(hs, 0); ws = Math.max(ws, 0); he = Math.min(he, h); we = Math.min(we, w);
        let acc = pool === 'MAX' ? -3.4028234663852886e38 : 0;
        for (let y = hs; y < he; y++) {
          for (let z = ws; z < we; z++) {
            const q = v[b * h * w + y * w + z];
            acc = pool === 'MAX' ? Math.max(acc, q) : acc + q;
          }
        }
        out.push(pool === 'MAX' ? acc : acc / poolSize);
      }
    }
  }
  return { data: out, shape: [n, c, oh, ow] };
}

const poolingNet = (pool: string, { k, s, p }: Geo) => new CaffeFunction(null, { prototxt: enc(
  `layer { name: "pool" type: "Pooling" bottom: "x" top: "y" pooling_param { pool: ${pool} kernel_h: ${k[0]} kernel_w: ${k[1]} stride_h: ${s[0]} stride_w: ${s[1]} pad_h: ${p[0]} pad_w: ${p[1]} } }`,
) });

// geometries where Caffe rounds up on one axis and drops a far-padding window (or not) on the other
const GEOMETRIES: [number[], Geo][] = [
  [[2, 3, 10, 12], { k: [3, 3], s: [2, 2], p: [0, 0] }],
  [[1, 2, 7, 8], { k: [3, 2], s: [2, 3], p: [1, 1] }],
  [[1, 2, 6, 9], { k: [4, 3], s: [3, 2], p: [2, 1] }],
  [[2, 1, 5, 5], { k: [2, 2], s: [2, 2], p: [1, 1] }],
  [[1, 3, 9, 7], { k: [5, 3], s: [3, 3], p: [2, 0] }],
  [[1, 1, 3, 4], { k: [3, 4], s: [1, 1], p: [0, 0] }],
  // rows rounded up past the floor size, columns losing a window that would start in the far padding
  [[1, 2, 8, 5], { k: [3, 2], s: [2, 2], p: [0, 1] }],
];

for (const pool of ['MAX', 'AVE'] as const) {
  devices.each(`Caffe Pooling ${pool}: sizes and values equal Caffe's loops over ${GEOMETRIES.length} geometries (ceil rounding, dropped far windows, clipped divisor)`, async (t, device) => {
    for (const [i, [shape, geo]] of GEOMETRIES.entries()) {
      const x = uniform(shape, 100 + i, -2, 2);
      const func = poolingNet(pool, geo);
      const [y] = testMode(() => func({ inputs: { x: f32(x, device) }, outputs: ['y'] }));
      const want = caffePool(x, pool, geo);
      t.deepEqual(y.shape, want.shape, `geometry ${i}`);
      t.is(relativeMismatch(await y.data.data(), want.data, 1e-5), null, `geometry ${i}`);
    }
  });
}

devices.each('Caffe Pooling: global AVE and MAX over (H, W) give one cell per channel', async (t, device) => {
  const x = uniform([2, 3, 5, 7], 7);
  for (const pool of ['AVE', 'MAX'] as const) {
    const func = new CaffeFunction(null, { prototxt: enc(`layer { name: "g" type: "Pooling" bottom: "x" top: "y" pooling_param { pool: ${pool} global_pooling: true } }`) });
    const [y] = testMode(() => func({ inputs: { x: f32(x, device) }, outputs: ['y'] }));
    t.deepEqual(y.shape, [2, 3, 1, 1]);
    t.is(relativeMismatch(await y.data.data(), caffePool(x, pool, { k: [5, 7], s: [1, 1], p: [0, 0] }).data, 1e-5), null);
  }
});

/** Caffe's LRNLayer: ACROSS_CHANNELS scale k + alpha/n sum over channels; WITHIN_CHANNEL 1 + alpha * padded n x n average. */
function caffeLrn(x: NDArray, region: 'ACROSS' | 'WITHIN', n: number, alpha: number, beta: number, k: number): number[] {
  const [b, c, h, w] = x.shape, v = x.toFlat(), half = (n - 1) / 2, out: number[] = [];
  const at = (i: number, ch: number, y: number, z: number) => v[((i * c + ch) * h + y) * w + z];
  for (let i = 0; i < b; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let z = 0; z < w; z++) {
          let sum = 0, scale: number;
          if (region === 'ACROSS') {
            for (let d = Math.max(0, ch - half); d <= Math.min(c - 1, ch + half); d++) sum += at(i, d, y, z) ** 2;
            scale = k + (alpha / n) * sum;
          } else {
            for (let yy = Math.max(0, y - half); yy <= Math.min(h - 1, y + half); yy++) {
              for (let zz = Math.max(0, z - half); zz <= Math.min(w - 1, z + half); zz++) sum += at(i, ch, yy, zz) ** 2;
            }
            scale = 1 + alpha * (sum / (n * n));
          }
          out.push(at(i, ch, y, z) * scale ** -beta);
        }
      }
    }
  }
  return out;
}

devices.each('Caffe LRN: ACROSS_CHANNELS divides alpha by n, WITHIN_CHANNEL averages over a padded n x n window (k unused)', async (t, device) => {
  const x = uniform([2, 7, 5, 6], 21, -3, 3);
  for (const [region, n, alpha, beta, k] of [['ACROSS', 5, 0.3, 0.75, 2], ['ACROSS', 3, 1, 0.5, 1], ['WITHIN', 3, 0.9, 0.75, 5], ['WITHIN', 5, 2, 0.6, 1]] as const) {
    const func = new CaffeFunction(null, { prototxt: enc(
      `layer { name: "l" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: ${n} alpha: ${alpha} beta: ${beta} k: ${k} norm_region: ${region}_CHANNEL${region === 'ACROSS' ? 'S' : ''} } }`,
    ) });
    const [y] = testMode(() => func({ inputs: { x: f32(x, device) }, outputs: ['y'] }));
    t.is(relativeMismatch(await y.data.data(), caffeLrn(x, region, n, alpha, beta, k), 1e-5), null, `${region} n ${n}`);
  }
});

test('Caffe spatial layers: gradients through Convolution (groups, dilation), Deconvolution, MAX/AVE pooling with ceil rounding and LRN both ways match numerical ones in float64', (t) => {
  const blob = (shape: number[], seed: number) => `blobs { shape { ${shape.map((d) => `dim: ${d}`).join(' ')} } data: [${Array.from(uniform(shape, seed, -0.5, 0.5).toFlat()).join(', ')}] }`;
  const func = new CaffeFunction(null, { prototxt: enc(`
layer { name: "conv" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 4 kernel_h: 3 kernel_w: 2 pad: 1 dilation: 2 group: 2 } ${blob([4, 1, 3, 2], 1)} ${blob([4], 2)} }
layer { name: "deconv" type: "Deconvolution" bottom: "c" top: "d" convolution_param { num_output: 2 kernel_size: 3 stride: 2 pad: 1 bias_term: false } ${blob([4, 2, 3, 3], 3)} }
layer { name: "max" type: "Pooling" bottom: "d" top: "m" pooling_param { pool: MAX kernel_h: 3 kernel_w: 2 stride: 2 pad_h: 1 } }
layer { name: "ave" type: "Pooling" bottom: "d" top: "a" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "across" type: "LRN" bottom: "a" top: "la" lrn_param { local_size: 3 alpha: 0.5 } }
layer { name: "within" type: "LRN" bottom: "m" top: "lw" lrn_param { local_size: 3 alpha: 0.5 norm_region: WITHIN_CHANNEL } }
`) });
  // the blobs in float64 too, as the check's inputs are
  for (const param of func.params()) param.data = new NDArray(Float64Array.from(param.data.toFlat()), param.shape);
  const run = (x: Variable) => func({ inputs: { x }, outputs: ['la', 'lw'] });
  checkBackward(run, [uniform([2, 2, 5, 4], 4)]);
  t.pass();
});

test('Caffe Pooling: a last window outside the input (pad 0, kernel smaller than the stride) is an error naming the layer', (t) => {
  const func = poolingNet('MAX', { k: [1, 1], s: [3, 3], p: [0, 0] });
  const err = t.throws(() => func({ inputs: { x: uniform([1, 1, 5, 6], 1) }, outputs: ['y'] }));
  t.is(err!.message, "prototxt: line 1: layer 0 'pool' (Pooling): bottom (1, 1, 5, 6): the last window along axis 2 lies outside the input (kernel 1 < stride 3), where Caffe gives no defined value");
});

test('Caffe Convolution: a bottom whose channels differ from the weight blob\'s is an error naming the layer', (t) => {
  const func = new CaffeFunction(null, { prototxt: enc(`layer { name: "conv" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 2 kernel_size: 1 bias_term: false }
    blobs { shape { dim: 2 dim: 3 dim: 1 dim: 1 } data: [1, 2, 3, 4, 5, 6] } }`) });
  const err = t.throws(() => func({ inputs: { x: uniform([1, 4, 2, 2], 1) }, outputs: ['y'] }));
  t.is(err!.message, "prototxt: line 1: layer 0 'conv' (Convolution): bottom (1, 4, 2, 2) must be (N, 3, H, W)");
});

test('CaffeFunction with Convolution and BatchNorm blobs: saveNpzBytes / loadNpzBytes round-trip its parameters and statistics under the layer names', async (t) => {
  const net = (seed: number) => new CaffeFunction(null, { prototxt: enc(`
layer { name: "conv1" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 2 kernel_size: 1 }
  blobs { shape { dim: 2 dim: 3 dim: 1 dim: 1 } data: [${Array.from(uniform([6], seed).toFlat()).join(', ')}] } blobs { shape { dim: 2 } data: [${seed}, 1] } }
layer { name: "bn/1" type: "BatchNorm" bottom: "c" top: "b"
  blobs { shape { dim: 2 } data: [${seed}, 2] } blobs { shape { dim: 2 } data: [3, ${seed + 4}] } blobs { shape { dim: 1 } data: 2 } }
`) });
  const saved = net(1), loaded = net(7);
  const x = f32(uniform([1, 3, 2, 2], 3), 'cpu');
  const before = testMode(() => loaded({ inputs: { x }, outputs: ['b'] }))[0].data.toFlat();
  const bytes = await saveNpzBytes(saved);
  loadNpzBytes(bytes, loaded);
  const [a] = testMode(() => saved({ inputs: { x }, outputs: ['b'] })), [b] = testMode(() => loaded({ inputs: { x }, outputs: ['b'] }));
  // the nets differ in both the convolution's blobs and the BatchNorm statistics until loaded
  t.notDeepEqual(Array.from(before), Array.from(await a.data.data()));
  t.deepEqual(Array.from(await b.data.data()), Array.from(await a.data.data()));
  const keys = (f: CaffeFunction) => [...f.namedParams()].map(([k]) => k).sort();
  t.deepEqual(keys(loaded), ['/conv1/W', '/conv1/b']);
});
