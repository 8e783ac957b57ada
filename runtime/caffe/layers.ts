// Caffe layer types as one typed table: each entry validates its parameters and composes F ops with Caffe's semantics.

import { NDArray, sameShape, shapeStr, sizeOf } from '../array/ndarray.js';
import { full } from '../array/xp.js';
import { config } from '../graph/config.js';
import { Variable } from '../graph/variable.js';
import { Link, Parameter } from '../links/link.js';
import * as F from '../ops/index.js';
import type { CaffeBlob, CaffeLayer } from './caffemodel.js';
import {
  averagePoolingDivisor, convolutionOutSize, convolutionSpec, convolutionWeightShape, deconvolutionOutSize, layerFail, lrnSpec,
  poolingGeometry, poolingSpec, refuseUnknown, type Fail, type PoolingSpec,
} from './spatial-params.js';

/** A layer ready to run: the link holding its blobs (null when it has none) and its forward. */
export interface BuiltLayer {
  readonly link: Link | null;
  forward(xs: readonly Variable[]): Variable[];
}

/** One row of the table: checks the layer's parameters and blobs once, at load. */
type LayerRule = (layer: CaffeLayer, fail: Fail) => BuiltLayer;

/** A layer's parameters as a Link: Chainer's names (W, b) so optimizers and serializers see them. */
export class CaffeLayerLink extends Link {
  constructor(readonly W: Parameter | null, readonly b: Parameter | null) { super(); }
}

/** BatchNorm's statistics, already divided by Caffe's scale factor, as persistent arrays (not trained). */
export class CaffeBatchNormLink extends Link {
  declare avgMean: NDArray;
  declare avgVar: NDArray;
  constructor(mean: NDArray, variance: NDArray, readonly eps: number) {
    super();
    this.addPersistent('avgMean', mean);
    this.addPersistent('avgVar', variance);
  }
}

/**
 * A blob with the shape `expected` (-1 entries free), as a Parameter. Legacy 4-D shapes
 * (V1: an InnerProduct weight is 1 x 1 x OUT x IN) match when their extra leading axes are 1,
 * as Caffe's Blob::ShapeEquals has it.
 */
function blobAs(blob: CaffeBlob, expected: readonly number[], what: string, fail: Fail): NDArray {
  let shape = blob.shape.slice();
  if (blob.legacy && shape.length > expected.length) {
    const extra = shape.length - expected.length;
    if (shape.slice(0, extra).every((n) => n === 1)) shape = shape.slice(extra);
  }
  if (shape.length !== expected.length || shape.some((n, i) => expected[i] >= 0 && n !== expected[i])) {
    fail(`${what} blob has shape ${shapeStr(blob.shape)}, expected ${shapeStr(expected.map((n) => (n < 0 ? NaN : n))).replace(/NaN/g, '*')}`);
  }
  return new NDArray(blob.data, shape);
}

function blobCount(layer: CaffeLayer, n: number, what: string, fail: Fail): void {
  if (layer.blobs.length !== n) fail(`expected ${n} blob${n === 1 ? '' : 's'} (${what}), the model has ${layer.blobs.length}`);
}

function arity(layer: CaffeLayer, bottoms: number | [number, number], tops: number | [number, number], fail: Fail): void {
  const check = (n: number, want: number | [number, number], what: string) => {
    const [lo, hi] = typeof want === 'number' ? [want, want] : want;
    if (n < lo || n > hi) fail(`takes ${lo === hi ? lo : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`} ${what}${hi === 1 ? '' : 's'}, got ${n}`);
  };
  check(layer.bottom.length, bottoms, 'bottom');
  check(layer.top.length, tops, 'top');
}

/** A layer of one bottom and one top whose forward is `fn`. */
function unary(layer: CaffeLayer, fail: Fail, fn: (x: Variable) => Variable): BuiltLayer {
  arity(layer, 1, 1, fail);
  return { link: null, forward: ([x]) => [fn(x)] };
}

/** Caffe's CanonicalAxisIndex: -ndim <= axis < ndim. */
function axisOf(axis: number, ndim: number, what: string, fail: Fail): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) fail(`${what} ${axis} is out of range for a ${ndim}-D bottom`);
  return axis < 0 ? axis + ndim : axis;
}

const innerProduct: LayerRule = (layer, fail) => {
  const p = layer.param.inner_product_param ?? {};
  refuseUnknown(p, 'inner_product_param', fail);
  arity(layer, 1, 1, fail);
  const n = p.num_output ?? 0;
  if (n <= 0) fail(`inner_product_param.num_output must be positive, got ${n}`);
  const bias = p.bias_term ?? true, transpose = p.transpose ?? false;
  blobCount(layer, bias ? 2 : 1, bias ? 'weights and bias' : 'weights', fail);
  const W = blobAs(layer.blobs[0], transpose ? [-1, n] : [n, -1], 'the weight', fail);
  const k = W.shape[transpose ? 0 : 1];
  const b = bias ? blobAs(layer.blobs[1], [n], 'the bias', fail) : null;
  const link = new CaffeLayerLink(new Parameter(W), b === null ? null : new Parameter(b));
  const axis = p.axis ?? 1;
  return {
    link,
    forward: ([x]) => {
      const a = axisOf(axis, x.ndim, 'inner_product_param.axis', fail);
      const lead = x.shape.slice(0, a), inner = sizeOf(x.shape.slice(a));
      if (inner !== k) fail(`bottom ${shapeStr(x.shape)} has ${inner} values from axis ${a} on, the weights take ${k}`);
      // Caffe's weight is (N, K), or (K, N) with transpose: y = x W^T or x W
      const y = F.matmul(F.reshape(x, [sizeOf(lead), k]), link.W!, false, !transpose);
      return [F.reshape(link.b === null ? y : F.add(y, link.b), [...lead, n])];
    },
  };
};

const relu: LayerRule = (layer, fail) => {
  const p = layer.param.relu_param ?? {};
  refuseUnknown(p, 'relu_param', fail);
  const slope = p.negative_slope ?? 0;
  // Caffe's max(x, 0) + slope * min(x, 0) is leakyRelu's x or slope * x
  return unary(layer, fail, (x) => (slope === 0 ? F.relu(x) : F.leakyRelu(x, slope)));
};

const sigmoid: LayerRule = (layer, fail) => {
  refuseUnknown(layer.param.sigmoid_param, 'sigmoid_param', fail);
  return unary(layer, fail, (x) => F.sigmoid(x));
};

const tanh: LayerRule = (layer, fail) => {
  refuseUnknown(layer.param.tanh_param, 'tanh_param', fail);
  return unary(layer, fail, (x) => F.tanh(x));
};

const softmax: LayerRule = (layer, fail) => {
  const p = layer.param.softmax_param ?? {};
  refuseUnknown(p, 'softmax_param', fail);
  const axis = p.axis ?? 1;
  return unary(layer, fail, (x) => F.softmax(x, axisOf(axis, x.ndim, 'softmax_param.axis', fail)));
};

const dropout: LayerRule = (layer, fail) => {
  const p = layer.param.dropout_param ?? {};
  refuseUnknown(p, 'dropout_param', fail);
  const ratio = p.dropout_ratio ?? 0.5, scaleTrain = p.scale_train ?? true;
  if (!(ratio >= 0 && ratio < 1)) fail(`dropout_param.dropout_ratio must be in [0, 1), got ${ratio}`);
  // Caffe scales by 1/(1 - ratio) while training, or (scale_train false) by 1 - ratio in the test phase
  return unary(layer, fail, (x) => {
    if (config.train) return scaleTrain ? F.dropout(x, ratio) : F.mul(F.dropout(x, ratio), 1 - ratio);
    return scaleTrain || ratio === 0 ? x : F.mul(x, 1 - ratio);
  });
};

const concat: LayerRule = (layer, fail) => {
  const p = layer.param.concat_param ?? {};
  refuseUnknown(p, 'concat_param', fail);
  arity(layer, [1, Infinity], 1, fail);
  const axis = p.concat_dim ?? p.axis ?? 1;
  return {
    link: null,
    forward: (xs) => {
      const a = axisOf(axis, xs[0].ndim, 'concat_param.axis', fail);
      xs.forEach((x, i) => {
        if (x.ndim !== xs[0].ndim || x.shape.some((n, d) => d !== a && n !== xs[0].shape[d])) {
          fail(`bottom ${i} ${shapeStr(x.shape)} does not match bottom 0 ${shapeStr(xs[0].shape)} outside axis ${a}`);
        }
      });
      return [xs.length === 1 ? xs[0] : F.concat(xs, a)];
    },
  };
};

const eltwise: LayerRule = (layer, fail) => {
  const p = layer.param.eltwise_param ?? {};
  refuseUnknown(p, 'eltwise_param', fail);
  arity(layer, [2, Infinity], 1, fail);
  const op = p.operation ?? 'SUM';
  const coeff = p.coeff ?? [];
  if (coeff.length > 0 && op !== 'SUM') fail(`eltwise_param.coeff is only for SUM, not ${op}`);
  if (coeff.length > 0 && coeff.length !== layer.bottom.length) fail(`eltwise_param.coeff has ${coeff.length} values for ${layer.bottom.length} bottoms`);
  return {
    link: null,
    forward: (xs) => {
      // Caffe wants equal shapes; F's broadcasting would hide a mismatch
      xs.forEach((x, i) => { if (!sameShape(x.shape, xs[0].shape)) fail(`bottom ${i} ${shapeStr(x.shape)} differs from bottom 0 ${shapeStr(xs[0].shape)}`); });
      if (op === 'PROD') return [xs.slice(1).reduce((a, x) => F.mul(a, x), xs[0])];
      // ties keep the earlier bottom, as Caffe's strict > does
      if (op === 'MAX') return [xs.slice(1).reduce((a, x) => F.maximum(a, x), xs[0])];
      const term = (x: Variable, i: number) => (coeff.length === 0 || coeff[i] === 1 ? x : F.mul(x, coeff[i]));
      return [xs.slice(1).reduce((a, x, i) => F.add(a, term(x, i + 1)), term(xs[0], 0))];
    },
  };
};

const batchNorm: LayerRule = (layer, fail) => {
  const p = layer.param.batch_norm_param ?? {};
  refuseUnknown(p, 'batch_norm_param', fail);
  arity(layer, 1, 1, fail);
  blobCount(layer, 3, 'mean, variance and scale factor', fail);
  const mean = blobAs(layer.blobs[0], [-1], 'the mean', fail);
  const c = mean.shape[0];
  const variance = blobAs(layer.blobs[1], [c], 'the variance', fail);
  const s = blobAs(layer.blobs[2], [1], 'the scale factor', fail).buffer[0];
  // Caffe keeps running sums: the statistics are mean/s and var/s, and 0 when s is 0
  const factor = s === 0 ? 0 : 1 / s;
  const scaled = (x: NDArray) => new NDArray(Float32Array.from(x.buffer, (v) => v * factor), [c]);
  const link = new CaffeBatchNormLink(scaled(mean), scaled(variance), p.eps ?? 1e-5);
  const useGlobal = p.use_global_stats;
  return {
    link,
    forward: ([x]) => {
      if (x.ndim < 2 || x.shape[1] !== c) fail(`bottom ${shapeStr(x.shape)} must have ${c} channels on axis 1`);
      const bshape = x.shape.map((_, d) => (d === 1 ? c : 1));
      // Caffe's default: the stored statistics in the test phase, the batch's while training
      if (useGlobal ?? !config.train) {
        return [F.div(F.sub(x, F.reshape(link.avgMean, bshape)), F.sqrt(F.add(F.reshape(link.avgVar, bshape), link.eps)))];
      }
      const axes = x.shape.map((_, d) => d).filter((d) => d !== 1);
      const centered = F.sub(x, F.mean(x, axes, true));
      return [F.div(centered, F.sqrt(F.add(F.mean(F.mul(centered, centered), axes, true), link.eps)))];
    },
  };
};

const scale: LayerRule = (layer, fail) => {
  const p = layer.param.scale_param ?? {};
  refuseUnknown(p, 'scale_param', fail);
  arity(layer, [1, 2], 1, fail);
  const learned = layer.bottom.length === 1, bias = p.bias_term ?? false;
  blobCount(layer, (learned ? 1 : 0) + (bias ? 1 : 0), [learned ? 'scale' : '', bias ? 'bias' : ''].filter(Boolean).join(' and ') || 'none', fail);
  const numAxes = p.num_axes ?? 1;
  if (numAxes < -1) fail(`scale_param.num_axes must be -1 or more, got ${numAxes}`);
  const W = learned ? layer.blobs[0] : null;
  if (W !== null && numAxes >= 0 && W.shape.length !== numAxes) fail(`the scale blob has shape ${shapeStr(W.shape)}, expected ${numAxes} axes (num_axes)`);
  const Wp = W === null ? null : new Parameter(new NDArray(W.data, W.shape.slice()));
  const B = bias ? layer.blobs[learned ? 1 : 0] : null;
  const Bp = B === null ? null : new Parameter(new NDArray(B.data, B.shape.slice()));
  const link = Wp === null && Bp === null ? null : new CaffeLayerLink(Wp, Bp);
  const axis = p.axis ?? 1;
  return {
    link,
    forward: (xs) => {
      const x = xs[0];
      const s = learned ? Wp! : xs[1];
      // a scalar (0-D) scale ignores the axis, as in Caffe
      const a = s.ndim === 0 ? 0 : axisOf(axis, x.ndim, 'scale_param.axis', fail);
      const want = x.shape.slice(a, a + s.ndim);
      if (a + s.ndim > x.ndim || !sameShape(s.shape, want)) fail(`the scale ${shapeStr(s.shape)} does not match bottom ${shapeStr(x.shape)} from axis ${a}`);
      if (Bp !== null && !sameShape(Bp.shape, s.shape)) fail(`the bias blob ${shapeStr(Bp.shape)} does not match the scale ${shapeStr(s.shape)}`);
      const bshape = x.shape.map((n, d) => (d >= a && d < a + s.ndim ? n : 1));
      const y = F.mul(x, F.reshape(s, bshape));
      return [Bp === null ? y : F.add(y, F.reshape(Bp, bshape))];
    },
  };
};

const mvn: LayerRule = (layer, fail) => {
  const p = layer.param.mvn_param ?? {};
  refuseUnknown(p, 'mvn_param', fail);
  const across = p.across_channels ?? false, normalizeVariance = p.normalize_variance ?? true, eps = p.eps ?? 1e-9;
  return unary(layer, fail, (x) => {
    // per (n) over C*H*W, or per (n, c) over H*W
    const axes = x.shape.map((_, d) => d).filter((d) => d >= (across ? 1 : 2));
    const centered = F.sub(x, F.mean(x, axes, true));
    if (!normalizeVariance) return centered;
    // eps is added to the standard deviation, not to the variance
    return F.div(centered, F.add(F.sqrt(F.mean(F.mul(centered, centered), axes, true)), eps));
  });
};

const power: LayerRule = (layer, fail) => {
  const p = layer.param.power_param ?? {};
  refuseUnknown(p, 'power_param', fail);
  const pw = p.power ?? 1, sc = p.scale ?? 1, sh = p.shift ?? 0;
  return unary(layer, fail, (x) => {
    const base = sh === 0 ? (sc === 1 ? x : F.mul(x, sc)) : F.add(sc === 1 ? x : F.mul(x, sc), sh);
    if (pw === 1) return base;
    return pw === 2 ? F.mul(base, base) : F.pow(base, pw);
  });
};

const split: LayerRule = (layer, fail) => {
  arity(layer, 1, [1, Infinity], fail);
  // every top is the bottom itself, so gradients from all consumers add up
  return { link: null, forward: ([x]) => layer.top.map(() => x) };
};

const slice: LayerRule = (layer, fail) => {
  const p = layer.param.slice_param ?? {};
  refuseUnknown(p, 'slice_param', fail);
  arity(layer, 1, [1, Infinity], fail);
  const points = p.slice_point ?? [];
  const tops = layer.top.length;
  if (points.length > 0 && points.length !== tops - 1) fail(`slice_param.slice_point has ${points.length} values for ${tops} tops (expected ${tops - 1})`);
  if (points.some((q, i) => i > 0 && q <= points[i - 1])) fail(`slice_param.slice_point (${points.join(', ')}) must increase`);
  const axis = p.slice_dim ?? p.axis ?? 1;
  return {
    link: null,
    forward: ([x]) => {
      const a = axisOf(axis, x.ndim, 'slice_param.axis', fail);
      const n = x.shape[a];
      if (points.length === 0 && n % tops !== 0) fail(`axis ${a} of bottom ${shapeStr(x.shape)} cannot be split into ${tops} equal parts`);
      if (points.length > 0 && (points[0] <= 0 || points[points.length - 1] >= n)) fail(`slice_param.slice_point (${points.join(', ')}) must lie inside axis ${a} of size ${n}`);
      if (tops === 1) return [x];
      return F.splitAxis(x, points.length > 0 ? points : tops, a);
    },
  };
};

const reshape: LayerRule = (layer, fail) => {
  const p = layer.param.reshape_param ?? {};
  refuseUnknown(p, 'reshape_param', fail);
  const dims = p.shape?.dim ?? [];
  if (dims.some((d) => d < -1)) fail(`reshape_param.shape (${dims.join(', ')}) may hold -1, 0 and positive sizes only`);
  if (dims.filter((d) => d === -1).length > 1) fail(`reshape_param.shape (${dims.join(', ')}) may hold at most one -1`);
  const axis = p.axis ?? 0, numAxes = p.num_axes ?? -1;
  if (numAxes < -1) fail(`reshape_param.num_axes must be -1 or more, got ${numAxes}`);
  return unary(layer, fail, (x) => {
    // Caffe's axis may also be ndim (after the last axis), counted from the end when negative
    if (!(axis >= -(x.ndim + 1) && axis <= x.ndim)) fail(`reshape_param.axis ${axis} is out of range for a ${x.ndim}-D bottom`);
    const start = axis < 0 ? axis + x.ndim + 1 : axis;
    const end = numAxes === -1 ? x.ndim : start + numAxes;
    if (end > x.ndim) fail(`reshape_param: axis ${start} + num_axes ${numAxes} exceeds the bottom's ${x.ndim} axes`);
    const middle = dims.map((d, i) => {
      if (d !== 0) return d;
      if (start + i >= x.ndim) fail(`reshape_param.shape dim ${i} is 0 but the bottom ${shapeStr(x.shape)} has no axis ${start + i} to copy`);
      return x.shape[start + i];
    });
    const shape = [...x.shape.slice(0, start), ...middle, ...x.shape.slice(end)];
    const known = sizeOf(shape.filter((d) => d !== -1));
    const inferred = shape.includes(-1) ? x.size / known : known;
    if (!Number.isInteger(inferred) || (shape.includes(-1) ? false : known !== x.size)) {
      fail(`cannot reshape bottom ${shapeStr(x.shape)} (${x.size} values) to (${shape.join(', ')})`);
    }
    return F.reshape(x, shape.map((d) => (d === -1 ? inferred : d)));
  });
};

const flatten: LayerRule = (layer, fail) => {
  const p = layer.param.flatten_param ?? {};
  refuseUnknown(p, 'flatten_param', fail);
  const axis = p.axis ?? 1, endAxis = p.end_axis ?? -1;
  return unary(layer, fail, (x) => {
    const a = axisOf(axis, x.ndim, 'flatten_param.axis', fail), e = axisOf(endAxis, x.ndim, 'flatten_param.end_axis', fail);
    if (e < a) fail(`flatten_param.end_axis ${endAxis} comes before axis ${axis}`);
    return F.reshape(x, [...x.shape.slice(0, a), sizeOf(x.shape.slice(a, e + 1)), ...x.shape.slice(e + 1)]);
  });
};

/** Convolution (transposed: Deconvolution): Caffe's weight layout is the one F's ops take. */
function convolutionRule(transposed: boolean): LayerRule {
  return (layer, fail) => {
    arity(layer, 1, 1, fail);
    const spec = convolutionSpec(layer);
    blobCount(layer, spec.biasTerm ? 2 : 1, spec.biasTerm ? 'weights and bias' : 'weights', fail);
    const [kh, kw] = spec.kernel, g = spec.group;
    // the input channel count is not in the parameters: the weight blob fixes it
    const W = blobAs(layer.blobs[0], transposed ? [-1, spec.numOutput / g, kh, kw] : [spec.numOutput, -1, kh, kw], 'the weight', fail);
    const inChannels = transposed ? W.shape[0] : W.shape[1] * g;
    if (transposed && inChannels % g !== 0) fail(`the weight blob's ${inChannels} input channels are not a multiple of group ${g}`);
    const expected = convolutionWeightShape(spec, inChannels, transposed);
    if (!sameShape(W.shape, expected)) fail(`the weight blob has shape ${shapeStr(W.shape)}, expected ${shapeStr(expected)}`);
    const b = spec.biasTerm ? blobAs(layer.blobs[1], [spec.numOutput], 'the bias', fail) : null;
    const link = new CaffeLayerLink(new Parameter(W), b === null ? null : new Parameter(b));
    const opts = { stride: spec.stride, pad: spec.pad, dilate: spec.dilation, groups: g };
    return {
      link,
      forward: ([x]) => {
        if (x.ndim !== 4 || x.shape[1] !== inChannels) fail(`bottom ${shapeStr(x.shape)} must be (N, ${inChannels}, H, W)`);
        const size = transposed ? deconvolutionOutSize : convolutionOutSize;
        const out = [0, 1].map((d) => size(x.shape[2 + d], spec.kernel[d], spec.stride[d], spec.pad[d], spec.dilation[d]));
        if (out.some((n) => n < 1)) fail(`bottom ${shapeStr(x.shape)} gives an empty output (${out.join(', ')})`);
        const bias = link.b ?? undefined;
        return [transposed ? F.deconvolution2d(x, link.W!, bias, opts) : F.convolution2d(x, link.W!, bias, opts)];
      },
    };
  };
}

/**
 * x with `extra` cells of `value` appended after the last row and column, so that F's pooling,
 * which rounds the output size down, reaches Caffe's rounded-up size: extra cells of -FLT_MAX
 * are never a window's max, zeros add nothing to a sum.
 */
function extendFar(x: Variable, extra: readonly [number, number], value: number): Variable {
  let y = x;
  for (const d of [0, 1]) {
    if (extra[d] === 0) continue;
    const shape = y.shape.map((n, i) => (i === 2 + d ? extra[d] : n));
    y = F.concat([y, new Variable(full(shape, value, y.dtype, y.data.device), { requiresGrad: false })], 2 + d);
  }
  return y;
}

/**
 * Caffe's pooling of a 4-D x: output size ceil((in + 2p - k) / s) + 1 (less a window that would
 * start in the far padding); MAX over the window's cells inside the image; AVE sums the cells
 * inside the image and divides by the window's part inside the padded image.
 */
function caffePooling(x: Variable, spec: PoolingSpec, fail: Fail): Variable {
  if (x.ndim !== 4) fail(`bottom ${shapeStr(x.shape)} must be 4-D (N, C, H, W)`);
  const [h, w] = [x.shape[2], x.shape[3]];
  const { kernel, outSize } = poolingGeometry(spec, h, w);
  const size = [h, w], { stride, pad } = spec;
  const extra = [0, 1].map((d) => {
    if (outSize[d] < 1) fail(`bottom ${shapeStr(x.shape)} gives an empty output (${outSize.join(', ')})`);
    // Caffe (pad 0, kernel < stride) can place a last window past the image: a -FLT_MAX or 0/0 cell there
    if ((outSize[d] - 1) * stride[d] - pad[d] >= size[d]) fail(`bottom ${shapeStr(x.shape)}: the last window along axis ${2 + d} lies outside the input (kernel ${kernel[d]} < stride ${stride[d]}), where Caffe gives no defined value`);
    return Math.max(0, (outSize[d] - 1) * stride[d] + kernel[d] - size[d] - 2 * pad[d]);
  }) as [number, number];
  const opts = { stride: [stride[0], stride[1]] as const, pad: [pad[0], pad[1]] as const };
  if (spec.pool === 'MAX') {
    return F.maxPooling2d(extendFar(x, extra, -3.4028234663852886e38), kernel, { ...opts, coverAll: false });
  }
  // averagePooling2d divides by kh kw; Caffe by the window clipped to the padded image
  const y = F.averagePooling2d(extendFar(x, extra, 0), kernel, opts);
  const divisor = averagePoolingDivisor(spec, h, w);
  const ratios = Array.from(divisor, (v) => (kernel[0] * kernel[1]) / v);
  const factor = new NDArray(x.dtype === 'float64' ? Float64Array.from(ratios) : Float32Array.from(ratios), [1, 1, outSize[0], outSize[1]]);
  return divisor.every((v) => v === kernel[0] * kernel[1]) ? y : F.mul(y, new Variable(factor.to(x.data.device), { requiresGrad: false }));
}

const pooling: LayerRule = (layer, fail) => {
  arity(layer, 1, 1, fail);
  const spec = poolingSpec(layer);
  return { link: null, forward: ([x]) => [caffePooling(x, spec, fail)] };
};

const lrn: LayerRule = (layer, fail) => {
  arity(layer, 1, 1, fail);
  const { size, alpha, beta, k, region } = lrnSpec(layer);
  if (region === 'ACROSS_CHANNELS') {
    // Caffe's scale is k + alpha / n * sum of squares; Chainer's alpha multiplies the sum itself
    return { link: null, forward: ([x]) => [F.localResponseNormalization(x, { n: size, k, alpha: alpha / size, beta })] };
  }
  // WITHIN_CHANNEL: x / (1 + alpha * AVE(x^2 over an n x n window, stride 1, pad (n-1)/2))^beta; Caffe ignores k here
  const half = (size - 1) / 2;
  const window: PoolingSpec = { pool: 'AVE', kernel: [size, size], stride: [1, 1], pad: [half, half], roundMode: 'CEIL' };
  return {
    link: null,
    forward: ([x]) => [F.mul(x, F.pow(F.add(F.mul(caffePooling(F.mul(x, x), window, fail), alpha), 1), -beta))],
  };
};

/** Input and data layers produce the net's inputs: the caller provides those blobs. */
const input: LayerRule = () => ({ link: null, forward: () => [] });

/**
 * Every supported layer type, by Caffe's type name (Convolution, Deconvolution, Pooling and LRN
 * take their parameters from spatial-params.ts).
 */
export const LAYERS = {
  Convolution: convolutionRule(false),
  Deconvolution: convolutionRule(true),
  Pooling: pooling,
  LRN: lrn,
  InnerProduct: innerProduct,
  ReLU: relu,
  Sigmoid: sigmoid,
  TanH: tanh,
  Softmax: softmax,
  Dropout: dropout,
  Concat: concat,
  Eltwise: eltwise,
  BatchNorm: batchNorm,
  Scale: scale,
  MVN: mvn,
  Power: power,
  Split: split,
  Slice: slice,
  Reshape: reshape,
  Flatten: flatten,
  Input: input,
  Data: input,
  ImageData: input,
  MemoryData: input,
  HDF5Data: input,
  WindowData: input,
  DummyData: input,
} as const satisfies Record<string, LayerRule>;

export type LayerType = keyof typeof LAYERS;

/** Layer types whose tops are the net's inputs. */
export const INPUT_TYPES: ReadonlySet<string> = new Set(['Input', 'Data', 'ImageData', 'MemoryData', 'HDF5Data', 'WindowData', 'DummyData']);

export const isSupported = (type: string): type is LayerType => Object.hasOwn(LAYERS, type);

/** Build `layer` with its table entry; errors name the layer, its type and where it is. */
export function buildLayer(layer: CaffeLayer & { type: LayerType }): BuiltLayer {
  const rule: LayerRule = LAYERS[layer.type];
  return rule(layer, layerFail(layer));
}

